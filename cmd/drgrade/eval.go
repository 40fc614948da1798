package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/trainer/calibrate"
)

// runEval is `drgrade eval`: score a checkpoint on a split with the trainer's val transforms,
// evaluate() and metrics; tables or --json on stdout, files under --out.
func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "--model M --weights W.pth --data_path P [--split val|test|train] [--out DIR] [--json] [flags]", stdout, stderr)
	var cfg trainer.EvalConfig
	evalFlags(fs, &cfg, "the checkpoint: drgrade's DDR.pth or last.pth, or a PyTorch state_dict / {'model': ...}",
		"the split to score: train, val or test", "test-time augmentation: hflip averages the softmax of each image and its mirror")
	asJSON := fs.Bool("json", false, "print the metrics and every prediction as JSON on stdout")
	outDir := fs.String("out", "", "write metrics.json, per_class.csv, predictions.csv, thresholds.json, confusion_matrix.png, roc.png, pr.png and calibration.png here")
	reportPath := fs.String("report", "", "write the evaluation as one self-contained HTML file (metrics, tables, figures, the most confident mistakes)")
	fs.IntVar(&cfg.ReferableGrade, "referable_grade", 2, "screening: grade ≥ this is referable DR (2: moderate or worse); P(referable) sums those grades' probabilities")
	fs.IntVar(&cfg.Bootstrap, "bootstrap", 1000, "stratified bootstrap resamples for the 95% intervals of ROC AUC and AP (0: none)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the bootstrap resamples")
	fs.StringVar(&cfg.Thresholds, "thresholds", "", "apply the operating points of this thresholds.json (written by an earlier eval --out, e.g. on val) unchanged instead of choosing them on this split")
	temperature := fs.String("temperature", "", temperatureHelp)
	calib := fs.Bool("calibrate", false, "after the report, fit a temperature on this split's logits and store it beside --weights (as drgrade calibrate)")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if cfg.ReferableGrade < 1 {
		return usagef("--referable_grade must be at least 1 (grade ≥ it is referable), got %d", cfg.ReferableGrade)
	}
	log := stdout
	if *asJSON {
		log = stderr // stdout carries the JSON alone
		cfg.Quiet = true
	}
	var err error
	if *calib {
		if *temperature, err = checkEvalCalibrate(&cfg, *temperature); err != nil {
			return err
		}
		splitNote(log, cfg.Split)
	}
	if cfg.Temperature, err = resolveTemperature(log, *temperature, cfg.Weights, cfg.NumClasses); err != nil {
		return err
	}
	o, err := trainer.EvalCheckpoint(cfg, log, nil)
	if err != nil {
		if trainer.IsInputError(err) {
			return usageError{err}
		}
		return err
	}
	for _, s := range o.Result.Skipped {
		fmt.Fprintf(stderr, "skipped %s: %v\n", s.Path, s.Err)
	}
	var cal *calibrate.File
	if *calib {
		if cal, err = evalCalibrate(log, o); err != nil {
			return err
		}
	}
	if *outDir != "" {
		if err := trainer.WriteEvalFiles(*outDir, o); err != nil {
			return usageError{err}
		}
		fmt.Fprintf(log, "wrote metrics.json, per_class.csv, predictions.csv, thresholds.json and the figures (confusion_matrix.png, roc.png, pr.png, calibration.png) to %s\n", *outDir)
	}
	if *reportPath != "" {
		if err := writeReport(*reportPath, *outDir, o, log); err != nil {
			return err
		}
	}
	if *asJSON {
		type pred struct {
			Image      string    `json:"image"`
			Label      int       `json:"label"`
			Prediction int       `json:"prediction"`
			Probs      []float32 `json:"probabilities"`
		}
		preds := make([]pred, len(o.Result.Preds))
		for i := range preds {
			preds[i] = pred{o.Dataset.Names[o.Result.Index[i]], o.Result.Labels[i], o.Result.Preds[i], o.Result.Probs[i]}
		}
		b, err := json.MarshalIndent(struct {
			Model       string `json:"model"`
			Weights     string `json:"weights"`
			Split       string `json:"split"`
			TTA         string `json:"tta,omitempty"`
			Skipped     int    `json:"skipped_images"`
			Metrics     any    `json:"metrics"`
			Predictions []pred `json:"predictions"`
			// metrics.json's "screening" and "calibration", under the same names
			Screening   any `json:"screening"`
			CalibMetric any `json:"calibration"`

			Temp        float64         `json:"temperature,omitempty"`     // applied to the probabilities
			Calibration *calibrate.File `json:"temperature_fit,omitempty"` // --calibrate: the fitted temperature file
		}{cfg.Model, cfg.Weights, cfg.Split, cfg.TTA, len(o.Result.Skipped), o.Report, preds, o.Screening, o.Calibration, cfg.Temperature, cal}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	fmt.Fprintf(stdout, "%s (%s) on %s/%s: %d images\n", cfg.Model, o.Arch, cfg.DataPath, cfg.Split, o.Report.Samples)
	trainer.PrintReport(stdout, o.Report)
	trainer.PrintScreening(stdout, o.Screening, o.Calibration)
	if cal != nil {
		trainer.PrintCalibration(stdout, cal)
	}
	return nil
}

// writeReport writes eval's HTML report, with the figures of dir (eval --out) or, without
// one, of a temporary folder removed afterwards.
func writeReport(path, dir string, o *trainer.EvalOutput, log io.Writer) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "drgrade-report-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if err := trainer.WriteEvalFiles(tmp, o); err != nil {
			return err
		}
		dir = tmp
	}
	tiles, note, err := reportGallery(o, log)
	if err != nil {
		return err
	}
	if err := trainer.WriteEvalReport(path, dir, o, tiles, note); err != nil {
		return usageError{err}
	}
	fmt.Fprintf(log, "wrote the report to %s\n", path)
	return nil
}
