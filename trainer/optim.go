package trainer

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/torchext"
)

// Adam is torch.optim.Adam(params, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay): L2
// regularisation added to the gradient (not AdamW), as the script's
// optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-4). The step itself runs in
// torchext, operation for operation as PyTorch's single-tensor implementation (its CPU path).
//
// Like PyTorch, it keeps one step count per parameter (state['step']): a parameter whose
// gradient is None at a step is skipped and its count lags the others', so its bias
// corrections differ from theirs afterwards.
type Adam struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	// StepCount is the number of Step calls (optimizer.step()): drgrade's bookkeeping, not
	// PyTorch state. The bias corrections use each parameter's own count (Steps).
	StepCount int64

	params           []*ts.Tensor // borrowed from the model
	expAvg, expAvgSq []*ts.Tensor // owned; created at the first step (zeros: PyTorch's lazy init)
	steps            []int64      // state['step'] of each parameter; nil before the first step
}

// NewAdam builds the optimiser over params (borrowed: the model owns them).
func NewAdam(params []*ts.Tensor, lr, weightDecay float64) (*Adam, error) {
	if lr < 0 {
		return nil, fmt.Errorf("invalid learning rate: %g", lr)
	}
	if weightDecay < 0 {
		return nil, fmt.Errorf("invalid weight_decay value: %g", weightDecay)
	}
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay, params: params}, nil
}

// ZeroGrad is optimizer.zero_grad() (set_to_none=True in PyTorch 2.x).
func (a *Adam) ZeroGrad() { torchext.ZeroGrad(a.params) }

// Step is optimizer.step() at the current a.LR.
func (a *Adam) Step() error {
	if a.expAvg == nil {
		for _, p := range a.params {
			m, err := p.ZerosLike(false)
			if err != nil {
				return err
			}
			v, err := p.ZerosLike(false)
			if err != nil {
				m.MustDrop()
				return err
			}
			a.expAvg = append(a.expAvg, m)
			a.expAvgSq = append(a.expAvgSq, v)
		}
	}
	if a.steps == nil {
		a.steps = make([]int64, len(a.params))
	}
	a.StepCount++
	return torchext.AdamStep(a.params, a.expAvg, a.expAvgSq, a.steps, a.LR, a.Beta1, a.Beta2, a.Eps, a.WeightDecay)
}

// Steps returns each parameter's state['step'] (a copy; nil before the first step): the
// number of steps in which it had a gradient.
func (a *Adam) Steps() []int64 {
	if a.steps == nil {
		return nil
	}
	return append([]int64(nil), a.steps...)
}

// Moments returns the first- and second-moment buffers (nil before the first step), for
// checkpoints. They stay owned by the optimiser.
func (a *Adam) Moments() (expAvg, expAvgSq []*ts.Tensor) { return a.expAvg, a.expAvgSq }

// Close frees the moment buffers.
func (a *Adam) Close() {
	for _, t := range append(a.expAvg, a.expAvgSq...) {
		t.MustDrop()
	}
	a.expAvg, a.expAvgSq, a.steps = nil, nil, nil
}
