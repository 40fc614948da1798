package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/trainer/calibrate"
	"github.com/drgrade/drgrade/vision/models"
)

// temperatureHelp is the --temperature help of eval and predict.
const temperatureHelp = "divide the logits by this temperature before the softmax: a positive number, none, or leave it out " +
	"to use <weights>" + calibrate.Suffix + " when there is one (written by drgrade calibrate; refused when the checkpoint changed since)"

// runCalibrate is `drgrade calibrate`: fit a temperature on a split's logits (temperature
// scaling, Guo et al. 2017) and store it beside the checkpoint, where eval and predict find it.
func runCalibrate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("calibrate", "--model M --weights W.pth --data_path P [--split val] [--json] [flags]", stdout, stderr)
	var cfg trainer.EvalConfig
	fs.StringVar(&cfg.Model, "model", "resnet", "model name: "+strings.Join(models.Names(), ", "))
	fs.StringVar(&cfg.Weights, "weights", "", "the checkpoint: drgrade's DDR.pth or last.pth, or a PyTorch state_dict / {'model': ...}; the temperature is written beside it, to <weights>"+calibrate.Suffix)
	fs.StringVar(&cfg.DataPath, "data_path", "data/DDR5", "data set folder with <split>/ and <split>.txt")
	dataFormatFlags(fs, &cfg.Data)
	fs.StringVar(&cfg.Split, "split", "val", "the held-out split to fit on: val (fitting on test makes its metrics no longer held out)")
	fs.IntVar(&cfg.NumClasses, "num_classes", 5, "the number of classes")
	fs.IntVar(&cfg.BatchSize, "batch_size", 16, "batch size")
	fs.IntVar(&cfg.NumWorkers, "num_workers", -1, "data loading workers (-1: the script's min(cpus, batch_size, 8))")
	fs.IntVar(&cfg.ImgSize, "img_size", 0, "crop size (0: 224; the model's with --transforms model); the resize is img_size·256/224 (img_size/crop_pct with --transforms model)")
	fs.StringVar(&cfg.Transforms, "transforms", trainer.TransformsScript, transformsHelp)
	fs.IntVar(&cfg.Threads, "threads", 0, "libtorch threads (0: libtorch's default)")
	fs.StringVar(&cfg.TTA, "tta", "", "not supported: the temperature is fitted on each image's logits, which --tta hflip does not have")
	fs.BoolVar(&cfg.SkipBad, "skip_bad_images", false, "skip unreadable images (reported) instead of stopping")
	fs.BoolVar(&cfg.Quiet, "quiet", false, "no progress bar (automatic when stdout is not a terminal)")
	fs.StringVar(&cfg.Device, "device", "cpu", deviceHelp)
	asJSON := fs.Bool("json", false, "print the calibration file's contents as JSON on stdout")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	log := stdout
	if *asJSON {
		log = stderr // stdout carries the JSON alone
		cfg.Quiet = true
	}
	splitNote(log, cfg.Split)
	o, f, err := trainer.CalibrateCheckpoint(cfg, log, nil)
	if err != nil {
		if trainer.IsInputError(err) {
			return usageError{err}
		}
		return err
	}
	for _, s := range o.Result.Skipped {
		fmt.Fprintf(stderr, "skipped %s: %v\n", s.Path, s.Err)
	}
	if err := saveCalibration(log, f); err != nil {
		return err
	}
	if *asJSON {
		b, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	trainer.PrintCalibration(stdout, f)
	return nil
}

// splitNote warns when the temperature is fitted on the test split.
func splitNote(w io.Writer, split string) {
	if split == "test" {
		fmt.Fprintln(w, "note: fitting the temperature on the test split; its metrics are then no longer held out (fit on val)")
	}
}

// saveCalibration writes f beside its checkpoint (atomically) and says so.
func saveCalibration(w io.Writer, f *calibrate.File) error {
	path := calibrate.PathFor(f.Weights)
	if err := f.Save(path); err != nil {
		return usageError{err}
	}
	fmt.Fprintf(w, "wrote %s: eval and predict use this temperature from now on (--temperature none to leave it out)\n", path)
	return nil
}

// resolveTemperature is --temperature for eval and predict (trainer.ResolveTemperature): the
// temperature to apply (0: none), with one line to note saying which is used.
func resolveTemperature(note io.Writer, flag, weights string, numClasses int) (float64, error) {
	c, err := trainer.ResolveTemperature(flag, weights, numClasses)
	if err != nil {
		return 0, usageError{err}
	}
	if n := c.Note(); n != "" {
		fmt.Fprintln(note, n)
	}
	return c.Temperature, nil
}

// evalCalibrate is eval --calibrate after the evaluation: fit on its raw logits, save, and
// return the file (printed by the caller).
func evalCalibrate(log io.Writer, o *trainer.EvalOutput) (*calibrate.File, error) {
	f, err := trainer.FitCalibration(o)
	if err != nil {
		if trainer.IsInputError(err) {
			return nil, usageError{err}
		}
		return nil, err
	}
	return f, saveCalibration(log, f)
}

// checkEvalCalibrate prepares eval --calibrate: the fit needs the raw logits (no TTA) and the
// evaluation runs without a temperature (the flag may only say none); returns the
// --temperature to resolve.
func checkEvalCalibrate(cfg *trainer.EvalConfig, temperature string) (string, error) {
	if t := strings.TrimSpace(temperature); t != "" && t != "none" {
		return "", usagef("--calibrate fits a new temperature on the raw logits: leave out --temperature %s", temperature)
	}
	if cfg.TTA != "" {
		return "", usagef("--calibrate fits the temperature on each image's logits, and --tta %s averages the softmax of two views (no single logits): leave out --tta", cfg.TTA)
	}
	cfg.Logits = true
	return "none", nil
}
