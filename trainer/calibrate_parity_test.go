package trainer

import (
	"io"
	"math"
	"path/filepath"
	"testing"

	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/trainer/calibrate"
	"github.com/drgrade/drgrade/vision/synth"
)

// TestParityCalibrateCheckpoint: `drgrade calibrate` (CalibrateCheckpoint) against PyTorch on
// the committed eval checkpoint (evalCheckpoint) and 40 synthetic val images at 64 px:
// torchvision's logits and an LBFGS fit run to convergence on them
// (testdata/calibrate_gen.py). drgrade's logits within 1e-4 of torchvision's (the eval parity
// bound), its temperature within 1e-4 of PyTorch's (the bound), its NLL before and
// after within 1e-6; the file it returns names the checkpoint's SHA-256 and the data, and the
// top-label ECE falls.
func TestParityCalibrateCheckpoint(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if _, err := synth.Generate(data, synth.Options{N: 200, Size: 128, Seed: 7, Proportions: "uniform"}, nil); err != nil {
		t.Fatal(err)
	}
	dir := pyoracle.Golden(t, "testdata/calibrate", "testdata/calibrate_gen.py", "--data", data, "--weights", evalCheckpoint,
		"--arch", "shufflenet_v2_x0_5", "--img-size", "64")
	var meta struct {
		WeightsSHA256 string `json:"weights_sha256"`
	}
	pyoracle.ReadJSON(t, dir, "meta.json", &meta)
	h := sha256File(t, evalCheckpoint)
	if meta.WeightsSHA256 != h {
		t.Fatalf("the golden was made from another checkpoint (sha256 %s, %s is %s): make goldens", meta.WeightsSHA256, evalCheckpoint, h)
	}
	var want struct {
		Images      []string
		Labels      []int
		Logits      [][]float32
		Temperature float64
		NLLBefore   float64 `json:"nll_before"`
		NLLAfter    float64 `json:"nll_after"`
	}
	pyoracle.ReadJSON(t, dir, "calibration.json", &want)
	cfg := EvalConfig{Model: "shufflenet_small", Weights: evalCheckpoint, ImgSize: 64, DataPath: data, Split: "val", NumClasses: 5,
		BatchSize: 16, NumWorkers: 1, Threads: 1, Quiet: true}
	o, f, err := CalibrateCheckpoint(cfg, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Result.Logits) != len(want.Logits) || len(want.Logits) != 40 {
		t.Fatalf("%d rows of logits, PyTorch %d (want 40)", len(o.Result.Logits), len(want.Logits))
	}
	maxLogit := 0.0
	for i, row := range o.Result.Logits {
		j := o.Result.Index[i]
		if o.Dataset.Names[j] != want.Images[j] || o.Result.Labels[i] != want.Labels[j] {
			t.Fatalf("sample %d: %s label %d, PyTorch %s label %d", i, o.Dataset.Names[j], o.Result.Labels[i], want.Images[j], want.Labels[j])
		}
		for c, v := range row {
			maxLogit = math.Max(maxLogit, math.Abs(float64(v)-float64(want.Logits[j][c])))
		}
	}
	if maxLogit > 1e-4 {
		t.Errorf("logits differ from torchvision's by up to %.3g (> 1e-4)", maxLogit)
	}
	dT := math.Abs(f.Temperature - want.Temperature)
	if !(dT <= 1e-4) {
		t.Errorf("T = %.12g, PyTorch %.12g (|diff| %.3g > 1e-4)", f.Temperature, want.Temperature, dT)
	}
	dB, dA := math.Abs(f.NLLBefore-want.NLLBefore), math.Abs(f.NLLAfter-want.NLLAfter)
	if !(dB <= 1e-6 && dA <= 1e-6) {
		t.Errorf("NLL before %.12g after %.12g, PyTorch %.12g %.12g", f.NLLBefore, f.NLLAfter, want.NLLBefore, want.NLLAfter)
	}
	// The same fit on PyTorch's own logits: the difference is then the fits' alone.
	same, err := calibrate.FitTemperature(want.Logits, want.Labels)
	if err != nil {
		t.Fatal(err)
	}
	dSame := math.Abs(same.Temperature - want.Temperature)
	if !(dSame <= 1e-6) {
		t.Errorf("on PyTorch's logits T = %.12g, PyTorch %.12g (|diff| %.3g)", same.Temperature, want.Temperature, dSame)
	}
	if f.WeightsSHA256 != h || f.Weights != evalCheckpoint || f.DataPath != data || f.Split != "val" || f.Samples != 40 ||
		f.NumClasses != 5 || f.Model != "shufflenet_small" || f.Format != calibrate.Format {
		t.Errorf("calibration file %+v", f)
	}
	if !(f.ECEAfter < f.ECEBefore) || !(f.NLLAfter < f.NLLBefore) {
		t.Errorf("ECE %v → %v, NLL %v → %v: want both lower after", f.ECEBefore, f.ECEAfter, f.NLLBefore, f.NLLAfter)
	}
	t.Logf("T = %.10g (PyTorch %.10g): |diff| %.3g end to end, %.3g on PyTorch's logits; max |logit diff| %.3g; NLL %.4f → %.4f, ECE %.4f → %.4f",
		f.Temperature, want.Temperature, dT, dSame, maxLogit, f.NLLBefore, f.NLLAfter, f.ECEBefore, f.ECEAfter)
}
