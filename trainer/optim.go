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
type Adam struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	StepCount                          int64 // state['step'], shared by all parameters here

	params           []*ts.Tensor // borrowed from the model
	expAvg, expAvgSq []*ts.Tensor // owned; created lazily at the first step, as PyTorch does
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
	a.StepCount++
	return torchext.AdamStep(a.params, a.expAvg, a.expAvgSq, a.StepCount, a.LR, a.Beta1, a.Beta2, a.Eps, a.WeightDecay)
}

// Moments returns the first- and second-moment buffers (nil before the first step), for
// checkpoints. They stay owned by the optimiser.
func (a *Adam) Moments() (expAvg, expAvgSq []*ts.Tensor) { return a.expAvg, a.expAvgSq }

// Close frees the moment buffers.
func (a *Adam) Close() {
	for _, t := range append(a.expAvg, a.expAvgSq...) {
		t.MustDrop()
	}
	a.expAvg, a.expAvgSq = nil, nil
}
