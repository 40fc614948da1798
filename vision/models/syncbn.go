package models

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
	"github.com/drgrade/drgrade/internal/torchext"
)

// SumAcrossRanks returns a new tensor holding the sum of t over every process of a
// data-parallel run, differentiably: its gradient is the sum of the incoming gradients over
// the ranks (torch.distributed.nn.functional.all_reduce). trainer/ddp provides one.
type SumAcrossRanks func(t *ts.Tensor) (*ts.Tensor, error)

// ConvertSyncBatchNorm is torch.nn.SyncBatchNorm.convert_sync_batchnorm(model): from now on
// every BatchNorm2d of m normalises a training batch with the mean and variance of the
// whole batch across ranks (sum the per-channel sums and counts, then the squared
// deviations), and updates its running statistics with those; eval mode is unchanged. It
// returns the number of layers converted. sum nil converts them back.
func ConvertSyncBatchNorm(m Model, sum SumAcrossRanks) int {
	bns := m.StateDict().batchNorms
	for _, b := range bns {
		b.sync = sum
	}
	return len(bns)
}

// syncForward is SyncBatchNorm's training forward written with differentiable ops, so
// autograd (through sum's backward) yields SyncBatchNorm's gradients on any device:
//
//	n = Σ_ranks N·H·W, mean = Σ_ranks Σ x / n, var = Σ_ranks Σ (x − mean)² / n,
//	y = (x − mean) / √(var + eps) · weight + bias,
//	running_mean ← (1 − m)·running_mean + m·mean, running_var ← (1 − m)·running_var + m·var·n/(n − 1).
func (b *BatchNorm2d) syncForward(x *ts.Tensor) (*ts.Tensor, error) {
	var s own.Scope
	defer s.Free()
	size, err := x.Size()
	if err != nil {
		return nil, err
	}
	if len(size) != 4 {
		return nil, fmt.Errorf("sync batch_norm: input %s, want [N, C, H, W]", describeShape(size))
	}
	c := size[1]
	dims := []int64{0, 2, 3}
	xf, err := s.Track(x.ToDtype(gotch.Float, false, false, false)) // statistics in float32, as SyncBatchNorm's
	if err != nil {
		return nil, err
	}
	dev, err := x.Device()
	if err != nil {
		return nil, err
	}
	count, err := s.Track(ts.Full([]int64{1}, ts.FloatScalar(float64(size[0]*size[2]*size[3])), gotch.Float, dev))
	if err != nil {
		return nil, err
	}
	s1, err := s.Track(xf.SumDimIntlist(dims, false, gotch.Float, false))
	if err != nil {
		return nil, err
	}
	packed, err := s.Track(ts.Cat([]*ts.Tensor{s1, count}, 0))
	if err != nil {
		return nil, err
	}
	total, err := s.Track(b.sync(packed))
	if err != nil {
		return nil, fmt.Errorf("sync batch_norm: %w", err)
	}
	sums, err := s.Track(total.Narrow(0, 0, c, false))
	if err != nil {
		return nil, err
	}
	n, err := s.Track(total.Narrow(0, c, 1, false))
	if err != nil {
		return nil, err
	}
	mean, err := s.Track(sums.Div(n, false))
	if err != nil {
		return nil, err
	}
	mean4, err := s.Track(mean.View([]int64{1, c, 1, 1}, false))
	if err != nil {
		return nil, err
	}
	xc, err := s.Track(xf.Sub(mean4, false))
	if err != nil {
		return nil, err
	}
	sq, err := s.Track(xc.Mul(xc, false))
	if err != nil {
		return nil, err
	}
	s2, err := s.Track(sq.SumDimIntlist(dims, false, gotch.Float, false))
	if err != nil {
		return nil, err
	}
	s2all, err := s.Track(b.sync(s2))
	if err != nil {
		return nil, fmt.Errorf("sync batch_norm: %w", err)
	}
	variance, err := s.Track(s2all.Div(n, false))
	if err != nil {
		return nil, err
	}
	ve, err := s.Track(variance.AddScalar(ts.FloatScalar(b.Eps), false))
	if err != nil {
		return nil, err
	}
	invstd, err := s.Track(ve.Rsqrt(false))
	if err != nil {
		return nil, err
	}
	scale, err := s.Track(invstd.Mul(b.Weight, false))
	if err != nil {
		return nil, err
	}
	scale4, err := s.Track(scale.View([]int64{1, c, 1, 1}, false))
	if err != nil {
		return nil, err
	}
	bias4, err := s.Track(b.Bias.View([]int64{1, c, 1, 1}, false))
	if err != nil {
		return nil, err
	}
	scaled, err := s.Track(xc.Mul(scale4, false))
	if err != nil {
		return nil, err
	}
	y, err := s.Track(scaled.Add(bias4, false))
	if err != nil {
		return nil, err
	}
	if err := b.updateRunning(mean, variance, n); err != nil {
		return nil, err
	}
	return y.ToDtype(x.DType(), false, false, false)
}

// updateRunning folds the batch's statistics into the running ones (no autograd), with the
// unbiased variance over all n values, as batch_norm_gather_stats_with_counts does.
func (b *BatchNorm2d) updateRunning(mean, variance, n *ts.Tensor) error {
	defer torchext.NoGrad()()
	var s own.Scope
	defer s.Free()
	nm1, err := s.Track(n.SubScalar(ts.FloatScalar(1), false))
	if err != nil {
		return err
	}
	ratio, err := s.Track(n.Div(nm1, false))
	if err != nil {
		return err
	}
	unbiased, err := s.Track(variance.Mul(ratio, false))
	if err != nil {
		return err
	}
	for _, u := range []struct{ run, batch *ts.Tensor }{{b.RunningMean, mean}, {b.RunningVar, unbiased}} {
		// running += momentum · (batch − running): torch's lerp_ form of the update.
		if err := u.run.Lerp_(u.batch, ts.FloatScalar(b.Momentum)); err != nil {
			return err
		}
	}
	return nil
}
