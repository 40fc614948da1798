package loss

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/pyoracle"
)

type ordinalGolden struct {
	CoralLoss   float64   `json:"coral_loss"`
	CoralGrad   []float64 `json:"coral_grad"`
	CoralGrades []int64   `json:"coral_grades"`
	Sigmoid     []float64 `json:"sigmoid"`
	MSE         struct {
		Loss float64
		Grad []float64
	} `json:"mse"`
	SmoothL1 struct {
		Loss float64
		Grad []float64
	} `json:"smooth_l1"`
}

// TestParityOrdinal: the CORAL loss and its gradient equal coral_pytorch 1.4.0's coral_loss,
// CoralGrades its proba_to_label (a logit of 1e-8, whose float32 sigmoid is exactly 0.5, counts
// as not above, as in torch), CoralProbabilities follows from its sigmoids and sums to 1, and the
// regression losses equal F.mse_loss / F.smooth_l1_loss with their gradients. Measured: the CORAL
// loss and gradient identical to torch's; the bounds (1e-6) allow another summation order.
func TestParityOrdinal(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/ordinal", "testdata/ordinal_gen.py")
	var g ordinalGolden
	pyoracle.ReadJSON(t, dir, "ordinal.json", &g)
	zArr, err := npy.ReadFile(filepath.Join(dir, "coral_logits.npy"))
	if err != nil {
		t.Fatal(err)
	}
	n, k := zArr.Shape[0], zArr.Shape[1]
	grades, err := CoralGrades(zArr.F32, n, k)
	if err != nil {
		t.Fatal(err)
	}
	for i := range grades {
		if grades[i] != g.CoralGrades[i] {
			t.Errorf("row %d: grade %d, proba_to_label %d", i, grades[i], g.CoralGrades[i])
		}
	}
	probs, err := CoralProbabilities(zArr.F32, n, k)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		sum, prev := 0.0, 1.0
		for j := 0; j <= k; j++ {
			want := prev // the last class: P(grade > K−2)
			if j < k {
				want = prev - g.Sigmoid[i*k+j]
				prev = g.Sigmoid[i*k+j]
			}
			if d := math.Abs(probs[i*(k+1)+j] - want); d > 1e-7 {
				t.Errorf("row %d class %d: %v, from torch's sigmoids %v", i, j, probs[i*(k+1)+j], want)
			}
			sum += probs[i*(k+1)+j]
		}
		if math.Abs(sum-1) > 1e-12 {
			t.Errorf("row %d sums to %v", i, sum)
		}
	}

	locked.Run(func() {
		z := tensorFromNpy(t, filepath.Join(dir, "coral_logits.npy"))
		defer z.MustDrop()
		y := tensorFromNpy(t, filepath.Join(dir, "targets.npy"))
		defer y.MustDrop()
		if err := z.RequiresGrad_(true); err != nil {
			t.Fatal(err)
		}
		l, err := Coral(z, y)
		if err != nil {
			t.Fatal(err)
		}
		got := l.Float64Values()[0]
		if e := relErr(got, g.CoralLoss); e > 1e-6 {
			t.Errorf("coral loss %v, coral_pytorch %v (relative %.2g)", got, g.CoralLoss, e)
		}
		t.Logf("coral loss relative difference %.2g", relErr(got, g.CoralLoss))
		if err := l.Backward(); err != nil {
			t.Fatal(err)
		}
		l.MustDrop()
		grad := z.MustGrad(false)
		gv := grad.Float64Values()
		grad.MustDrop()
		worst := 0.0
		for i := range gv {
			worst = math.Max(worst, math.Abs(gv[i]-g.CoralGrad[i]))
		}
		if worst > 1e-6 {
			t.Errorf("coral gradient off by %.2g", worst)
		}
		t.Logf("coral gradient worst |Δ| %.2g", worst)

		for _, c := range []struct {
			kind string
			loss float64
			grad []float64
		}{{"mse", g.MSE.Loss, g.MSE.Grad}, {"smooth_l1", g.SmoothL1.Loss, g.SmoothL1.Grad}} {
			out := tensorFromNpy(t, filepath.Join(dir, "reg_out.npy"))
			if err := out.RequiresGrad_(true); err != nil {
				t.Fatal(err)
			}
			l, err := Regression(c.kind, out, y)
			if err != nil {
				t.Fatal(err)
			}
			got := l.Float64Values()[0]
			if e := relErr(got, c.loss); e > 1e-6 {
				t.Errorf("%s loss %v, torch %v", c.kind, got, c.loss)
			}
			if err := l.Backward(); err != nil {
				t.Fatal(err)
			}
			l.MustDrop()
			gr := out.MustGrad(false)
			gv := gr.Float64Values()
			gr.MustDrop()
			out.MustDrop()
			for i := range gv {
				if math.Abs(gv[i]-c.grad[i]) > 1e-6 {
					t.Errorf("%s gradient %d: %v, torch %v", c.kind, i, gv[i], c.grad[i])
				}
			}
		}
		if _, err := Regression("huber", z, y); err == nil {
			t.Error("an unknown regression loss: no error")
		}
	})
}
