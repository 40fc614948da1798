package loss

import (
	"fmt"
	"strings"

	"github.com/drgrade/drgrade/internal/registry"
	"github.com/sugarme/gotch/ts"
)

// Options is what the trainer knows when it builds a criterion: the training split's class
// counts, the class weights --class_weights made of them, and the focal-loss flags. A
// constructor uses what it needs and ignores the rest.
type Options struct {
	ClassCounts  []int     // images per class in the training split
	ClassWeights []float64 // ClassWeights(ClassCounts, --class_weights); nil for "none"
	FocalAlpha   string    // --focal_alpha: a non-negative number, or "auto" (per class)
	FocalGamma   float64   // --focal_gamma
}

// Constructor builds a criterion for one run. The criterion it returns is owned by the
// caller, who calls Close when training ends.
type Constructor func(opts Options) (Criterion, error)

// Func adapts a loss function that owns no tensors to a Criterion (Close does nothing). It
// borrows logits and targets and returns a new scalar, like every Criterion.
type Func func(logits, targets *ts.Tensor) (*ts.Tensor, error)

// Loss calls f.
func (f Func) Loss(logits, targets *ts.Tensor) (*ts.Tensor, error) { return f(logits, targets) }

// Close does nothing: a Func owns no tensors.
func (Func) Close() {}

// Names of the built-in criteria: the script's two choices.
const (
	// NameCrossEntropy is CrossEntropyLoss(weight=Options.ClassWeights), the script's default.
	NameCrossEntropy = "cross_entropy"
	// NameFocal is FocalLoss(alpha, gamma) (--use_focal_loss), alpha from Options.FocalAlpha.
	NameFocal = "focal"
	// NameMSE and NameSmoothL1 are the regression head's losses on the grade (Regression).
	NameMSE      = "mse"
	NameSmoothL1 = "smooth_l1"
	// NameCoral is the ordinal head's CORAL loss (Coral).
	NameCoral = "coral"
)

var registered = func() *registry.Registry[Constructor] {
	r := registry.New[Constructor]("loss: Register", "constructor")
	for name, c := range map[string]Constructor{NameCrossEntropy: newCrossEntropyFrom, NameFocal: newFocalFrom,
		NameMSE: regressionFrom(NameMSE), NameSmoothL1: regressionFrom(NameSmoothL1),
		NameCoral: func(Options) (Criterion, error) { return Func(Coral), nil }} {
		if err := r.Add(name, c); err != nil {
			panic(err) // a bug of this package, seen by every test run
		}
	}
	return r
}()

// Register adds a criterion under name, so that New (and the trainer's loss choice) can build
// it. Call it from an init function, as models.Register. A name already taken, an empty name
// or a nil constructor is an error.
func Register(name string, ctor Constructor) error { return registered.Add(name, ctor) }

// Names lists the registered criteria, sorted.
func Names() []string { return registered.Names(nil) }

// New builds the criterion registered as name; the caller owns it (Close).
func New(name string, opts Options) (Criterion, error) {
	ctor, ok := registered.Get(name)
	if !ok {
		return nil, fmt.Errorf("unknown loss %q; registered: %s", name, strings.Join(Names(), ", "))
	}
	c, err := ctor(opts)
	if err != nil {
		return nil, fmt.Errorf("loss %s: %w", name, err)
	}
	if c == nil {
		return nil, fmt.Errorf("loss %s: the constructor returned no criterion", name)
	}
	return c, nil
}

// regressionFrom builds the regression head's criterion kind (mse or smooth_l1).
func regressionFrom(kind string) Constructor {
	return func(Options) (Criterion, error) {
		return Func(func(out, y *ts.Tensor) (*ts.Tensor, error) { return Regression(kind, out, y) }), nil
	}
}

// HeadLosses are the criteria an output head trains with (the first is its default):
// cross_entropy or focal (or a registered loss) for class logits, mse or smooth_l1 for the
// regression head, coral for the ordinal head.
func HeadLosses(head string) []string {
	switch head {
	case "regression":
		return []string{NameMSE, NameSmoothL1}
	case "ordinal":
		return []string{NameCoral}
	}
	return nil
}

// newCrossEntropyFrom is the script's torch.nn.CrossEntropyLoss(weight=class_weights).
func newCrossEntropyFrom(o Options) (Criterion, error) { return NewCrossEntropy(o.ClassWeights) }

// newFocalFrom is the script's FocalLoss(): a scalar alpha (its default 1), or with "auto" a
// per-class alpha, the inverse class frequencies normalised to sum to the number of classes.
func newFocalFrom(o Options) (Criterion, error) {
	if o.FocalAlpha == "auto" {
		w, err := ClassWeights(o.ClassCounts, "normalized")
		if err != nil {
			return nil, err
		}
		return NewFocalPerClass(w, o.FocalGamma)
	}
	a := 1.0 // FocalLoss(alpha=1)
	if o.FocalAlpha != "" {
		if _, err := fmt.Sscanf(o.FocalAlpha, "%g", &a); err != nil {
			return nil, fmt.Errorf("--focal_alpha %q: %w", o.FocalAlpha, err)
		}
	}
	return NewFocal(a, o.FocalGamma), nil
}
