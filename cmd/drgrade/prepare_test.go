package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/testutil"
	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/preprocess"
)

// TestPrepare prepares a small data set of the real photo (and a picture with no field of
// view) with crop,graham at 64 px, then resumes after losing one output, trains one epoch on
// the result with --preprocess graham, and checks the refusals (its own input, other settings).
func TestPrepare(t *testing.T) {
	photo, err := os.ReadFile(testutil.RetinaPhoto(t))
	if err != nil {
		t.Fatal(err)
	}
	scene, err := os.ReadFile("../../vision/preprocess/testdata/golden/scene.png")
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	for _, d := range []string{"train", "val"} {
		mkdir(t, filepath.Join(data, d))
	}
	writeFile(t, filepath.Join(data, "train", "a.jpg"), photo)
	writeFile(t, filepath.Join(data, "train", "b.jpeg"), photo)
	for _, n := range []string{"d.jpg", "e.jpg", "f.jpg"} {
		writeFile(t, filepath.Join(data, "train", n), photo)
	}
	writeFile(t, filepath.Join(data, "train", "scene.png"), scene)
	writeFile(t, filepath.Join(data, "val", "c.jpg"), photo)
	writeFile(t, filepath.Join(data, "train.txt"), []byte("a.jpg 0\nb.jpeg 3\nd.jpg 1\nscene.png 1\ne.jpg 2\nf.jpg 4\n"))
	writeFile(t, filepath.Join(data, "val.txt"), []byte("c.jpg 2\n"))
	out := filepath.Join(t.TempDir(), "prepared")
	prep := func(extra ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := runPrepare(append([]string{"--data_path", data, "--out", out, "--num_classes", "5", "--quiet"}, extra...), &stdout, &stderr)
		return stdout.String(), err
	}
	args := []string{"--size", "64", "--preprocess", "crop,graham", "--format", "png", "--quality"}
	stdout, err := prep(args...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "quality of the source images ("+out+"/quality.csv): unreadable 0, no-field 1, dark 0, blurry 0, good 6") {
		t.Errorf("prepare --quality: no verdict counts:\n%s", stdout)
	}
	if !strings.Contains(stdout, "scene.png: crop: no circular field of view") {
		t.Errorf("the left-out image is not named:\n%s", stdout)
	}
	check := func(wantReused int) {
		t.Helper()
		rec, err := preprocess.ReadPrepared(out)
		if err != nil || rec == nil {
			t.Fatalf("prepare.json: %v %v", rec, err)
		}
		if rec.Splits["train"] != 5 || rec.Splits["val"] != 1 || len(rec.Failed) != 1 || rec.Reused != wantReused || rec.Preprocess != "crop,graham" || rec.Size != 64 || rec.Finished == "" {
			t.Errorf("prepare.json: %+v", rec)
		}
		for split, want := range map[string]string{"train": "a.png 0\nb.png 3\nd.png 1\ne.png 2\nf.png 4\n", "val": "c.png 2\n"} {
			if b, err := os.ReadFile(filepath.Join(out, split+".txt")); err != nil || string(b) != want {
				t.Errorf("%s.txt: %q %v, want %q", split, b, err, want)
			}
		}
		img, err := imageio.Decode(filepath.Join(out, "train", "b.png"))
		if err != nil {
			t.Fatal(err)
		}
		if r, g, b := img.At(0, 0); img.W != 64 || img.H != 64 || r != 128 || g != 128 || b != 128 {
			t.Errorf("b.png: %dx%d, corner %d,%d,%d; want 64×64 and graham's grey corner", img.W, img.H, r, g, b)
		}
		if m, _ := filepath.Glob(filepath.Join(out, "train", ".*.tmp*")); len(m) != 0 {
			t.Errorf("temporary files left: %v", m)
		}
	}
	check(0)
	// Resume: one output lost (an interrupted run writes nothing partial: atomic writes).
	if err := os.Remove(filepath.Join(out, "train", "a.png")); err != nil {
		t.Fatal(err)
	}
	if _, err := prep(args...); err != nil {
		t.Fatal(err)
	}
	check(5)
	var rec map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "prepare.json"))
	if err := json.Unmarshal(b, &rec); err != nil || rec["source"] != data {
		t.Errorf("prepare.json source %v (%v), want %s", rec["source"], err, data)
	}
	// The prepared set trains, with graham on top, and train says how it was prepared.
	var stdout2, stderr2 bytes.Buffer
	if code := run(trainArgs(out, t.TempDir(), "--preprocess", "graham", "--num_workers", "0"), &stdout2, &stderr2); code != 0 {
		t.Fatalf("train on the prepared set: exit %d\n%s\n%s", code, stdout2.String(), stderr2.String())
	}
	for _, want := range []string{"Prepared by drgrade prepare from " + data + ": preprocess crop,graham, shorter side to 64", "Preprocess: graham"} {
		if !strings.Contains(stdout2.String(), want) {
			t.Errorf("train's output lacks %q:\n%s", want, stdout2.String())
		}
	}
	// Training on the source with --preprocess crop stops before the run, naming the picture
	// without a field (the preflight check), or lists it with --skip_bad_images.
	stdout2.Reset()
	stderr2.Reset()
	if code := run(trainArgs(data, t.TempDir(), "--preprocess", "crop"), &stdout2, &stderr2); code != exitUsage ||
		!strings.Contains(stderr2.String(), "train: 1 of 6 images have no circular field of view for --preprocess crop") ||
		!strings.Contains(stderr2.String(), "scene.png: crop: no circular field of view found") {
		t.Errorf("train --preprocess crop with a picture without a field: exit %d\n%s", code, stderr2.String())
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--size", "128", "--preprocess", "crop,graham", "--format", "png"}, "resuming needs the same settings"},
		{[]string{"--out", data}, "never over its input"},
		{[]string{"--format", "gif"}, `--format "gif"`},
		{[]string{"--preprocess", "sharpen"}, `unknown step "sharpen"`},
	} {
		if _, err := prep(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("prepare %v: err %v, want %q", tc.args, err, tc.want)
		} else if _, ok := err.(usageError); !ok {
			t.Errorf("prepare %v: %T, want a usageError (exit 2)", tc.args, err)
		}
	}
}
