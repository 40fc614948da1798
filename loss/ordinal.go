package loss

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
)

// Ordinal heads (issue 21): grades are ordered, and two recipes use that. These are the losses
// and the decoding of their outputs; the heads themselves are not wired into the trainer yet.

// Coral is coral_pytorch.losses.coral_loss (Cao, Mirjalili and Raschka 2020, "Rank consistent
// ordinal regression"): logits [N, K−1] are the K−1 cumulative logits P(grade > k); the targets
// [N] (int64 grades) become levels_from_labelbatch's extended binary vectors, and the loss is
// mean over rows of −Σ_k [logσ(z_k)·l_k + (logσ(z_k) − z_k)·(1 − l_k)], operation for operation.
func Coral(logits, targets *ts.Tensor) (*ts.Tensor, error) {
	size, err := logits.Size()
	if err != nil {
		return nil, err
	}
	if len(size) != 2 || size[1] < 1 {
		return nil, fmt.Errorf("coral loss: logits %v, want [N, K-1]", size)
	}
	dev, err := logits.Device()
	if err != nil {
		return nil, err
	}
	var s own.Scope
	defer s.Free()
	levels, err := s.Track(coralLevels(targets, size[1], dev))
	if err != nil {
		return nil, err
	}
	logsig, err := s.Track(logits.LogSigmoid(false))
	if err != nil {
		return nil, err
	}
	a, err := s.Track(logsig.Mul(levels, false))
	if err != nil {
		return nil, err
	}
	diff, err := s.Track(logsig.Sub(logits, false))
	if err != nil {
		return nil, err
	}
	notLevels, err := s.Track(levels.Neg(false))
	if err != nil {
		return nil, err
	}
	if err = notLevels.AddScalar_(ts.FloatScalar(1)); err != nil { // 1 − levels
		return nil, err
	}
	b, err := s.Track(diff.Mul(notLevels, false))
	if err != nil {
		return nil, err
	}
	term, err := s.Track(a.Add(b, false))
	if err != nil {
		return nil, err
	}
	sum, err := s.Track(term.SumDimIntlist([]int64{1}, false, gotch.Float, false))
	if err != nil {
		return nil, err
	}
	val, err := s.Track(sum.Neg(false))
	if err != nil {
		return nil, err
	}
	return val.Mean(gotch.Float, false)
}

// coralLevels is levels_from_labelbatch: row i is 1 for the first y_i of the k columns, 0 after.
func coralLevels(targets *ts.Tensor, k int64, dev gotch.Device) (*ts.Tensor, error) {
	var s own.Scope
	defer s.Free()
	ks, err := s.Track(ts.Arange(ts.IntScalar(k), gotch.Int64, dev))
	if err != nil {
		return nil, err
	}
	row, err := s.Track(ks.Unsqueeze(0, false))
	if err != nil {
		return nil, err
	}
	col, err := s.Track(targets.Unsqueeze(1, false))
	if err != nil {
		return nil, err
	}
	lt, err := s.Track(row.LtTensor(col, false)) // k < y_i
	if err != nil {
		return nil, err
	}
	return lt.Totype(gotch.Float, false)
}

// CoralGrades is coral_pytorch.dataset.proba_to_label(sigmoid(logits)): the number of
// cumulative probabilities above 0.5, per row.
func CoralGrades(logits []float32, n, k int) ([]int64, error) {
	if len(logits) != n*k {
		return nil, fmt.Errorf("coral: %d logits for %d rows of %d", len(logits), n, k)
	}
	out := make([]int64, n)
	for i := range n {
		for _, z := range logits[i*k : (i+1)*k] {
			if sigmoid32(z) > 0.5 {
				out[i]++
			}
		}
	}
	return out, nil
}

// CoralProbabilities turns the K−1 cumulative probabilities σ(z_k) = P(grade > k) of each row
// into K class probabilities: P(0) = 1 − σ_0, P(j) = σ_{j−1} − σ_j, P(K−1) = σ_{K−2}. (A
// rank-consistent model keeps them non-negative; they always sum to 1.)
func CoralProbabilities(logits []float32, n, k int) ([]float64, error) {
	if len(logits) != n*k {
		return nil, fmt.Errorf("coral: %d logits for %d rows of %d", len(logits), n, k)
	}
	out := make([]float64, n*(k+1))
	for i := range n {
		row := out[i*(k+1) : (i+1)*(k+1)]
		prev := 1.0
		for j, z := range logits[i*k : (i+1)*k] {
			p := float64(sigmoid32(z))
			row[j] = prev - p
			prev = p
		}
		row[k] = prev
	}
	return out, nil
}

// sigmoid32 is torch.sigmoid's scalar formula on a float32: 1 / (1 + exp(−z)) in float32 (exp
// rounded to float32 once), so a logit a hair above 0 still gives exactly 0.5, as in torch.
func sigmoid32(z float32) float32 {
	e := float32(math.Exp(-float64(z)))
	return 1 / (1 + e)
}

// Regression is the regression head's loss on the grade as a number: F.mse_loss or
// F.smooth_l1_loss (beta 1) of outputs [N, 1] against the targets [N] cast to float, as the
// APTOS 2019 recipes train it.
func Regression(kind string, outputs, targets *ts.Tensor) (*ts.Tensor, error) {
	var s own.Scope
	defer s.Free()
	out, err := s.Track(outputs.SqueezeDim(1, false))
	if err != nil {
		return nil, err
	}
	y, err := s.Track(targets.Totype(gotch.Float, false))
	if err != nil {
		return nil, err
	}
	switch kind {
	case "mse":
		return out.MseLoss(y, reductionMean, false)
	case "smooth_l1":
		return out.SmoothL1Loss(y, reductionMean, 1.0, false)
	}
	return nil, fmt.Errorf("regression loss %q: want mse or smooth_l1", kind)
}
