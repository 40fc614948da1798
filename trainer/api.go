package trainer

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/registry"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer/schedule"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/mixup"
	"github.com/drgrade/drgrade/vision/models"
)

// This file is the surface for writing the script's epoch loop yourself, as
// examples/train_ddr does: the pieces Run uses, exported, with the script's names.

// RunLocked runs f on a new goroutine locked to its OS thread and waits for it (a panic in
// f is re-raised here). libtorch keeps grad mode and autocast per OS thread, so build the
// model and do every forward, backward, optimiser step and Evaluate of one loop inside f.
func RunLocked(f func()) { locked.Run(f) }

// InstallCPUCache makes libtorch keep freed CPU buffers for reuse, as drgrade's own commands
// do (a caching allocator like PyTorch's on the GPU; DRGRADE_CPU_CACHE_MB caps it or turns it
// off). Call it first thing in main, before any tensor is made; later calls change nothing.
func InstallCPUCache() error { return torchext.InstallCPUCache() }

// ManualSeed mirrors torch.manual_seed(seed): it seeds libtorch's CPU generator, which
// weight initialisation (models.New) and dropout draw from. Data order and augmentation are
// seeded separately, by loader.Options.Seed.
func ManualSeed(seed uint64) { torchext.ManualSeed(seed) }

// SetNumThreads mirrors torch.set_num_threads(n) (--threads). Results are bit-for-bit
// reproducible only for the same thread count.
func SetNumThreads(n int) { torchext.SetNumThreads(n) }

// NoGrad mirrors `with torch.no_grad():` on the calling thread: grad mode is off until the
// returned function restores it (defer trainer.NoGrad()()). Evaluate does this itself.
func NoGrad() (restore func()) { return torchext.NoGrad() }

// SelectDevice is the script's torch.device(...) choice for --device ("cpu", "0", "cuda:0"),
// with its fallback to the CPU when CUDA is not available; note says why ("" otherwise).
func SelectDevice(flag string) (device gotch.Device, note string, err error) {
	ok, n := CUDAAvailable()
	plan, err := PlanDevice(flag, ok, n, -1)
	return plan.Device, plan.Note, err
}

// DeviceName is torch's spelling of a device: "cpu" or "cuda:N".
func DeviceName(device gotch.Device) string { return torchext.DeviceName(device) }

// ToDevice is model.to(device): every parameter and buffer is moved in place.
func ToDevice(model models.Model, device gotch.Device) error {
	return toDevice(model, torchext.OrCPU(device))
}

// NewAMP returns the autocast setting of --use_amp on device: off when enabled is false,
// otherwise autocast with dtype "bfloat16" or "float16" ("": float16 on CUDA, bfloat16 on
// the CPU, the defaults of torch.cuda.amp and of PyTorch's CPU autocast; float16 on the CPU is
// an error, as in torch 2.1, whose CPU autocast only runs bfloat16). useScaler says
// whether the script's GradScaler acts (float16 on CUDA): pass it to NewGradScalerOn.
func NewAMP(enabled bool, dtype string, device gotch.Device) (amp AMP, useScaler bool, err error) {
	switch dtype {
	case "bfloat16", "float16", "":
	default:
		return AMP{}, false, fmt.Errorf("--amp_dtype %q: want bfloat16 or float16", dtype)
	}
	amp, useScaler, _, err = ampPlan(enabled, dtype, torchext.OrCPU(device))
	return amp, useScaler, err
}

// NewRunDir creates base/runN for the first unused N and returns it: the TensorBoard log
// folder of one run. The script deleted an existing log folder (shutil.rmtree); drgrade
// never destroys an earlier run.
func NewRunDir(base string) (string, error) { return newRunDir(base) }

// EpochArgs are train_one_epoch's keyword arguments.
type EpochArgs struct {
	Model      models.Model     // model=model (trained in place)
	Optimizer  *Adam            // optimizer=optimizer
	DataLoader *loader.Loader   // data_loader=train_loader
	Epoch      int              // epoch=epoch, 0-based
	LRMethod   *schedule.Script // lr_method=warmup, together with the script's cosine LambdaLR
	Criterion  loss.Criterion   // criterion=criterion
	AMP        AMP              // use_amp=args.use_amp (see NewAMP)
	// Scaler is the GradScaler; nil means a disabled one (the script's on the CPU).
	Scaler *GradScaler
	// Progress draws the epoch's bar; nil draws nothing.
	Progress *Progress
	// Stop, when it returns true between steps, ends the epoch with ErrInterrupted.
	Stop func() bool
	// Device is where Model is (see ToDevice) and where the batches go; the zero Device is
	// the CPU.
	Device gotch.Device
	// Mixup, when enabled, is timm's mixup_fn on every batch (vision/mixup): the images mixed,
	// the loss the soft-target cross-entropy on the mixed targets (Criterion unused), the draws
	// seeded by MixSeed, the epoch and the batch.
	Mixup   mixup.Config
	MixSeed uint64
}

// TrainOneEpoch mirrors upstream utils.train_engin.train_one_epoch, exactly as Run calls it:
// model.train(); the epoch-0 warmup; for each batch forward (+ autocast), loss, backward,
// optimiser step, zero_grad, the non-finite-loss check (ErrNonFiniteLoss) and the warmup
// step. It returns mean_loss and train_acc (EpochResult.MeanLoss, Acc). Call it inside
// RunLocked; the script's scheduler.step() afterwards is a.LRMethod.EndEpoch().
func TrainOneEpoch(a EpochArgs) (EpochResult, error) {
	var missing []string
	for _, m := range []struct {
		name string
		nil  bool
	}{{"Model", a.Model == nil}, {"Optimizer", a.Optimizer == nil}, {"DataLoader", a.DataLoader == nil},
		{"LRMethod", a.LRMethod == nil}, {"Criterion", a.Criterion == nil}} {
		if m.nil {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return EpochResult{}, fmt.Errorf("TrainOneEpoch: %s not set", strings.Join(missing, ", "))
	}
	if a.Epoch < 0 {
		return EpochResult{}, fmt.Errorf("TrainOneEpoch: epoch %d is negative", a.Epoch)
	}
	scaler := a.Scaler
	if scaler == nil {
		var err error
		if scaler, err = NewGradScaler(false); err != nil {
			return EpochResult{}, err
		}
	}
	a.Scaler, a.Device = scaler, torchext.OrCPU(a.Device)
	return trainEpoch(a, nil)
}

// MetricFunc returns the value --best_metric maximises for one epoch: the epoch whose value
// beats every earlier one is saved as DDR.pth. A NaN (an undefined kappa) never wins.
type MetricFunc func(EpochRecord) float64

// metricReg holds the --best_metric choices; the built-ins first.
var metricReg = func() *registry.Registry[MetricFunc] {
	r := registry.New[MetricFunc]("trainer: RegisterMetric", "function")
	for _, m := range []struct {
		name string
		f    MetricFunc
	}{
		{"acc", func(r EpochRecord) float64 { return r.ValAcc }}, // the script's val_acc > best_acc
		{"kappa", func(r EpochRecord) float64 { return r.Kappa }},
		{"macro_f1", func(r EpochRecord) float64 { return r.MacroF1 }},
		// the AUC of P(referable) on val: NaN (never best) with 2 classes or a val split
		// without referable or without non-referable images
		{"referable_auc", func(r EpochRecord) float64 { return r.ReferableAUC }},
	} {
		if err := r.Add(m.name, m.f); err != nil {
			panic(err) // a bug of this package, seen by every test run
		}
	}
	return r
}()

// builtinMetrics are listed first by MetricNames, in this order.
var builtinMetrics = []string{"acc", "kappa", "macro_f1", "referable_auc"}

// RegisterMetric adds a --best_metric choice under name (call it from an init function, before
// Config.Validate and Run). A name already taken (acc, kappa, macro_f1 and referable_auc are
// built in), an empty name or a nil f is an error: the rule of models.Register and
// loss.Register (internal/registry).
func RegisterMetric(name string, f MetricFunc) error { return metricReg.Add(name, f) }

// LookupMetric returns the --best_metric function registered as name.
func LookupMetric(name string) (MetricFunc, error) {
	f, ok := metricReg.Get(name)
	if !ok {
		return nil, fmt.Errorf("unknown --best_metric %q; want one of %s", name, strings.Join(MetricNames(), ", "))
	}
	return f, nil
}

// MetricNames lists the --best_metric choices: the built-ins acc, kappa, macro_f1,
// referable_auc first, then registered ones, sorted.
func MetricNames() []string {
	extra := metricReg.Names(func(n string, _ MetricFunc) bool { return !slices.Contains(builtinMetrics, n) })
	return append(slices.Clone(builtinMetrics), extra...)
}

// metricValue is the value --best_metric name compares for r: -Inf for NaN (never best) and
// for an unregistered name (Config.Validate refuses those before a run starts).
func metricValue(r EpochRecord, name string) float64 {
	f, err := LookupMetric(name)
	if err != nil {
		return math.Inf(-1)
	}
	if v := f(r); !math.IsNaN(v) {
		return v
	}
	return math.Inf(-1)
}
