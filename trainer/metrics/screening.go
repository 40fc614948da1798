package metrics

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// This file is the binary side of DR screening: a referable / any-DR view of the grade
// probabilities, sklearn's ROC and precision-recall curves with their areas, and operating
// points (thresholds with their sensitivity, specificity, PPV and NPV).

// ErrOneClass is returned (wrapped) by the binary metrics when the samples hold only positives
// or only negatives: the ROC AUC and average precision are undefined there (sklearn 1.9's
// roc_auc_score returns nan with an UndefinedMetricWarning).
var ErrOneClass = errors.New("only one class present")

// NoUngradable is the ungradable argument of a label set without DDR's Ungradable class.
const NoUngradable = -1

// PositiveScore is the probability of a binary view from one sample's class probabilities:
// Σ p_k over the classes grade ≤ k < len(p) other than ungradable, summed in class order
// in float64. Nothing is renormalised: the ungradable class's probability counts for neither
// side.
func PositiveScore[F float32 | float64](p []F, grade, ungradable int) float64 {
	s := 0.0
	for k := grade; k < len(p); k++ {
		if k != ungradable {
			s += float64(p[k])
		}
	}
	return s
}

// Binary is a binary view of a labelled set: each kept sample's score and class.
type Binary struct {
	Scores   []float64
	Positive []bool
	Index    []int // the input position of each kept sample
	Excluded int   // samples left out because their label is the ungradable class
}

// NewBinary makes the view "grade ≥ grade" of per-sample class probabilities: positive when
// the label is ≥ grade, scored by PositiveScore. Samples labelled ungradable (a class index,
// or NoUngradable) are left out and counted in Excluded. grade must lie in 1..C-1 (C the
// number of columns) and not be the ungradable class.
func NewBinary[F float32 | float64](probs [][]F, labels []int, grade, ungradable int) (Binary, error) {
	if len(probs) != len(labels) {
		return Binary{}, fmt.Errorf("metrics: %d probability rows but %d labels", len(probs), len(labels))
	}
	if len(probs) == 0 {
		return Binary{}, errors.New("metrics: no samples")
	}
	c := len(probs[0])
	if grade < 1 || grade >= c || grade == ungradable {
		return Binary{}, fmt.Errorf("metrics: threshold grade %d is not a grade of %d classes (want 1..%d%s)", grade, c, c-1, ungradableNote(ungradable))
	}
	var b Binary
	for i, p := range probs {
		if len(p) != c {
			return Binary{}, fmt.Errorf("metrics: probability row %d has %d classes, row 0 has %d", i, len(p), c)
		}
		y := labels[i]
		if y < 0 || y >= c {
			return Binary{}, fmt.Errorf("metrics: label %d of sample %d is outside 0..%d", y, i, c-1)
		}
		if y == ungradable {
			b.Excluded++
			continue
		}
		b.Scores = append(b.Scores, PositiveScore(p, grade, ungradable))
		b.Positive = append(b.Positive, y >= grade)
		b.Index = append(b.Index, i)
	}
	return b, nil
}

func ungradableNote(u int) string {
	if u < 0 {
		return ""
	}
	return fmt.Sprintf(", not the ungradable class %d", u)
}

// Counts returns the number of positives and negatives.
func (b Binary) Counts() (pos, neg int) { return countClasses(b.Positive) }

func countClasses(positive []bool) (pos, neg int) {
	for _, p := range positive {
		if p {
			pos++
		} else {
			neg++
		}
	}
	return pos, neg
}

// ranked is one binary set sorted by decreasing score, the samples of one score grouped: the
// distinct thresholds of sklearn's confusion_matrix_at_thresholds.
type ranked struct {
	order []int     // sample positions by decreasing score
	ends  []int     // group g is order[ends[g-1]:ends[g]] (ends[-1] = 0)
	thr   []float64 // the score of group g
	pos   []bool
}

func rank(scores []float64, positive []bool) (*ranked, error) {
	if len(scores) != len(positive) {
		return nil, fmt.Errorf("metrics: %d scores but %d labels", len(scores), len(positive))
	}
	if len(scores) == 0 {
		return nil, errors.New("metrics: no samples")
	}
	for i, s := range scores {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("metrics: score %d is %v (scores must be finite)", i, s)
		}
	}
	r := &ranked{order: make([]int, len(scores)), pos: positive}
	for i := range r.order {
		r.order[i] = i
	}
	sort.SliceStable(r.order, func(a, b int) bool { return scores[r.order[a]] > scores[r.order[b]] })
	for j, i := range r.order {
		if j+1 == len(r.order) || scores[r.order[j+1]] != scores[i] {
			r.ends = append(r.ends, j+1)
			r.thr = append(r.thr, scores[i])
		}
	}
	return r, nil
}

// counts returns, for each distinct threshold with weight (decreasing), the cumulative false
// and true positives of "score ≥ threshold": sklearn's fps, tps and thresholds. w holds each
// sample's multiplicity (a bootstrap resample); nil counts every sample once.
func (r *ranked) counts(w []int32) (fps, tps []int, thr []float64) {
	fp, tp, start := 0, 0, 0
	for g, end := range r.ends {
		n := 0
		for _, i := range r.order[start:end] {
			k := 1
			if w != nil {
				k = int(w[i])
			}
			n += k
			if r.pos[i] {
				tp += k
			} else {
				fp += k
			}
		}
		start = end
		if n == 0 {
			continue // no sample of this score in the resample: not a threshold of it
		}
		fps, tps, thr = append(fps, fp), append(tps, tp), append(thr, r.thr[g])
	}
	return fps, tps, thr
}

func oneClass(fps, tps []int) error {
	n := len(fps)
	if n == 0 || fps[n-1] == 0 || tps[n-1] == 0 {
		return fmt.Errorf("metrics: %w (%d positives, %d negatives): ROC AUC and average precision are undefined", ErrOneClass, last(tps), last(fps))
	}
	return nil
}

func last(a []int) int {
	if len(a) == 0 {
		return 0
	}
	return a[len(a)-1]
}

// ROC is sklearn's roc_curve: false and true positive rates at decreasing Thresholds, the
// first point (0, 0) at threshold +Inf. A sample is called positive when score ≥ threshold.
type ROC struct {
	FPR, TPR, Thresholds []float64
}

// ROCCurve mirrors sklearn.metrics.roc_curve(positive, scores, drop_intermediate=...): with
// dropIntermediate (sklearn's default) the collinear points are left out, as for plotting
// and for roc_auc_score; without, every distinct score is a threshold. One class alone is
// ErrOneClass.
func ROCCurve(scores []float64, positive []bool, dropIntermediate bool) (ROC, error) {
	r, err := rank(scores, positive)
	if err != nil {
		return ROC{}, err
	}
	fps, tps, thr := r.counts(nil)
	if err := oneClass(fps, tps); err != nil {
		return ROC{}, err
	}
	return rocFrom(fps, tps, thr, dropIntermediate), nil
}

func rocFrom(fps, tps []int, thr []float64, drop bool) ROC {
	keep := func(i int) bool { return true }
	if drop && len(fps) > 2 {
		// np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
		keep = func(i int) bool {
			if i == 0 || i == len(fps)-1 {
				return true
			}
			return fps[i+1]-2*fps[i]+fps[i-1] != 0 || tps[i+1]-2*tps[i]+tps[i-1] != 0
		}
	}
	c := ROC{FPR: []float64{0}, TPR: []float64{0}, Thresholds: []float64{math.Inf(1)}}
	fpN, tpN := float64(fps[len(fps)-1]), float64(tps[len(tps)-1])
	for i := range fps {
		if keep(i) {
			c.FPR = append(c.FPR, float64(fps[i])/fpN)
			c.TPR = append(c.TPR, float64(tps[i])/tpN)
			c.Thresholds = append(c.Thresholds, thr[i])
		}
	}
	return c
}

// AUC is sklearn.metrics.auc(FPR, TPR): the trapezoidal rule as scipy's trapezoid computes it
// (Δx·(y₁+y₀)/2 per segment, summed by np.sum).
func (c ROC) AUC() float64 { return trapezoid(c.TPR, c.FPR) }

func trapezoid(y, x []float64) float64 {
	if len(x) < 2 {
		return math.NaN()
	}
	t := make([]float64, len(x)-1)
	for i := range t {
		t[i] = (x[i+1] - x[i]) * (y[i+1] + y[i]) / 2.0
	}
	return npSum(t)
}

// ROCAUC mirrors sklearn.metrics.roc_auc_score for binary labels (ties count one half, as
// the trapezoid over distinct thresholds does). One class alone is ErrOneClass.
func ROCAUC(scores []float64, positive []bool) (float64, error) {
	c, err := ROCCurve(scores, positive, true)
	if err != nil {
		return math.NaN(), err
	}
	return c.AUC(), nil
}

// PR is sklearn's precision_recall_curve (drop_intermediate=False): Precision and Recall at
// increasing Thresholds, then the end point (recall 0, precision 1), which has no threshold.
type PR struct {
	Precision, Recall, Thresholds []float64
}

// PRCurve mirrors sklearn.metrics.precision_recall_curve(positive, scores). One class alone is
// ErrOneClass (sklearn returns a degenerate curve there).
func PRCurve(scores []float64, positive []bool) (PR, error) {
	r, err := rank(scores, positive)
	if err != nil {
		return PR{}, err
	}
	fps, tps, thr := r.counts(nil)
	if err := oneClass(fps, tps); err != nil {
		return PR{}, err
	}
	return prFrom(fps, tps, thr), nil
}

func prFrom(fps, tps []int, thr []float64) PR {
	n := len(fps)
	c := PR{Precision: make([]float64, n+1), Recall: make([]float64, n+1), Thresholds: make([]float64, n)}
	tpN := float64(tps[n-1])
	for i := 0; i < n; i++ { // reversed: recall decreasing
		j := n - 1 - i
		if ps := tps[j] + fps[j]; ps != 0 {
			c.Precision[i] = float64(tps[j]) / float64(ps)
		}
		c.Recall[i] = float64(tps[j]) / tpN
		c.Thresholds[i] = thr[j]
	}
	c.Precision[n], c.Recall[n] = 1, 0
	return c
}

// AveragePrecision is sklearn's average_precision_score on the curve: the step integral
// max(0, -Σ (R[i+1]-R[i])·P[i]) = Σ_n (R_n - R_{n-1}) P_n over the distinct thresholds.
func (c PR) AveragePrecision() float64 {
	t := make([]float64, len(c.Recall)-1)
	for i := range t {
		t[i] = (c.Recall[i+1] - c.Recall[i]) * c.Precision[i]
	}
	return math.Max(0, -npSum(t))
}

// AveragePrecision mirrors sklearn.metrics.average_precision_score for binary labels. One
// class alone is ErrOneClass.
func AveragePrecision(scores []float64, positive []bool) (float64, error) {
	c, err := PRCurve(scores, positive)
	if err != nil {
		return math.NaN(), err
	}
	return c.AveragePrecision(), nil
}

// SensitivityTargets are the sensitivities whose operating points screening reports.
var SensitivityTargets = []float64{0.85, 0.90, 0.95}

// YoudenPoint names the operating point maximising Youden's J = sensitivity + specificity - 1.
const YoudenPoint = "youden"

// TargetName names the operating point that reaches sensitivity ≥ target: "sens_0.90".
func TargetName(target float64) string {
	if s := strconv.FormatFloat(target, 'f', 2, 64); target*100 == math.Round(target*100) {
		return "sens_" + s
	}
	return "sens_" + strconv.FormatFloat(target, 'g', -1, 64)
}

// OperatingPoint is a threshold on a binary view's score (positive when score ≥ Threshold) and
// what it does on one set of samples. A rate whose denominator is 0 is NaN (null in JSON).
type OperatingPoint struct {
	Name string `json:"name"`
	// TargetSensitivity is the sensitivity the threshold was chosen to reach (0 for Youden's).
	TargetSensitivity float64 `json:"target_sensitivity,omitempty"`
	Threshold         float64 `json:"threshold"`
	Sensitivity       float64 `json:"sensitivity"` // TP / (TP + FN)
	Specificity       float64 `json:"specificity"` // TN / (TN + FP)
	PPV               float64 `json:"ppv"`         // TP / (TP + FP)
	NPV               float64 `json:"npv"`         // TN / (TN + FN)
	TP                int     `json:"tp"`
	FP                int     `json:"fp"`
	TN                int     `json:"tn"`
	FN                int     `json:"fn"`
}

// MarshalJSON writes undefined rates as null.
func (p OperatingPoint) MarshalJSON() ([]byte, error) { return marshalNullable(p) }

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// AtThreshold is the operating point "score ≥ threshold" on these samples.
func AtThreshold(scores []float64, positive []bool, name string, threshold float64) OperatingPoint {
	p := OperatingPoint{Name: name, Threshold: threshold}
	for i, s := range scores {
		switch called := s >= threshold; {
		case called && positive[i]:
			p.TP++
		case called:
			p.FP++
		case positive[i]:
			p.FN++
		default:
			p.TN++
		}
	}
	p.Sensitivity, p.Specificity = ratio(p.TP, p.TP+p.FN), ratio(p.TN, p.TN+p.FP)
	p.PPV, p.NPV = ratio(p.TP, p.TP+p.FP), ratio(p.TN, p.TN+p.FN)
	return p
}

// ChooseOperatingPoints picks thresholds among the distinct scores (every point of the ROC
// curve but its +Inf start): Youden's point, argmax of TPR - FPR (the first, i.e. highest
// threshold, on ties), then for each target the threshold with the highest specificity among
// those with sensitivity ≥ target (on a tie, the higher sensitivity). Each point is then
// AtThreshold on the same samples. One class alone is ErrOneClass.
func ChooseOperatingPoints(scores []float64, positive []bool, targets []float64) ([]OperatingPoint, error) {
	r, err := rank(scores, positive)
	if err != nil {
		return nil, err
	}
	fps, tps, thr := r.counts(nil)
	if err := oneClass(fps, tps); err != nil {
		return nil, err
	}
	P, N := float64(last(tps)), float64(last(fps))
	best, bestJ := 0, math.Inf(-1)
	for i := range thr {
		if j := float64(tps[i])/P - float64(fps[i])/N; j > bestJ {
			best, bestJ = i, j
		}
	}
	out := []OperatingPoint{AtThreshold(scores, positive, YoudenPoint, thr[best])}
	for _, target := range targets {
		pick := -1
		for i := range thr {
			if float64(tps[i])/P < target {
				continue
			}
			// fps never decreases along the curve: the first reaching the target has the
			// fewest false positives; later ones with as few add true positives.
			if pick < 0 || fps[i] == fps[pick] {
				pick = i
			} else {
				break
			}
		}
		if pick < 0 {
			return nil, fmt.Errorf("metrics: no threshold reaches sensitivity %v", target) // target > 1
		}
		p := AtThreshold(scores, positive, TargetName(target), thr[pick])
		p.TargetSensitivity = target
		out = append(out, p)
	}
	return out, nil
}
