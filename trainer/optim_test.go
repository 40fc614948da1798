package trainer

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer/schedule"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/models/pth"
)

func npyTensor(t *testing.T, path string) *ts.Tensor {
	t.Helper()
	a, err := npy.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	shape := make([]int64, len(a.Shape))
	for i, d := range a.Shape {
		shape[i] = int64(d)
	}
	var data any = a.I64
	if a.F32 != nil {
		data = a.F32
	}
	x, err := models.TensorFrom(data, shape)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestParityAdamWarmupSteps: three training steps (forward in train mode, weighted CE,
// backward, Adam with L2, warmup LR) from the same initial weights and batches give
// PyTorch's losses and PyTorch's parameters and BatchNorm buffers after every step.
func TestParityAdamWarmupSteps(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/adam", "testdata/adam_gen.py")
	var golden struct {
		Steps []struct{ LR, Loss float64 }
		Keys  []string
	}
	pyoracle.ReadJSON(t, dir, "steps.json", &golden)

	locked.Run(func() {
		torchext.SetNumThreads(1)

		sd, net := convBNNet(t)
		defer sd.Close()
		if fmt.Sprint(sd.Names()) != fmt.Sprint(golden.Keys) {
			t.Fatalf("keys %v, PyTorch's %v", sd.Names(), golden.Keys)
		}
		for _, e := range sd.Entries() {
			src := npyTensor(t, filepath.Join(dir, "init_"+e.Name+".npy"))
			if err := torchext.CopyInto(e.Tensor, src); err != nil {
				t.Fatal(err)
			}
			src.MustDrop()
		}
		weights, err := loss.ClassWeights([]int{4980, 514, 3604, 188, 731}, "inverse")
		if err != nil {
			t.Fatal(err)
		}
		crit, err := loss.NewCrossEntropy(weights)
		if err != nil {
			t.Fatal(err)
		}
		defer crit.Close()
		opt, err := NewAdam(sd.Parameters(), 2e-4, 1e-4)
		if err != nil {
			t.Fatal(err)
		}
		defer opt.Close()
		warm := schedule.Warmup(schedule.WarmupIters(len(golden.Steps)), 1.0/1000)

		for step, want := range golden.Steps {
			opt.LR = 2e-4 * warm(step)
			if e := math.Abs(opt.LR-want.LR) / want.LR; e > 1e-12 {
				t.Errorf("step %d: lr %g, PyTorch %g", step, opt.LR, want.LR)
			}
			x := npyTensor(t, filepath.Join(dir, fmt.Sprintf("x_%d.npy", step)))
			y := npyTensor(t, filepath.Join(dir, fmt.Sprintf("y_%d.npy", step)))
			out, err := net.ForwardT(x, true)
			if err != nil {
				t.Fatal(err)
			}
			l, err := crit.Loss(out, y)
			if err != nil {
				t.Fatal(err)
			}
			got := l.Float64Values()[0]
			// 1e-5 relative: float32 on both sides, through the same libtorch 2.1 CPU kernels
			// (conv, batch norm, weighted cross-entropy): measured 0, bit-identical, at all three
			// steps, goldens and live. The margin is for another build's summation order.
			if e := math.Abs(got-want.Loss) / want.Loss; e > 1e-5 {
				t.Errorf("step %d: loss %.9g, PyTorch %.9g", step, got, want.Loss)
			}
			if err := l.Backward(); err != nil {
				t.Fatal(err)
			}
			if err := opt.Step(); err != nil {
				t.Fatal(err)
			}
			opt.ZeroGrad()
			for _, tt := range []*ts.Tensor{x, y, out, l} {
				tt.MustDrop()
			}
			for _, e := range sd.Entries() {
				want := npyTensor(t, filepath.Join(dir, fmt.Sprintf("after%d_%s.npy", step, e.Name)))
				g, w := e.Tensor.Float64Values(), want.Float64Values()
				for i := range g {
					if math.Abs(g[i]-w[i]) > 1e-5*math.Max(math.Abs(w[i]), 1e-3) {
						t.Errorf("step %d: %s[%d] = %.9g, PyTorch %.9g", step, e.Name, i, g[i], w[i])
						break
					}
				}
				want.MustDrop()
			}
		}
	})
}

// TestParityAdamWeightDecaySteps: torch.optim.Adam(lr=1e-2, weight_decay=0.1, foreach=False)
// for 10 steps on four parameters of different shapes with fixed gradients, two of them
// without a gradient at one step (PyTorch skips such a parameter and its state['step'] lags):
// every parameter after every step within 2e-7·max(|w|, 1) of PyTorch's (measured worst case:
// bit-identical), and the per-parameter step counts equal torch's state['step']. Weight decay
// moves these parameters by up to ~1e-2 over the run, and a shared step count by ~1e-3: both
// far above the bound.
func TestParityAdamWeightDecaySteps(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/adam_wd", "testdata/adam_wd_gen.py")
	var golden struct {
		Shapes    [][]int64
		Steps     int
		StateStep []float64 `json:"state_step"`
	}
	pyoracle.ReadJSON(t, dir, "steps.json", &golden)
	locked.Run(func() {
		torchext.SetNumThreads(1)
		var params []*ts.Tensor
		for i := range golden.Shapes {
			p := npyTensor(t, filepath.Join(dir, fmt.Sprintf("init_%d.npy", i)))
			if err := p.RequiresGrad_(true); err != nil {
				t.Fatal(err)
			}
			defer p.MustDrop()
			params = append(params, p)
		}
		opt, err := NewAdam(params, 1e-2, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		defer opt.Close()
		worst, worstAt := 0.0, ""
		for step := 0; step < golden.Steps; step++ {
			// backward of Σ sum(p_i·g_i) leaves exactly g_i in p_i.grad; a parameter left out of
			// the sum keeps .grad None (ZeroGrad sets it to None).
			grads := make([]*ts.Tensor, len(params))
			for i := range params {
				gp := filepath.Join(dir, fmt.Sprintf("grad_%d_%d.npy", step, i))
				if _, err := os.Stat(gp); err == nil {
					grads[i] = npyTensor(t, gp)
				}
			}
			setGrads(t, params, grads)
			if err := opt.Step(); err != nil {
				t.Fatal(err)
			}
			opt.ZeroGrad()
			for i, p := range params {
				want := npyTensor(t, filepath.Join(dir, fmt.Sprintf("after%d_%d.npy", step, i)))
				g, w := p.Float64Values(), want.Float64Values()
				want.MustDrop()
				for j := range g {
					e := math.Abs(g[j]-w[j]) / math.Max(math.Abs(w[j]), 1)
					if e > worst {
						worst, worstAt = e, fmt.Sprintf("step %d, parameter %d[%d]", step, i, j)
					}
					if e > 2e-7 {
						t.Errorf("step %d: parameter %d[%d] = %.9g, PyTorch %.9g", step, i, j, g[j], w[j])
						break
					}
				}
			}
		}
		t.Logf("worst |Δ|/max(|w|, 1) over 10 steps: %.3g (%s)", worst, worstAt)
		steps := opt.Steps()
		for i, want := range golden.StateStep {
			if float64(steps[i]) != want {
				t.Errorf("parameter %d: state['step'] %d, PyTorch %g", i, steps[i], want)
			}
		}
	})
}

// TestAdamStepsInLastPth: last.pth keeps each parameter's state['step'] as torch 2.1's Adam
// state_dict does (optimizer.state.<i>.step, a 0-d float32) and --resume restores them, so a
// parameter that lagged keeps lagging; a last.pth written before per-parameter counts (only
// optimizer.step) still resumes, every parameter at optimizer.step.
func TestAdamStepsInLastPth(t *testing.T) {
	locked.Run(func() {
		m := newSmallNet(t, 5)
		defer m.Close()
		params := m.sd.Parameters()
		opt, err := NewAdam(params, 1e-2, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		defer opt.Close()
		x := ts.MustRandn([]int64{4, 3, 8, 8}, gotch.Float, gotch.CPU)
		defer x.MustDrop()
		for step := 0; step < 3; step++ {
			out, err := m.ForwardT(x, true)
			if err != nil {
				t.Fatal(err)
			}
			l := out.MustSum(gotch.Float, true)
			if err := l.Backward(); err != nil {
				t.Fatal(err)
			}
			l.MustDrop()
			if step == 1 { // parameter 0 (0.weight) without a gradient at step 1
				torchext.ZeroGrad(params[:1])
			}
			if err := opt.Step(); err != nil {
				t.Fatal(err)
			}
			opt.ZeroGrad()
		}
		want := fmt.Sprint(append([]int64{2}, repeat(3, len(params)-1)...))
		if got := fmt.Sprint(opt.Steps()); got != want {
			t.Fatalf("steps %s, want %s", got, want)
		}
		cfg := DefaultConfig()
		cfg.Model, cfg.NumClasses = "small_net", 5
		path := filepath.Join(t.TempDir(), "last.pth")
		if err := saveLast(path, m, opt, 0, 0.5, cfg, gotch.CPU); err != nil {
			t.Fatal(err)
		}
		sd, err := pth.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range params {
			e := sd.Get(fmt.Sprintf("optimizer.state.%d.step", i))
			if e == nil || e.Dtype != pth.Float32 || len(e.Shape) != 0 {
				t.Fatalf("optimizer.state.%d.step: %+v, want a 0-d float32", i, e)
			}
		}
		resume := func(path, want string) {
			t.Helper()
			opt2, err := NewAdam(params, 1e-2, 0.1)
			if err != nil {
				t.Fatal(err)
			}
			defer opt2.Close()
			if _, err := loadLast(path, m, opt2, cfg, gotch.CPU); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(opt2.Steps()); got != want || opt2.StepCount != 3 {
				t.Errorf("%s: resumed steps %s (%d calls), want %s (3)", filepath.Base(path), got, opt2.StepCount, want)
			}
		}
		resume(path, want)
		// The earlier format: the same file without the per-parameter counts.
		old := &pth.StateDict{Format: sd.Format}
		for _, e := range sd.Entries {
			if !strings.HasSuffix(e.Name, ".step") || e.Name == ckOptStep {
				old.Entries = append(old.Entries, e)
			}
		}
		oldPath := filepath.Join(t.TempDir(), "old_last.pth")
		if err := pth.Save(oldPath, old.Entries); err != nil {
			t.Fatal(err)
		}
		resume(oldPath, fmt.Sprint(repeat(3, len(params))))
	})
}

func repeat(v int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = v
	}
	return out
}
