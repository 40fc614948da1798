package trainer

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/torchext"
)

// The --opt choices.
const (
	OptAdam  = "adam"  // torch.optim.Adam: L2 added to the gradient (the script's)
	OptAdamW = "adamw" // torch.optim.AdamW: decoupled weight decay
	OptSGD   = "sgd"   // torch.optim.SGD with momentum, dampening and nesterov
)

// Optimizer is torch.optim.Adam, AdamW or SGD over one model's parameters, each step
// operation for operation as PyTorch 2.1's single-tensor implementation (its CPU path), run in
// torchext. Kind "" or OptAdam is the script's optim.Adam(model.parameters(), lr=args.lr,
// weight_decay=1e-4).
//
// Adam is torch.optim.Adam(params, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay): L2
// regularisation added to the gradient (not AdamW). Like PyTorch, it keeps one step count per
// parameter (state['step']): a parameter whose gradient is None at a step is skipped and its
// count lags the others', so its bias corrections differ from theirs afterwards.
//
// LRMult, when set, holds one multiplier per parameter: parameter i steps at LR·LRMult[i], as
// a param group of its own (--head_lr_mult gives the classifier's parameters a larger one).
type Optimizer struct {
	Kind                               string // OptAdam ("" too), OptAdamW or OptSGD
	LR, Beta1, Beta2, Eps, WeightDecay float64
	// SGD's momentum, dampening and nesterov (torch.optim.SGD's arguments).
	Momentum, Dampening float64
	Nesterov            bool
	LRMult              []float64
	// StepCount is the number of Step calls (optimizer.step()): drgrade's bookkeeping, not
	// PyTorch state. The bias corrections use each parameter's own count (Steps).
	StepCount int64

	params           []*ts.Tensor // borrowed from the model
	expAvg, expAvgSq []*ts.Tensor // owned; created at the first step (zeros: PyTorch's lazy init)
	steps            []int64      // state['step'] of each parameter; nil before the first step
	momentumBuf      []*ts.Tensor // SGD's state['momentum_buffer'] (owned; nil until a parameter's first step)
	lrs              []float64
}

// Adam is the optimiser's earlier name: every Optimizer is Adam unless Kind says otherwise.
type Adam = Optimizer

// OptimizerOptions configure NewOptimizer; zero values are torch's defaults for the kind
// except WeightDecay, which is taken as given.
type OptimizerOptions struct {
	Kind        string
	LR          float64
	WeightDecay float64
	Momentum    float64 // SGD
	Dampening   float64 // SGD
	Nesterov    bool    // SGD
	LRMult      []float64
}

// NewOptimizer builds an Adam, AdamW or SGD over params (borrowed: the model owns them),
// refusing what torch.optim refuses.
func NewOptimizer(params []*ts.Tensor, o OptimizerOptions) (*Optimizer, error) {
	a, err := NewAdam(params, o.LR, o.WeightDecay)
	if err != nil {
		return nil, err
	}
	switch o.Kind {
	case "", OptAdam, OptAdamW:
	case OptSGD:
		if o.Momentum < 0 {
			return nil, fmt.Errorf("invalid momentum value: %g", o.Momentum)
		}
		if o.Nesterov && (o.Momentum <= 0 || o.Dampening != 0) {
			return nil, fmt.Errorf("Nesterov momentum requires a momentum and zero dampening")
		}
	default:
		return nil, fmt.Errorf("unknown optimiser %q: want adam, adamw or sgd", o.Kind)
	}
	if o.LRMult != nil && len(o.LRMult) != len(params) {
		return nil, fmt.Errorf("%d learning-rate multipliers for %d parameters", len(o.LRMult), len(params))
	}
	a.Kind, a.Momentum, a.Dampening, a.Nesterov, a.LRMult = o.Kind, o.Momentum, o.Dampening, o.Nesterov, o.LRMult
	return a, nil
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
	if a.Kind == OptSGD {
		return a.sgdStep()
	}
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
	return torchext.AdamStepLRs(a.params, a.expAvg, a.expAvgSq, a.steps, a.paramLRs(), a.Beta1, a.Beta2, a.Eps,
		a.WeightDecay, a.Kind == OptAdamW)
}

// sgdStep is torch.optim.SGD.step(): momentum buffers created at a parameter's first step.
func (a *Adam) sgdStep() error {
	if a.momentumBuf == nil {
		a.momentumBuf = make([]*ts.Tensor, len(a.params))
	}
	a.StepCount++
	return torchext.SGDStep(a.params, a.momentumBuf, a.paramLRs(), a.Momentum, a.Dampening, a.WeightDecay, a.Nesterov)
}

// paramLRs is each parameter's learning rate: LR times its multiplier.
func (a *Adam) paramLRs() []float64 {
	if a.lrs == nil {
		a.lrs = make([]float64, len(a.params))
	}
	for i := range a.lrs {
		a.lrs[i] = a.LR
		if a.LRMult != nil {
			a.lrs[i] = a.LR * a.LRMult[i]
		}
	}
	return a.lrs
}

// MomentumBuffers returns SGD's momentum buffers (nil entries for parameters without one
// yet; nil for Adam), for checkpoints. They stay owned by the optimiser.
func (a *Adam) MomentumBuffers() []*ts.Tensor { return a.momentumBuf }

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
	for _, t := range a.momentumBuf {
		if t != nil {
			t.MustDrop()
		}
	}
	a.expAvg, a.expAvgSq, a.steps, a.momentumBuf = nil, nil, nil, nil
}
