package trainer

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer/schedule"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/models"
)

// ErrNonFiniteLoss stops training like the script's `sys.exit(1)` after
// "WARNING: non-finite loss, ending training".
var ErrNonFiniteLoss = errors.New("non-finite loss, ending training")

// AMP says how forward + loss run: autocast on, its device and dtype.
type AMP struct {
	Enabled bool
	Device  torchext.Device
	DType   int // torchext.BFloat16 or torchext.Half
}

// EpochResult is what train_one_epoch returns, plus what drgrade logs.
type EpochResult struct {
	MeanLoss, Acc float64
	Samples       int
	Skipped       []loader.Skipped
	Seconds       float64
	SkippedSteps  int // optimiser steps skipped by the GradScaler (inf/NaN gradients)
}

// batchTensors copies a loader batch into new CPU tensors (images NCHW float32, labels int64);
// the caller owns both.
func batchTensors(b *loader.Batch) (images, labels *ts.Tensor, err error) {
	images, err = models.TensorFrom(b.Images, []int64{int64(b.N), 3, int64(b.H), int64(b.W)})
	if err != nil {
		return nil, nil, err
	}
	labels, err = models.TensorFrom(b.Labels, []int64{int64(b.N)})
	if err != nil {
		images.MustDrop()
		return nil, nil, err
	}
	return images, labels, nil
}

// argmax1 is torch.max(pred, dim=1)[1] pulled to Go.
func argmax1(pred *ts.Tensor) ([]int64, error) {
	am, err := pred.Argmax([]int64{1}, false, false)
	if err != nil {
		return nil, err
	}
	defer am.MustDrop()
	return am.Int64Values(), nil
}

// forwardLoss runs the model and the criterion, under autocast when amp is on (the script's
// `with torch.cuda.amp.autocast(enabled=enable_amp)` block covers both).
func forwardLoss(model models.Model, crit loss.Criterion, images, labels *ts.Tensor, amp AMP) (pred, l *ts.Tensor, err error) {
	if amp.Enabled {
		exit, err := torchext.Autocast(amp.Device, amp.DType)
		if err != nil {
			return nil, nil, err
		}
		defer exit()
	}
	if pred, err = model.ForwardT(images, true); err != nil {
		return nil, nil, err
	}
	if l, err = crit.Loss(pred, labels); err != nil {
		pred.MustDrop()
		return nil, nil, err
	}
	return pred, l, nil
}

// trainOneEpoch mirrors upstream utils.train_engin.train_one_epoch: model.train(); the epoch-0
// warmup; for each batch forward (+ autocast), loss, scaler.scale(loss).backward(),
// scaler.step(optimizer), scaler.update(), optimizer.zero_grad(), the non-finite check, the
// warmup step; returns (accumulated loss / steps, correct / samples). The caller runs it on a
// goroutine locked to its OS thread.
func trainOneEpoch(model models.Model, optimizer *Adam, dl *loader.Loader, epoch int, sched *schedule.Script,
	crit loss.Criterion, scaler *GradScaler, amp AMP, bar *progress, stop func() bool) (EpochResult, error) {
	start := time.Now()
	var res EpochResult
	if err := sched.StartEpoch(epoch); err != nil {
		return res, err
	}
	optimizer.ZeroGrad()
	// accu_loss and accu_num are float32 tensors in the script: accumulate in float32 too.
	var accuLoss, accuNum float32
	sampleNum, steps := 0, 0
	it := dl.Epoch(epoch)
	defer it.Close()
	for {
		if stop != nil && stop() {
			return res, ErrInterrupted
		}
		b, err := it.Next()
		if err != nil {
			return res, err
		}
		if b == nil {
			break
		}
		res.Skipped = append(res.Skipped, b.Skipped...)
		if b.N == 0 {
			b.Release()
			continue
		}
		images, labels, err := batchTensors(b)
		labelsGo := append([]int64(nil), b.Labels...)
		n := b.N
		b.Release()
		if err != nil {
			return res, err
		}
		sampleNum += n
		err = func() error {
			defer images.MustDrop()
			defer labels.MustDrop()
			optimizer.LR = sched.LR()
			pred, l, err := forwardLoss(model, crit, images, labels, amp)
			if err != nil {
				return err
			}
			defer pred.MustDrop()
			defer l.MustDrop()
			predClass, err := argmax1(pred)
			if err != nil {
				return err
			}
			for i, p := range predClass {
				if p == labelsGo[i] {
					accuNum++
				}
			}
			lv := l.Float64Values()[0]
			accuLoss += float32(lv)
			scaled, err := scaler.Scale(l)
			if err != nil {
				return err
			}
			err = scaled.Backward()
			scaled.MustDrop()
			if err != nil {
				return err
			}
			stepped, err := scaler.Step(optimizer)
			if err != nil {
				return err
			}
			if !stepped {
				res.SkippedSteps++
			}
			if err := scaler.Update(); err != nil {
				return err
			}
			optimizer.ZeroGrad()
			steps++
			bar.step(n, fmt.Sprintf("[train epoch %d] loss %s acc %s lr %.1e", epoch, py3(float64(accuLoss)/float64(steps)),
				py3(float64(accuNum)/float64(sampleNum)), optimizer.LR))
			if math.IsNaN(lv) || math.IsInf(lv, 0) {
				return fmt.Errorf("%w (loss %v at step %d of epoch %d)", ErrNonFiniteLoss, lv, steps, epoch+1)
			}
			return sched.AfterOptimizerStep()
		}()
		if err != nil {
			return res, err
		}
	}
	if steps == 0 {
		return res, fmt.Errorf("epoch %d: no training images could be loaded", epoch+1)
	}
	res.MeanLoss = float64(accuLoss) / float64(steps)
	res.Acc = float64(accuNum) / float64(sampleNum)
	res.Samples = sampleNum
	res.Seconds = time.Since(start).Seconds()
	bar.finish()
	return res, nil
}

// EvalResult is what evaluate returns with return_preds=True, plus probabilities.
type EvalResult struct {
	Acc     float64
	Preds   []int
	Labels  []int
	Probs   [][]float32 // softmax per sample, when requested
	Index   []int       // data set index per sample
	Skipped []loader.Skipped
	Seconds float64
}

// Evaluate mirrors upstream evaluate (@torch.no_grad(), model.eval()): accuracy over the
// loader plus every prediction and label. Grad mode is restored on return.
func Evaluate(model models.Model, dl *loader.Loader, withProbs bool, bar *progress, stop func() bool) (EvalResult, error) {
	start := time.Now()
	var res EvalResult
	defer torchext.NoGrad()()
	it := dl.Epoch(0)
	defer it.Close()
	correct := 0
	for {
		if stop != nil && stop() {
			return res, ErrInterrupted
		}
		b, err := it.Next()
		if err != nil {
			return res, err
		}
		if b == nil {
			break
		}
		res.Skipped = append(res.Skipped, b.Skipped...)
		if b.N == 0 {
			b.Release()
			continue
		}
		images, labels, err := batchTensors(b)
		labelsGo := append([]int64(nil), b.Labels...)
		res.Index = append(res.Index, b.Index...)
		n := b.N
		b.Release()
		if err != nil {
			return res, err
		}
		labels.MustDrop()
		pred, err := model.ForwardT(images, false)
		images.MustDrop()
		if err != nil {
			return res, err
		}
		predClass, err := argmax1(pred)
		if err == nil && withProbs {
			var sm *ts.Tensor
			if sm, err = pred.Softmax(1, pred.DType(), false); err == nil {
				v := sm.Float64Values()
				sm.MustDrop()
				c := len(v) / n
				for i := 0; i < n; i++ {
					row := make([]float32, c)
					for j := range row {
						row[j] = float32(v[i*c+j])
					}
					res.Probs = append(res.Probs, row)
				}
			}
		}
		pred.MustDrop()
		if err != nil {
			return res, err
		}
		for i, p := range predClass {
			res.Preds = append(res.Preds, int(p))
			res.Labels = append(res.Labels, int(labelsGo[i]))
			if p == labelsGo[i] {
				correct++
			}
		}
		bar.step(n, fmt.Sprintf("[valid] acc %s", py3(float64(correct)/float64(len(res.Preds)))))
	}
	if len(res.Preds) == 0 {
		return res, errors.New("evaluation: no images could be loaded")
	}
	res.Acc = float64(correct) / float64(len(res.Preds))
	res.Seconds = time.Since(start).Seconds()
	bar.finish()
	return res, nil
}

// ErrInterrupted is returned when a stop was requested (SIGINT/SIGTERM) between steps.
var ErrInterrupted = errors.New("interrupted")

func py3(x float64) string { return fmt.Sprintf("%.3f", x) }
