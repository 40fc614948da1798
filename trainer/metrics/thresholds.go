package metrics

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// maxThresholdCandidates bounds OptimizeThresholds' candidates per threshold.
const maxThresholdCandidates = 1000

// ApplyThresholds turns a regression head's continuous grades into classes as the APTOS 2019
// recipe's pd.cut(x, [-inf] + thresholds + [inf], labels=range(K)) does: intervals closed on the
// right, so the class is the number of thresholds strictly below x. thresholds must ascend.
func ApplyThresholds(x []float64, thresholds []float64) []int {
	out := make([]int, len(x))
	for i, v := range x {
		out[i] = sort.Search(len(thresholds), func(k int) bool { return thresholds[k] >= v })
	}
	return out
}

// DefaultThresholds are the rounding thresholds 0.5, 1.5, …, K−1.5: a regression head's
// output rounded to the nearest grade (the APTOS recipe's starting point).
func DefaultThresholds(numClasses int) []float64 {
	t := make([]float64, numClasses-1)
	for i := range t {
		t[i] = float64(i) + 0.5
	}
	return t
}

// OptimizeThresholds finds ascending thresholds that maximise the quadratic weighted kappa
// (AllLabels) of ApplyThresholds(x) against labels, as the APTOS 2019 winners' OptimizedRounder
// does with scipy's Nelder–Mead. Kappa is a step function of the thresholds, so this searches it
// exactly instead: coordinate ascent from DefaultThresholds, each threshold in turn moved to the
// best of every candidate between its neighbours (midpoints of consecutive distinct outputs, plus
// the current value; at most maxThresholdCandidates of them, evenly spaced), until a sweep
// changes nothing. The result's kappa is never below the
// starting thresholds' (ties keep the current value). Deterministic; O(sweeps · K · n log n).
func OptimizeThresholds(x []float64, labels []int, numClasses int) ([]float64, float64, error) {
	if len(x) != len(labels) || len(x) == 0 {
		return nil, 0, fmt.Errorf("optimize thresholds: %d outputs and %d labels", len(x), len(labels))
	}
	if numClasses < 2 {
		return nil, 0, errors.New("optimize thresholds: need at least 2 classes")
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, 0, fmt.Errorf("optimize thresholds: output %d is %v", i, v)
		}
	}
	sorted := append([]float64(nil), x...)
	sort.Float64s(sorted)
	var cands []float64
	for i := 1; i < len(sorted); i++ {
		if sorted[i] != sorted[i-1] {
			cands = append(cands, sorted[i-1]+(sorted[i]-sorted[i-1])/2)
		}
	}
	if len(cands) > maxThresholdCandidates { // evenly spaced among them: bounded work on big sets
		thin := make([]float64, maxThresholdCandidates)
		for i := range thin {
			thin[i] = cands[i*(len(cands)-1)/(maxThresholdCandidates-1)]
		}
		cands = thin
	}
	kappa := func(t []float64) float64 {
		k, err := QuadraticKappa(labels, ApplyThresholds(x, t), numClasses, AllLabels)
		if err != nil || math.IsNaN(k) {
			return math.Inf(-1)
		}
		return k
	}
	t := DefaultThresholds(numClasses)
	best := kappa(t)
	for sweep := 0; sweep < 100; sweep++ {
		changed := false
		for j := range t {
			lo, hi := math.Inf(-1), math.Inf(1)
			if j > 0 {
				lo = t[j-1]
			}
			if j < len(t)-1 {
				hi = t[j+1]
			}
			cur := t[j]
			for _, c := range cands {
				if c < lo || c > hi || c == cur {
					continue
				}
				t[j] = c
				if k := kappa(t); k > best {
					best, cur, changed = k, c, true
				}
			}
			t[j] = cur
		}
		if !changed {
			break
		}
	}
	return t, best, nil
}
