package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/atomicfile"
	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/vision/models"
)

// stepsResult is the --json file of `drgrade steps` (read by scripts/gpu_check.py).
type stepsResult struct {
	Model      string    `json:"model"`
	Steps      int       `json:"steps"`
	Batch      int       `json:"batch"`
	Losses     []float64 `json:"losses"`
	Stepped    []bool    `json:"stepped"`
	Warmup     int       `json:"warmup"`
	Seconds    float64   `json:"seconds"` // the steps after the warm-up ones, device synchronised
	ImagesPerS float64   `json:"images_per_s"`
	Device     string    `json:"device"`
	AMP        bool      `json:"amp"`
	Scaler     bool      `json:"scaler"`
	Libtorch   string    `json:"libtorch"`
	CUDABuild  bool      `json:"cuda_build"`
}

// stepsBatch is one x<i>.npy / y<i>.npy pair of --batches.
type stepsBatch struct {
	x      []float32
	xShape []int64
	y      []int64
}

// runSteps is `drgrade steps`: N training steps through the trainer's own TrainStep (the
// body of `drgrade train`'s loop) on fixed batches read from .npy files, at a constant LR.
// It is the drgrade side of `make gpu-check` (scripts/gpu_check.py), which runs the same
// steps in PyTorch from the same initial weights and compares losses and final weights.
func runSteps(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("steps", "--weights init.pth --batches DIR --steps N [--device cuda:0] [--use_amp] [--out final.pth] [--json results.json]", stdout, stderr)
	model := fs.String("model", "resnet_small", "model name ("+strings.Join(models.Names(), ", ")+")")
	numClasses := fs.Int("num_classes", 5, "number of classes of the model's head")
	weights := fs.String("weights", "", "initial weights (.pth), loaded with the script's head slicing; \"\": the model's own seeded initialisation")
	batchesDir := fs.String("batches", "", "folder with x0.npy, y0.npy, x1.npy, ...: float32 [B,3,H,W] normalised images and int64 [B] labels; step i uses batch i mod the number of batches")
	steps := fs.Int("steps", 30, "number of training steps")
	warmup := fs.Int("warmup", 5, "steps not timed (the first ones: cuDNN and allocator warm-up)")
	device := fs.String("device", "cpu", "cpu, or a CUDA device (0, cuda:0); unlike train there is no fallback: a CUDA device that is not available is an error")
	useAMP := fs.Bool("use_amp", false, "the script's --use_amp: autocast (float16 + GradScaler on CUDA, bfloat16 without a scaler on the CPU)")
	ampDType := fs.String("amp_dtype", "", "autocast dtype: bfloat16 or float16 (\"\": float16 on CUDA, bfloat16 on the CPU)")
	lr := fs.Float64("lr", 2e-4, "Adam learning rate (constant: no warm-up, no schedule)")
	weightDecay := fs.Float64("weight_decay", 1e-4, "Adam weight_decay (L2, added to the gradient)")
	classCounts := fs.String("class_counts", "4980,514,3604,188,731", "comma-separated training-set class counts: CrossEntropyLoss(weight=1/count); \"\": unweighted")
	cudnnBenchmark := fs.Bool("cudnn_benchmark", false, "torch.backends.cudnn.benchmark")
	deterministic := fs.Bool("deterministic", false, "as train's: cudnn.deterministic and torch.use_deterministic_algorithms(True, warn_only=True)")
	threads := fs.Int("threads", 0, "libtorch intra-op threads (0: libtorch's default)")
	seed := fs.Uint64("seed", 0, "torch.manual_seed before the model is built")
	out := fs.String("out", "", "write the final weights here (a torch.save(model.state_dict()) .pth)")
	jsonOut := fs.String("json", "", "write losses, stepped flags and timing here")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if _, err := models.Lookup(*model); err != nil {
		return usageError{err}
	}
	if *steps < 1 {
		return usagef("--steps must be at least 1, got %d", *steps)
	}
	if *warmup < 0 || *warmup >= *steps {
		return usagef("--warmup must be in [0, --steps), got %d with --steps %d", *warmup, *steps)
	}
	if *batchesDir == "" {
		return usagef("--batches DIR is required")
	}
	spec, err := trainer.ParseDevice(*device)
	if err != nil {
		return usageError{err}
	}
	if !spec.CPU && len(spec.IDs) != 1 {
		return usagef("--device %q: steps runs on one device", *device)
	}
	var weightsPerClass []float64
	if strings.TrimSpace(*classCounts) != "" {
		var counts []int
		for _, f := range strings.Split(*classCounts, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return usagef("--class_counts %q: %q is not an integer", *classCounts, f)
			}
			counts = append(counts, n)
		}
		if len(counts) != *numClasses {
			return usagef("--class_counts has %d counts for --num_classes %d", len(counts), *numClasses)
		}
		if weightsPerClass, err = loss.ClassWeights(counts, "inverse"); err != nil {
			return usageError{err}
		}
	}
	batches, err := readStepBatches(*batchesDir, *numClasses)
	if err != nil {
		return usageError{err}
	}

	res := stepsResult{Model: *model, Steps: *steps, Warmup: *warmup, Batch: len(batches[0].y),
		Libtorch: torchext.TorchVersion(), CUDABuild: torchext.CUDACompiled()}
	var runErr error
	trainer.RunLocked(func() {
		runErr = func() error {
			if *threads > 0 {
				trainer.SetNumThreads(*threads)
			}
			trainer.ManualSeed(*seed)
			dev, note, err := trainer.SelectDevice(*device)
			if err != nil {
				return usageError{err}
			}
			if !spec.CPU && !torchext.IsCUDA(dev) {
				return fmt.Errorf("--device %s: CUDA is not available to this drgrade%s", *device, note)
			}
			res.Device = trainer.DeviceName(dev)
			torchext.SetCuDNN(*cudnnBenchmark, *deterministic)
			if *deterministic {
				if err := torchext.SetDeterministicAlgorithms(true, true); err != nil {
					return err
				}
			}
			m, err := models.New(*model, *numClasses)
			if err != nil {
				return err
			}
			defer m.Close()
			if err := trainer.ToDevice(m, dev); err != nil {
				return err
			}
			if *weights != "" {
				r, err := models.LoadWeights(m, *weights, models.HeadSlice)
				if err != nil {
					return usageError{err}
				}
				fmt.Fprintln(stdout, r)
			}
			crit, err := loss.NewCrossEntropy(weightsPerClass)
			if err != nil {
				return err
			}
			defer crit.Close()
			if err := loss.ToDevice(crit, dev); err != nil {
				return err
			}
			params := m.StateDict().Parameters()
			opt, err := trainer.NewAdam(params, *lr, *weightDecay)
			if err != nil {
				return usageError{err}
			}
			defer opt.Close()
			amp, useScaler, err := trainer.NewAMP(*useAMP, *ampDType, dev)
			if err != nil {
				return usageError{err}
			}
			res.AMP, res.Scaler = amp.Enabled, useScaler
			scaler, err := trainer.NewGradScalerOn(useScaler, dev)
			if err != nil {
				return err
			}
			defer scaler.Close()

			// Every batch on the device before the loop, as gpu_check.py does on its side.
			xs := make([]*ts.Tensor, len(batches))
			ys := make([]*ts.Tensor, len(batches))
			defer func() {
				for i := range batches {
					if xs[i] != nil {
						xs[i].MustDrop()
					}
					if ys[i] != nil {
						ys[i].MustDrop()
					}
				}
			}()
			for i, b := range batches {
				if xs[i], err = torchext.FromSliceTo(b.x, b.xShape, dev); err != nil {
					return err
				}
				if ys[i], err = torchext.FromSliceTo(b.y, []int64{int64(len(b.y))}, dev); err != nil {
					return err
				}
			}
			// sync waits for the device's queued work: copying a parameter to the host is
			// ordered after it on the stream (torch.cuda.synchronize for this purpose).
			last := params[len(params)-1]
			sink := make([]float32, last.Numel())
			sync := func() error { return torchext.CopyTo(last, sink) }
			if err := sync(); err != nil {
				return err
			}
			var start time.Time
			for i := 0; i < *steps; i++ {
				if i == *warmup {
					if err := sync(); err != nil {
						return err
					}
					start = time.Now()
				}
				opt.LR = *lr
				r, err := trainer.TrainStep(m, crit, opt, scaler, amp, xs[i%len(xs)], ys[i%len(ys)])
				if err != nil {
					return fmt.Errorf("step %d: %w", i, err)
				}
				res.Losses = append(res.Losses, r.Loss)
				res.Stepped = append(res.Stepped, r.Stepped)
				fmt.Fprintf(stdout, "step %d loss %.6f stepped %v\n", i, r.Loss, r.Stepped)
			}
			if err := sync(); err != nil {
				return err
			}
			res.Seconds = time.Since(start).Seconds()
			timed := 0
			for i := *warmup; i < *steps; i++ {
				timed += len(batches[i%len(batches)].y)
			}
			if res.Seconds > 0 {
				res.ImagesPerS = float64(timed) / res.Seconds
			}
			if *out != "" {
				if err := models.SaveStateDict(m, *out); err != nil {
					return err
				}
			}
			return nil
		}()
	})
	if runErr != nil {
		return runErr
	}
	fmt.Fprintf(stdout, "%d steps of %s on %s (amp %v, scaler %v): %.1f images/s over the last %d steps\n",
		res.Steps, res.Model, res.Device, res.AMP, res.Scaler, res.ImagesPerS, res.Steps-res.Warmup)
	for i, l := range res.Losses {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return fmt.Errorf("step %d: non-finite loss %v (no --json written)", i, l)
		}
	}
	if *jsonOut == "" {
		return nil
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(*jsonOut, append(b, '\n'))
}

// readStepBatches reads x0.npy, y0.npy, x1.npy, ... from dir until the next x<i>.npy is missing.
func readStepBatches(dir string, numClasses int) ([]stepsBatch, error) {
	var out []stepsBatch
	for i := 0; ; i++ {
		xp := filepath.Join(dir, fmt.Sprintf("x%d.npy", i))
		yp := filepath.Join(dir, fmt.Sprintf("y%d.npy", i))
		if _, err := os.Stat(xp); errors.Is(err, os.ErrNotExist) {
			break
		}
		xa, err := npy.ReadFile(xp)
		if err != nil {
			return nil, err
		}
		if xa.F32 == nil || len(xa.Shape) != 4 || xa.Shape[1] != 3 || xa.Shape[0] < 1 {
			return nil, fmt.Errorf("%s: want a float32 array of shape [B, 3, H, W], got %s %v", xp, xa.Dtype, xa.Shape)
		}
		ya, err := npy.ReadFile(yp)
		if err != nil {
			return nil, err
		}
		if ya.I64 == nil || len(ya.Shape) != 1 || ya.Shape[0] != xa.Shape[0] {
			return nil, fmt.Errorf("%s: want an integer array of shape [%d], got %s %v", yp, xa.Shape[0], ya.Dtype, ya.Shape)
		}
		for _, c := range ya.I64 {
			if c < 0 || c >= int64(numClasses) {
				return nil, fmt.Errorf("%s: label %d is outside [0, %d)", yp, c, numClasses)
			}
		}
		b := stepsBatch{x: xa.F32, y: ya.I64}
		for _, d := range xa.Shape {
			b.xShape = append(b.xShape, int64(d))
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--batches %s: no x0.npy there", dir)
	}
	return out, nil
}
