package trainer

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer/schedule"
	"github.com/drgrade/drgrade/vision/models"
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

		sd := models.NewStateDict()
		defer sd.Close()
		root := sd.Root()
		net := models.Sequential{
			models.NewConv2d(root.Sub("0"), 3, 4, 3, models.ConvOpts{Padding: 1}, nil),
			models.NewBatchNorm2d(root.Sub("1"), 4),
			models.ReLU, models.AdaptiveAvgPool2d(1, 1), models.Flatten,
			models.NewLinear(root.Sub("5"), 4, 5),
		}
		if err := sd.Err(); err != nil {
			t.Fatal(err)
		}
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
			// 1e-5 relative: the bound for a whole training step.
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
