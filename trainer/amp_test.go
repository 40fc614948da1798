package trainer

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/vision/models"
)

// TestAutocastConvIsBF16: inside the trainer's CPU autocast a conv's output is bfloat16 and
// the loss is computed in float32 (cross_entropy runs in fp32 under autocast).
func TestAutocastConvIsBF16(t *testing.T) {
	locked.Run(func() {
		sd := models.NewStateDict()
		defer sd.Close()
		conv := models.NewConv2d(sd.Root().Sub("c"), 3, 4, 3, models.ConvOpts{}, nil)
		x := ts.MustRandn([]int64{2, 3, 8, 8}, gotch.Float, gotch.CPU)
		defer x.MustDrop()
		exit, err := torchext.Autocast(torchext.CPU, torchext.BFloat16)
		if err != nil {
			t.Fatal(err)
		}
		y, err := conv.ForwardT(x, true)
		exit()
		if err != nil {
			t.Fatal(err)
		}
		defer y.MustDrop()
		if y.DType() != gotch.BFloat16 {
			t.Fatalf("conv under autocast: %v, want bfloat16", y.DType())
		}
		z, err := conv.ForwardT(x, true)
		if err != nil {
			t.Fatal(err)
		}
		defer z.MustDrop()
		if z.DType() != gotch.Float {
			t.Fatalf("conv after autocast: %v, want float", z.DType())
		}
	})
}

// TestGradScaler: PyTorch's GradScaler semantics with injected inf gradients: the step is
// skipped and the scale halves; finite gradients are unscaled before the step; after
// growth_interval clean steps the scale doubles.
func TestGradScaler(t *testing.T) {
	locked.Run(func() {
		p := ts.MustOnes([]int64{3}, gotch.Float, gotch.CPU)
		defer p.MustDrop()
		if err := p.RequiresGrad_(true); err != nil {
			t.Fatal(err)
		}
		opt, err := NewAdam([]*ts.Tensor{p}, 0.1, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer opt.Close()
		g, err := NewGradScaler(true)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		g.GrowthInterval = 3
		if g.ScaleValue() != 65536 {
			t.Fatalf("initial scale %v, want 2^16", g.ScaleValue())
		}
		// backward of scale·sum(p·w) gives grad = scale·w.
		backward := func(w []float32) {
			wt, _ := models.TensorFrom(w, []int64{3})
			defer wt.MustDrop()
			prod, _ := p.Mul(wt, false)
			l, _ := prod.Sum(gotch.Float, true)
			defer l.MustDrop()
			scaled, err := g.Scale(l)
			if err != nil {
				t.Fatal(err)
			}
			defer scaled.MustDrop()
			if err := scaled.Backward(); err != nil {
				t.Fatal(err)
			}
		}
		before := p.Float64Values()

		backward([]float32{1, float32(math.Inf(1)), 1})
		stepped, err := g.Step(opt)
		if err != nil {
			t.Fatal(err)
		}
		if stepped {
			t.Fatal("a step with an inf gradient was taken")
		}
		if err := g.Update(); err != nil {
			t.Fatal(err)
		}
		opt.ZeroGrad()
		if got := p.Float64Values(); got[0] != before[0] {
			t.Fatalf("parameters changed on a skipped step: %v", got)
		}
		if g.ScaleValue() != 32768 {
			t.Fatalf("scale after overflow %v, want 2^15 (backoff 0.5)", g.ScaleValue())
		}

		for i := 0; i < 3; i++ {
			backward([]float32{0.5, -0.25, 2})
			if err := g.Unscale(opt); err != nil {
				t.Fatal(err)
			}
			grad, _ := p.Grad(false)
			gv := grad.Float64Values()
			grad.MustDrop()
			if gv[0] != 0.5 || gv[1] != -0.25 || gv[2] != 2 {
				t.Fatalf("unscaled gradient %v, want [0.5 -0.25 2]", gv)
			}
			if stepped, err := g.Step(opt); err != nil || !stepped {
				t.Fatalf("clean step %d: stepped=%v err=%v", i, stepped, err)
			}
			if err := g.Update(); err != nil {
				t.Fatal(err)
			}
			opt.ZeroGrad()
		}
		if g.ScaleValue() != 65536 {
			t.Fatalf("scale after 3 clean steps with interval 3: %v, want 2^16", g.ScaleValue())
		}
		if opt.StepCount != 3 {
			t.Fatalf("optimizer stepped %d times, want 3", opt.StepCount)
		}
	})
}
