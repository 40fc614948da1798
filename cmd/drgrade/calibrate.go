package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/trainer/calibrate"
)

// temperatureHelp is the --temperature help of eval and predict.
const temperatureHelp = "divide the logits by this temperature before the softmax: a positive number, none, or leave it out " +
	"to use <weights>" + calibrate.Suffix + " when there is one (written by drgrade calibrate; refused when the checkpoint changed since)"

// runCalibrate is `drgrade calibrate`: fit a temperature on a split's logits (temperature
// scaling, Guo et al. 2017) and store it beside the checkpoint, where eval and predict find it.
func runCalibrate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("calibrate", "--model M --weights W.pth --data_path P [--split val] [--json] [flags]", stdout, stderr)
	var cfg trainer.EvalConfig
	evalFlags(fs, &cfg, "the checkpoint: drgrade's DDR.pth or last.pth, or a PyTorch state_dict / {'model': ...}; the temperature is written beside it, to <weights>"+calibrate.Suffix,
		"the held-out split to fit on: val (fitting on test makes its metrics no longer held out)",
		"not supported: the temperature is fitted on each image's logits, which --tta hflip does not have")
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
