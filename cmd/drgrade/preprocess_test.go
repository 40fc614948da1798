package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/testutil"
)

// TestPreprocessFlag runs --preprocess through transform and predict on the real photo
// (skimage's retina.jpg) and checks the bad values and the no-field error name the input.
func TestPreprocessFlag(t *testing.T) {
	photo := testutil.RetinaPhoto(t)
	dir := t.TempDir()
	scene := "../../vision/preprocess/testdata/golden/scene.png" // no field of view
	drg := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	t.Run("transform png", func(t *testing.T) {
		out := filepath.Join(dir, "ba.png")
		if code, _, stderr := drg("transform", "--in", photo, "--preprocess", "crop,graham", "--out", filepath.Join(dir, "x.npy"), "--png", out); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		m, err := png.Decode(f)
		if err != nil {
			t.Fatal(err)
		}
		// Before | 4-pixel gap | after, 224 each; graham leaves 128 grey outside 90% of the radius.
		if b := m.Bounds(); b.Dx() != 2*224+4 || b.Dy() != 224 {
			t.Fatalf("PNG %v, want 452×224 (before and after side by side)", b)
		}
		r, g, b, _ := m.At(228+2, 2).RGBA()
		if r>>8 != 128 || g>>8 != 128 || b>>8 != 128 {
			t.Errorf("after-picture corner %d,%d,%d, want graham's 128 grey", r>>8, g>>8, b>>8)
		}
		r, g, b, _ = m.At(112, 112).RGBA()
		if r>>8 <= g>>8 || r>>8 < 100 {
			t.Errorf("before-picture centre %d,%d,%d: want the photo's red fundus", r>>8, g>>8, b>>8)
		}
	})

	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"transform no field", []string{"transform", "--in", scene, "--preprocess", "crop", "--out", filepath.Join(dir, "y.npy")}, "scene.png: step 0 (preprocess.Chain): crop: no circular field of view"},
		{"transform bad step", []string{"transform", "--in", photo, "--preprocess", "crop,blur", "--out", filepath.Join(dir, "y.npy")}, `unknown step "blur"`},
		{"train bad step", []string{"train", "--preprocess", "grahm", "--data_path", dir}, `unknown step "grahm"`},
		{"eval bad step", []string{"eval", "--preprocess", "clahe,clahe", "--weights", calibrationCheckpoint, "--model", "shufflenet_small"}, `step "clahe" twice`},
		{"predict no field", []string{"predict", "--preprocess", "crop", "--weights", calibrationCheckpoint, "--model", "shufflenet_small", "--img_size", "64", "--threads", "1", "--num_workers", "0", scene}, "scene.png: step 0 (preprocess.Chain): crop: no circular field of view"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := drg(tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, want %d with %q; stderr:\n%s", code, exitUsage, tc.wantErr, stderr)
			}
		})
	}

	t.Run("predict", func(t *testing.T) {
		probs := map[string][]float64{}
		for _, pre := range []string{"", "crop,graham", "crop,clahe"} {
			code, stdout, stderr := drg("predict", "--preprocess", pre, "--weights", calibrationCheckpoint, "--model", "shufflenet_small",
				"--img_size", "64", "--threads", "1", "--num_workers", "0", "--json", photo)
			if code != 0 {
				t.Fatalf("--preprocess %q: exit %d\n%s", pre, code, stderr)
			}
			var p predictJSON
			if err := json.Unmarshal([]byte(stdout), &p); err != nil || len(p.Predictions) != 1 {
				t.Fatalf("--preprocess %q: %v\n%s", pre, err, stdout)
			}
			probs[pre] = p.Predictions[0].Probabilities
		}
		for _, pre := range []string{"crop,graham", "crop,clahe"} {
			if slices.Equal(probs[pre], probs[""]) {
				t.Errorf("--preprocess %s gives the same probabilities as none: %v", pre, probs[""])
			}
		}

		// eval --preprocess scores a split of the real photo as predict grades the file (one image
		// a batch, as predict's one file: a batch of two sums the convolutions in another order).
		data := filepath.Join(dir, "evalset")
		if err := os.MkdirAll(filepath.Join(data, "val"), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(photo)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"a.jpg", "b.jpg"} {
			if err := os.WriteFile(filepath.Join(data, "val", n), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(data, "val.txt"), []byte("a.jpg 0\nb.jpg 2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, pre := range []string{"", "crop,graham"} {
			code, stdout, stderr := drg("eval", "--preprocess", pre, "--weights", calibrationCheckpoint, "--model", "shufflenet_small",
				"--data_path", data, "--img_size", "64", "--threads", "1", "--num_workers", "0", "--bootstrap", "0", "--batch_size", "1", "--json")
			if code != 0 {
				t.Fatalf("eval --preprocess %q: exit %d\n%s", pre, code, stderr)
			}
			var e struct {
				Predictions []struct{ Probabilities []float64 }
			}
			if err := json.Unmarshal([]byte(stdout), &e); err != nil || len(e.Predictions) != 2 {
				t.Fatalf("eval --preprocess %q: %v\n%s", pre, err, stdout)
			}
			for _, p := range e.Predictions {
				if !slices.Equal(p.Probabilities, probs[pre]) {
					t.Errorf("eval --preprocess %q: probabilities %v, predict's %v", pre, p.Probabilities, probs[pre])
				}
			}
		}
	})
}
