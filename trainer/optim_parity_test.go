package trainer

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/vision/models"
)

// optimGolden is testdata/optim/optim.json.
type optimGolden struct {
	Shapes  [][]int64
	Steps   int
	None    [][2]int
	Record  []int
	Configs []struct {
		Name, Kind          string
		LR                  float64
		WeightDecay         float64 `json:"weight_decay"`
		Momentum, Dampening float64
		Nesterov            bool
		Mult                []float64
	}
}

// TestParityOptimizers: --opt adamw and sgd (plain, momentum with dampening, nesterov) and
// adam/adamw/sgd with per-parameter learning rates (param groups, --head_lr_mult) against
// torch.optim over 50 steps with fixed gradients, two of them None once: every parameter after
// every recorded step within 1e-7·max(|w|, 1) of torch's (measured worst: see the log line).
// Weight decay moves these parameters by ~1e-2 over the run.
func TestParityOptimizers(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/optim", "testdata/optim_gen.py")
	var golden optimGolden
	pyoracle.ReadJSON(t, dir, "optim.json", &golden)
	none := map[[2]int]bool{}
	for _, n := range golden.None {
		none[n] = true
	}
	locked.Run(func() {
		torchext.SetNumThreads(1)
		init := npyTensor(t, filepath.Join(dir, "init.npy"))
		defer init.MustDrop()
		grads := npyTensor(t, filepath.Join(dir, "grads.npy"))
		defer grads.MustDrop()
		initV, gradV := init.Float64Values(), grads.Float64Values()
		width := len(initV)
		for _, cfg := range golden.Configs {
			t.Run(cfg.Name, func(t *testing.T) {
				var params []*ts.Tensor
				off := 0
				slice := func(v []float64, shape []int64) (*ts.Tensor, int) {
					n := 1
					for _, d := range shape {
						n *= int(d)
					}
					f := make([]float32, n)
					for j := range f {
						f[j] = float32(v[off+j])
					}
					x, err := models.TensorFrom(f, shape)
					if err != nil {
						t.Fatal(err)
					}
					return x, n
				}
				for _, s := range golden.Shapes {
					p, n := slice(initV, s)
					off += n
					if err := p.RequiresGrad_(true); err != nil {
						t.Fatal(err)
					}
					defer p.MustDrop()
					params = append(params, p)
				}
				opt, err := NewOptimizer(params, OptimizerOptions{Kind: cfg.Kind, LR: cfg.LR, WeightDecay: cfg.WeightDecay,
					Momentum: cfg.Momentum, Dampening: cfg.Dampening, Nesterov: cfg.Nesterov, LRMult: cfg.Mult})
				if err != nil {
					t.Fatal(err)
				}
				defer opt.Close()
				after := npyTensor(t, filepath.Join(dir, "after_"+cfg.Name+".npy"))
				afterV := after.Float64Values()
				after.MustDrop()
				worst, rec := 0.0, 0
				for step := 0; step < golden.Steps; step++ {
					grads := make([]*ts.Tensor, len(params))
					off = 0
					for i := range params {
						g, n := slice(gradV[step*width:], golden.Shapes[i])
						off += n
						if none[[2]int{step, i}] {
							g.MustDrop()
							continue
						}
						grads[i] = g
					}
					setGrads(t, params, grads)
					if err := opt.Step(); err != nil {
						t.Fatal(err)
					}
					opt.ZeroGrad()
					if rec >= len(golden.Record) || golden.Record[rec] != step {
						continue
					}
					var got []float64
					for _, p := range params {
						got = append(got, p.Float64Values()...)
					}
					want := afterV[rec*width : (rec+1)*width]
					for j := range got {
						e := math.Abs(got[j]-want[j]) / math.Max(math.Abs(want[j]), 1)
						worst = math.Max(worst, e)
						if e > 1e-7 {
							t.Errorf("step %d: element %d = %.9g, torch %.9g", step, j, got[j], want[j])
							break
						}
					}
					rec++
				}
				if rec != len(golden.Record) {
					t.Fatalf("compared %d recorded steps of %d", rec, len(golden.Record))
				}
				t.Logf("worst |Δ|/max(|w|, 1) over %d steps: %.3g", golden.Steps, worst)
			})
		}
	})
}

// setGrads leaves exactly grads[i] in params[i].grad (a nil grads[i]: .grad stays None), by the
// backward of Σ sum(p_i·g_i), and drops the grads.
func setGrads(t *testing.T, params, grads []*ts.Tensor) {
	t.Helper()
	var total *ts.Tensor
	for i, p := range params {
		if grads[i] == nil {
			continue
		}
		s := p.MustMul(grads[i], false).MustSum(gotch.Float, true)
		grads[i].MustDrop()
		if total == nil {
			total = s
		} else {
			total = total.MustAdd(s, true)
			s.MustDrop()
		}
	}
	if err := total.Backward(); err != nil {
		t.Fatal(err)
	}
	total.MustDrop()
}
