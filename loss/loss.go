package loss

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
	"github.com/drgrade/drgrade/internal/torchext"
)

// Criterion computes a scalar training loss from logits [N, C] and int64 targets [N].
// Both are borrowed; the returned scalar is owned by the caller.
type Criterion interface {
	Loss(logits, targets *ts.Tensor) (*ts.Tensor, error)
	// Close frees tensors the criterion owns (class weights, per-class alpha).
	Close()
}

// reductionMean is at::Reduction::Mean.
const reductionMean = 1

// ClassWeights returns per-class loss weights from the training set's class counts.
//   - "inverse": w_c = 1/count_c, the script's (no normalisation);
//   - "normalized": 1/count_c scaled so the weights sum to the number of classes;
//   - "none": nil (unweighted).
//
// A class with no samples is an error (the script divides by zero), except with "none".
func ClassWeights(counts []int, mode string) ([]float64, error) {
	switch mode {
	case "none":
		return nil, nil
	case "inverse", "normalized":
	default:
		return nil, fmt.Errorf("class weights %q: want inverse, normalized or none", mode)
	}
	w := make([]float64, len(counts))
	var sum float64
	for c, n := range counts {
		if n <= 0 {
			return nil, fmt.Errorf("class %d has no training images, so its weight 1/count is undefined (use --class_weights none, or add images of that class)", c)
		}
		w[c] = 1 / float64(n)
		sum += w[c]
	}
	if mode == "normalized" {
		for c := range w {
			w[c] *= float64(len(w)) / sum
		}
	}
	return w, nil
}

// CrossEntropy is torch.nn.CrossEntropyLoss(weight=w): with weights, the mean is weighted,
// sum_i w[y_i]·ce_i / sum_i w[y_i], exactly as PyTorch reduces it.
type CrossEntropy struct {
	weight *ts.Tensor // float32 [C], or nil; owned
	// LabelSmoothing is CrossEntropyLoss(label_smoothing=ε): the target is (1−ε)·one-hot + ε/C,
	// and with class weights torch 2.1 weights both terms by the class weights (the smoothing
	// term by every class's weight) and divides by Σ w[y_i].
	LabelSmoothing float64
}

// NewCrossEntropy builds the criterion; weights may be nil (unweighted). The weights are
// stored as float32, as the script's torch.FloatTensor(class_weights).
func NewCrossEntropy(weights []float64) (*CrossEntropy, error) {
	ce := &CrossEntropy{}
	if weights != nil {
		w32 := make([]float32, len(weights))
		for i, v := range weights {
			w32[i] = float32(v)
		}
		t, err := torchext.FromSlice(w32, []int64{int64(len(w32))})
		if err != nil {
			return nil, err
		}
		ce.weight = t
	}
	return ce, nil
}

// Loss is F.cross_entropy(logits, targets, weight=w, reduction='mean').
func (c *CrossEntropy) Loss(logits, targets *ts.Tensor) (*ts.Tensor, error) {
	w := c.weight
	if w == nil {
		w = ts.NewTensor() // undefined: weight=None
		defer w.MustDrop()
	}
	return logits.CrossEntropyLoss(targets, w, reductionMean, -100, c.LabelSmoothing, false)
}

// Close frees the class weights.
func (c *CrossEntropy) Close() {
	if c.weight != nil {
		c.weight.MustDrop()
		c.weight = nil
	}
}

// Focal is the script's FocalLoss(alpha=1, gamma=2, reduction='mean'):
// ce = cross_entropy(logits, y, reduction='none'); pt = exp(-ce);
// loss = mean(alpha·(1−pt)^gamma·ce). Beyond the script, alpha may be per class
// (alpha[y_i], the α-balanced form of Lin et al.). Class weights are not used, as in the script.
type Focal struct {
	Alpha float64
	Gamma float64
	// LabelSmoothing, when set, computes ce with label smoothing, the documented equivalent
	// for a focal loss: ce = F.cross_entropy(logits, y, reduction='none', label_smoothing=ε),
	// pt = exp(−ce), and the rest unchanged.
	LabelSmoothing float64
	alpha          *ts.Tensor // per-class alpha, float32 [C], or nil; owned
}

// NewFocal builds the script's focal loss with a scalar alpha.
func NewFocal(alpha, gamma float64) *Focal { return &Focal{Alpha: alpha, Gamma: gamma} }

// NewFocalPerClass builds a focal loss whose alpha is looked up by target class.
func NewFocalPerClass(alpha []float64, gamma float64) (*Focal, error) {
	a32 := make([]float32, len(alpha))
	for i, v := range alpha {
		a32[i] = float32(v)
	}
	t, err := torchext.FromSlice(a32, []int64{int64(len(a32))})
	if err != nil {
		return nil, err
	}
	return &Focal{Alpha: 1, Gamma: gamma, alpha: t}, nil
}

// Loss computes the focal loss, operation for operation as the script's forward.
func (f *Focal) Loss(logits, targets *ts.Tensor) (*ts.Tensor, error) {
	var s own.Scope
	defer s.Free()
	none := ts.NewTensor() // undefined: weight=None
	s.Add(none)
	ce, err := s.Track(logits.CrossEntropyLoss(targets, none, 0, -100, f.LabelSmoothing, false)) // reduction='none'
	if err != nil {
		return nil, err
	}
	negCE, err := s.Track(ce.Neg(false))
	if err != nil {
		return nil, err
	}
	pt, err := s.Track(negCE.Exp(false))
	if err != nil {
		return nil, err
	}
	oneMinus, err := s.Track(pt.RsubScalar(ts.FloatScalar(1), false)) // 1 - pt
	if err != nil {
		return nil, err
	}
	mod, err := s.Track(oneMinus.PowTensorScalar(ts.FloatScalar(f.Gamma), false))
	if err != nil {
		return nil, err
	}
	// alpha * (1-pt)**gamma * ce, left to right as Python evaluates it.
	var scaled *ts.Tensor
	if f.alpha != nil {
		at, err := s.Track(f.alpha.IndexSelect(0, targets, false))
		if err != nil {
			return nil, err
		}
		if scaled, err = s.Track(at.Mul(mod, false)); err != nil {
			return nil, err
		}
	} else if scaled, err = s.Track(mod.MulScalar(ts.FloatScalar(f.Alpha), false)); err != nil {
		return nil, err
	}
	fl, err := s.Track(scaled.Mul(ce, false))
	if err != nil {
		return nil, err
	}
	return fl.Mean(gotch.Float, false)
}

// SetLabelSmoothing implements Smoother.
func (c *CrossEntropy) SetLabelSmoothing(eps float64) error {
	return setSmoothing(&c.LabelSmoothing, eps)
}

// SetLabelSmoothing implements Smoother.
func (f *Focal) SetLabelSmoothing(eps float64) error { return setSmoothing(&f.LabelSmoothing, eps) }

// Smoother is a criterion that takes label smoothing (--label_smoothing): cross_entropy and
// focal do.
type Smoother interface {
	SetLabelSmoothing(eps float64) error
}

func setSmoothing(dst *float64, eps float64) error {
	if !(eps >= 0 && eps <= 1) {
		return fmt.Errorf("label_smoothing must be between 0 and 1, got %v", eps)
	}
	*dst = eps
	return nil
}

// Close frees the per-class alpha.
func (f *Focal) Close() {
	if f.alpha != nil {
		f.alpha.MustDrop()
		f.alpha = nil
	}
}

// Tensors lists the tensors c owns (class weights, per-class alpha), for moving them to a device.
func (c *CrossEntropy) Tensors() []*ts.Tensor { return nonNil(c.weight) }

// Tensors lists the tensors f owns (class weights, per-class alpha), for moving them to a device.
func (f *Focal) Tensors() []*ts.Tensor { return nonNil(f.alpha) }

func nonNil(tensors ...*ts.Tensor) []*ts.Tensor {
	var out []*ts.Tensor
	for _, t := range tensors {
		if t != nil {
			out = append(out, t)
		}
	}
	return out
}

// ToDevice is criterion.to(device): the tensors a criterion owns, listed by a Tensors()
// []*ts.Tensor method, are moved to dev in place (a criterion without one owns none).
func ToDevice(c Criterion, dev gotch.Device) error {
	owner, ok := c.(interface{ Tensors() []*ts.Tensor })
	if !ok {
		return nil
	}
	for _, t := range owner.Tensors() {
		if err := torchext.MoveTo(t, dev); err != nil {
			return fmt.Errorf("moving the loss's tensors to %s: %w", torchext.DeviceName(dev), err)
		}
	}
	return nil
}
