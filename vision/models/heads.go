package models

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/vision/models/pth"
)

// Output heads (issue 21, `drgrade train --head`). DR grades are ordered; two recipes use that
// instead of num_classes class logits.
const (
	// HeadRegression is one output, the grade as a number (the APTOS 2019 recipes):
	// torchvision's model built with num_classes=1.
	HeadRegression = "regression"
	// HeadOrdinal is CORAL (Cao, Mirjalili and Raschka 2020): K−1 cumulative logits that share
	// one weight vector and differ by a bias each, so P(grade > k) falls with k (rank-consistent).
	HeadOrdinal = "ordinal"
)

// IsOutputHead says whether head names an output head (regression or ordinal) rather than one
// of LoadWeights' classifier modes (slice, reset, or "").
func IsOutputHead(head string) bool { return head == HeadRegression || head == HeadOrdinal }

// HeadOutputs is how many numbers a model with the given head gives per image for numClasses
// grades: numClasses logits, 1 for regression, numClasses−1 cumulative logits for ordinal.
func HeadOutputs(head string, numClasses int) int {
	switch head {
	case HeadRegression:
		return 1
	case HeadOrdinal:
		return numClasses - 1
	}
	return numClasses
}

// NewHead builds the model registered as name for numClasses grades with an output head:
// a classifier mode or "" is New(name, numClasses); HeadRegression is New(name, 1);
// HeadOrdinal is New(name, 1) with its classifier replaced as
// `model.<classifier> = coral_pytorch.layers.CoralLayer(in_features, numClasses)` does (a
// bias-free nn.Linear(in, 1) named coral_weights, freshly initialised, plus the parameter
// coral_bias = arange(K−1, 0, −1)/(K−1)), so the state dict loads into that PyTorch model.
func NewHead(name string, numClasses int, head string) (Model, error) {
	if !IsOutputHead(head) {
		return New(name, numClasses)
	}
	if numClasses < 2 {
		return nil, fmt.Errorf("model %s: --head %s needs at least 2 grades, got %d", name, head, numClasses)
	}
	m, err := New(name, 1)
	if err != nil {
		return nil, err
	}
	h := &headModel{Model: m, cfg: m.Config()}
	h.cfg.Head, h.cfg.Grades = head, numClasses
	if head == HeadOrdinal {
		if h.coralBias, err = convertCoral(m, numClasses); err != nil {
			m.Close()
			return nil, err
		}
	}
	return h, nil
}

// headModel is a model with an output head: its Config says which, and for CORAL the forward
// adds coral_bias to the shared logit (CoralLayer.forward: coral_weights(x) + coral_bias).
type headModel struct {
	Model
	cfg       Config
	coralBias *ts.Tensor // owned by the state dict
}

func (h *headModel) Config() Config { return h.cfg }

func (h *headModel) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	y, err := h.Model.ForwardT(x, train)
	if err != nil || h.coralBias == nil {
		return y, err
	}
	defer y.MustDrop()
	return y.Add(h.coralBias, false) // [N, 1] + [K−1] → [N, K−1]
}

// convertCoral swaps m's classifier (an nn.Linear(in, 1)) for CoralLayer's tensors, in the
// order CoralLayer registers them in state_dict() (its own coral_bias, then coral_weights's).
func convertCoral(m Model, numClasses int) (*ts.Tensor, error) {
	sd := m.StateDict()
	cls := m.Config().Classifier
	l := sd.linears[cls]
	if cls == "" || l == nil {
		return nil, fmt.Errorf("model %s: --head %s replaces an nn.Linear classifier, and this model has none at %q", m.Config().Name, HeadOrdinal, cls)
	}
	in := l.Weight.MustSize()[1]
	weight, err := freshParam([]int64{1, in}, LinearDefault)
	if err != nil {
		return nil, err
	}
	k := numClasses - 1
	init := make([]float32, k)
	for i := range init { // torch.arange(K−1, 0, −1).float() / (K−1)
		init[i] = float32(k-i) / float32(k)
	}
	bias, err := TensorFrom(init, []int64{int64(k)})
	if err == nil {
		err = bias.RequiresGrad_(true)
	}
	if err != nil {
		weight.MustDrop()
		return nil, err
	}
	drop := []string{cls + ".weight"}
	if sd.Get(cls+".bias") != nil {
		drop = append(drop, cls+".bias")
	}
	err = sd.splice(drop, []*Entry{{Name: cls + ".coral_bias", Tensor: bias}, {Name: cls + ".coral_weights.weight", Tensor: weight}})
	if err != nil {
		weight.MustDrop()
		bias.MustDrop()
		return nil, err
	}
	l.Weight, l.Bias = weight, undefinedTensor()
	return bias, nil
}

// freshParam is a trainable float32 CPU tensor initialised by init, registered nowhere.
func freshParam(shape []int64, init Init) (*ts.Tensor, error) {
	t, err := ts.Empty(shape, gotch.Float, gotch.CPU)
	if err != nil {
		return nil, err
	}
	if err = init(t); err == nil {
		err = t.RequiresGrad_(true)
	}
	if err != nil {
		t.MustDrop()
		return nil, err
	}
	return t, nil
}

// DetectHead reads a checkpoint's output head for a model of config cfg and numClasses grades:
// HeadOrdinal when it holds <classifier>.coral_bias, HeadRegression when its classifier has one
// row, "" (class logits) otherwise.
func DetectHead(src *pth.StateDict, cfg Config, numClasses int) string {
	if cfg.Classifier == "" {
		return ""
	}
	if src.Get(cfg.Classifier+".coral_bias") != nil {
		return HeadOrdinal
	}
	if w := src.Get(cfg.Classifier + ".weight"); w != nil && len(w.Shape) >= 1 && w.Shape[0] == 1 && numClasses > 1 {
		return HeadRegression
	}
	return ""
}
