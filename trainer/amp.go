package trainer

import (
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/torchext"
)

// GradScaler is torch.cuda.amp.GradScaler (torch 2.1): the loss is multiplied by a scale
// (initially 2^16) before backward; before the optimiser step the gradients are unscaled and
// checked, the step is skipped when any is inf/NaN, and update() backs the scale off by 0.5
// on overflow or grows it by 2 after 2000 consecutive clean steps. Disabled, every method is
// a pass-through, as GradScaler(enabled=False) is.
type GradScaler struct {
	Enabled        bool
	GrowthFactor   float64
	BackoffFactor  float64
	GrowthInterval int64

	scale, growthTracker, foundInf *ts.Tensor // owned; float32 [1], int32 [1], float32 [1]
	unscaled                       bool
}

// NewGradScaler builds a scaler with PyTorch's defaults, its state on the CPU.
func NewGradScaler(enabled bool) (*GradScaler, error) { return NewGradScalerOn(enabled, gotch.CPU) }

// NewGradScalerOn builds a scaler with PyTorch's defaults whose state (scale, growth tracker,
// found-inf flag) lives on dev, the parameters' device, as GradScaler keeps it.
func NewGradScalerOn(enabled bool, dev gotch.Device) (*GradScaler, error) {
	g := &GradScaler{Enabled: enabled, GrowthFactor: 2, BackoffFactor: 0.5, GrowthInterval: 2000}
	if !enabled {
		return g, nil
	}
	dev = torchext.OrCPU(dev)
	var err error
	if g.scale, err = ts.Full([]int64{1}, ts.FloatScalar(65536), gotch.Float, dev); err != nil {
		return nil, err
	}
	if g.growthTracker, err = ts.Zeros([]int64{1}, gotch.Int, dev); err != nil {
		g.Close()
		return nil, err
	}
	if g.foundInf, err = ts.Zeros([]int64{1}, gotch.Float, dev); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// Scale returns loss × scale (a new tensor), or a shallow copy of loss when disabled.
func (g *GradScaler) Scale(loss *ts.Tensor) (*ts.Tensor, error) {
	if !g.Enabled {
		return loss.ShallowClone()
	}
	return loss.Mul(g.scale, false)
}

// Unscale divides the optimiser's gradients by the scale and records whether any is
// non-finite (GradScaler.unscale_); Step calls it if the caller has not (e.g. for clipping).
func (g *GradScaler) Unscale(opt *Adam) error {
	if !g.Enabled || g.unscaled {
		return nil
	}
	if err := g.foundInf.Fill_(ts.FloatScalar(0)); err != nil {
		return err
	}
	inv, err := g.scale.Reciprocal(false)
	if err != nil {
		return err
	}
	defer inv.MustDrop()
	if err := torchext.AmpUnscaleGrads(opt.params, g.foundInf, inv); err != nil {
		return err
	}
	g.unscaled = true
	return nil
}

// Step unscales if needed and runs opt.Step unless a gradient was inf/NaN. It reports
// whether the step was taken.
func (g *GradScaler) Step(opt *Adam) (bool, error) {
	if !g.Enabled {
		return true, opt.Step()
	}
	if err := g.Unscale(opt); err != nil {
		return false, err
	}
	inf, err := g.foundInf.Float64Value([]int64{0}) // Float64Values would leak a copy
	if err != nil {
		return false, err
	}
	if inf != 0 {
		return false, nil
	}
	return true, opt.Step()
}

// Update adjusts the scale for the next iteration (GradScaler.update).
func (g *GradScaler) Update() error {
	if !g.Enabled {
		return nil
	}
	g.unscaled = false
	return torchext.AmpUpdateScale(g.scale, g.growthTracker, g.foundInf, g.GrowthFactor, g.BackoffFactor, g.GrowthInterval)
}

// ScaleValue is the current scale (GradScaler.get_scale); 1 when disabled.
func (g *GradScaler) ScaleValue() float64 {
	if !g.Enabled {
		return 1
	}
	v, err := g.scale.Float64Value([]int64{0})
	if err != nil {
		return math.NaN()
	}
	return v
}

// Close frees the scaler's tensors.
func (g *GradScaler) Close() {
	for _, t := range []*ts.Tensor{g.scale, g.growthTracker, g.foundInf} {
		if t != nil {
			t.MustDrop()
		}
	}
	g.scale, g.growthTracker, g.foundInf = nil, nil, nil
}
