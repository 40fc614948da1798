package calibrate

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFitIsTheMinimum(t *testing.T) {
	logits := [][]float32{{4, 0, -2}, {3, 1, 0}, {-1, 5, 0}, {0, 2, 6}, {5, -1, 0}, {2, 2.5, 0}, {0, 3, 1}}
	labels := []int{0, 1, 1, 2, 1, 0, 2} // over-confident: three of seven confidently wrong
	fit, err := FitTemperature(logits, labels)
	if err != nil {
		t.Fatal(err)
	}
	if !(fit.Temperature > 1) || fit.Iterations > 60 || fit.Samples != 7 {
		t.Errorf("fit %+v: want T > 1 in few steps", fit)
	}
	for _, f := range []float64{1 - 1e-6, 1 + 1e-6, 0.5, 2} {
		v, err := NLL(logits, labels, fit.Temperature*f)
		if err != nil {
			t.Fatal(err)
		}
		if v < fit.NLLAfter {
			t.Errorf("NLL(%.6g·T) = %.17g below NLL(T) = %.17g: T is not the minimum", f, v, fit.NLLAfter)
		}
	}
	// The argmax of softmax(z/T) is z's.
	for T, rows := range map[float64][][]float64{1: Softmax(logits, 1), fit.Temperature: Softmax(logits, fit.Temperature), 0.01: Softmax(logits, 0.01)} {
		for i, row := range rows {
			sum, best, zbest := 0.0, 0, 0
			for c, v := range row {
				sum += v
				if v > row[best] {
					best = c
				}
				if logits[i][c] > logits[i][zbest] {
					zbest = c
				}
			}
			if best != zbest || math.Abs(sum-1) > 1e-12 {
				t.Errorf("T=%v row %d: softmax %v (sum %v) argmax %d, logits' %d", T, i, row, sum, best, zbest)
			}
		}
	}
}

func TestFitRefusesWhatHasNoMinimum(t *testing.T) {
	for _, c := range []struct {
		name   string
		logits [][]float32
		labels []int
		want   string
	}{
		{"all correct", [][]float32{{3, 0}, {0, 2}, {1, 0.5}}, []int{0, 1, 0}, "largest logit"},
		{"anti-correlated", [][]float32{{3, 0}, {0, 2}, {1, 0.5}}, []int{1, 0, 1}, "T = ∞"},
		{"uniform logits", [][]float32{{1, 1, 1}, {2, 2, 2}}, []int{0, 2}, "T = ∞"},
		{"no samples", nil, nil, "no samples"},
		{"lengths", [][]float32{{1, 0}}, []int{0, 1}, "1 rows of logits, 2 labels"},
		{"label range", [][]float32{{1, 0}, {0, 1}}, []int{0, 2}, "label 2 of sample 1"},
		{"ragged", [][]float32{{1, 0}, {0, 1, 2}}, []int{0, 1}, "row 1 has 3 logits"},
		{"one class", [][]float32{{1}, {2}}, []int{0, 0}, "at least 2"},
		{"NaN", [][]float32{{1, 0}, {float32(math.NaN()), 1}}, []int{1, 0}, "non-finite"},
	} {
		_, err := FitTemperature(c.logits, c.labels)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}
	if _, err := NLL([][]float32{{1, 0}}, []int{0}, 0); err == nil {
		t.Error("NLL at T = 0: no error")
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	weights := filepath.Join(dir, "DDR.pth")
	if err := os.WriteFile(weights, []byte("weights v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	// No calibration file: no temperature; explicit values.
	for flag, want := range map[string]float64{"": 0, "none": 0, "1.7": 1.7, "1": 0, " 0.5 ": 0.5} {
		c, err := Resolve(flag, weights, 5)
		if err != nil || c.Temperature != want {
			t.Errorf("Resolve(%q) = %+v, %v; want T %v", flag, c, err, want)
		}
	}
	for _, bad := range []string{"0", "-1", "abc", "inf", "NaN", "auto"} {
		if _, err := Resolve(bad, weights, 5); err == nil || !strings.Contains(err.Error(), "--temperature") {
			t.Errorf("Resolve(%q): error %v, want one naming --temperature", bad, err)
		}
	}
	sum, err := SHA256File(weights)
	if err != nil {
		t.Fatal(err)
	}
	f := &File{Format: Format, Temperature: 2.5, Weights: weights, WeightsSHA256: sum, NumClasses: 5, DataPath: "data", Split: "val", Samples: 10}
	path := PathFor(weights)
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	c, err := Resolve("", weights, 5)
	if err != nil || c.Temperature != 2.5 || c.Source != path || !strings.Contains(c.Note(), "2.5000 from "+path) {
		t.Errorf("with the file: %+v (%q), %v", c, c.Note(), err)
	}
	if c, err := Resolve("none", weights, 5); err != nil || c.Temperature != 0 || c.Note() != "" {
		t.Errorf("--temperature none with the file: %+v, %v", c, err)
	}
	if c, err := Resolve("3", weights, 5); err != nil || c.Temperature != 3 || !strings.Contains(c.Note(), "--temperature") {
		t.Errorf("--temperature 3 with the file: %+v, %v", c, err)
	}
	if _, err := Resolve("", weights, 4); err == nil || !strings.Contains(err.Error(), "--num_classes 5") {
		t.Errorf("other --num_classes: %v", err)
	}
	// The checkpoint changes: the file is stale and refused, by name.
	if err := os.WriteFile(weights, []byte("weights v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve("", weights, 5); err == nil || !strings.Contains(err.Error(), "stale") || !strings.Contains(err.Error(), path) {
		t.Errorf("stale file: %v", err)
	}
	if c, err := Resolve("none", weights, 5); err != nil || c.Temperature != 0 {
		t.Errorf("stale file, --temperature none: %+v, %v", c, err)
	}
	// Broken files: refused, by name.
	for _, body := range []string{"{not json", `{"format":"other/9","temperature":2}`, `{"format":"` + Format + `","temperature":-1}`,
		`{"format":"` + Format + `","temperature":2,"weights_sha256":"abc"}`} {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Resolve("", weights, 5); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("calibration file %s: error %v, want one naming the file", body, err)
		}
	}
}
