package main

import (
	"bytes"
	"encoding/csv"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/testutil"
	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/transforms"
)

// TestSummaryQuality runs summary --quality on the real photo (good), a darkened and a
// blurred copy of it, two pictures that are not fundus photographs (skimage's cat and coffee
// cup), a file that does not decode, and the small synthetic pictures of vision/preprocess.
func TestSummaryQuality(t *testing.T) {
	photo := testutil.RetinaPhoto(t)
	data := t.TempDir()
	mkdir(t, filepath.Join(data, "train"))
	img, err := imageio.Decode(photo)
	if err != nil {
		t.Fatal(err)
	}
	dark := img.Clone()
	for i, v := range dark.Pix {
		dark.Pix[i] = uint8(float64(v) * 0.3)
	}
	small, err := transforms.Resize(img, []int{300})
	if err != nil {
		t.Fatal(err)
	}
	blurred, err := transforms.Resize(small, []int{1411})
	if err != nil {
		t.Fatal(err)
	}
	train := filepath.Join(data, "train")
	for name, m := range map[string]*imageio.RGB{"retina_dark.png": dark, "retina_blurred.png": blurred} {
		if err := writePNG(filepath.Join(train, name), m); err != nil {
			t.Fatal(err)
		}
	}
	copyFile := func(src, name string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(train, name), b)
	}
	copyFile(photo, "retina.jpg")
	copyFile(testutil.SkimagePicture(t, "chelsea.png"), "chelsea.png")
	copyFile(testutil.SkimagePicture(t, "coffee.png"), "coffee.png")
	for _, n := range []string{"field", "scene", "dark", "blurred"} {
		copyFile("../../vision/preprocess/testdata/golden/"+n+".png", "synth_"+n+".png")
	}
	writeFile(t, filepath.Join(train, "broken.jpg"), []byte("not a picture"))
	want := map[string]string{
		"retina.jpg": "good", "retina_dark.png": "dark", "retina_blurred.png": "blurry",
		"chelsea.png": "no-field", "coffee.png": "no-field", "broken.jpg": "unreadable",
		"synth_field.png": "good", "synth_scene.png": "no-field", "synth_dark.png": "dark", "synth_blurred.png": "blurry",
	}
	var labels strings.Builder
	for name := range want {
		labels.WriteString(name + " 0\n")
	}
	writeFile(t, filepath.Join(data, "train.txt"), []byte(labels.String()))

	out := filepath.Join(t.TempDir(), "q")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"summary", "--data_path", data, "--num_classes", "5", "--quality", "--quality_out", out, "--worst", "8"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	for _, line := range []string{"unreadable       1  10.0", "no-field       3  30.0", "dark       2  20.0", "blurry       2  20.0", "good       2  20.0", "Worst 8:"} {
		if !strings.Contains(stdout.String(), line) {
			t.Errorf("the table lacks %q:\n%s", line, stdout.String())
		}
	}
	f, err := os.Open(filepath.Join(out, "quality.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+len(want) || recs[0][12] != "verdict" {
		t.Fatalf("quality.csv: %d lines, header %v", len(recs), recs[0])
	}
	for _, r := range recs[1:] {
		if name := filepath.Base(r[1]); r[12] != want[name] {
			t.Errorf("%s: verdict %s, want %s (brightness %s, sharpness %s)", name, r[12], want[name], r[10], r[11])
		}
	}
	pf, err := os.Open(filepath.Join(out, "quality_worst.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	sheet, err := png.Decode(pf)
	if err != nil {
		t.Fatal(err)
	}
	// 8 thumbnails of 160 px, 6 a row, 6 px gaps, 32 px captions.
	if b := sheet.Bounds(); b.Dx() != 6+6*166 || b.Dy() != 6+2*(160+32+6) {
		t.Errorf("contact sheet %v", b)
	}
	if code := run([]string{"summary", "--data_path", data, "--quality", "--json"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("--quality --json: exit %d, want %d", code, exitUsage)
	}
}
