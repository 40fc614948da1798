package metrics

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
)

// This file gives the binary metrics their uncertainty: a stratified bootstrap (percentile
// intervals) and DeLong's standard error of the ROC AUC.

// Interval is a confidence interval [Lo, Hi] (NaN bounds when undefined, null in JSON).
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// MarshalJSON writes undefined bounds as null.
func (iv Interval) MarshalJSON() ([]byte, error) { return marshalNullable(iv) }

// NaNInterval is the interval of a metric that has none.
func NaNInterval() Interval { return Interval{math.NaN(), math.NaN()} }

// SplitMix64 is the bootstrap's random number generator: Steele, Lea and Flood's SplitMix64
// (the seeding generator of xoshiro), chosen because it is a few lines in any language, so a
// NumPy reference draws the same resamples (trainer/metrics/testdata/screening_gen.py).
type SplitMix64 struct{ state uint64 }

// NewSplitMix64 starts the generator at seed.
func NewSplitMix64(seed uint64) *SplitMix64 { return &SplitMix64{seed} }

// Uint64 returns the next value: state += 0x9E3779B97F4A7C15, then the mix of the state.
func (r *SplitMix64) Uint64() uint64 {
	r.state += 0x9E3779B97F4A7C15
	z := r.state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// IntN returns a draw in [0, n) as the high 64 bits of Uint64()·n (Lemire's multiply-shift
// without rejection: the bias is below n/2⁶⁴).
func (r *SplitMix64) IntN(n int) int {
	hi, _ := bits.Mul64(r.Uint64(), uint64(n))
	return int(hi)
}

// StratifiedResamples draws n stratified bootstrap resamples of a binary set and calls
// f(b, idx) with resample b's sample positions, for b = 0..n-1 in order (idx is reused: copy
// it to keep it). The scheme, which the NumPy reference repeats:
//
//	pos, neg = the positions of the positives and of the negatives, increasing
//	rng = SplitMix64(seed), one stream for all resamples
//	resample b = [pos[rng.IntN(len(pos))] for each positive] + [neg[rng.IntN(len(neg))] for each negative]
//
// so every resample holds as many positives and negatives as the set, and the AUC is always
// defined when the set has both.
func StratifiedResamples(positive []bool, n int, seed uint64, f func(b int, idx []int)) {
	var pos, neg []int
	for i, p := range positive {
		if p {
			pos = append(pos, i)
		} else {
			neg = append(neg, i)
		}
	}
	rng := NewSplitMix64(seed)
	idx := make([]int, len(positive))
	for b := 0; b < n; b++ {
		k := 0
		for range pos {
			idx[k] = pos[rng.IntN(len(pos))]
			k++
		}
		for range neg {
			idx[k] = neg[rng.IntN(len(neg))]
			k++
		}
		f(b, idx)
	}
}

// Bootstrap holds the stratified bootstrap of a binary set's ROC AUC and average precision:
// every resample's values (for plots and checks) and their 2.5th and 97.5th percentiles.
type Bootstrap struct {
	Resamples int       `json:"resamples"`
	Seed      uint64    `json:"seed"`
	AUC       []float64 `json:"-"` // roc_auc_score of each resample
	AP        []float64 `json:"-"` // average_precision_score of each resample
	AUCCI     Interval  `json:"roc_auc_ci"`
	APCI      Interval  `json:"average_precision_ci"`
	// ROCBand is the pointwise band of the ROC curve: at each false positive rate x of
	// BandGrid, the percentile interval of the best true positive rate with FPR ≤ x over
	// every distinct threshold of each resample. PRBand is the PR curve's: at each recall x,
	// the interval of the interpolated precision max{precision : recall ≥ x}.
	ROCBand Band `json:"-"`
	PRBand  Band `json:"-"`
}

// Band is a pointwise 95% bootstrap band of a curve: Y between Lo[i] and Hi[i] at X[i].
type Band struct {
	X, Lo, Hi []float64
}

// BandPoints is the number of grid points of the bootstrap bands: x = 0, 0.01, ..., 1
// (np.linspace(0, 1, 101)).
const BandPoints = 101

// BootstrapCI computes the AUC and AP of n StratifiedResamples(positive, n, seed) (each as
// sklearn would on the resampled arrays, to the bit) and their percentile 95% intervals
// (Percentile at 2.5 and 97.5, np.percentile's default). n must be ≥ 1; one class alone is
// ErrOneClass.
func BootstrapCI(scores []float64, positive []bool, n int, seed uint64) (Bootstrap, error) {
	if n < 1 {
		return Bootstrap{}, fmt.Errorf("metrics: %d bootstrap resamples (want at least 1)", n)
	}
	r, err := rank(scores, positive)
	if err != nil {
		return Bootstrap{}, err
	}
	if err := oneClassOf(r.counts(nil)); err != nil {
		return Bootstrap{}, err
	}
	bs := Bootstrap{Resamples: n, Seed: seed, AUC: make([]float64, n), AP: make([]float64, n)}
	grid := npLinspace(0, 1, BandPoints)
	rocAt, prAt := make([][]float64, BandPoints), make([][]float64, BandPoints)
	for j := range grid {
		rocAt[j], prAt[j] = make([]float64, n), make([]float64, n)
	}
	w := make([]int32, len(scores))
	var pm []float64 // the running maximum of precision
	StratifiedResamples(positive, n, seed, func(b int, idx []int) {
		clear(w)
		for _, i := range idx {
			w[i]++
		}
		// the samples repeated w[i] times: the same distinct thresholds and counts as
		// sklearn sees on the resampled arrays
		fps, tps, thr := r.counts(w)
		full, pr := rocFrom(fps, tps, thr, false), prFrom(fps, tps, thr)
		pm = append(pm[:0], pr.Precision...)
		bs.AUC[b], bs.AP[b] = rocFrom(fps, tps, thr, true).AUC(), pr.AveragePrecision()
		k := 0
		for j, x := range grid { // FPR and TPR never decrease along the curve
			for k+1 < len(full.FPR) && full.FPR[k+1] <= x {
				k++
			}
			rocAt[j][b] = full.TPR[k]
		}
		// recall decreases along pr, so recall ≥ x holds on a prefix (never empty: recall
		// starts at 1); the interpolated precision is the prefix's maximum
		for i := range pm {
			pm[i] = pr.Precision[i]
			if i > 0 {
				pm[i] = max(pm[i], pm[i-1])
			}
		}
		m := 0
		for j := len(grid) - 1; j >= 0; j-- {
			for m < len(pr.Recall) && pr.Recall[m] >= grid[j] {
				m++
			}
			prAt[j][b] = pm[m-1]
		}
	})
	bs.AUCCI = PercentileInterval(bs.AUC, 95)
	bs.APCI = PercentileInterval(bs.AP, 95)
	bs.ROCBand, bs.PRBand = bandOf(grid, rocAt), bandOf(grid, prAt)
	return bs, nil
}

func bandOf(grid []float64, at [][]float64) Band {
	b := Band{X: grid, Lo: make([]float64, len(grid)), Hi: make([]float64, len(grid))}
	for j, v := range at {
		iv := PercentileInterval(v, 95)
		b.Lo[j], b.Hi[j] = iv.Lo, iv.Hi
	}
	return b
}

func oneClassOf(fps, tps []int, _ []float64) error { return oneClass(fps, tps) }

// PercentileInterval is the central level% percentile interval of values (np.percentile at
// (100-level)/2 and (100+level)/2).
func PercentileInterval(values []float64, level float64) Interval {
	return Interval{Percentile(values, (100-level)/2), Percentile(values, (100+level)/2)}
}

// z975 is the standard normal's 97.5th percentile, scipy.stats.norm.ppf(0.975).
const z975 = 1.959963984540054

// DeLong is DeLong's estimate of the ROC AUC's variance (DeLong, DeLong and Clarke-Pearson
// 1988), computed by Sun and Xu's fast algorithm (2014) from midranks in O(n log n).
type DeLong struct {
	AUC float64  `json:"roc_auc"`
	SE  float64  `json:"se"` // standard error; NaN with a single positive or negative
	CI  Interval `json:"ci"` // AUC ± 1.96·SE, clipped to [0, 1] (as R's pROC)
}

// MarshalJSON writes an undefined SE as null.
func (d DeLong) MarshalJSON() ([]byte, error) { return marshalNullable(d) }

// DeLongAUC computes the AUC and its DeLong standard error: with X the positives' and Y the
// negatives' scores (m and n of them), the structural components V10(X_i) = (Tz_i - Tx_i)/n
// and V01(Y_j) = 1 - (Tz_j - Ty_j)/m from the midranks T within X, Y and Z = X ∪ Y; then
// Var = var(V10)/m + var(V01)/n (sample variances, ddof 1). One class alone is ErrOneClass.
func DeLongAUC(scores []float64, positive []bool) (DeLong, error) {
	if _, err := rank(scores, positive); err != nil {
		return DeLong{}, err
	}
	var x, y []float64
	for i, s := range scores {
		if positive[i] {
			x = append(x, s)
		} else {
			y = append(y, s)
		}
	}
	m, n := len(x), len(y)
	if m == 0 || n == 0 {
		return DeLong{}, fmt.Errorf("metrics: %w (%d positives, %d negatives): DeLong's variance is undefined", ErrOneClass, m, n)
	}
	tx, ty, tz := midranks(x), midranks(y), midranks(append(append([]float64(nil), x...), y...))
	v10, v01 := make([]float64, m), make([]float64, n)
	sum := 0.0
	for i := range x {
		sum += tz[i]
		v10[i] = (tz[i] - tx[i]) / float64(n)
	}
	for j := range y {
		v01[j] = 1 - (tz[m+j]-ty[j])/float64(m)
	}
	d := DeLong{AUC: (sum - float64(m)*float64(m+1)/2) / (float64(m) * float64(n))}
	d.SE = math.Sqrt(npVar(v10, 1)/float64(m) + npVar(v01, 1)/float64(n))
	d.CI = Interval{math.Max(0, d.AUC-z975*d.SE), math.Min(1, d.AUC+z975*d.SE)}
	if math.IsNaN(d.SE) {
		d.CI = NaNInterval()
	}
	return d, nil
}

// midranks returns each value's rank (1-based) in a, tied values sharing the mean of their
// ranks.
func midranks(a []float64) []float64 {
	order := make([]int, len(a))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return a[order[i]] < a[order[j]] })
	t := make([]float64, len(a))
	for i := 0; i < len(order); {
		j := i
		for j < len(order) && a[order[j]] == a[order[i]] {
			j++
		}
		r := float64(i+j-1)/2 + 1 // the mean of ranks i+1..j
		for k := i; k < j; k++ {
			t[order[k]] = r
		}
		i = j
	}
	return t
}
