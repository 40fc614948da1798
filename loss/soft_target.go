package loss

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
)

// SoftTargetCrossEntropy mirrors timm.loss.SoftTargetCrossEntropy, the loss of mixed batches
// (vision/mixup): mean over rows of Σ_c −target·log_softmax(logits). logits [N, C] (any float
// dtype; the log-softmax runs in float32, as autocast runs it) and targets [N, C] float32 are
// borrowed; the scalar is the caller's.
func SoftTargetCrossEntropy(logits, targets *ts.Tensor) (*ts.Tensor, error) {
	ls, err := logits.Size()
	if err != nil {
		return nil, err
	}
	tsz, err := targets.Size()
	if err != nil {
		return nil, err
	}
	if len(ls) != 2 || len(tsz) != 2 || ls[0] != tsz[0] || ls[1] != tsz[1] {
		return nil, fmt.Errorf("soft-target cross-entropy: logits %v and targets %v must both be [N, C]", ls, tsz)
	}
	var s own.Scope
	defer s.Free()
	logp, err := s.Track(logits.LogSoftmax(-1, gotch.Float, false))
	if err != nil {
		return nil, err
	}
	neg, err := s.Track(targets.Neg(false))
	if err != nil {
		return nil, err
	}
	prod, err := s.Track(neg.Mul(logp, false))
	if err != nil {
		return nil, err
	}
	rows, err := s.Track(prod.SumDimIntlist([]int64{-1}, false, gotch.Float, false))
	if err != nil {
		return nil, err
	}
	return rows.Mean(gotch.Float, false)
}
