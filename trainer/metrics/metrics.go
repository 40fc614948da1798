package metrics

import (
	"errors"
	"fmt"
	"math"
)

// LabelSet selects the classes a per-class metric is computed over, like sklearn's labels=.
type LabelSet int

const (
	// PresentLabels mirrors sklearn's labels=None: only the classes that occur in
	// y_true ∪ y_pred, in increasing order. It is what the researcher's script uses.
	PresentLabels LabelSet = iota
	// AllLabels mirrors labels=range(num_classes): classes absent from both y_true and y_pred
	// count too (precision = recall = F1 = 0, support 0).
	AllLabels
)

// String names the label set as in reports and errors.
func (s LabelSet) String() string {
	switch s {
	case PresentLabels:
		return "present"
	case AllLabels:
		return "all"
	}
	return fmt.Sprintf("LabelSet(%d)", int(s))
}

// Confusion is a confusion matrix over classes 0..N-1: M[t][p] counts the samples of true class
// t predicted as p. It mirrors sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(N)).
type Confusion struct {
	N int
	M [][]int
}

// NewConfusion counts yTrue against yPred. It fails on empty or unequal-length inputs, on
// numClasses < 1 and on a label outside 0..numClasses-1 (sklearn would silently widen or drop
// such labels; in drgrade they are a bug upstream of the metrics).
func NewConfusion(yTrue, yPred []int, numClasses int) (*Confusion, error) {
	if numClasses < 1 {
		return nil, fmt.Errorf("metrics: num_classes must be >= 1, got %d", numClasses)
	}
	if len(yTrue) != len(yPred) {
		return nil, fmt.Errorf("metrics: y_true has %d samples but y_pred has %d", len(yTrue), len(yPred))
	}
	if len(yTrue) == 0 {
		return nil, errors.New("metrics: no samples")
	}
	c := &Confusion{N: numClasses, M: make([][]int, numClasses)}
	for i := range c.M {
		c.M[i] = make([]int, numClasses)
	}
	for i, t := range yTrue {
		p := yPred[i]
		if t < 0 || t >= numClasses {
			return nil, fmt.Errorf("metrics: y_true[%d] = %d is outside 0..%d", i, t, numClasses-1)
		}
		if p < 0 || p >= numClasses {
			return nil, fmt.Errorf("metrics: y_pred[%d] = %d is outside 0..%d", i, p, numClasses-1)
		}
		c.M[t][p]++
	}
	return c, nil
}

// ConfusionMatrix mirrors sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(n)).
func ConfusionMatrix(yTrue, yPred []int, numClasses int) ([][]int, error) {
	c, err := NewConfusion(yTrue, yPred, numClasses)
	if err != nil {
		return nil, err
	}
	return c.M, nil
}

// Total is the number of samples counted.
func (c *Confusion) Total() int {
	n := 0
	for _, row := range c.M {
		for _, v := range row {
			n += v
		}
	}
	return n
}

// TrueCounts returns the row sums: the support of each class.
func (c *Confusion) TrueCounts() []int {
	s := make([]int, c.N)
	for t, row := range c.M {
		for _, v := range row {
			s[t] += v
		}
	}
	return s
}

// PredCounts returns the column sums: how often each class was predicted.
func (c *Confusion) PredCounts() []int {
	s := make([]int, c.N)
	for _, row := range c.M {
		for p, v := range row {
			s[p] += v
		}
	}
	return s
}

// Labels returns the classes of a label set in increasing order (sklearn's unique_labels for
// PresentLabels).
func (c *Confusion) Labels(set LabelSet) ([]int, error) {
	switch set {
	case AllLabels:
		l := make([]int, c.N)
		for i := range l {
			l[i] = i
		}
		return l, nil
	case PresentLabels:
		tc, pc := c.TrueCounts(), c.PredCounts()
		var l []int
		for i := 0; i < c.N; i++ {
			if tc[i]+pc[i] > 0 {
				l = append(l, i)
			}
		}
		return l, nil
	}
	return nil, fmt.Errorf("metrics: unknown label set %d", int(set))
}

// Accuracy mirrors sklearn.metrics.accuracy_score: the fraction of correct predictions.
func (c *Confusion) Accuracy() float64 {
	d := 0
	for i := 0; i < c.N; i++ {
		d += c.M[i][i]
	}
	return float64(d) / float64(c.Total())
}

// Accuracy mirrors sklearn.metrics.accuracy_score(y_true, y_pred).
func Accuracy(yTrue, yPred []int, numClasses int) (float64, error) {
	c, err := NewConfusion(yTrue, yPred, numClasses)
	if err != nil {
		return 0, err
	}
	return c.Accuracy(), nil
}

// ClassScores holds one class's precision, recall, F1 and support.
type ClassScores struct {
	Label     int     `json:"label"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// Averages holds averaged precision, recall and F1.
type Averages struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

// Classes is the per-class result of PerClass, in label order.
type Classes []ClassScores

// divOrZero is sklearn's _prf_divide with zero_division=0.
func divOrZero(num, den int) float64 {
	if den == 0 {
		return 0
	}
	return float64(num) / float64(den)
}

// PerClass mirrors sklearn.metrics.precision_recall_fscore_support(y_true, y_pred,
// average=None, zero_division=0) with labels=None (PresentLabels) or labels=range(N)
// (AllLabels). F1 is 2·tp / (support + predicted), sklearn's form, 0 when both are 0.
func (c *Confusion) PerClass(set LabelSet) (Classes, error) {
	labels, err := c.Labels(set)
	if err != nil {
		return nil, err
	}
	tc, pc := c.TrueCounts(), c.PredCounts()
	out := make(Classes, len(labels))
	for i, l := range labels {
		tp := c.M[l][l]
		out[i] = ClassScores{
			Label:     l,
			Precision: divOrZero(tp, pc[l]),
			Recall:    divOrZero(tp, tc[l]),
			F1:        divOrZero(2*tp, tc[l]+pc[l]),
			Support:   tc[l],
		}
	}
	return out, nil
}

// Weighted mirrors average='weighted': each class weighted by its support. As sklearn's
// _nanaverage, all-zero weights fall back to the plain mean.
func (cs Classes) Weighted() Averages {
	var a Averages
	w := 0.0
	for _, s := range cs {
		sw := float64(s.Support)
		a.Precision += s.Precision * sw
		a.Recall += s.Recall * sw
		a.F1 += s.F1 * sw
		w += sw
	}
	if w == 0 {
		return cs.Macro()
	}
	return Averages{a.Precision / w, a.Recall / w, a.F1 / w}
}

// Macro mirrors average='macro': the unweighted mean over the classes of the label set
// (NaN for an empty set, as sklearn's _nanaverage).
func (cs Classes) Macro() Averages {
	var a Averages
	for _, s := range cs {
		a.Precision += s.Precision
		a.Recall += s.Recall
		a.F1 += s.F1
	}
	n := float64(len(cs))
	return Averages{a.Precision / n, a.Recall / n, a.F1 / n}
}

// Weighted mirrors the script's precision_score/recall_score/f1_score(y_true, y_pred,
// average='weighted') (labels=None; an unpredicted class scores 0, as zero_division='warn').
func Weighted(yTrue, yPred []int, numClasses int) (Averages, error) {
	c, err := NewConfusion(yTrue, yPred, numClasses)
	if err != nil {
		return Averages{}, err
	}
	cs, err := c.PerClass(PresentLabels)
	if err != nil {
		return Averages{}, err
	}
	return cs.Weighted(), nil
}

// BalancedAccuracy mirrors sklearn.metrics.balanced_accuracy_score (adjusted=False): the mean
// recall over the classes that occur in y_true. warn reports sklearn's warning case "y_pred
// contains classes not in y_true" (such classes are left out of the mean, as sklearn does).
func (c *Confusion) BalancedAccuracy() (score float64, warn bool) {
	tc, pc := c.TrueCounts(), c.PredCounts()
	sum, n := 0.0, 0
	for i := 0; i < c.N; i++ {
		switch {
		case tc[i] > 0:
			sum += float64(c.M[i][i]) / float64(tc[i])
			n++
		case pc[i] > 0:
			warn = true
		}
	}
	return sum / float64(n), warn
}

// QuadraticKappa mirrors sklearn.metrics.cohen_kappa_score(y_true, y_pred, weights='quadratic')
// with labels=None (PresentLabels) or labels=range(N) (AllLabels). The weight of cell (i, j)
// is (i-j)² where i and j index the label set, so with PresentLabels a missing grade shrinks
// the distances (sklearn's behaviour); AllLabels uses the grades themselves. The result is NaN
// where sklearn 1.9.1 returns its replace_undefined_by default np.nan: when the expected
// disagreement is 0 (y_true and y_pred both hold one and the same single class, e.g. a single
// sample).
func (c *Confusion) QuadraticKappa(set LabelSet) (float64, error) {
	labels, err := c.Labels(set)
	if err != nil {
		return 0, err
	}
	k := len(labels)
	sum0 := make([]float64, k) // column sums (y_pred), numpy's sum(axis=0)
	sum1 := make([]float64, k) // row sums (y_true), sum(axis=1)
	total := 0.0
	for i, li := range labels {
		for j, lj := range labels {
			v := float64(c.M[li][lj])
			sum0[j] += v
			sum1[i] += v
			total += v
		}
	}
	if total == 0 {
		return math.NaN(), nil
	}
	num, den := 0.0, 0.0
	for i, li := range labels {
		for j, lj := range labels {
			w := float64((i - j) * (i - j))
			num += w * float64(c.M[li][lj])
			// expected = outer(sum0, sum1) / total, sklearn's orientation.
			den += w * (sum0[i] * sum1[j] / total)
		}
	}
	if den == 0 {
		return math.NaN(), nil
	}
	return 1 - num/den, nil
}

// QuadraticKappa mirrors cohen_kappa_score(y_true, y_pred, weights='quadratic') over a label set.
func QuadraticKappa(yTrue, yPred []int, numClasses int, set LabelSet) (float64, error) {
	c, err := NewConfusion(yTrue, yPred, numClasses)
	if err != nil {
		return 0, err
	}
	return c.QuadraticKappa(set)
}
