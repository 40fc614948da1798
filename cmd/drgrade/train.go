package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/models"
)

const trainNotes = `
Differences from train_imbalance.py (its bugs, fixed visibly):
  --seed N takes a value (default 1: the script's store_true flag always seeded with 1)
  --tensorboard=false turns TensorBoard off (the script's flag could not be turned off)
  --weights "" means no weights; the weight loading of train_original.py is kept
  the model is built once (the script built it twice); earlier TensorBoard runs are kept
  --device cpu|N: without CUDA, N falls back to the CPU with a message
  --use_amp on CPU uses bfloat16 autocast (the script ignored it without CUDA)
  bad input (labels, images, --weights, --resume, --device, --output) stops the run with exit
  status 2 before anything is written: every image is decoded once first (--check_images)
`

// runTrain is `drgrade train`: the script's command line, wired to trainer.Run.
func runTrain(args []string, stdout, stderr io.Writer) error {
	cfg := trainer.DefaultConfig()
	fs := newFlags("train", "[flags]   (the flags of train_imbalance.py, plus drgrade's)", stdout, stderr)
	fs.IntVar(&cfg.NumClasses, "num_classes", cfg.NumClasses, "the number of classes")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "the number of training epochs")
	fs.IntVar(&cfg.BatchSize, "batch_size", cfg.BatchSize, "batch size for training")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "start learning rate")
	fs.Float64Var(&cfg.LRF, "lrf", cfg.LRF, "end learning rate multiplier of the cosine schedule")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (weights, shuffling, augmentation)")
	fs.BoolVar(&cfg.Tensorboard, "tensorboard", cfg.Tensorboard, "write TensorBoard event files")
	fs.BoolVar(&cfg.UseAMP, "use_amp", cfg.UseAMP, "mixed precision (CPU: bfloat16 autocast)")
	fs.StringVar(&cfg.DataPath, "data_path", cfg.DataPath, "data set folder with train/, val/, train.txt, val.txt")
	fs.StringVar(&cfg.Model, "model", cfg.Model, "model name: "+strings.Join(models.Names(), ", "))
	fs.StringVar(&cfg.Device, "device", cfg.Device, "device id (0, 1, ...) or cpu")
	fs.StringVar(&cfg.Weights, "weights", cfg.Weights, `initial weights (.pth in any torch.save format); "" for none`)
	fs.BoolVar(&cfg.UseFocalLoss, "use_focal_loss", cfg.UseFocalLoss, "use Focal Loss instead of CrossEntropyLoss")
	fs.StringVar(&cfg.Output, "output", cfg.Output, "output root: <output>/weights/<model>/ and <output>/tensorboard/<model>/")
	fs.Float64Var(&cfg.FocalGamma, "focal_gamma", cfg.FocalGamma, "focal loss gamma")
	fs.StringVar(&cfg.FocalAlpha, "focal_alpha", cfg.FocalAlpha, "focal loss alpha: a number, or auto (per class, from inverse frequency)")
	fs.StringVar(&cfg.ClassWeights, "class_weights", cfg.ClassWeights, "cross-entropy class weights: inverse (the script's 1/count), normalized, none")
	fs.StringVar(&cfg.Sampler, "sampler", cfg.Sampler, "random, or weighted (class-balanced sampling with replacement)")
	fs.IntVar(&cfg.NumWorkers, "num_workers", cfg.NumWorkers, "data loading workers (-1: the script's min(cpus, batch_size, 8))")
	fs.StringVar(&cfg.BestMetric, "best_metric", cfg.BestMetric, "which validation metric picks DDR.pth: "+strings.Join(trainer.MetricNames(), ", ")+" (acc: the script's)")
	fs.StringVar(&cfg.Loss, "loss", cfg.Loss, "criterion by name: "+strings.Join(loss.Names(), ", ")+` ("": cross_entropy, or focal with --use_focal_loss)`)
	fs.StringVar(&cfg.Resume, "resume", cfg.Resume, "continue from a last.pth")
	fs.StringVar(&cfg.Head, "head", cfg.Head, "a classifier bigger than num_classes in --weights: slice (the script's) or reset")
	fs.StringVar(&cfg.AMPDType, "amp_dtype", cfg.AMPDType, "autocast dtype with --use_amp: bfloat16 or float16")
	fs.IntVar(&cfg.Threads, "threads", cfg.Threads, "libtorch threads (0: libtorch's default)")
	fs.IntVar(&cfg.ImgSize, "img_size", cfg.ImgSize, "train crop size (0: the model's, 224); val resize keeps the 256/224 ratio")
	fs.BoolVar(&cfg.SkipBadImages, "skip_bad_images", cfg.SkipBadImages, "skip unreadable images (counted each epoch) instead of stopping")
	fs.BoolVar(&cfg.CheckImages, "check_images", cfg.CheckImages, "decode every image once before training, so a bad one stops the run before anything is written")
	fs.BoolVar(&cfg.Quiet, "quiet", cfg.Quiet, "no progress bars (automatic when stdout is not a terminal)")
	usage := fs.Usage
	fs.Usage = func() { usage(); fmt.Fprint(fs.Output(), trainNotes) }
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if _, err := models.Lookup(cfg.Model); err != nil {
		return usageError{err}
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	if cfg.Device != "cpu" {
		if _, err := fmt.Sscanf(cfg.Device, "%d", new(int)); err != nil {
			return usagef("--device %q: want cpu or a CUDA device number", cfg.Device)
		}
	}
	// Everything about the input is checked before trainer.Run writes its first file.
	if err := trainer.Preflight(cfg, stdout); err != nil {
		if isInputError(err) {
			return usageError{err}
		}
		return err
	}

	// SIGINT/SIGTERM: finish the current step, save last.pth, exit 130/143. A second
	// signal exits at once (files are only ever replaced atomically).
	var stopSig atomic.Value
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		s, ok := <-sigs
		if !ok {
			return
		}
		stopSig.Store(s)
		fmt.Fprintf(stderr, "\n%v: stopping after the current step (again to quit at once)\n", s)
		if s2, ok := <-sigs; ok {
			os.Exit(exitCodeFor(s2))
		}
	}()
	stop := func() bool { return stopSig.Load() != nil }

	_, err := trainer.Run(cfg, stdout, stop)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, trainer.ErrInterrupted):
		s, _ := stopSig.Load().(os.Signal)
		return exitError{code: exitCodeFor(s), err: err}
	case errors.Is(err, trainer.ErrNonFiniteLoss):
		return err // exit 1, as the script's sys.exit(1)
	case isInputError(err):
		return usageError{err}
	}
	return err
}

func exitCodeFor(s os.Signal) int {
	if s == syscall.SIGTERM {
		return 143
	}
	return 130
}

// exitError carries a specific exit status (130/143 after a signal).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// isInputError reports errors caused by the user's input (flags, data set, images, weights,
// output folder): exit 2.
func isInputError(err error) bool {
	var de *dataset.Error
	var ie *imageio.Error
	var te *trainer.InputError
	return errors.As(err, &de) || errors.As(err, &ie) || errors.As(err, &te)
}
