package loss

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/pyoracle"
)

func tensorFromNpy(t *testing.T, path string) *ts.Tensor {
	t.Helper()
	a, err := npy.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	shape := make([]int64, len(a.Shape))
	for i, d := range a.Shape {
		shape[i] = int64(d)
	}
	var x *ts.Tensor
	if a.F32 != nil {
		x, err = ts.NewTensorFromData(a.F32, shape)
	} else {
		x, err = ts.NewTensorFromData(a.I64, shape)
	}
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func relErr(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), 1e-12)
}

// TestParityLosses: every criterion's value and its gradient with respect to the logits
// equal PyTorch's (train_imbalance.py's FocalLoss, CrossEntropyLoss(weight=1/count)).
func TestParityLosses(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/loss", "testdata/loss_gen.py")
	var cases []struct {
		Tag, Inputs, Criterion string
		N, C                   int
		Loss                   float64
		Weights                []float64
	}
	pyoracle.ReadJSON(t, dir, "cases.json", &cases)
	if len(cases) < 20 {
		t.Fatalf("only %d cases in %s", len(cases), dir)
	}
	locked.Run(func() {
		for _, tc := range cases {
			var crit Criterion
			var err error
			switch tc.Criterion {
			case "ce":
				crit, err = NewCrossEntropy(nil)
			case "ce_weighted":
				crit, err = NewCrossEntropy(tc.Weights)
			case "focal":
				crit = NewFocal(1, 2)
			case "focal_g1.5_a0.25":
				crit = NewFocal(0.25, 1.5)
			case "focal_perclass":
				alpha := make([]float64, tc.C)
				for i := range alpha {
					alpha[i] = 0.1 * float64(i+1)
				}
				crit, err = NewFocalPerClass(alpha, 2)
			default:
				t.Errorf("unknown criterion %q", tc.Criterion)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			logits := tensorFromNpy(t, filepath.Join(dir, tc.Inputs+"_logits.npy"))
			labels := tensorFromNpy(t, filepath.Join(dir, tc.Inputs+"_labels.npy"))
			if err := logits.RequiresGrad_(true); err != nil {
				t.Fatal(err)
			}
			l, err := crit.Loss(logits, labels)
			if err != nil {
				t.Fatalf("%s: %v", tc.Tag, err)
			}
			// 1e-6 relative: both sides compute in float32 with the same libtorch ops: measured
			// 0, bit-identical, over every case, goldens and live. 1e-6 (8 float32 ulps) is room
			// for another build's reduction order over the batch.
			if e := relErr(l.Float64Values()[0], tc.Loss); e > 1e-6 {
				t.Errorf("%s: loss %.9g, PyTorch %.9g (rel err %.2g)", tc.Tag, l.Float64Values()[0], tc.Loss, e)
			}
			if err := l.Backward(); err != nil {
				t.Fatal(err)
			}
			g, err := logits.Grad(false)
			if err != nil {
				t.Fatal(err)
			}
			want := tensorFromNpy(t, filepath.Join(dir, tc.Tag+"_grad.npy"))
			gv, wv := g.Float64Values(), want.Float64Values()
			var maxAbs, scale float64
			for i := range gv {
				maxAbs = math.Max(maxAbs, math.Abs(gv[i]-wv[i]))
				scale = math.Max(scale, math.Abs(wv[i]))
			}
			if maxAbs > 1e-6*scale {
				t.Errorf("%s: gradient max abs diff %.3g (scale %.3g)", tc.Tag, maxAbs, scale)
			}
			for _, x := range []*ts.Tensor{logits, labels, l, g, want} {
				x.MustDrop()
			}
			crit.Close()
		}
	})
}

func TestClassWeights(t *testing.T) {
	for _, tc := range []struct {
		counts  []int
		mode    string
		want    []float64
		wantErr bool
	}{
		{[]int{4980, 514, 3604, 188, 731}, "inverse", []float64{1.0 / 4980, 1.0 / 514, 1.0 / 3604, 1.0 / 188, 1.0 / 731}, false},
		{[]int{1, 3}, "normalized", []float64{1.5, 0.5}, false},
		{[]int{5, 0, 2}, "inverse", nil, true},
		{[]int{5, 0, 2}, "none", nil, false},
		{[]int{5}, "balanced", nil, true},
	} {
		got, err := ClassWeights(tc.counts, tc.mode)
		if (err != nil) != tc.wantErr {
			t.Errorf("ClassWeights(%v, %q) error = %v", tc.counts, tc.mode, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("ClassWeights(%v, %q) = %v, want %v", tc.counts, tc.mode, got, tc.want)
			continue
		}
		for i := range got {
			if relErr(got[i], tc.want[i]) > 1e-15 {
				t.Errorf("ClassWeights(%v, %q) = %v, want %v", tc.counts, tc.mode, got, tc.want)
			}
		}
	}
}
