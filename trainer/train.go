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

	"github.com/drgrade/drgrade/internal/atomicfile"
	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer/metrics"
	"github.com/drgrade/drgrade/trainer/schedule"
	"github.com/drgrade/drgrade/trainer/tblog"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/preprocess"
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

// session is main(args)'s local variables: what one phase makes and a later one uses.
type session struct {
	args Config
	out  io.Writer // rank 0's console; io.Discard on the other ranks
	stop func() bool
	dist *distributed // nil: one process

	device         gotch.Device
	amp            AMP
	useScaler      bool   // the GradScaler acts (float16 autocast on CUDA)
	ampDesc        string // the AMP line of the run header ("" when off)
	model          models.Model
	tcfg           transforms.Config
	trainTransform *transforms.Pipeline
	valTransform   *transforms.Pipeline
	trainDataset   *dataset.Dataset
	valDataset     *dataset.Dataset
	trainLoader    *loader.Loader
	valLoader      *loader.Loader
	criterion      loss.Criterion
	optimizer      *Adam
	scheduler      *schedule.Script
	scaler         *GradScaler
	tbWriter       *tblog.Writer // nil without --tensorboard and off rank 0
	logs           *runLog
	savePath       string // save_path: DDR.pth, last.pth, DDR.txt, metrics, plots
	lastPath       string
	logPath        string // the TensorBoard run folder
	startEpoch     int    // 0, or the epoch after the one --resume saved
	bestAcc        float64
	closers        []func()

	// the recipe's (recipe.go; nil or zero with the script's)
	ema       *modelEMA
	topk      *topK
	bestEpoch int  // 1-based epoch of the best metric so far (--patience); 0: none yet
	stopEarly bool // --patience ran out

	// --head regression: the grade thresholds of the last validation pass and of DDR.pth
	thresholds, bestThresholds []float64
}

// run is main(args) on the locked thread, its phases named after the script's steps. Only
// rank 0 speaks, writes and saves (onMain); every rank runs every tensor step.
func run(args Config, out io.Writer, stop func() bool, dist *distributed) (*Result, error) {
	if !dist.main() {
		out = io.Discard // rank 0 speaks for the run
	}
	s := &session{args: args, out: out, stop: stop, dist: dist}
	defer s.close()
	for _, phase := range []func() error{
		s.restoreRecipe,    // drgrade's --resume: the run's own recipe (--opt, --sched, ...) from last.pth
		s.seedTorch,        // seed_torch(seed)
		s.selectDevice,     // device = torch.device(...); print(args)
		s.findModel,        // model = classic_models.find_model_using_name(...).to(device)
		s.dataTransform,    // 数据增强: data_transform = {"train": ..., "val": ...}
		s.loadDatasets,     // 加载数据集: DR_Grading_Dataset(...) for train and val
		s.dataLoaders,      // nw = ...; DataLoader(...) for train and val
		s.loadWeights,      // torch.load(args.weights); fc sliced to num_classes; load_state_dict
		s.newCriterion,     // 计算类别权重; 使用Focal Loss或CrossEntropyLoss
		s.newOptimizer,     // optimizer = optim.Adam(pg, lr=args.lr, weight_decay=1e-4)
		s.newScheduler,     // lf = cosine; scheduler = lr_scheduler.LambdaLR(optimizer, lf)
		s.makeSavePath,     // os.makedirs(save_path)
		s.newGradScaler,    // scaler = torch.cuda.amp.GradScaler(enabled=enable_amp)
		s.newEMA,           // timm's model_ema = ModelEmaV2(model, decay=args.ema) (--ema)
		s.resume,           // drgrade's --resume: last.pth
		s.distributedModel, // SyncBatchNorm.convert_sync_batchnorm; DistributedDataParallel
		s.startTensorboard, // tb_writer = SummaryWriter(log_path)
	} {
		if err := phase(); err != nil {
			return nil, err
		}
	}
	res := &Result{SavePath: s.savePath, LogPath: s.logPath, BestValue: s.bestAcc}
	for epoch := s.startEpoch; epoch < args.Epochs; epoch++ {
		done, err := s.epoch(epoch, res)
		if err != nil || done {
			return res, err
		}
		if s.stopEarly {
			break
		}
	}
	s.onMain(func() error { s.logs.final(); return nil })
	return res, nil
}

// onMain runs f on rank 0 only, as torchvision's save_on_master: printing, writing the output
// folder and saving checkpoints.
func (s *session) onMain(f func() error) error {
	if !s.dist.main() {
		return nil
	}
	return f()
}

// close frees what the phases made, last first.
func (s *session) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// seedTorch is 固定随机种子 (seed_torch): the script's --seed was always on with seed 1.
func (s *session) seedTorch() error {
	// The script's main thread starts with grad mode on; the OS thread locked.Run landed on is
	// one of Go's pool and may carry a mode some earlier caller left off (libtorch's is per thread).
	torchext.SetGradEnabled(true)
	torchext.ManualSeed(s.args.Seed)
	fmt.Fprintln(s.out, "random seed has been fixed")
	if s.args.Threads > 0 {
		torchext.SetNumThreads(s.args.Threads)
	}
	return nil
}

// selectDevice is device = torch.device(f"cuda:{args.device}" ...), print(args) and
// print(f"Using device: {device}"), with the AMP plan of the device: enable_amp = use_amp and
// "cuda" in device.type. The scaler acts for float16 on CUDA only (CPU autocast runs bfloat16
// without one, and refuses float16 as torch 2.1 does).
func (s *session) selectDevice() error {
	cudaOK, cudaCount := CUDAAvailable()
	plan, err := PlanDevice(s.args.Device, cudaOK, cudaCount, s.dist.localRank())
	if err != nil {
		return &InputError{err}
	}
	s.device = plan.Device
	if s.amp, s.useScaler, s.ampDesc, err = ampPlan(s.args.UseAMP, s.args.AMPDType, s.device); err != nil {
		return &InputError{err}
	}
	fmt.Fprintln(s.out, s.args.Namespace())
	fmt.Fprintf(s.out, "Using device: %s%s\n", torchext.DeviceName(s.device), plan.Note)
	s.dist.describe(s.out, s.args)
	return setCuDNN(s.args)
}

// findModel is model = classic_models.find_model_using_name(args.model, num_classes=...).to(device)
// (built once; the script built it twice).
func (s *session) findModel() error {
	m, err := models.NewHead(s.args.Model, s.args.NumClasses, s.args.Head)
	if err != nil {
		return err
	}
	if s.dist != nil && m.Config().Head == models.HeadRegression {
		m.Close()
		return &InputError{fmt.Errorf("--head regression with several processes is not supported yet (its grade thresholds are fitted on the gathered outputs)")}
	}
	if h := m.Config().Head; h != "" {
		fmt.Fprintf(s.out, "head: %s, %d outputs for %d grades\n", describeHead(h), models.HeadOutputs(h, s.args.NumClasses), s.args.NumClasses)
	}
	s.model = m
	s.closers = append(s.closers, func() { m.Close() })
	return toDevice(m, s.device)
}

// dataTransform is 数据增强 (data_transform): the script's pipelines at the model's input size.
func (s *session) dataTransform() error {
	s.tcfg = TransformConfig(s.model.Config(), s.args.ImgSize, s.args.Transforms)
	fmt.Fprintln(s.out, DescribeTransforms(s.args.Transforms, s.tcfg))
	var err error
	if s.trainTransform, err = transforms.TrainPipeline(s.tcfg); err != nil {
		return err
	}
	if s.valTransform, err = transforms.ValPipeline(s.tcfg); err != nil {
		return err
	}
	pre, err := preprocess.Parse(s.args.Preprocess)
	if err != nil {
		return err
	}
	if !pre.Empty() {
		fmt.Fprintln(s.out, pre.Describe())
	}
	pre.Prepend(s.trainTransform)
	pre.Prepend(s.valTransform)
	s.trainTransform, err = augmentRecipe(s.trainTransform, s.args.Recipe)
	return err
}

// augmentRecipe appends the recipe's stronger augmentation to the script's train pipeline, in
// torchvision's reference order: the policy after the crop, flip (and the script's rotation and
// colour jitter), RandomErasing after Normalize.
func augmentRecipe(p *transforms.Pipeline, r Recipe) (*transforms.Pipeline, error) {
	switch r.AutoAugment {
	case AutoAugmentTrivial:
		p = p.Append(transforms.TrivialAugmentWide{})
	case AutoAugmentRand:
		p = p.Append(transforms.RandAugment{NumOps: r.RANumOps, Magnitude: r.RAMagnitude})
	}
	if r.RandomErasing > 0 {
		re, err := transforms.NewRandomErasing(r.RandomErasing)
		if err != nil {
			return nil, err
		}
		p = p.Append()
		p.Tensor = append(append([]transforms.TensorTransform(nil), p.Tensor...), re)
	}
	return p, nil
}

// loadDatasets is 加载数据集 and the script's check that the data set has num_classes classes.
func (s *session) loadDatasets() error {
	var err error
	if s.trainDataset, err = s.args.Data.Load(s.args.DataPath, "train", s.args.NumClasses); err != nil {
		return err
	}
	fmt.Fprintln(s.out, s.trainDataset.FoundMessage())
	if s.valDataset, err = s.args.Data.Load(s.args.DataPath, "val", s.args.NumClasses); err != nil {
		return err
	}
	fmt.Fprintln(s.out, s.valDataset.FoundMessage())
	if prep, err := preprocess.ReadPrepared(s.args.DataPath); err != nil {
		return err
	} else if prep != nil { // made by drgrade prepare: say how
		fmt.Fprintln(s.out, prep.Describe())
	}
	return s.trainDataset.CheckNumClasses()
}

// dataLoaders is nw = min([os.cpu_count(), batch_size, 8]) and the two DataLoaders (train
// shuffled; each rank its shard).
func (s *session) dataLoaders() error {
	args := s.args
	nw := loader.DefaultWorkers(args.BatchSize)
	if args.NumWorkers >= 0 {
		nw = args.NumWorkers
	}
	fmt.Fprintf(s.out, "Using %d dataloader workers every process\n", nw)
	var err error
	s.trainLoader, err = loader.New(s.trainDataset, s.trainTransform, s.tcfg.CropSize, loader.Options{
		BatchSize: args.BatchSize, Workers: max(nw, 0), Shuffle: true, Seed: args.Seed,
		Sampler: args.Sampler, SkipBad: args.SkipBadImages, Shard: s.dist.shard()})
	if err != nil {
		return err
	}
	s.valLoader, err = loader.New(s.valDataset, s.valTransform, s.tcfg.CropSize, loader.Options{
		BatchSize: args.BatchSize, Workers: max(nw, 0), Seed: args.Seed, SkipBad: args.SkipBadImages,
		Shard: s.dist.shard()})
	return err
}

// loadWeights is train_original.py's --weights: torch.load, the classifier sliced to
// num_classes rows, load_state_dict(strict=False).
func (s *session) loadWeights() error {
	if s.args.Weights == "" {
		return nil
	}
	report, err := models.LoadWeights(s.model, s.args.Weights, weightsHeadMode(s.args.Head))
	if err != nil {
		return err
	}
	fmt.Fprintln(s.out, report)
	return nil
}

// newCriterion is 计算类别权重 (class_weights = 1 / count per class) and 使用Focal Loss或
// CrossEntropyLoss: FocalLoss() or CrossEntropyLoss(weight=class_weights), then
// criterion.to(device).
func (s *session) newCriterion() error {
	args := s.args
	classWeights, err := loss.ClassWeights(s.trainDataset.ClassCounts, args.ClassWeights)
	if err != nil {
		return err
	}
	name := loss.NameCrossEntropy
	if args.UseFocalLoss {
		name = loss.NameFocal
	}
	if own := loss.HeadLosses(args.Head); own != nil {
		name = own[0] // --head regression: mse; ordinal: coral
	}
	if args.Loss != "" {
		name = args.Loss
	}
	c, err := loss.New(name, loss.Options{ClassCounts: s.trainDataset.ClassCounts, ClassWeights: classWeights,
		FocalAlpha: args.FocalAlpha, FocalGamma: args.FocalGamma})
	if err != nil {
		return err
	}
	s.criterion = c
	s.closers = append(s.closers, c.Close)
	if args.LabelSmoothing != 0 {
		sm, ok := c.(loss.Smoother)
		if !ok {
			return &InputError{fmt.Errorf("--label_smoothing: the loss %q takes no label smoothing", name)}
		}
		if err := sm.SetLabelSmoothing(args.LabelSmoothing); err != nil {
			return &InputError{err}
		}
	}
	return loss.ToDevice(c, s.device)
}

// newOptimizer is optim.Adam(pg, lr=args.lr, weight_decay=1e-4) (L2 added to the gradient),
// or the recipe's --opt, --weight_decay, --momentum, --nesterov and --head_lr_mult.
func (s *session) newOptimizer() error {
	r := s.args.Recipe
	mult, _, err := headLRMult(s.model, r.HeadLRMult)
	if err != nil {
		return &InputError{err}
	}
	opt, err := NewOptimizer(s.model.StateDict().Parameters(), OptimizerOptions{Kind: r.Opt, LR: s.args.LR,
		WeightDecay: r.WeightDecay, Momentum: r.Momentum, Nesterov: r.Nesterov, LRMult: mult})
	if err != nil {
		return err
	}
	s.optimizer = opt
	s.closers = append(s.closers, opt.Close)
	return nil
}

// newScheduler is lf = cosine and scheduler = LambdaLR(optimizer, lr_lambda=lf), with the
// warmup inside epoch 0, and best_acc = 0.
func (s *session) newScheduler() error {
	var err error
	r := s.args.Recipe
	s.scheduler, err = schedule.NewScript(schedule.Config{LR: s.args.LR, LRF: s.args.LRF, Epochs: s.args.Epochs,
		LoaderLen: updatesPerEpoch(s.trainLoader.Len(), r.AccumSteps), Warmup: true,
		Sched: r.Sched, StepSize: r.StepSize, Gamma: r.Gamma, PlateauPatience: r.PlateauPatience})
	if d := r.Describe(); d != "" {
		fmt.Fprintln(s.out, d)
	}
	if r.KeepTopK > 0 {
		s.topk = &topK{K: r.KeepTopK}
	}
	s.bestAcc = math.Inf(-1) // best_acc = 0. for acc; -inf so kappa (which can be < 0) works too
	if s.args.BestMetric == "acc" {
		s.bestAcc = 0
	}
	return err
}

// makeSavePath is os.makedirs(save_path) under --output, with the temporary files of a run
// killed in the middle of a write (kill -9, power loss) removed.
func (s *session) makeSavePath() error {
	s.savePath = filepath.Join(s.args.Output, "weights", s.args.Model)
	s.lastPath = filepath.Join(s.savePath, "last.pth")
	return s.onMain(func() error {
		if err := os.MkdirAll(s.savePath, 0o755); err != nil {
			return fmt.Errorf("cannot create the output folder: %w", err)
		}
		stale, err := removeStaleTemps(s.savePath)
		if err != nil {
			return fmt.Errorf("removing temporary files in %s: %w", s.savePath, err)
		}
		if len(stale) > 0 {
			fmt.Fprintf(s.out, "removed %d temporary file(s) of an interrupted run from %s\n", len(stale), s.savePath)
		}
		return nil
	})
}

// newGradScaler is scaler = torch.cuda.amp.GradScaler(enabled=enable_amp).
func (s *session) newGradScaler() error {
	if s.ampDesc != "" {
		fmt.Fprintln(s.out, s.ampDesc)
	}
	sc, err := NewGradScalerOn(s.useScaler || s.args.forceScaler, s.device)
	if err != nil {
		return err
	}
	s.scaler = sc
	s.closers = append(s.closers, sc.Close)
	return nil
}

// resume loads --resume's last.pth (model, optimiser, epoch, best) and replays the schedule
// to where that run stopped.
func (s *session) resume() error {
	if s.args.Resume == "" {
		return nil
	}
	st, err := loadLast(s.args.Resume, s.model, s.optimizer, s.args, s.device)
	if err != nil {
		return err
	}
	s.startEpoch = st.epoch + 1
	s.bestAcc = st.best
	_, oneCycle := s.scheduler.Momentum()
	for e := 0; e < s.startEpoch; e++ {
		if err := s.scheduler.StartEpoch(e); err != nil {
			return err
		}
		for i := 0; oneCycle && i < updatesPerEpoch(s.trainLoader.Len(), s.args.AccumSteps); i++ {
			if err := s.scheduler.AfterOptimizerStep(); err != nil {
				return err
			}
		}
		if err := s.scheduler.EndEpoch(); err != nil {
			return err
		}
	}
	if src, _, err := readLast(s.args.Resume, s.args); err != nil {
		return err
	} else if err := s.restoreRecipeState(src); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Resuming from %s after epoch %d (best %s %.4f)\n", s.args.Resume, s.startEpoch, s.args.BestMetric, s.bestAcc)
	return nil
}

// distributedModel is model = nn.SyncBatchNorm.convert_sync_batchnorm(model), then
// DistributedDataParallel(model), after --weights and --resume: rank 0's state everywhere.
func (s *session) distributedModel() error {
	if err := s.dist.syncBatchNorm(s.model, s.args.SyncBN, s.out); err != nil {
		return err
	}
	return s.dist.wrap(s.model, s.args)
}

// startTensorboard is tb_writer = SummaryWriter(log_path) (rank 0) and the run's text logs (and
// args.yaml, the resolved flags of --config).
// The script deleted an existing log dir; drgrade gives each run its own subfolder, created
// here, after every input was read, so a bad input leaves no empty run behind (the script
// made its SummaryWriter before loading the data).
func (s *session) startTensorboard() error {
	s.logs = &runLog{dir: s.savePath, out: s.out, bestMetric: s.args.BestMetric,
		title: fmt.Sprintf("%s on %s", s.args.Model, filepath.Base(filepath.Clean(s.args.DataPath)))}
	return s.onMain(func() error {
		if len(s.args.ArgsYAML) > 0 {
			if err := atomicfile.WriteBytes(filepath.Join(s.savePath, "args.yaml"), s.args.ArgsYAML); err != nil {
				return fmt.Errorf("writing args.yaml: %w", err)
			}
		}
		if s.args.Tensorboard {
			var err error
			if s.logPath, err = newRunDir(filepath.Join(s.args.Output, "tensorboard", s.args.Model)); err != nil {
				return err
			}
			fmt.Fprintf(s.out, "Start Tensorboard with \"tensorboard --logdir=%s\"\n", s.logPath)
			if s.tbWriter, err = tblog.NewWriter(s.logPath); err != nil {
				return err
			}
			s.closers = append(s.closers, func() { s.tbWriter.Close() })
		}
		return s.logs.loadHistory(s.startEpoch) // it rewrites DDR.txt
	})
}

// epoch is one turn of `for epoch in range(args.epochs)`: train_one_epoch, scheduler.step(),
// evaluate, the print and DDR.txt line, the TensorBoard scalars, and torch.save of the best
// model; plus drgrade's last.pth and the stop check. done reports that the run ends here.
func (s *session) epoch(epoch int, res *Result) (done bool, err error) {
	args := s.args
	epochStart := time.Now()
	tr, lr, err := s.trainOneEpoch(epoch)
	if err != nil {
		return true, err
	}
	ev, report, err := s.evaluate(epoch)
	if err != nil {
		return true, err
	}
	rec := EpochRecord{Epoch: epoch + 1, TrainLoss: tr.MeanLoss, TrainAcc: tr.Acc, ValAcc: ev.Acc, LR: lr,
		Precision: report.Weighted.Precision, Recall: report.Weighted.Recall, F1: report.Weighted.F1,
		Kappa: report.QWK, MacroF1: report.MacroAllLabels.F1, BalancedAcc: report.BalancedAccuracy,
		Seconds: time.Since(epochStart).Seconds(), Skipped: len(tr.Skipped) + len(ev.Skipped),
		ReferableAUC: ReferableAUC(ev, args.NumClasses, args.ReferableGrade)}
	// print('[epoch %d] ...'), DDR.txt, metrics.json/csv and the plots
	if err := s.onMain(func() error { return s.logs.epoch(rec, report, tr, ev) }); err != nil {
		return true, err
	}
	if s.tbWriter != nil {
		if err := writeScalars(s.tbWriter, rec, epoch); err != nil {
			return true, err
		}
	}
	res.Epochs = append(res.Epochs, rec)
	res.LastTrain = tr
	res.Last = rec
	improved := false
	if v := rec.metric(args.BestMetric); v > s.bestAcc { // if val_acc > best_acc
		s.bestAcc = v
		res.BestEpoch, res.BestValue = epoch+1, v
		improved = true
		s.bestEpoch = epoch + 1
	}
	s.scheduler.Metric(rec.metric(args.BestMetric)) // --sched plateau: scheduler.step(metric)
	if err := s.onMain(func() error { return s.saveTopK(epoch, rec.metric(args.BestMetric)) }); err != nil {
		return true, err
	}
	if err := s.onMain(func() error { return s.save(epoch, improved, &report) }); err != nil {
		return true, err
	}
	if args.Patience > 0 && epoch+1-s.bestEpoch >= args.Patience && epoch+1 < args.Epochs {
		fmt.Fprintf(s.out, "Early stopping: --best_metric %s has not improved for %d epochs (best %.4f at epoch %d)\n",
			args.BestMetric, epoch+1-s.bestEpoch, s.bestAcc, s.bestEpoch)
		s.stopEarly = true
	}
	if args.afterEpoch != nil {
		args.afterEpoch(epoch)
	}
	if s.stop != nil && s.stop() && epoch+1 < args.Epochs {
		if s.dist != nil && s.dist.err != nil {
			return true, s.dist.err
		}
		fmt.Fprintf(s.out, "\nInterrupted after epoch %d. Resume with: drgrade train <the same flags> --resume %s\n", epoch+1, s.lastPath)
		return true, ErrInterrupted
	}
	return false, nil
}

// trainOneEpoch is mean_loss, train_acc = train_one_epoch(...) then scheduler.step(); lr is
// the one the script logs, read after train_one_epoch and before scheduler.step().
func (s *session) trainOneEpoch(epoch int) (tr EpochResult, lr float64, err error) {
	tr, err = trainEpochPlan(EpochArgs{Model: s.model, Optimizer: s.optimizer, DataLoader: s.trainLoader, Epoch: epoch,
		LRMethod: s.scheduler, Criterion: s.criterion, AMP: s.amp, Scaler: s.scaler,
		Progress: NewProgress(s.out, s.trainLoader.Len(), s.args.Quiet), Stop: s.stop, Device: s.device,
		Mixup: s.args.mixConfig(s.args.NumClasses), MixSeed: s.args.Seed ^ uint64(s.dist.shard().Rank)<<48}, s.dist, s.plan())
	if err != nil {
		if errors.Is(err, ErrNonFiniteLoss) {
			fmt.Fprintf(s.out, "WARNING: %v\n", err)
		}
		return tr, 0, s.epochFailed(epoch, err)
	}
	if s.scaler.Enabled {
		fmt.Fprintf(s.out, "GradScaler: %d of %d steps skipped (inf/NaN gradients), scale now %g\n",
			tr.SkippedSteps, tr.Steps, s.scaler.ScaleValue())
	}
	lr = s.scheduler.LR()
	return tr, lr, s.scheduler.EndEpoch()
}

// evaluate is val_acc = evaluate(model, val_loader, device) and drgrade's metrics of the
// whole split: every rank scores its shard with rank 0's buffers (DDP's _sync_buffers) and
// the predictions are gathered, with the softmax the referable-DR AUC needs.
func (s *session) evaluate(epoch int) (EvalResult, metrics.Report, error) {
	if s.dist != nil {
		if err := s.dist.ddp.SyncBuffers(); err != nil {
			return EvalResult{}, metrics.Report{}, err
		}
	}
	ev, err := EvaluateWith(s.evalModel(), s.valLoader, EvalOptions{Probs: true, Progress: NewProgress(s.out, s.valLoader.Len(), s.args.Quiet),
		Stop: s.stop, Device: s.device})
	if err != nil {
		return ev, metrics.Report{}, s.epochFailed(epoch, err)
	}
	if err := s.dist.gatherEval(&ev); err != nil {
		return ev, metrics.Report{}, err
	}
	if s.model.Config().Head == models.HeadRegression { // the APTOS recipe: thresholds fitted for kappa
		if s.thresholds, err = optimizeThresholds(&ev, s.args.NumClasses); err != nil {
			return ev, metrics.Report{}, err
		}
		fmt.Fprintf(s.out, "grade thresholds, optimised for kappa on val: %s\n", formatThresholds(s.thresholds))
	}
	report, err := metrics.Evaluate(ev.Labels, ev.Preds, s.args.NumClasses)
	return ev, report, err
}

// save is torch.save(model.state_dict(), "DDR.pth") when the epoch improved the best metric,
// then drgrade's plots and last.pth (rank 0).
func (s *session) save(epoch int, improved bool, report *metrics.Report) error {
	if improved {
		best := filepath.Join(s.savePath, "DDR.pth")
		if err := models.SaveStateDict(s.evalModel(), best); err != nil {
			return fmt.Errorf("saving the best checkpoint: %w", err)
		}
		s.bestThresholds = s.thresholds
		if err := s.writeBestInfo(best, epoch, s.bestAcc); err != nil {
			return err
		}
		fmt.Fprintf(s.out, "saved the best model so far (%s %.4f) to %s\n", s.args.BestMetric, s.bestAcc, best)
		s.logs.best = report
		s.logs.writePlots(report)
	} else {
		s.logs.writePlots(nil)
	}
	extra, err := s.recipeEntries()
	if err != nil {
		return err
	}
	if err := saveLast(s.lastPath, s.model, s.optimizer, epoch, s.bestAcc, s.args, s.device, extra...); err != nil {
		return fmt.Errorf("saving the last checkpoint: %w", err)
	}
	return nil
}

// epochFailed explains an epoch that did not finish: a stop request (where to resume from),
// running out of memory (what to change), or any other error unchanged.
func (s *session) epochFailed(epoch int, err error) error {
	if !errors.Is(err, ErrInterrupted) {
		return outOfMemory(err, s.args, s.device, s.lastPath)
	}
	if s.dist != nil && s.dist.err != nil {
		return s.dist.err // another rank failed: not the user's interruption
	}
	// The model and optimiser are part-way through this epoch, which is abandoned: the
	// last.pth written (atomically) at the end of the previous epoch is the state to
	// continue from, so nothing is saved here.
	resume := s.lastPath
	if epoch == s.startEpoch {
		resume = s.args.Resume
	}
	if resume == "" {
		fmt.Fprintln(s.out, "\nInterrupted during the first epoch: nothing to resume from.")
		return ErrInterrupted
	}
	fmt.Fprintf(s.out, "\nInterrupted. Resume with: drgrade train %s --resume %s\n", "<the same flags>", resume)
	return ErrInterrupted
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
