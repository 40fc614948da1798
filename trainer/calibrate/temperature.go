// Package calibrate is temperature scaling (Guo et al., "On Calibration of Modern Neural
// Networks", ICML 2017): one scalar T > 0 that divides a trained model's logits before the
// softmax, fitted on held-out logits by minimising the mean negative log-likelihood (NLL). It
// changes the probabilities, never the argmax: softmax(z/T) keeps the order of z.
//
// The fit is plain float64 arithmetic on Go slices, no libtorch: the NLL is convex in the
// inverse temperature b = 1/T, so FitTemperature finds the root of its derivative by Newton's
// method inside a bracket, to the limit of float64. Guo et al.'s code runs
// torch.optim.LBFGS(lr=0.01, max_iter=50), which can stop short of that minimum; the parity
// reference (testdata/temperature_gen.py) is LBFGS with a strong-Wolfe line search run to
// convergence, and the two agree within 1e-4 (the measured difference is in docs/evaluation.md).
//
// File is the fitted temperature as drgrade stores it beside a checkpoint
// (<weights>.calibration.json): the checkpoint itself stays a plain state_dict that PyTorch's
// load_state_dict(strict=True) accepts.
package calibrate

import (
	"errors"
	"fmt"
	"math"
)

// Fit is a fitted temperature and the NLL before and after.
type Fit struct {
	Temperature float64 // T: the probabilities are softmax(logits/T)
	NLLBefore   float64 // mean NLL of softmax(logits), T = 1
	NLLAfter    float64 // mean NLL of softmax(logits/T)
	Iterations  int     // Newton/bisection steps taken
	Samples     int
}

// check refuses logits and labels that do not fit together.
func check(logits [][]float32, labels []int) (int, error) {
	if len(logits) == 0 {
		return 0, errors.New("temperature scaling: no samples")
	}
	if len(logits) != len(labels) {
		return 0, fmt.Errorf("temperature scaling: %d rows of logits, %d labels", len(logits), len(labels))
	}
	c := len(logits[0])
	if c < 2 {
		return 0, fmt.Errorf("temperature scaling: %d classes, want at least 2", c)
	}
	for i, row := range logits {
		if len(row) != c {
			return 0, fmt.Errorf("temperature scaling: row %d has %d logits, row 0 has %d", i, len(row), c)
		}
		if labels[i] < 0 || labels[i] >= c {
			return 0, fmt.Errorf("temperature scaling: label %d of sample %d is outside 0..%d", labels[i], i, c-1)
		}
		for _, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return 0, fmt.Errorf("temperature scaling: sample %d has a non-finite logit (%v)", i, v)
			}
		}
	}
	return c, nil
}

// NLL is the mean negative log-likelihood of the labels under softmax(logits/T), in float64:
// PyTorch's F.cross_entropy(logits / T, labels). T must be positive.
func NLL(logits [][]float32, labels []int, T float64) (float64, error) {
	if _, err := check(logits, labels); err != nil {
		return 0, err
	}
	if !(T > 0) || math.IsInf(T, 0) {
		return 0, fmt.Errorf("temperature %v: want a positive finite number", T)
	}
	b := 1 / T
	sum := 0.0
	for i, row := range logits {
		sum += lse(row, b) - b*float64(row[labels[i]])
	}
	return sum / float64(len(logits)), nil
}

// lse is log Σ_c exp(b·z_c), shifted by the largest term.
func lse(z []float32, b float64) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, b*float64(v))
	}
	s := 0.0
	for _, v := range z {
		s += math.Exp(b*float64(v) - m)
	}
	return m + math.Log(s)
}

// derivs are the first and second derivatives of the mean NLL with respect to b = 1/T:
// d1 = mean_i(E_p[z_i] − z_i,y) and d2 = mean_i Var_p[z_i], with p = softmax(b·z_i).
func derivs(logits [][]float32, labels []int, b float64, p []float64) (d1, d2 float64) {
	for i, z := range logits {
		m := math.Inf(-1)
		for _, v := range z {
			m = math.Max(m, b*float64(v))
		}
		s := 0.0
		for c, v := range z {
			p[c] = math.Exp(b*float64(v) - m)
			s += p[c]
		}
		mean := 0.0
		for c, v := range z {
			p[c] /= s
			mean += p[c] * float64(v)
		}
		vr := 0.0
		for c, v := range z {
			d := float64(v) - mean
			vr += p[c] * d * d
		}
		d1 += mean - float64(z[labels[i]])
		d2 += vr
	}
	n := float64(len(logits))
	return d1 / n, d2 / n
}

// FitTemperature returns the T > 0 minimising NLL(logits, labels, T). The NLL is convex in
// b = 1/T with derivative f'(b) = mean_i(E_softmax(b·z_i)[z_i] − z_i,label), which rises from
// f'(0) = mean_i(mean_c z_i,c − z_i,label) to f'(∞) = mean_i(max_c z_i,c − z_i,label); the
// minimum is its root, found by Newton steps kept inside a bracket (bisection when a step
// leaves it) until the bracket or the step is at float64's resolution. There is no minimum,
// and an error says why, when every label already has the largest logit (the NLL falls
// without end as T → 0) or when the logits do not favour the labels on average (f'(0) ≥ 0:
// the minimum is at T = ∞ or at a negative T).
func FitTemperature(logits [][]float32, labels []int) (Fit, error) {
	c, err := check(logits, labels)
	if err != nil {
		return Fit{}, err
	}
	fit := Fit{Samples: len(logits)}
	if fit.NLLBefore, err = NLL(logits, labels, 1); err != nil {
		return fit, err
	}
	d0, dInf := 0.0, 0.0
	for i, z := range logits {
		mean, max := 0.0, math.Inf(-1)
		for _, v := range z {
			mean += float64(v)
			max = math.Max(max, float64(v))
		}
		d0 += mean/float64(c) - float64(z[labels[i]])
		dInf += max - float64(z[labels[i]])
	}
	if d0 >= 0 {
		return fit, fmt.Errorf("temperature scaling: on these %d samples the labels' logits are no larger than the average logit, so the NLL is smallest at T = ∞ (or a negative T): the model is no better than uniform here and there is no temperature to fit", len(logits))
	}
	if dInf <= 0 {
		return fit, fmt.Errorf("temperature scaling: the label of each of the %d samples already has the largest logit, so the NLL falls without end as T → 0: there is no temperature to fit (use more or harder held-out data)", len(logits))
	}
	p := make([]float64, c)
	// The bracket [lo, hi] with f'(lo) < 0 ≤ f'(hi).
	lo, hi := 0.0, 1.0
	for {
		d1, _ := derivs(logits, labels, hi, p)
		fit.Iterations++
		if d1 >= 0 {
			break
		}
		lo, hi = hi, hi*2
		if hi > 1e300 {
			return fit, errors.New("temperature scaling: no minimum found (the temperature would be below 1e-300)")
		}
	}
	b := (lo + hi) / 2
	if lo < 1 && 1 < hi {
		b = 1 // the usual answer is near T = 1
	}
	for it := 0; it < 500; it++ {
		d1, d2 := derivs(logits, labels, b, p)
		fit.Iterations++
		if d1 == 0 {
			break
		}
		if d1 < 0 {
			lo = b
		} else {
			hi = b
		}
		next := b - d1/d2
		if !(next > lo && next < hi) { // also NaN from d2 = 0
			next = lo + (hi-lo)/2
		}
		done := math.Abs(next-b) <= 1e-15*b || hi-lo <= 1e-15*hi
		b = next
		if done {
			break
		}
	}
	fit.Temperature = 1 / b
	if fit.NLLAfter, err = NLL(logits, labels, fit.Temperature); err != nil {
		return fit, err
	}
	return fit, nil
}

// Softmax is softmax(logits/T) per row in float64 (T = 1: the model's own probabilities).
func Softmax(logits [][]float32, T float64) [][]float64 {
	out := make([][]float64, len(logits))
	b := 1 / T
	for i, z := range logits {
		row := make([]float64, len(z))
		m := math.Inf(-1)
		for _, v := range z {
			m = math.Max(m, b*float64(v))
		}
		s := 0.0
		for c, v := range z {
			row[c] = math.Exp(b*float64(v) - m)
			s += row[c]
		}
		for c := range row {
			row[c] /= s
		}
		out[i] = row
	}
	return out
}
