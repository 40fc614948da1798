package loss

import (
	"fmt"
	"math"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/pyoracle"
)

// TestParityLabelSmoothing: --label_smoothing ε on the cross-entropy (unweighted and with the
// script's 1/count class weights, as torch 2.1 combines them) and on the focal loss (scalar and
// per-class alpha, on the label-smoothed cross-entropy) gives torch's loss within 1e-6
// relative and its gradient with respect to the logits within 1e-6·max(|g|, 1e-3).
func TestParityLabelSmoothing(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/smoothing", "testdata/smoothing_gen.py")
	var golden struct {
		Inputs []struct {
			N, C   int64
			Logits []float32
			Labels []int64
		}
		Cases []struct {
			Name    string
			Eps     float64
			Input   int
			Weights []float64
			Alpha   []float64
			Loss    float64
			Grad    []float64
		}
	}
	pyoracle.ReadJSON(t, dir, "cases.json", &golden)
	if len(golden.Cases) < 20 {
		t.Fatalf("only %d cases", len(golden.Cases))
	}
	worst := 0.0
	locked.Run(func() {
		for _, c := range golden.Cases {
			in := golden.Inputs[c.Input]
			t.Run(fmt.Sprintf("%s_eps%g_n%d_c%d", c.Name, c.Eps, in.N, in.C), func(t *testing.T) {
				var crit interface {
					Criterion
					Smoother
				}
				switch c.Name {
				case "ce", "ce_weighted":
					ce, err := NewCrossEntropy(c.Weights)
					if err != nil {
						t.Fatal(err)
					}
					crit = ce
				case "focal":
					crit = NewFocal(1, 2)
				case "focal_perclass":
					f, err := NewFocalPerClass(c.Alpha, 2)
					if err != nil {
						t.Fatal(err)
					}
					crit = f
				}
				defer crit.Close()
				if err := crit.SetLabelSmoothing(c.Eps); err != nil {
					t.Fatal(err)
				}
				x := ts.MustOfSlice(in.Logits).MustView([]int64{in.N, in.C}, true)
				defer x.MustDrop()
				if err := x.RequiresGrad_(true); err != nil {
					t.Fatal(err)
				}
				y := ts.MustOfSlice(in.Labels)
				defer y.MustDrop()
				l, err := crit.Loss(x, y)
				if err != nil {
					t.Fatal(err)
				}
				defer l.MustDrop()
				got := l.Float64Values()[0]
				e := relErr(got, c.Loss)
				worst = math.Max(worst, e)
				if e > 1e-6 {
					t.Errorf("loss %.9g, torch %.9g", got, c.Loss)
				}
				if err := l.Backward(); err != nil {
					t.Fatal(err)
				}
				g := x.MustGrad(false)
				defer g.MustDrop()
				for i, v := range g.Float64Values() {
					if math.Abs(v-c.Grad[i]) > 1e-6*math.Max(math.Abs(c.Grad[i]), 1e-3) {
						t.Errorf("grad[%d] %.9g, torch %.9g", i, v, c.Grad[i])
						break
					}
				}
			})
		}
	})
	t.Logf("worst relative |Δloss| over %d cases: %.3g", len(golden.Cases), worst)
	if err := NewFocal(1, 2).SetLabelSmoothing(1.5); err == nil {
		t.Error("label smoothing 1.5 accepted")
	}
}
