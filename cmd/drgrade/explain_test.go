package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/npy"
)

// TestExplain runs `drgrade explain` in process on two synthetic photographs with the
// shufflenet_small weights of vision/explain's goldens: a heatmap .npy (96×96 in [0, 1]) and
// an overlay PNG per image, the table, --target, and the usage errors.
func TestExplain(t *testing.T) {
	weights := filepath.Join("..", "..", "vision", "explain", "testdata", "gradcam", "shufflenet_small.pth")
	work := t.TempDir()
	imgs := filepath.Join(work, "imgs")
	if err := os.MkdirAll(filepath.Join(imgs, "more"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeDisc(t, filepath.Join(imgs, "a.png"), 30, 40)
	writeDisc(t, filepath.Join(imgs, "more", "a.png"), 80, 60) // the same stem: a_2
	out := filepath.Join(work, "cams")
	common := []string{"--model", "shufflenet_small", "--weights", weights, "--img_size", "96", "--threads", "1"}

	var stdout, stderr bytes.Buffer
	code := run(append([]string{"explain", "--out", out, imgs}, common...), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("explain: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"P TARGET", "a_overlay.png", "a_2_overlay.png", "heatmaps:"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "conv5") {
		t.Errorf("stderr does not name the layer:\n%s", stderr.String())
	}
	for _, stem := range []string{"a", "a_2"} {
		a, err := npy.ReadFile(filepath.Join(out, stem+"_cam.npy"))
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Shape) != 2 || a.Shape[0] != 96 || a.Shape[1] != 96 || a.F32 == nil {
			t.Fatalf("%s_cam.npy: shape %v dtype %s", stem, a.Shape, a.Dtype)
		}
		lo, hi := a.F32[0], a.F32[0]
		for _, v := range a.F32 {
			lo, hi = min(lo, v), max(hi, v)
		}
		if lo != 0 || hi < 0.999 || hi > 1 {
			t.Errorf("%s_cam.npy: values in [%v, %v], want min 0 and max ≈ 1", stem, lo, hi)
		}
		f, err := os.Open(filepath.Join(out, stem+"_overlay.png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() != 96 || img.Bounds().Dy() != 96 {
			t.Errorf("%s_overlay.png: %v, %v", stem, err, img.Bounds())
		}
	}

	// --target 1 explains grade 1 for every image.
	stdout.Reset()
	stderr.Reset()
	code = run(append([]string{"explain", "--out", out, "--target", "1", filepath.Join(imgs, "a.png")}, common...), &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "1 Mild") {
		t.Errorf("--target 1: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"explain", imgs}, "--out is required"},
		{[]string{"explain", "--out", out}, "give one or more images"},
		{[]string{"explain", "--out", out, "--target", "5", imgs}, "--target 5"},
		{[]string{"explain", "--out", out, "--model", "resnt", imgs}, `unknown model "resnt"`},
		{[]string{"explain", "--out", out, "--weights", "/nonexistent.pth", imgs}, "/nonexistent.pth"},
		{[]string{"explain", "--out", out, "--weights", weights, "/nonexistent.jpg"}, "/nonexistent.jpg"},
		{[]string{"explain", "--help"}, ""},
	} {
		stdout.Reset()
		stderr.Reset()
		code := run(tc.args, &stdout, &stderr)
		if tc.want == "" {
			if code != 0 || !strings.Contains(stdout.String(), "Usage: drgrade explain") {
				t.Errorf("%v: exit %d\n%s", tc.args, code, stdout.String())
			}
			continue
		}
		if code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr lacks %q:\n%s", tc.args, code, tc.want, stderr.String())
		}
	}
}

// writeDisc writes a 128×112 PNG: a dark background with a bright disc centred at (cx, cy).
func writeDisc(t *testing.T, path string, cx, cy int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 128, 112))
	for y := 0; y < 112; y++ {
		for x := 0; x < 128; x++ {
			c := color.RGBA{40, 10, 5, 255}
			if (x-cx)*(x-cx)+(y-cy)*(y-cy) < 15*15 {
				c = color.RGBA{250, 200, 90, 255}
			}
			img.Set(x, y, c)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
