package trainer

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/preprocess"
)

// Config holds train_imbalance.py's arguments, with the same names and defaults, and
// drgrade's additions. Fields are set by cmd/drgrade from flags of the same snake_case names.
type Config struct {
	// The script's flags.
	NumClasses   int     // --num_classes 5
	Epochs       int     // --epochs 100
	BatchSize    int     // --batch_size 32
	LR           float64 // --lr 0.0002
	LRF          float64 // --lrf 0.0001
	Seed         uint64  // --seed 1 (the script's store_true flag always seeded with 1)
	Tensorboard  bool    // --tensorboard (default true; --tensorboard=false works here)
	UseAMP       bool    // --use_amp
	DataPath     string  // --data_path data/DDR5
	Model        string  // --model resnet
	Device       string  // --device 0 | cpu
	Weights      string  // --weights model_pth/resnet50-19c8e357.pth ("" = none)
	UseFocalLoss bool    // --use_focal_loss

	// Data is how data_path is stored: --data_format, --image_col, --label_col, --image_ext (zero: detected).
	Data dataset.Options

	// drgrade's additions.
	Output         string  // --output DRresults/DDR5/Resnet_Adam_L2 (tensorboard/ and weights/ below it)
	FocalGamma     float64 // --focal_gamma 2
	FocalAlpha     string  // --focal_alpha 1 | auto (per class, normalised inverse frequency)
	ClassWeights   string  // --class_weights inverse | normalized | none
	Sampler        string  // --sampler random | weighted
	NumWorkers     int     // --num_workers (-1: the script's rule)
	BestMetric     string  // --best_metric acc | kappa | macro_f1 | referable_auc (or RegisterMetric's)
	ReferableGrade int     // --referable_grade 2: referable_auc is the val AUC of P(grade ≥ it)
	Loss           string  // --loss: a loss.Register name ("": cross_entropy, or focal with --use_focal_loss)
	Resume         string  // --resume last.pth
	Head           string  // --head slice | reset (a bigger classifier in --weights) | regression | ordinal (output heads, head.go)
	AMPDType       string  // --amp_dtype bfloat16 | float16 ("": float16 on CUDA, bfloat16 on the CPU)
	Threads        int     // --threads (0: libtorch's default)
	ImgSize        int     // --img_size (0: 224, or the model's input size with --transforms model)
	Transforms     string  // --transforms script (train_imbalance.py's for every model) | model
	Preprocess     string  // --preprocess crop,graham,clahe: vision/preprocess before the transforms ("": none, the script's)
	SkipBadImages  bool    // --skip_bad_images
	CheckImages    bool    // --check_images (default true): Preflight decodes every image before the run
	Quiet          bool    // no progress bars (also automatic when stdout is not a terminal)
	CuDNNBenchmark bool    // --cudnn_benchmark: torch.backends.cudnn.benchmark (off: reproducible runs)
	Deterministic  bool    // --deterministic: cudnn.deterministic and torch.use_deterministic_algorithms
	// ArgsYAML, when set, is written as args.yaml beside DDR.txt: the command line's resolved
	// flags (cmd/drgrade), so `drgrade train --config args.yaml` repeats the run.
	ArgsYAML []byte `json:"-"`

	// forceScaler turns the GradScaler on whatever the device: tests drive the CUDA AMP path's
	// scaler arithmetic on the CPU with it (the scaler's kernels have a CPU twin in torchext).
	forceScaler bool
	// afterEpoch, when set, is called on the run's OS thread after each epoch's checkpoints:
	// the memory test measures there.
	afterEpoch func(epoch int)

	// Distributed data parallel (trainer/ddp), active when the process was started by torchrun
	// or by drgrade train --nproc_per_node (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set).
	DistBackend          string        // --dist_backend gloo | nccl ("": nccl on CUDA, gloo on the CPU)
	DistTimeout          time.Duration // --dist_timeout: a rank silent this long fails the run (torch's 30 min)
	BucketCapMB          float64       // --bucket_cap_mb 25 (DistributedDataParallel's)
	DDPNoOverlap         bool          // --ddp_no_overlap: all-reduce after backward instead of during it
	FindUnusedParameters bool          // --find_unused_parameters
	SyncBN               bool          // --sync_bn: SyncBatchNorm (models.ConvertSyncBatchNorm), on CUDA and the CPU

	Recipe // issue 21's --opt, --sched, --label_smoothing, --clip_grad, --accum_steps, --ema, ... (recipe.go)
}

// DefaultConfig is the script's argparse defaults plus drgrade's.
func DefaultConfig() Config {
	return Config{
		NumClasses: 5, Epochs: 100, BatchSize: 32, LR: 0.0002, LRF: 0.0001, Seed: 1,
		Tensorboard: true, DataPath: "data/DDR5", Model: "resnet", Device: "0",
		Weights: "model_pth/resnet50-19c8e357.pth",
		Output:  "DRresults/DDR5/Resnet_Adam_L2", FocalGamma: 2, FocalAlpha: "1",
		ClassWeights: "inverse", Sampler: "random", NumWorkers: -1, BestMetric: "acc", ReferableGrade: 2,
		Head: "slice", CheckImages: true, Transforms: TransformsScript,
		DistTimeout: 30 * time.Minute, BucketCapMB: 25,
		Recipe: DefaultRecipe(),
	}
}

// Validate checks values no run could use, so the user hears about them before anything starts.
func (c *Config) Validate() error {
	var bad []string
	add := func(format string, a ...any) { bad = append(bad, fmt.Sprintf(format, a...)) }
	if c.NumClasses < 2 {
		add("--num_classes must be at least 2, got %d", c.NumClasses)
	}
	if c.Epochs < 1 {
		add("--epochs must be at least 1, got %d", c.Epochs)
	}
	if c.BatchSize < 1 {
		add("--batch_size must be at least 1, got %d", c.BatchSize)
	}
	if !(c.LR > 0) || math.IsInf(c.LR, 0) {
		add("--lr must be a positive number, got %v", c.LR)
	}
	if !(c.LRF >= 0) || math.IsInf(c.LRF, 0) {
		add("--lrf must be a non-negative number, got %v", c.LRF)
	}
	if c.FocalGamma < 0 || math.IsNaN(c.FocalGamma) {
		add("--focal_gamma must be non-negative, got %v", c.FocalGamma)
	}
	oneOf := func(flag, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		add("--%s %q: want one of %s", flag, v, strings.Join(allowed, ", "))
	}
	oneOf("class_weights", c.ClassWeights, "inverse", "normalized", "none")
	oneOf("sampler", c.Sampler, "random", "weighted")
	oneOf("best_metric", c.BestMetric, MetricNames()...) // acc, kappa, macro_f1, referable_auc and RegisterMetric's
	if c.NumClasses >= 2 {
		if err := checkReferableGrade(c.ReferableGrade, c.NumClasses); err != nil {
			add("%v", err)
		}
	}
	oneOf("head", c.Head, "slice", "reset", "regression", "ordinal")
	if c.Loss != "" {
		oneOf("loss", c.Loss, loss.Names()...)
	}
	c.validateHead(add)
	if c.AMPDType != "" {
		oneOf("amp_dtype", c.AMPDType, "bfloat16", "float16")
	}
	if _, err := ParseDevice(c.Device); err != nil {
		add("%v", err)
	}
	if c.FocalAlpha != "auto" {
		var a float64
		if _, err := fmt.Sscanf(c.FocalAlpha, "%g", &a); err != nil || a < 0 {
			add("--focal_alpha %q: want a non-negative number or auto", c.FocalAlpha)
		}
	}
	if c.NumWorkers < -1 {
		add("--num_workers must be -1 (the script's rule) or more, got %d", c.NumWorkers)
	}
	if c.Threads < 0 {
		add("--threads must not be negative, got %d", c.Threads)
	}
	if c.Transforms != "" {
		oneOf("transforms", c.Transforms, TransformsScript, TransformsModel)
	}
	if _, err := preprocess.Parse(c.Preprocess); err != nil {
		add("%v", err)
	}
	if c.ImgSize != 0 && c.ImgSize < 32 {
		add("--img_size must be at least 32, got %d", c.ImgSize)
	}
	if c.DistBackend != "" {
		oneOf("dist_backend", c.DistBackend, "gloo", "nccl")
	}
	if c.DistTimeout < 0 {
		add("--dist_timeout must not be negative, got %v", c.DistTimeout)
	}
	if c.BucketCapMB < 0 || math.IsNaN(c.BucketCapMB) || math.IsInf(c.BucketCapMB, 0) {
		add("--bucket_cap_mb must be a positive number, got %v", c.BucketCapMB)
	}
	c.Recipe.validate(add)
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "\n"))
	}
	return nil
}

// Namespace formats the configuration like the script's print(args).
func (c *Config) Namespace() string {
	return fmt.Sprintf("Namespace(num_classes=%d, epochs=%d, batch_size=%d, lr=%g, lrf=%g, seed=%d, tensorboard=%s, use_amp=%s, data_path='%s', model='%s', device='%s', weights='%s', use_focal_loss=%s)",
		c.NumClasses, c.Epochs, c.BatchSize, c.LR, c.LRF, c.Seed, pyBool(c.Tensorboard), pyBool(c.UseAMP),
		c.DataPath, c.Model, c.Device, c.Weights, pyBool(c.UseFocalLoss))
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
