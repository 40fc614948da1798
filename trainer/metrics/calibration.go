package metrics

import (
	"errors"
	"fmt"
	"math"
)

// CalibrationBins is the number of equal-width confidence bins of the expected calibration
// error (Guo et al. 2017, "On Calibration of Modern Neural Networks").
const CalibrationBins = 15

// CalibrationBin is one confidence bin (Lower, Upper]: how many samples fall in it, their
// accuracy (the fraction correct) and their mean confidence. Accuracy and Confidence are NaN
// (null in JSON) for an empty bin. A reliability diagram plots Accuracy against Confidence.
type CalibrationBin struct {
	Lower      float64 `json:"lower"`
	Upper      float64 `json:"upper"`
	Count      int     `json:"count"`
	Accuracy   float64 `json:"accuracy"`
	Confidence float64 `json:"confidence"`
}

// MarshalJSON writes an empty bin's accuracy and confidence as null.
func (b CalibrationBin) MarshalJSON() ([]byte, error) { return marshalNullable(b) }

// ECE is the expected calibration error of one set of confidences and its bins.
type ECE struct {
	ECE  float64          `json:"ece"`
	Bins []CalibrationBin `json:"bins"`
}

// ExpectedCalibrationError mirrors the ECE of Guo et al.'s code: bin boundaries
// np.linspace(0, 1, bins+1); a sample is in bin (lo, hi] when lo < confidence ≤ hi (so a
// confidence of exactly 0 is in no bin); ECE = Σ_bins |mean confidence - accuracy| ·
// (count / n), the bins in increasing order, means by np.mean.
func ExpectedCalibrationError(confidence []float64, correct []bool, bins int) (ECE, error) {
	n := len(confidence)
	if n != len(correct) {
		return ECE{}, fmt.Errorf("metrics: %d confidences but %d outcomes", n, len(correct))
	}
	if n == 0 {
		return ECE{}, errors.New("metrics: no samples")
	}
	if bins < 1 {
		return ECE{}, fmt.Errorf("metrics: %d calibration bins (want at least 1)", bins)
	}
	edges := npLinspace(0, 1, bins+1)
	out := ECE{Bins: make([]CalibrationBin, bins)}
	var conf []float64
	for b := range out.Bins {
		lo, hi := edges[b], edges[b+1]
		conf = conf[:0]
		right := 0
		for i, c := range confidence {
			if c > lo && c <= hi {
				conf = append(conf, c)
				if correct[i] {
					right++
				}
			}
		}
		bin := CalibrationBin{Lower: lo, Upper: hi, Count: len(conf), Accuracy: math.NaN(), Confidence: math.NaN()}
		if prop := float64(len(conf)) / float64(n); prop > 0 {
			bin.Accuracy = float64(right) / float64(len(conf))
			bin.Confidence = npMean(conf)
			out.ECE += math.Abs(bin.Confidence-bin.Accuracy) * prop
		}
		out.Bins[b] = bin
	}
	return out, nil
}

// Calibration is how far a model's probabilities are from frequencies, over every sample and
// class (ungradable included: it is one of the model's outputs).
type Calibration struct {
	Bins    int `json:"bins"`
	Samples int `json:"samples"`
	// TopLabel is the ECE of the confidence max_k p_k against argmax = label.
	TopLabel ECE `json:"top_label"`
	// PerClass[k] is the class-wise ECE of p_k against label = k; ClasswiseECE is their mean.
	PerClass     []ECE   `json:"per_class"`
	ClasswiseECE float64 `json:"classwise_ece"`
	// Brier is the multi-class Brier score mean_i Σ_k (p_ik - 1[y_i = k])² (sklearn's
	// brier_score_loss with labels=range(C), not halved).
	Brier float64 `json:"brier"`
}

// Calibrate computes the top-label and class-wise ECE with bins equal-width bins and the
// multi-class Brier score of per-sample class probabilities and labels.
func Calibrate[F float32 | float64](probs [][]F, labels []int, bins int) (Calibration, error) {
	n := len(probs)
	if n != len(labels) {
		return Calibration{}, fmt.Errorf("metrics: %d probability rows but %d labels", n, len(labels))
	}
	if n == 0 {
		return Calibration{}, errors.New("metrics: no samples")
	}
	c := len(probs[0])
	top := make([]float64, n)
	right := make([]bool, n)
	sq := make([]float64, n)
	row := make([]float64, c)
	for i, p := range probs {
		if len(p) != c {
			return Calibration{}, fmt.Errorf("metrics: probability row %d has %d classes, row 0 has %d", i, len(p), c)
		}
		if labels[i] < 0 || labels[i] >= c {
			return Calibration{}, fmt.Errorf("metrics: label %d of sample %d is outside 0..%d", labels[i], i, c-1)
		}
		best := 0
		for k, v := range p {
			if v > p[best] {
				best = k
			}
			d := float64(v)
			if k == labels[i] {
				d = 1 - d
			}
			row[k] = d * d
		}
		top[i], right[i] = float64(p[best]), best == labels[i]
		sq[i] = npSum(row)
	}
	out := Calibration{Bins: bins, Samples: n, Brier: npMean(sq)}
	var err error
	if out.TopLabel, err = ExpectedCalibrationError(top, right, bins); err != nil {
		return Calibration{}, err
	}
	per := make([]float64, c)
	for k := 0; k < c; k++ {
		for i, p := range probs {
			top[i], right[i] = float64(p[k]), labels[i] == k
		}
		e, err := ExpectedCalibrationError(top, right, bins)
		if err != nil {
			return Calibration{}, err
		}
		out.PerClass = append(out.PerClass, e)
		per[k] = e.ECE
	}
	out.ClasswiseECE = npMean(per)
	return out, nil
}

// MarshalJSON writes undefined values as null.
func (c Calibration) MarshalJSON() ([]byte, error) { return marshalNullable(c) }

// BinaryBrier mirrors sklearn.metrics.brier_score_loss(positive, scores) for binary labels,
// to the bit: the two-column form 0.5·mean((1[neg] - (1-s))² + (1[pos] - s)²).
func BinaryBrier(scores []float64, positive []bool) (float64, error) {
	if len(scores) != len(positive) {
		return math.NaN(), fmt.Errorf("metrics: %d scores but %d labels", len(scores), len(positive))
	}
	if len(scores) == 0 {
		return math.NaN(), errors.New("metrics: no samples")
	}
	t := make([]float64, len(scores))
	for i, s := range scores {
		y1 := 0.0
		if positive[i] {
			y1 = 1
		}
		y0 := 1 - y1
		a, b := y0-(1-s), y1-s
		t[i] = a*a + b*b
	}
	return npMean(t) * 0.5, nil
}
