package loss

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/pyoracle"
)

// TestParitySoftTargetCrossEntropy: on timm's own mixed targets (vision/mixup's goldens, label
// smoothing folded in), the loss equals timm's SoftTargetCrossEntropy: measured equal on all 5
// cases (the same float32 ops); the bound, 1e-6 relative, allows another summation order.
func TestParitySoftTargetCrossEntropy(t *testing.T) {
	dir := pyoracle.Golden(t, "../vision/mixup/testdata/mixup", "../vision/mixup/testdata/mixup_gen.py")
	var cases []struct {
		Name string
		Loss float64
	}
	pyoracle.ReadJSON(t, dir, "cases.json", &cases)
	if len(cases) < 4 {
		t.Fatalf("%d cases", len(cases))
	}
	locked.Run(func() {
		logits := tensorFromNpy(t, filepath.Join(dir, "logits.npy"))
		defer logits.MustDrop()
		for _, c := range cases {
			targets := tensorFromNpy(t, filepath.Join(dir, c.Name+"_t.npy"))
			l, err := SoftTargetCrossEntropy(logits, targets)
			targets.MustDrop()
			if err != nil {
				t.Fatal(err)
			}
			got := l.Float64Values()[0]
			l.MustDrop()
			if e := relErr(got, c.Loss); e > 1e-6 || math.IsNaN(got) {
				t.Errorf("%s: %v, timm %v (relative %.2g)", c.Name, got, c.Loss, e)
			}
		}
		bad := tensorFromNpy(t, filepath.Join(dir, "x.npy"))
		defer bad.MustDrop()
		if _, err := SoftTargetCrossEntropy(logits, bad); err == nil {
			t.Error("targets of another shape: no error")
		}
	})
}
