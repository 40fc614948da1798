package trainer

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/mixup"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/transforms"
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
	Steps         int // optimiser steps attempted
	SkippedSteps  int // of those, skipped by the GradScaler (inf/NaN gradients)
	// ClassCounts is how many samples of each class this rank trained on (the sampler's draw:
	// the split's counts with --sampler random, about equal with --sampler weighted).
	ClassCounts []int
}

// batchTensors copies a loader batch into new tensors on dev (images NCHW float32, labels
// int64): the script's images.to(device), labels.to(device) from pinned memory with
// non_blocking=True (torchext.FromSliceTo); the caller owns both.
func batchTensors(b *loader.Batch, dev gotch.Device) (images, labels *ts.Tensor, err error) {
	images, err = torchext.FromSliceTo(b.Images, []int64{int64(b.N), 3, int64(b.H), int64(b.W)}, dev)
	if err != nil {
		return nil, nil, err
	}
	labels, err = torchext.FromSliceTo(b.Labels, []int64{int64(b.N)}, dev)
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
	out := make([]int64, am.Numel())
	return out, torchext.CopyTo(am, out) // one memcpy from any device, errors returned (gotch's Int64Values ends the process on one)
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

// deviceBatch is one batch of the loader on the device: the script's images.to(device) and
// labels.to(device), with the labels (and data set indices) also in Go for the bookkeeping.
type deviceBatch struct {
	images, labels *ts.Tensor // borrowed: forEachBatch drops them after the body
	targets        *ts.Tensor // soft targets [N, C] of a mixed batch (prep), else nil; borrowed
	Labels         []int64
	Index          []int
	N              int
}

// forEachBatch is the `for step, data in enumerate(data_loader)` loop that train_one_epoch and
// evaluate share: it polls stop between batches (ErrInterrupted), collects the images the
// loader skipped into *skipped, hands a batch with no loadable image to empty (nil: skip it),
// and runs body on every other batch on dev. prep, when set, may change a batch in place before
// it goes to dev and return its soft targets (N rows).
func forEachBatch(dl *loader.Loader, epoch int, dev gotch.Device, stop func() bool, skipped *[]loader.Skipped,
	empty func() error, prep func(*loader.Batch) ([]float32, error), body func(deviceBatch) error) error {
	it := dl.Epoch(epoch)
	defer it.Close()
	for {
		if stop != nil && stop() {
			return ErrInterrupted
		}
		b, err := it.Next()
		if err != nil {
			return err
		}
		if b == nil {
			return nil
		}
		*skipped = append(*skipped, b.Skipped...)
		if b.N == 0 {
			b.Release()
			if empty != nil {
				if err := empty(); err != nil {
					return err
				}
			}
			continue
		}
		db := deviceBatch{Labels: append([]int64(nil), b.Labels...), Index: append([]int(nil), b.Index...), N: b.N}
		var soft []float32
		if prep != nil {
			if soft, err = prep(b); err != nil {
				b.Release()
				return err
			}
		}
		db.images, db.labels, err = batchTensors(b, dev)
		b.Release()
		if err != nil {
			return err
		}
		if soft != nil {
			if db.targets, err = torchext.FromSliceTo(soft, []int64{int64(db.N), int64(len(soft) / db.N)}, dev); err != nil {
				db.images.MustDrop()
				db.labels.MustDrop()
				return err
			}
		}
		err = body(db)
		db.images.MustDrop()
		db.labels.MustDrop()
		if db.targets != nil {
			db.targets.MustDrop()
		}
		if err != nil {
			return err
		}
	}
}

// trainEpoch mirrors upstream utils.train_engin.train_one_epoch: model.train(); the epoch-0
// warmup; for each batch forward (+ autocast), loss, scaler.scale(loss).backward(),
// scaler.step(optimizer), scaler.update(), optimizer.zero_grad(), the non-finite check, the
// warmup step; returns (accumulated loss / steps, correct / samples). a.Scaler must be set and
// a.Device resolved (TrainOneEpoch does both). When dist is non-nil it is one rank of
// data-parallel training: each step is DistributedDataParallel's (the reducer armed around the
// forward pass, the gradients averaged over the ranks before the optimiser step), and the loss
// and accuracy returned are over all ranks. The caller runs it on a locked OS thread.
func trainEpoch(a EpochArgs, dist *distributed) (EpochResult, error) {
	return trainEpochPlan(a, dist, nil)
}

// trainEpochPlan is trainEpoch with a recipe's plan (nil: the script's): with accumulation
// the loss of each batch is divided by the batches of its update (timm: accum_steps, the
// epoch's last update by what is left), gradients are clipped after unscaling, the optimiser
// steps every plan.accum batches and at the end of the epoch, and the schedule and the EMA
// move once per optimiser step.
func trainEpochPlan(a EpochArgs, dist *distributed, plan *trainPlan) (EpochResult, error) {
	start := time.Now()
	accum := 1
	if plan != nil && plan.accum > 1 {
		accum = plan.accum
	}
	nBatches := a.DataLoader.Len()
	lastAccum := nBatches % accum // timm's last_accum_steps: the last update's batches (0: a full one)
	batchIdx, pending := 0, 0
	var res EpochResult
	optimizer, sched, epoch := a.Optimizer, a.LRMethod, a.Epoch
	if err := sched.StartEpoch(epoch); err != nil {
		return res, err
	}
	optimizer.ZeroGrad()
	// accu_loss and accu_num are float32 tensors in the script: accumulate in float32 too.
	var accuLoss, accuNum float32
	sampleNum, steps := 0, 0
	empty := func() error {
		if dist != nil { // a rank skipping a step would leave the others waiting
			return fmt.Errorf("epoch %d: no image of a batch of rank %d could be loaded, and with several processes every rank must take every step (remove the unreadable images)", epoch+1, dist.proc.Rank())
		}
		return nil
	}
	prep, crit := mixBatches(a), a.Criterion
	if prep != nil {
		crit = loss.Func(loss.SoftTargetCrossEntropy)
	}
	err := forEachBatch(a.DataLoader, epoch, a.Device, a.Stop, &res.Skipped, empty, prep, func(b deviceBatch) error {
		sampleNum += b.N
		labels := b.labels
		if b.targets != nil {
			labels = b.targets
		}
		optimizer.LR = sched.LR()
		if m, ok := sched.Momentum(); ok { // OneCycleLR's cycle_momentum
			optimizer.setCycledMomentum(m)
		}
		var st StepResult
		var err error
		update := true
		if plan == nil {
			st, err = trainStep(a.Model, crit, optimizer, a.Scaler, a.AMP, b.images, labels, dist)
		} else {
			div := accum
			if lastAccum > 0 && batchIdx >= nBatches-lastAccum {
				div = lastAccum
			}
			update = (batchIdx+1)%accum == 0 || batchIdx == nBatches-1
			batchIdx++
			st, err = trainStepPlan(a.Model, crit, optimizer, a.Scaler, a.AMP, b.images, labels, dist, plan, div, update)
			pending++
			if update {
				pending = 0
			}
		}
		if err != nil {
			return err
		}
		for i, p := range st.Preds {
			if p == b.Labels[i] {
				accuNum++
			}
		}
		for _, y := range b.Labels {
			for int(y) >= len(res.ClassCounts) {
				res.ClassCounts = append(res.ClassCounts, 0)
			}
			res.ClassCounts[y]++
		}
		accuLoss += float32(st.Loss)
		if update && !st.Stepped {
			res.SkippedSteps++
		}
		steps++
		a.Progress.step(b.N, fmt.Sprintf("[train epoch %d] loss %s acc %s lr %.1e", epoch, py3(float64(accuLoss)/float64(steps)),
			py3(float64(accuNum)/float64(sampleNum)), optimizer.LR))
		if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) {
			return fmt.Errorf("%w (loss %v at step %d of epoch %d)", ErrNonFiniteLoss, st.Loss, steps, epoch+1)
		}
		if !update {
			return nil
		}
		return sched.AfterOptimizerStep()
	})
	if err == nil && pending > 0 { // batches left unloadable at the end: their update still happens
		var stepped bool
		if stepped, err = finishUpdate(optimizer, a.Scaler, plan); err == nil {
			if !stepped {
				res.SkippedSteps++
			}
			err = sched.AfterOptimizerStep()
		}
	}
	if err != nil {
		return res, err
	}
	if steps == 0 {
		return res, fmt.Errorf("epoch %d: no training images could be loaded", epoch+1)
	}
	res.MeanLoss = float64(accuLoss) / float64(steps)
	res.Acc = float64(accuNum) / float64(sampleNum)
	res.Samples = sampleNum
	res.Steps = steps
	if dist != nil { // loss and accuracy over every rank's steps and samples
		sums, err := dist.proc.SumFloat64s(float64(accuLoss), float64(steps), float64(accuNum), float64(sampleNum))
		if err != nil {
			return res, err
		}
		res.MeanLoss, res.Acc, res.Samples = sums[0]/sums[1], sums[2]/sums[3], int(sums[3])
	}
	res.Seconds = time.Since(start).Seconds()
	a.Progress.finish()
	return res, nil
}

// mixBatches is timm's `samples, targets = mixup_fn(samples, targets)` for a.Mixup, as a
// forEachBatch prep (nil when mixing is off): one draw per batch from a source seeded by
// (MixSeed, epoch, batch), the images mixed in place, the soft targets returned. A batch of odd
// size (the epoch's last), which timm's batch mode refuses, is left unmixed with one-hot
// targets (label smoothing folded in), so every batch trains on the same loss.
func mixBatches(a EpochArgs) func(*loader.Batch) ([]float32, error) {
	if !a.Mixup.Enabled() {
		return nil
	}
	batch := 0
	return func(b *loader.Batch) ([]float32, error) {
		rng := transforms.NewRand(a.MixSeed, uint64(a.Epoch)<<32|uint64(batch))
		batch++
		p := mixup.Params{Lam: 1}
		if b.N%2 == 0 {
			p = a.Mixup.Draw(rng, b.H, b.W)
			if err := mixup.Apply(b.Images[:b.N*3*b.H*b.W], b.N, 3, b.H, b.W, p); err != nil {
				return nil, err
			}
		}
		return mixup.Targets(b.Labels[:b.N], a.Mixup.NumClasses, p.Lam, a.Mixup.LabelSmoothing)
	}
}

// StepResult is what one training step leaves for train_one_epoch's bookkeeping.
type StepResult struct {
	Loss    float64 // loss.item() before scaling
	Preds   []int64 // torch.max(pred, dim=1)[1], for the running accuracy
	Stepped bool    // false when the GradScaler skipped the optimiser step (inf/NaN gradients)
}

// TrainStep is the body of train_one_epoch's loop for one batch already on the model's device:
// forward and loss under autocast when amp is on, scaler.scale(loss).backward(),
// scaler.step(optimizer), scaler.update(), optimizer.zero_grad(). The caller sets
// optimizer.LR first and keeps images and labels (borrowed). Run it on a locked OS thread.
func TrainStep(model models.Model, crit loss.Criterion, optimizer *Adam, scaler *GradScaler, amp AMP,
	images, labels *ts.Tensor) (StepResult, error) {
	if scaler == nil {
		var err error
		if scaler, err = NewGradScaler(false); err != nil {
			return StepResult{}, err
		}
	}
	return trainStep(model, crit, optimizer, scaler, amp, images, labels, nil)
}

// trainStep is TrainStep for one rank of data-parallel training when dist is non-nil (the
// reducer armed around the forward pass, gradients averaged inside backward).
func trainStep(model models.Model, crit loss.Criterion, optimizer *Adam, scaler *GradScaler, amp AMP,
	images, labels *ts.Tensor, dist *distributed) (StepResult, error) {
	return trainStepPlan(model, crit, optimizer, scaler, amp, images, labels, dist, nil, 1, true)
}

// trainStepPlan is trainStep with a recipe's plan: the loss is divided by div before
// backward (gradient accumulation), and only when update is set are the gradients unscaled
// and clipped, the optimiser stepped, the scaler updated, the EMA updated and the gradients
// zeroed. plan nil, div 1 and update true is trainStep.
func trainStepPlan(model models.Model, crit loss.Criterion, optimizer *Adam, scaler *GradScaler, amp AMP,
	images, labels *ts.Tensor, dist *distributed, plan *trainPlan, div int, update bool) (StepResult, error) {
	var res StepResult
	if dist != nil {
		if err := dist.ddp.BeforeForward(); err != nil {
			return res, err
		}
	}
	var s own.Scope
	defer s.Free()
	pred, l, err := forwardLoss(model, crit, images, labels, amp)
	if err != nil {
		return res, err
	}
	s.Add(pred, l)
	if dist != nil {
		if err := dist.ddp.AfterForward(pred); err != nil {
			return res, err
		}
	}
	dec, err := newHeadDecoder(model, nil) // a regression head's running accuracy: rounded outputs
	if err != nil {
		return res, err
	}
	db, err := dec.decode(pred, false, false, 0)
	if err != nil {
		return res, err
	}
	res.Preds = db.grades
	// Float64Value reads the scalar in place; gotch's Float64Values leaks a Double copy
	// (its MustDrop is commented out), freed only by a finalizer.
	if res.Loss, err = l.Float64Value([]int64{}); err != nil {
		return res, err
	}
	if div > 1 { // loss / accum_steps
		if l, err = s.Track(l.DivScalar(ts.IntScalar(int64(div)), false)); err != nil {
			return res, err
		}
	}
	scaled, err := s.Track(scaler.Scale(l))
	if err != nil {
		return res, err
	}
	if err := scaled.Backward(); err != nil {
		if dist != nil { // the reducer's all-reduces run inside backward
			return res, dist.proc.Explain("backward", err)
		}
		return res, err
	}
	if dist != nil {
		if err := dist.ddp.AfterBackward(); err != nil {
			return res, err
		}
	}
	if !update {
		return res, nil
	}
	if plan != nil {
		res.Stepped, err = finishUpdate(optimizer, scaler, plan)
		return res, err
	}
	if res.Stepped, err = scaler.Step(optimizer); err != nil {
		return res, err
	}
	if err := scaler.Update(); err != nil {
		return res, err
	}
	optimizer.ZeroGrad()
	return res, nil
}

// finishUpdate is the optimiser update of a recipe: scaler.unscale_ and clipping (torch's
// AMP recipe: clip the unscaled gradients), scaler.step, scaler.update, the EMA update
// (timm: after every update), optimizer.zero_grad().
func finishUpdate(optimizer *Adam, scaler *GradScaler, plan *trainPlan) (stepped bool, err error) {
	if plan.clip > 0 {
		if err := scaler.Unscale(optimizer); err != nil {
			return false, err
		}
		if err := clipGrads(optimizer, plan.clip, plan.clipMode); err != nil {
			return false, err
		}
	}
	if stepped, err = scaler.Step(optimizer); err != nil {
		return false, err
	}
	if err := scaler.Update(); err != nil {
		return false, err
	}
	if plan.ema != nil {
		if err := plan.ema.update(); err != nil {
			return false, err
		}
	}
	optimizer.ZeroGrad()
	return stepped, nil
}

// EvalResult is what evaluate returns with return_preds=True, plus probabilities.
type EvalResult struct {
	Acc     float64
	Preds   []int
	Labels  []int
	Probs   [][]float32 // softmax per sample, when requested
	Logits  [][]float32 // the model's raw logits per sample, when requested (EvalOptions.Logits)
	Outputs []float64   // a regression head's output y per sample (the grades are its thresholds')
	Index   []int       // data set index per sample
	Skipped []loader.Skipped
	Seconds float64
}

// Evaluate mirrors upstream evaluate (@torch.no_grad(), model.eval()): accuracy over the
// loader plus every prediction and label. Grad mode is restored on return.
func Evaluate(model models.Model, dl *loader.Loader, withProbs bool, bar *Progress, stop func() bool) (EvalResult, error) {
	return EvaluateWith(model, dl, EvalOptions{Probs: withProbs, Progress: bar, Stop: stop})
}

// EvalOptions configure EvaluateWith.
type EvalOptions struct {
	Probs bool // keep every sample's softmax in EvalResult.Probs
	// TTA is the test-time augmentation: "" (none) or "hflip", which averages the softmax of
	// each image and of its horizontal mirror and predicts the argmax of the average.
	TTA string
	// Logits keeps every sample's raw logits in EvalResult.Logits (not with TTA: its
	// prediction averages two softmaxes, there is no one logit vector).
	Logits bool
	// Temperature, when positive, divides the logits before every softmax (temperature
	// scaling, trainer/calibrate): Probs are softmax(logits/T), with TTA the mean of each
	// view's. Without TTA the predictions are unchanged (the argmax of the logits). Logits
	// stay raw.
	Temperature float64
	Progress    *Progress   // nil draws nothing
	Stop        func() bool // polled between batches; true ends with ErrInterrupted
	// Device is where the model is and the batches go (the zero Device is the CPU).
	Device gotch.Device
	// Thresholds are a regression head's grade cut points (nil: rounding, 0.5, 1.5, …).
	Thresholds []float64
}

// EvaluateWith is Evaluate with test-time augmentation and the options spelled out.
func EvaluateWith(model models.Model, dl *loader.Loader, o EvalOptions) (EvalResult, error) {
	withProbs, bar, stop := o.Probs, o.Progress, o.Stop
	if err := checkTTA(o.TTA); err != nil {
		return EvalResult{}, err
	}
	if o.Logits && o.TTA != "" {
		return EvalResult{}, fmt.Errorf("--tta %s averages the softmax of two views: there are no single logits to keep", o.TTA)
	}
	if o.Temperature < 0 || math.IsNaN(o.Temperature) || math.IsInf(o.Temperature, 0) {
		return EvalResult{}, fmt.Errorf("temperature %v: want a positive number (or 0 for none)", o.Temperature)
	}
	dec, err := newHeadDecoder(model, o.Thresholds)
	if err == nil {
		err = dec.check(o.TTA, o.Temperature)
	}
	if err != nil {
		return EvalResult{}, err
	}
	start := time.Now()
	var res EvalResult
	defer torchext.NoGrad()()
	correct := 0
	err = forEachBatch(dl, 0, torchext.OrCPU(o.Device), stop, &res.Skipped, nil, nil, func(b deviceBatch) error {
		res.Index = append(res.Index, b.Index...)
		pred, err := evalForward(model, b.images, o.TTA, o.Temperature)
		if err != nil {
			return err
		}
		defer pred.MustDrop()
		db, err := dec.decode(pred, withProbs, o.TTA != "", o.Temperature)
		if err != nil {
			return err
		}
		predClass := db.grades
		res.Outputs = append(res.Outputs, db.outputs...)
		if o.Logits {
			logits, err := tensorRows(pred)
			if err != nil {
				return err
			}
			res.Logits = append(res.Logits, logits...)
		}
		res.Probs = append(res.Probs, db.probs...)
		for i, p := range predClass {
			res.Preds = append(res.Preds, int(p))
			res.Labels = append(res.Labels, int(b.Labels[i]))
			if p == b.Labels[i] {
				correct++
			}
		}
		bar.step(b.N, fmt.Sprintf("[valid] acc %s", py3(float64(correct)/float64(len(res.Preds)))))
		return nil
	})
	if err != nil {
		return res, err
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

// TTAHFlip is --tta hflip: the softmax of each image averaged with its horizontal mirror's.
const TTAHFlip = "hflip"

// checkTTA refuses a --tta other than hflip or unset.
func checkTTA(tta string) error {
	if tta != "" && tta != TTAHFlip {
		return fmt.Errorf("--tta %q: want %s (or leave it out)", tta, TTAHFlip)
	}
	return nil
}

// evalForward is model(images) in eval mode; with TTA hflip it returns instead the mean of
// the softmax of images and of images.flip(3), each view's logits divided by temperature
// first when it is positive (a new tensor the caller owns either way).
func evalForward(model models.Model, images *ts.Tensor, tta string, temperature float64) (*ts.Tensor, error) {
	if tta == "" {
		return model.ForwardT(images, false)
	}
	var s own.Scope
	defer s.Free()
	logits, err := s.Track(model.ForwardT(images, false))
	if err != nil {
		return nil, err
	}
	flipped, err := s.Track(images.Flip([]int64{3}, false))
	if err != nil {
		return nil, err
	}
	logitsFlip, err := s.Track(model.ForwardT(flipped, false))
	if err != nil {
		return nil, err
	}
	if temperature > 0 {
		if logits, err = s.Track(logits.DivScalar(ts.FloatScalar(temperature), false)); err != nil {
			return nil, err
		}
		if logitsFlip, err = s.Track(logitsFlip.DivScalar(ts.FloatScalar(temperature), false)); err != nil {
			return nil, err
		}
	}
	p, err := s.Track(logits.Softmax(1, gotch.Float, false))
	if err != nil {
		return nil, err
	}
	q, err := s.Track(logitsFlip.Softmax(1, gotch.Float, false))
	if err != nil {
		return nil, err
	}
	sum, err := s.Track(p.Add(q, false))
	if err != nil {
		return nil, err
	}
	return sum.DivScalar(ts.FloatScalar(2), false)
}

// softmaxRows pulls softmax(pred, dim=1) to Go, one row per sample (softmax(pred/temperature)
// when temperature is positive); with isProb, pred already holds probabilities (test-time
// augmentation averaged them).
func softmaxRows(pred *ts.Tensor, isProb bool, temperature float64) ([][]float32, error) {
	if isProb {
		return tensorRows(pred)
	}
	var s own.Scope
	defer s.Free()
	z := pred
	if temperature > 0 {
		var err error
		if z, err = s.Track(pred.DivScalar(ts.FloatScalar(temperature), false)); err != nil {
			return nil, err
		}
	}
	sm, err := s.Track(z.Softmax(1, gotch.Float, false))
	if err != nil {
		return nil, err
	}
	return tensorRows(sm)
}

// tensorMatrix pulls a float32 [N, C] tensor to Go, row-major, with N and C.
func tensorMatrix(sm *ts.Tensor) ([]float32, int, int, error) {
	size, err := sm.Size()
	if err != nil {
		return nil, 0, 0, err
	}
	if len(size) != 2 {
		return nil, 0, 0, fmt.Errorf("logits of shape %v: want [N, C]", size)
	}
	n, c := int(size[0]), int(size[1])
	v := make([]float32, n*c)
	return v, n, c, torchext.CopyTo(sm, v)
}

// tensorRows pulls a float32 [N, C] tensor to Go, one row per sample.
func tensorRows(sm *ts.Tensor) ([][]float32, error) {
	v, n, c, err := tensorMatrix(sm)
	if err != nil {
		return nil, err
	}
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = v[i*c : (i+1)*c : (i+1)*c]
	}
	return rows, nil
}
