package trainer

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/sugarme/gotch"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer/metrics"
	"github.com/drgrade/drgrade/trainer/schedule"
	"github.com/drgrade/drgrade/trainer/tblog"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/transforms"
)

// Result is what a finished run leaves behind.
type Result struct {
	SavePath, LogPath string
	BestEpoch         int // 1-based; 0 when no epoch improved the best metric
	BestValue         float64
	Last              EpochRecord
	Epochs            []EpochRecord
	LastTrain         EpochResult // the last epoch's train_one_epoch result (steps, samples per class)
}

// Run is train_imbalance.py's main(args), step for step, with train_original.py's weight
// loading. All tensor work runs on one goroutine locked to its OS thread; stop (may be nil)
// is polled between steps, and when it reports true the run saves last.pth and returns
// ErrInterrupted.
//
// Started by torchrun or drgrade train --nproc_per_node (RANK, WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT in the environment), the run is one rank of data-parallel training, as the
// script under torch.nn.parallel.DistributedDataParallel: see trainer/ddp. Only rank 0
// prints, logs and saves.
func Run(cfg Config, out io.Writer, stop func() bool) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dist, err := initDistributed(cfg)
	if err != nil {
		return nil, err
	}
	defer dist.close()
	stop = dist.agreeOnStop(stop)
	var res *Result
	locked.Run(func() { res, err = run(cfg, out, stop, dist) })
	if dist != nil && dist.err != nil {
		return res, dist.err
	}
	return res, err
}

func run(args Config, out io.Writer, stop func() bool, dist *distributed) (*Result, error) {
	if !dist.main() {
		out = io.Discard // rank 0 speaks for the run
	}
	// The script's main thread starts with grad mode on; the OS thread locked.Run landed on is
	// one of Go's pool and may carry a mode some earlier caller left off (libtorch's is per thread).
	torchext.SetGradEnabled(true)
	// 固定随机种子 (seed_torch): the script's --seed was always on with seed 1.
	torchext.ManualSeed(args.Seed)
	fmt.Fprintln(out, "random seed has been fixed")
	if args.Threads > 0 {
		torchext.SetNumThreads(args.Threads)
	}

	cudaOK, cudaCount := CUDAAvailable()
	plan, err := PlanDevice(args.Device, cudaOK, cudaCount, dist.localRank())
	if err != nil {
		return nil, &InputError{err}
	}
	device := plan.Device
	// enable_amp = use_amp and "cuda" in device.type; scaler = torch.cuda.amp.GradScaler(enabled=enable_amp):
	// the scaler acts for float16 on CUDA only (CPU autocast runs bfloat16 without one, and
	// refuses float16 as torch 2.1 does).
	amp, scale, ampDesc, err := ampPlan(args.UseAMP, args.AMPDType, device)
	if err != nil {
		return nil, &InputError{err}
	}
	fmt.Fprintln(out, args.Namespace())
	fmt.Fprintf(out, "Using device: %s%s\n", torchext.DeviceName(device), plan.Note)
	dist.describe(out, args)
	if err := setCuDNN(args); err != nil {
		return nil, err
	}

	// model = classic_models.find_model_using_name(args.model, num_classes=args.num_classes).to(device)
	// (built once; the script built it twice).
	model, err := models.New(args.Model, args.NumClasses)
	if err != nil {
		return nil, err
	}
	defer model.Close()
	if err := toDevice(model, device); err != nil {
		return nil, err
	}
	mcfg := model.Config()

	// 数据增强 (data_transform): the script's pipelines at the model's input size.
	tcfg := TransformConfig(mcfg, args.ImgSize, args.Transforms)
	imgSize := tcfg.CropSize
	fmt.Fprintln(out, DescribeTransforms(args.Transforms, tcfg))
	trainTransform, err := transforms.TrainPipeline(tcfg)
	if err != nil {
		return nil, err
	}
	valTransform, err := transforms.ValPipeline(tcfg)
	if err != nil {
		return nil, err
	}

	// 加载数据集
	trainDataset, err := dataset.Load(args.DataPath, "train", args.NumClasses)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(out, trainDataset.FoundMessage())
	valDataset, err := dataset.Load(args.DataPath, "val", args.NumClasses)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(out, valDataset.FoundMessage())
	if err := trainDataset.CheckNumClasses(); err != nil {
		return nil, err
	}

	// 计算类别权重: class_weights = [1.0 / count(c) for c in range(num_classes)]
	classWeights, err := loss.ClassWeights(trainDataset.ClassCounts, args.ClassWeights)
	if err != nil {
		return nil, err
	}

	nw := loader.DefaultWorkers(args.BatchSize)
	if args.NumWorkers >= 0 {
		nw = args.NumWorkers
	}
	fmt.Fprintf(out, "Using %d dataloader workers every process\n", nw)
	trainLoader, err := loader.New(trainDataset, trainTransform, imgSize, loader.Options{
		BatchSize: args.BatchSize, Workers: max(nw, 0), Shuffle: true, Seed: args.Seed,
		Sampler: args.Sampler, SkipBad: args.SkipBadImages, Shard: dist.shard()})
	if err != nil {
		return nil, err
	}
	valLoader, err := loader.New(valDataset, valTransform, imgSize, loader.Options{
		BatchSize: args.BatchSize, Workers: max(nw, 0), Seed: args.Seed, SkipBad: args.SkipBadImages,
		Shard: dist.shard()})
	if err != nil {
		return nil, err
	}

	// train_original.py: load --weights, slicing the classifier to num_classes rows.
	if args.Weights != "" {
		report, err := models.LoadWeights(model, args.Weights, args.Head)
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(out, report)
	}

	// 使用Focal Loss或CrossEntropyLoss
	criterion, err := newCriterion(args, trainDataset.ClassCounts, classWeights)
	if err != nil {
		return nil, err
	}
	defer criterion.Close()
	if err := loss.ToDevice(criterion, device); err != nil { // criterion.to(device)
		return nil, err
	}

	optimizer, err := NewAdam(model.StateDict().Parameters(), args.LR, 1e-4)
	if err != nil {
		return nil, err
	}
	defer optimizer.Close()

	// lf = cosine; scheduler = LambdaLR(optimizer, lr_lambda=lf); warmup inside epoch 0.
	scheduler, err := schedule.NewScript(schedule.Config{LR: args.LR, LRF: args.LRF, Epochs: args.Epochs,
		LoaderLen: trainLoader.Len(), Warmup: true})
	if err != nil {
		return nil, err
	}
	bestAcc := math.Inf(-1) // best_acc = 0. for acc; -inf so kappa (which can be < 0) works too
	if args.BestMetric == "acc" {
		bestAcc = 0
	}

	savePath := filepath.Join(args.Output, "weights", args.Model)
	if dist.main() { // rank 0 alone writes the output folder
		if err := os.MkdirAll(savePath, 0o755); err != nil {
			return nil, fmt.Errorf("cannot create the output folder: %w", err)
		}
		// Temporary files of a run killed in the middle of a write (kill -9, power loss).
		if stale, err := removeStaleTemps(savePath); err != nil {
			return nil, fmt.Errorf("removing temporary files in %s: %w", savePath, err)
		} else if len(stale) > 0 {
			fmt.Fprintf(out, "removed %d temporary file(s) of an interrupted run from %s\n", len(stale), savePath)
		}
	}

	if ampDesc != "" {
		fmt.Fprintln(out, ampDesc)
	}
	scaler, err := NewGradScalerOn(scale || args.forceScaler, device)
	if err != nil {
		return nil, err
	}
	defer scaler.Close()

	startEpoch := 0
	if args.Resume != "" {
		st, err := loadLast(args.Resume, model, optimizer, args, device)
		if err != nil {
			return nil, err
		}
		startEpoch = st.epoch + 1
		bestAcc = st.best
		for e := 0; e < startEpoch; e++ { // replay the schedule to where the run stopped
			if err := scheduler.StartEpoch(e); err != nil {
				return nil, err
			}
			if err := scheduler.EndEpoch(); err != nil {
				return nil, err
			}
		}
		fmt.Fprintf(out, "Resuming from %s after epoch %d (best %s %.4f)\n", args.Resume, startEpoch, args.BestMetric, bestAcc)
	}
	// model = nn.SyncBatchNorm.convert_sync_batchnorm(model), then DistributedDataParallel(model),
	// after --weights and --resume: rank 0's state everywhere.
	if err := dist.syncBatchNorm(model, args.SyncBN, out); err != nil {
		return nil, err
	}
	if err := dist.wrap(model, args); err != nil {
		return nil, err
	}

	var tbWriter *tblog.Writer
	logPath := ""
	if args.Tensorboard && dist.main() {
		// The script deleted an existing log dir; drgrade gives each run its own subfolder.
		// Created here, after every input was read, so a bad input leaves no empty run behind
		// (the script made its SummaryWriter before loading the data).
		logPath, err = newRunDir(filepath.Join(args.Output, "tensorboard", args.Model))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "Start Tensorboard with \"tensorboard --logdir=%s\"\n", logPath)
		if tbWriter, err = tblog.NewWriter(logPath); err != nil {
			return nil, err
		}
		defer tbWriter.Close()
	}

	res := &Result{SavePath: savePath, LogPath: logPath, BestValue: bestAcc}
	logs := &runLog{dir: savePath, out: out, bestMetric: args.BestMetric,
		title: fmt.Sprintf("%s on %s", args.Model, filepath.Base(filepath.Clean(args.DataPath)))}
	if dist.main() { // it rewrites DDR.txt
		if err := logs.loadHistory(startEpoch); err != nil {
			return nil, err
		}
	}
	lastPath := filepath.Join(savePath, "last.pth")
	interrupted := func(epoch int) error {
		if dist != nil && dist.err != nil {
			return dist.err // another rank failed: not the user's interruption
		}
		// The model and optimiser are part-way through this epoch, which is abandoned: the
		// last.pth written (atomically) at the end of the previous epoch is the state to
		// continue from, so nothing is saved here.
		resume := lastPath
		if epoch == startEpoch {
			resume = args.Resume
		}
		if resume == "" {
			fmt.Fprintln(out, "\nInterrupted during the first epoch: nothing to resume from.")
			return ErrInterrupted
		}
		fmt.Fprintf(out, "\nInterrupted. Resume with: drgrade train %s --resume %s\n", "<the same flags>", resume)
		return ErrInterrupted
	}

	for epoch := startEpoch; epoch < args.Epochs; epoch++ {
		epochStart := time.Now()
		tr, err := trainEpoch(model, optimizer, trainLoader, epoch, scheduler, criterion, scaler, amp,
			NewProgress(out, trainLoader.Len(), args.Quiet), stop, dist, device)
		if errors.Is(err, ErrInterrupted) {
			return res, interrupted(epoch)
		}
		if err != nil {
			if errors.Is(err, ErrNonFiniteLoss) {
				fmt.Fprintf(out, "WARNING: %v\n", err)
			}
			return res, outOfMemory(err, args, device, lastPath)
		}
		if scaler.Enabled {
			fmt.Fprintf(out, "GradScaler: %d of %d steps skipped (inf/NaN gradients), scale now %g\n",
				tr.SkippedSteps, tr.Steps, scaler.ScaleValue())
		}
		lr := scheduler.LR() // the lr the script logs: read after train_one_epoch, before scheduler.step()
		if err := scheduler.EndEpoch(); err != nil {
			return res, err
		}
		if dist != nil { // every rank evaluates its shard with rank 0's buffers (DDP's _sync_buffers)
			if err := dist.ddp.SyncBuffers(); err != nil {
				return res, err
			}
		}
		ev, err := EvaluateWith(model, valLoader, EvalOptions{Progress: NewProgress(out, valLoader.Len(), args.Quiet),
			Stop: stop, Device: device})
		if errors.Is(err, ErrInterrupted) {
			return res, interrupted(epoch)
		}
		if err != nil {
			return res, outOfMemory(err, args, device, lastPath)
		}
		if err := dist.gatherEval(&ev); err != nil { // the whole split's predictions, from every rank
			return res, err
		}
		report, err := metrics.Evaluate(ev.Labels, ev.Preds, args.NumClasses)
		if err != nil {
			return res, err
		}
		rec := EpochRecord{Epoch: epoch + 1, TrainLoss: tr.MeanLoss, TrainAcc: tr.Acc, ValAcc: ev.Acc, LR: lr,
			Precision: report.Weighted.Precision, Recall: report.Weighted.Recall, F1: report.Weighted.F1,
			Kappa: report.QWK, MacroF1: report.MacroAllLabels.F1, BalancedAcc: report.BalancedAccuracy,
			Seconds: time.Since(epochStart).Seconds(), Skipped: len(tr.Skipped) + len(ev.Skipped)}
		if dist.main() { // only rank 0 writes DDR.txt, metrics.json/csv and the plots
			if err := logs.epoch(rec, report, tr, ev); err != nil {
				return res, err
			}
		}
		if tbWriter != nil {
			if err := writeScalars(tbWriter, rec, epoch); err != nil {
				return res, err
			}
		}
		res.Epochs = append(res.Epochs, rec)
		res.LastTrain = tr
		res.Last = rec
		if v := rec.metric(args.BestMetric); v > bestAcc {
			bestAcc = v
			res.BestEpoch, res.BestValue = epoch+1, v
			if dist.main() {
				if err := models.SaveStateDict(model, filepath.Join(savePath, "DDR.pth")); err != nil {
					return res, fmt.Errorf("saving the best checkpoint: %w", err)
				}
				fmt.Fprintf(out, "saved the best model so far (%s %.4f) to %s\n", args.BestMetric, v, filepath.Join(savePath, "DDR.pth"))
				logs.best = &report
				logs.writePlots(&report)
			}
		} else if dist.main() {
			logs.writePlots(nil)
		}
		if dist.main() {
			if err := saveLast(lastPath, model, optimizer, epoch, bestAcc, args, device); err != nil {
				return res, fmt.Errorf("saving the last checkpoint: %w", err)
			}
		}
		if args.afterEpoch != nil {
			args.afterEpoch(epoch)
		}
		if stop != nil && stop() && epoch+1 < args.Epochs {
			if dist != nil && dist.err != nil {
				return res, dist.err
			}
			fmt.Fprintf(out, "\nInterrupted after epoch %d. Resume with: drgrade train <the same flags> --resume %s\n", epoch+1, lastPath)
			return res, ErrInterrupted
		}
	}
	if dist.main() {
		logs.final()
	}
	return res, nil
}

// setCuDNN applies --cudnn_benchmark and --deterministic (torch.backends.cudnn.benchmark,
// torch.backends.cudnn.deterministic and torch.use_deterministic_algorithms).
func setCuDNN(args Config) error {
	torchext.SetCuDNN(args.CuDNNBenchmark, args.Deterministic)
	if args.Deterministic {
		// warn_only: CUDA has no deterministic backward for adaptive_avg_pool2d (every ResNet),
		// and strict mode would refuse to train those at all.
		return torchext.SetDeterministicAlgorithms(true, true)
	}
	return nil
}

// outOfMemory turns libtorch's out-of-memory error into one that says what to change; other
// errors pass through. The epoch in progress is abandoned, so last.pth (written at the end of
// the previous epoch) is the state to resume from.
func outOfMemory(err error, args Config, dev gotch.Device, lastPath string) error {
	if !torchext.IsOutOfMemory(err) {
		return err
	}
	kept := "no epoch had finished, so there is no last.pth to resume from"
	if _, serr := os.Stat(lastPath); serr == nil {
		kept = "the last finished epoch is kept in " + lastPath
	}
	return &OutOfMemoryError{Err: fmt.Errorf("out of memory on %s training --model %s with --batch_size %d: try a smaller --batch_size, --use_amp or a smaller --img_size (%s). libtorch said: %s",
		torchext.DeviceName(dev), args.Model, args.BatchSize, kept, torchext.Message(err))}
}

// OutOfMemoryError is a run that ran out of device (or host) memory; the command line exits 1.
type OutOfMemoryError struct{ Err error }

// Error is the explanation, with the batch size and model.
func (e *OutOfMemoryError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *OutOfMemoryError) Unwrap() error { return e.Err }

// newCriterion is the script's `FocalLoss()` or `CrossEntropyLoss(weight=class_weights)`.
func newCriterion(args Config, counts []int, classWeights []float64) (loss.Criterion, error) {
	name := loss.NameCrossEntropy
	if args.UseFocalLoss {
		name = loss.NameFocal
	}
	if args.Loss != "" {
		name = args.Loss
	}
	return loss.New(name, loss.Options{ClassCounts: counts, ClassWeights: classWeights,
		FocalAlpha: args.FocalAlpha, FocalGamma: args.FocalGamma})
}

// newRunDir creates base/runN with the first unused N, so earlier runs are never touched.
func newRunDir(base string) (string, error) {
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("cannot create the TensorBoard folder: %w", err)
	}
	for n := 1; ; n++ {
		dir := filepath.Join(base, fmt.Sprintf("run%d", n))
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !os.IsExist(err) {
			return "", fmt.Errorf("cannot create the TensorBoard folder: %w", err)
		}
	}
}

// The --transforms choices.
const (
	// TransformsScript is train_imbalance.py's data_transform for every --model:
	// RandomResizedCrop(224), Resize(256) + CenterCrop(224), ImageNet mean/std.
	TransformsScript = "script"
	// TransformsModel is each model's own recipe (timm's pretrained_cfg): its input size,
	// crop_pct and Normalize constants (xception 299/333 with mean/std 0.5, EfficientNetV2 at
	// 384 or 480, ...).
	TransformsModel = "model"
)

// TransformConfig is the data_transform of a run. With mode TransformsScript ("" too) it is
// the script's for every model: crops of imgSize (0: 224), the val resize at imgSize·256/224
// (256 for 224), ImageNet's Normalize. With TransformsModel it is the model's own: crops of
// imgSize (0: the model's input size), the val resize at imgSize/crop_pct, the model's Normalize.
func TransformConfig(mcfg models.Config, imgSize int, mode string) transforms.Config {
	tcfg := transforms.DefaultConfig() // the script's: 224, 256, ImageNet mean/std
	cropPct := float64(tcfg.CropSize) / float64(tcfg.ResizeSize)
	if mode == TransformsModel {
		if imgSize == 0 {
			imgSize = mcfg.InputSize
		}
		cropPct = mcfg.CropPct
		for i := 0; i < 3; i++ {
			tcfg.Mean[i], tcfg.Std[i] = float32(mcfg.Mean[i]), float32(mcfg.Std[i])
		}
	}
	if imgSize == 0 {
		imgSize = tcfg.CropSize
	}
	tcfg.CropSize = imgSize
	tcfg.ResizeSize = int(math.Round(float64(imgSize) / cropPct))
	return tcfg
}

// DescribeTransforms is the run header's line on the transforms.
func DescribeTransforms(mode string, t transforms.Config) string {
	if mode == "" {
		mode = TransformsScript
	}
	return fmt.Sprintf("Transforms (%s): train RandomResizedCrop(%d) + the script's augmentation, val Resize(%d) + CenterCrop(%d), Normalize(mean=%s, std=%s)",
		mode, t.CropSize, t.ResizeSize, t.CropSize, fmtFloat3(t.Mean), fmtFloat3(t.Std))
}

func fmtFloat3(v [3]float32) string {
	return fmt.Sprintf("[%g, %g, %g]", v[0], v[1], v[2])
}
