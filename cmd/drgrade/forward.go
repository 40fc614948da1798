package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/vision/models"
)

// runForward is `drgrade forward`: one forward pass of a zoo model, for debugging and parity.
func runForward(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("forward", "--model M [--num_classes N] [--weights W.pth] (--input X.npy | --random N) [--out Y.npy] [--train]", stdout, stderr)
	model := fs.String("model", "resnet", "model name ("+strings.Join(models.Names(), ", ")+")")
	numClasses := fs.Int("num_classes", 5, "number of classes of the model's head")
	weights := fs.String("weights", "", "load these weights (.pth, any torch.save format) before the forward pass")
	head := fs.String("head", "slice", "a bigger classifier in --weights: slice (the script's) or reset")
	input := fs.String("input", "", "input batch as a float32 .npy of shape [N, 3, H, W]")
	random := fs.Int("random", 0, "instead of --input: a random normal batch of this many images at the model's input size")
	seed := fs.Uint64("seed", 1, "seed for the weights' initialisation and --random")
	out := fs.String("out", "", "write the logits to this .npy file")
	train := fs.Bool("train", false, "forward in training mode (BatchNorm batch statistics, dropout)")
	threads := fs.Int("threads", 0, "libtorch intra-op threads (0: libtorch's default)")
	device := fs.String("device", "cpu", deviceHelp)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := models.Lookup(*model)
	if err != nil {
		return usageError{err}
	}
	if (*input == "") == (*random == 0) {
		return usagef("give exactly one of --input X.npy and --random N")
	}
	if *random < 0 {
		return usagef("--random must be positive, got %d", *random)
	}
	if _, err := trainer.ParseDevice(*device); err != nil {
		return usageError{err}
	}

	var inShape []int64
	var inData []float32
	if *input != "" {
		a, err := npy.ReadFile(*input)
		if err != nil {
			return usageError{err}
		}
		if a.F32 == nil || len(a.Shape) != 4 {
			return usagef("%s: want a float32 array of shape [N, 3, H, W], got %s %v", *input, a.Dtype, a.Shape)
		}
		for _, d := range a.Shape {
			inShape = append(inShape, int64(d))
		}
		inData = a.F32
	} else {
		inShape = []int64{int64(*random), 3, int64(cfg.InputSize), int64(cfg.InputSize)}
	}

	// All tensor work on one goroutine locked to its OS thread (grad mode is thread-local).
	var logits []float32
	var outShape []int64
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		errc <- func() error {
			if *threads > 0 {
				torchext.SetNumThreads(*threads)
			}
			torchext.ManualSeed(*seed)
			dev, note, err := trainer.SelectDevice(*device)
			if err != nil {
				return usageError{err}
			}
			if note != "" {
				fmt.Fprintf(stdout, "Using device: %s%s\n", trainer.DeviceName(dev), note)
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
				r, err := models.LoadWeights(m, *weights, *head)
				if err != nil {
					return usageError{err}
				}
				fmt.Fprintln(stdout, r)
			}
			var x *ts.Tensor
			if inData != nil {
				x, err = torchext.FromSliceTo(inData, inShape, dev)
			} else if x, err = ts.Randn(inShape, gotch.Float, gotch.CPU); err == nil {
				// drawn on the CPU generator, so --random gives the same batch on every device
				err = torchext.MoveTo(x, dev)
			}
			if err != nil {
				return err
			}
			defer x.MustDrop()
			defer torchext.NoGrad()()
			y, err := m.ForwardT(x, *train)
			if err != nil {
				return err
			}
			defer y.MustDrop()
			outShape = y.MustSize()
			logits = make([]float32, y.Numel())
			return torchext.CopyTo(y, logits)
		}()
	}()
	if err := <-errc; err != nil {
		return err
	}

	fmt.Fprintf(stdout, "model %s (%s), input %v → logits %v\n", cfg.Name, cfg.Arch, inShape, outShape)
	if len(outShape) == 2 {
		n, c := int(outShape[0]), int(outShape[1])
		for i := 0; i < n; i++ {
			row := logits[i*c : (i+1)*c]
			best := 0
			for j := range row {
				if row[j] > row[best] {
					best = j
				}
			}
			fmt.Fprintf(stdout, "  [%d] argmax %d  logits %s\n", i, best, fmtFloats(row))
		}
	}
	if *out != "" {
		shape := make([]int, len(outShape))
		for i, d := range outShape {
			shape[i] = int(d)
		}
		if err := npy.WriteFile(*out, logits, shape); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", *out)
	}
	return nil
}

func fmtFloats(v []float32) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%+.4f", x)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
