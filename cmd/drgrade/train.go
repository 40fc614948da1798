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
	"github.com/drgrade/drgrade/trainer/ddp"
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

Data-parallel training (PyTorch's DistributedDataParallel on c10d: Gloo on the CPU):
  drgrade train --nproc_per_node 2 ...                       N processes on this machine
  torchrun --no-python --nproc_per_node 2 drgrade train ...  the same, started by torchrun
  on several machines, run on each node (node_rank 0 hosts the rendezvous):
  drgrade train --nnodes 2 --node_rank R --nproc_per_node N --master_addr HOST0 ...
  torchrun --no-python --nnodes 2 --node_rank R --nproc_per_node N \
      --master_addr HOST0 --master_port 29500 drgrade train ...
  --batch_size is per process; each rank reads a disjoint shard of every epoch (torch's
  DistributedSampler), gradients are averaged, and only rank 0 prints, logs and saves.
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
	fs.BoolVar(&cfg.UseAMP, "use_amp", cfg.UseAMP, "mixed precision: on CUDA float16 autocast with a GradScaler (the script's), on the CPU bfloat16 autocast")
	fs.StringVar(&cfg.DataPath, "data_path", cfg.DataPath, "data set folder with train/, val/, train.txt, val.txt")
	dataFormatFlags(fs, &cfg.Data)
	fs.StringVar(&cfg.Model, "model", cfg.Model, "model name: "+strings.Join(models.Names(), ", "))
	fs.StringVar(&cfg.Device, "device", cfg.Device, "device id (i.e. 0 or 0,1 or cpu; also cuda:0): CUDA when this build has it and a GPU is present, else the CPU; 0,1 trains data-parallel, one process per GPU")
	fs.BoolVar(&cfg.CuDNNBenchmark, "cudnn_benchmark", cfg.CuDNNBenchmark, "torch.backends.cudnn.benchmark: let cuDNN time its algorithms (faster, not reproducible)")
	fs.BoolVar(&cfg.Deterministic, "deterministic", cfg.Deterministic, "cudnn.deterministic and torch.use_deterministic_algorithms(True, warn_only=True): reproducible CUDA runs (ops without a deterministic kernel print a warning)")
	fs.StringVar(&cfg.Weights, "weights", cfg.Weights, `initial weights (.pth in any torch.save format); "" for none`)
	fs.BoolVar(&cfg.UseFocalLoss, "use_focal_loss", cfg.UseFocalLoss, "use Focal Loss instead of CrossEntropyLoss")
	fs.StringVar(&cfg.Output, "output", cfg.Output, "output root: <output>/weights/<model>/ and <output>/tensorboard/<model>/")
	fs.Float64Var(&cfg.FocalGamma, "focal_gamma", cfg.FocalGamma, "focal loss gamma")
	fs.StringVar(&cfg.FocalAlpha, "focal_alpha", cfg.FocalAlpha, "focal loss alpha: a number, or auto (per class, from inverse frequency)")
	fs.StringVar(&cfg.ClassWeights, "class_weights", cfg.ClassWeights, "cross-entropy class weights: inverse (the script's 1/count), normalized, none")
	fs.StringVar(&cfg.Sampler, "sampler", cfg.Sampler, "random, or weighted (class-balanced sampling with replacement)")
	fs.IntVar(&cfg.NumWorkers, "num_workers", cfg.NumWorkers, "data loading workers (-1: the script's min(cpus, batch_size, 8))")
	fs.StringVar(&cfg.BestMetric, "best_metric", cfg.BestMetric, "which validation metric picks DDR.pth: "+strings.Join(trainer.MetricNames(), ", ")+" (acc: the script's)")
	fs.IntVar(&cfg.ReferableGrade, "referable_grade", cfg.ReferableGrade, "referable_auc (logged each epoch, a --best_metric) is the val ROC AUC of P(grade ≥ this)")
	fs.StringVar(&cfg.Loss, "loss", cfg.Loss, "criterion by name: "+strings.Join(loss.Names(), ", ")+` ("": cross_entropy, or focal with --use_focal_loss)`)
	fs.StringVar(&cfg.Resume, "resume", cfg.Resume, "continue from a last.pth")
	fs.StringVar(&cfg.Head, "head", cfg.Head, "the classifier: slice (the script's: a bigger one in --weights cut to num_classes rows) or reset (kept fresh); or an output head for ordered grades: regression (one output; --loss mse or smooth_l1; grade thresholds fitted on val for kappa) or ordinal (CORAL, num_classes-1 cumulative logits; --loss coral)")
	fs.StringVar(&cfg.AMPDType, "amp_dtype", cfg.AMPDType, "autocast dtype with --use_amp: bfloat16 or float16 (default: float16 on CUDA, bfloat16 on the CPU; float16 is CUDA-only, as in torch 2.1)")
	fs.IntVar(&cfg.Threads, "threads", cfg.Threads, "libtorch threads (0: libtorch's default)")
	fs.IntVar(&cfg.ImgSize, "img_size", cfg.ImgSize, "train crop size (0: 224; the model's with --transforms model); the val resize is img_size·256/224 (img_size/crop_pct with --transforms model)")
	fs.StringVar(&cfg.Transforms, "transforms", cfg.Transforms, transformsHelp)
	fs.StringVar(&cfg.Preprocess, "preprocess", cfg.Preprocess, preprocessHelp)
	fs.BoolVar(&cfg.SkipBadImages, "skip_bad_images", cfg.SkipBadImages, "skip unreadable images (counted each epoch) instead of stopping")
	fs.BoolVar(&cfg.CheckImages, "check_images", cfg.CheckImages, "decode every image once before training, so a bad one stops the run before anything is written")
	fs.BoolVar(&cfg.Quiet, "quiet", cfg.Quiet, "no progress bars (automatic when stdout is not a terminal)")
	// The recipe beyond the script (issue 21; docs/training.md#recipes): off by default.
	fs.StringVar(&cfg.Opt, "opt", cfg.Opt, "optimiser: adam (the script's), adamw or sgd (torch.optim's)")
	fs.Float64Var(&cfg.WeightDecay, "weight_decay", cfg.WeightDecay, "weight decay (adam: L2 added to the gradient, the script's 1e-4; adamw: decoupled; sgd: L2)")
	fs.Float64Var(&cfg.Momentum, "momentum", cfg.Momentum, "--opt sgd: momentum")
	fs.BoolVar(&cfg.Nesterov, "nesterov", cfg.Nesterov, "--opt sgd: Nesterov momentum")
	fs.StringVar(&cfg.Sched, "sched", cfg.Sched, "learning-rate schedule: script (warmup + cosine), cosine (CosineAnnealingLR to lr·lrf), step (StepLR), plateau (ReduceLROnPlateau on --best_metric), onecycle (OneCycleLR, max_lr = --lr)")
	fs.IntVar(&cfg.StepSize, "step_size", cfg.StepSize, "--sched step: epochs between decays")
	fs.Float64Var(&cfg.Gamma, "gamma", cfg.Gamma, "--sched step: decay factor; --sched plateau: reduction factor")
	fs.IntVar(&cfg.PlateauPatience, "plateau_patience", cfg.PlateauPatience, "--sched plateau: epochs without improvement before the lr is reduced")
	fs.Float64Var(&cfg.LabelSmoothing, "label_smoothing", cfg.LabelSmoothing, "label smoothing ε of the cross-entropy (CrossEntropyLoss(label_smoothing=ε), with the class weights) or of the focal loss's cross-entropy")
	fs.Float64Var(&cfg.ClipGrad, "clip_grad", cfg.ClipGrad, "clip gradients at this (0: off; after AMP unscaling)")
	fs.StringVar(&cfg.ClipMode, "clip_mode", cfg.ClipMode, "--clip_grad mode: norm (clip_grad_norm_, the total 2-norm) or value (clip_grad_value_)")
	fs.IntVar(&cfg.AccumSteps, "accum_steps", cfg.AccumSteps, "accumulate gradients over K batches per optimiser step (the schedule counts optimiser steps)")
	fs.Float64Var(&cfg.EMA, "ema", cfg.EMA, "keep an exponential moving average of the weights with this decay, e.g. 0.9998 (timm's ModelEmaV2; 0: off)")
	fs.BoolVar(&cfg.EMAEval, "ema_eval", cfg.EMAEval, "with --ema: validate with the EMA weights and save them as DDR.pth (DDR.pth.json says which)")
	fs.IntVar(&cfg.Patience, "patience", cfg.Patience, "stop after N epochs without improving --best_metric (0: off)")
	fs.IntVar(&cfg.KeepTopK, "keep_topk", cfg.KeepTopK, "also keep the K best epochs as DDR-epoch<N>.pth (timm's CheckpointSaver; 0: off)")
	fs.Float64Var(&cfg.HeadLRMult, "head_lr_mult", cfg.HeadLRMult, "the classifier's (fc, classifier, head) learning rate is --lr times this")
	fs.StringVar(&cfg.AutoAugment, "auto_augment", cfg.AutoAugment, "after the script's train transforms: trivialaugment (TrivialAugmentWide) or randaugment (RandAugment), torchvision's v1 on the PIL image (\"\": off)")
	fs.IntVar(&cfg.RANumOps, "ra_num_ops", cfg.RANumOps, "--auto_augment randaugment: ops per image")
	fs.IntVar(&cfg.RAMagnitude, "ra_magnitude", cfg.RAMagnitude, "--auto_augment randaugment: magnitude bin (of 31)")
	fs.Float64Var(&cfg.RandomErasing, "random_erasing", cfg.RandomErasing, "RandomErasing(p) after Normalize (torchvision's v1, value 0; 0: off)")
	fs.Float64Var(&cfg.Mixup, "mixup", cfg.Mixup, "mixup alpha (timm's Mixup, batch mode; 0: off); the loss becomes the soft-target cross-entropy, --label_smoothing folded into the targets")
	fs.Float64Var(&cfg.Cutmix, "cutmix", cfg.Cutmix, "CutMix alpha (timm's; 0: off)")
	fs.Float64Var(&cfg.MixProb, "mix_prob", cfg.MixProb, "--mixup/--cutmix: probability of mixing a batch")
	fs.Float64Var(&cfg.MixupSwitchProb, "mixup_switch_prob", cfg.MixupSwitchProb, "--mixup and --cutmix both on: probability of CutMix for a mixed batch")
	launch := launchFlags{masterAddr: "127.0.0.1", masterPort: ddp.DefaultMasterPort}
	fs.IntVar(&launch.nproc, "nproc_per_node", 1, "data-parallel training in N processes on this machine, started by drgrade (as torchrun --nproc_per_node N)")
	fs.IntVar(&launch.nnodes, "nnodes", 1, "with --nproc_per_node on several machines: their number (run drgrade on each; torchrun's --nnodes)")
	fs.IntVar(&launch.nodeRank, "node_rank", 0, "with --nnodes: this machine's index, 0 hosting the rendezvous (torchrun's --node_rank)")
	fs.StringVar(&launch.masterAddr, "master_addr", launch.masterAddr, "with --nproc_per_node: the rendezvous address, node 0's (torchrun's --master_addr)")
	fs.IntVar(&launch.masterPort, "master_port", launch.masterPort, "with --nproc_per_node: the rendezvous port (torchrun's --master_port)")
	fs.StringVar(&cfg.DistBackend, "dist_backend", cfg.DistBackend, "distributed backend: gloo or nccl (default: nccl when training on CUDA, gloo on the CPU)")
	fs.DurationVar(&cfg.DistTimeout, "dist_timeout", cfg.DistTimeout, "distributed: a rank silent this long fails the run (e.g. 30m, 90s)")
	fs.Float64Var(&cfg.BucketCapMB, "bucket_cap_mb", cfg.BucketCapMB, "distributed: gradient bucket size in MB (DistributedDataParallel's bucket_cap_mb)")
	fs.BoolVar(&cfg.DDPNoOverlap, "ddp_no_overlap", cfg.DDPNoOverlap, "distributed: average gradients after backward instead of overlapping it")
	fs.BoolVar(&cfg.FindUnusedParameters, "find_unused_parameters", cfg.FindUnusedParameters, "distributed: allow parameters that get no gradient (DistributedDataParallel's find_unused_parameters)")
	fs.BoolVar(&cfg.SyncBN, "sync_bn", cfg.SyncBN, "distributed: synchronise BatchNorm statistics across ranks (SyncBatchNorm; on CUDA, as PyTorch 2.1's)")
	fs.String(configFlag, "", "an experiment file (YAML) whose keys are these flags' names (timm's convention); flags on the command line win. Every run writes its resolved args.yaml beside DDR.txt")
	usage := fs.Usage
	fs.Usage = func() { usage(); fmt.Fprint(fs.Output(), trainNotes) }
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if err := applyConfig(fs); err != nil {
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
	argsYAML, err := resolvedArgs(fs)
	if err != nil {
		return err
	}
	cfg.ArgsYAML = argsYAML
	// The script's --device 0,1 (nn.DataParallel over those GPUs): one process per GPU.
	if cudaOK, n := trainer.CUDAAvailable(); cudaOK && launch.nproc == 1 && os.Getenv(ddp.EnvRank) == "" {
		plan, err := trainer.PlanDevice(cfg.Device, cudaOK, n, -1)
		if err != nil {
			return usageError{err}
		}
		if plan.Procs > 1 {
			launch.nproc = plan.Procs
			fmt.Fprintf(stdout, "--device %s: data-parallel training, one process per GPU (DistributedDataParallel on NCCL, where the script used nn.DataParallel)\n", cfg.Device)
		}
	}
	if launch.nproc < 1 || launch.nnodes < 1 || launch.nodeRank < 0 || launch.nodeRank >= launch.nnodes {
		return usagef("--nproc_per_node %d, --nnodes %d, --node_rank %d: want at least one process, at least one node, and 0 <= node_rank < nnodes",
			launch.nproc, launch.nnodes, launch.nodeRank)
	}
	// Everything about the input is checked before trainer.Run writes its first file: once,
	// by the launcher or by rank 0 (the other ranks wait for it at the rendezvous).
	if rank := os.Getenv(ddp.EnvRank); rank == "" || rank == "0" {
		if err := trainer.Preflight(cfg, stdout); err != nil {
			if isInputError(err) {
				return usageError{err}
			}
			return err
		}
	}
	if launch.launching() {
		return runLaunch(launch, args, stdout, stderr)
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

	_, err = trainer.Run(cfg, stdout, stop)
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
func isInputError(err error) bool { return trainer.IsInputError(err) }
