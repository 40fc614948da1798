package trainer

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/drgrade/drgrade/trainer/calibrate"
	"github.com/drgrade/drgrade/trainer/metrics"
)

// checkCalibration refuses what temperature scaling cannot do: keep logits under TTA (hflip
// averages two softmaxes: there is no one logit vector to fit a temperature on), or a
// temperature that is not a positive number.
func checkCalibration(tta string, temperature float64, logits bool) error {
	if logits && tta != "" {
		return fmt.Errorf("calibration fits a temperature on each image's logits, and --tta %s averages the softmax of two views (no single logits): leave out --tta", tta)
	}
	if temperature < 0 || math.IsNaN(temperature) || math.IsInf(temperature, 0) {
		return fmt.Errorf("--temperature %v: want a positive number", temperature)
	}
	return nil
}

// ResolveTemperature is the temperature `eval` and `predict` apply to the logits of the
// checkpoint at weights, from their --temperature flag: "" the calibration file beside it
// (calibrate.PathFor) when there is one and it matches the checkpoint, "none", or a positive
// number. A stale or broken calibration file is an InputError naming it.
func ResolveTemperature(flag, weights string, numClasses int) (calibrate.Choice, error) {
	c, err := calibrate.Resolve(flag, weights, numClasses)
	return c, inputErr(err)
}

// CalibrateCheckpoint is `drgrade calibrate`: it scores the checkpoint on cfg.Split as
// EvalCheckpoint does, without TTA and without a temperature, keeping the raw logits, and
// fits the temperature on them (FitCalibration). The caller saves the file
// (calibrate.PathFor(cfg.Weights)).
func CalibrateCheckpoint(cfg EvalConfig, out io.Writer, stop func() bool) (*EvalOutput, *calibrate.File, error) {
	if err := checkCalibration(cfg.TTA, 0, true); err != nil {
		return nil, nil, inputErr(err)
	}
	cfg.Temperature, cfg.Logits = 0, true
	o, err := EvalCheckpoint(cfg, out, stop)
	if err != nil {
		return nil, nil, err
	}
	f, err := FitCalibration(o)
	return o, f, err
}

// FitCalibration fits the temperature on an evaluation's raw logits (EvalConfig.Logits) and
// returns the calibration file for its checkpoint: T, the NLL and the top-label ECE
// (metrics.CalibrationBins bins) of softmax(logits) and of softmax(logits/T), what it was
// fitted on, and the SHA-256 of the checkpoint file. A set the fit cannot use (every image
// right, or the model no better than uniform on it) is an InputError saying so.
func FitCalibration(o *EvalOutput) (*calibrate.File, error) {
	res := o.Result
	if o.Load != nil && o.Load.OutputHead != "" {
		return nil, inputErr(fmt.Errorf("calibration fits a temperature to class logits; %s holds an output head, %s", o.Config.Weights, o.Load.OutputHead))
	}
	if len(res.Logits) == 0 {
		return nil, errors.New("calibration: the evaluation kept no logits (EvalConfig.Logits)")
	}
	fit, err := calibrate.FitTemperature(res.Logits, res.Labels)
	if err != nil {
		return nil, inputErr(fmt.Errorf("%s/%s: %w", o.Config.DataPath, o.Config.Split, err))
	}
	sum, err := calibrate.SHA256File(o.Config.Weights)
	if err != nil {
		return nil, inputErr(fmt.Errorf("weights file %s: %w", o.Config.Weights, err))
	}
	f := &calibrate.File{Format: calibrate.Format, Temperature: fit.Temperature, Weights: o.Config.Weights, WeightsSHA256: sum,
		Model: o.Config.Model, NumClasses: o.Config.NumClasses, DataPath: o.Config.DataPath, Split: o.Config.Split,
		Samples: fit.Samples, ImgSize: o.Config.ImgSize, Transforms: o.Config.Transforms,
		NLLBefore: fit.NLLBefore, NLLAfter: fit.NLLAfter, Method: calibrate.Method, Created: time.Now().UTC().Format(time.RFC3339)}
	if f.ECEBefore, err = expectedCalibrationError(calibrate.Softmax(res.Logits, 1), res.Labels); err != nil {
		return nil, err
	}
	if f.ECEAfter, err = expectedCalibrationError(calibrate.Softmax(res.Logits, fit.Temperature), res.Labels); err != nil {
		return nil, err
	}
	return f, nil
}

// PrintCalibration prints a fitted temperature: T, and the NLL and ECE before and after.
func PrintCalibration(w io.Writer, f *calibrate.File) {
	fmt.Fprintf(w, "temperature %.4f, fitted on %s/%s (%d images): probabilities are softmax(logits / %.4f), grades unchanged\n",
		f.Temperature, f.DataPath, f.Split, f.Samples, f.Temperature)
	fmt.Fprintf(w, "NLL  before %.4f  after %.4f\n", f.NLLBefore, f.NLLAfter)
	fmt.Fprintf(w, "ECE  before %.4f  after %.4f   (%d equal-width confidence bins, top label)\n", f.ECEBefore, f.ECEAfter, metrics.CalibrationBins)
}

// expectedCalibrationError is the top-label ECE of per-sample class probabilities with
// metrics.CalibrationBins equal-width bins (metrics.Calibrate's TopLabel).
func expectedCalibrationError(probs [][]float64, labels []int) (float64, error) {
	c, err := metrics.Calibrate(probs, labels, metrics.CalibrationBins)
	return c.TopLabel.ECE, err
}
