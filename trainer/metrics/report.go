package metrics

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Report bundles every validation metric of one evaluation. Weighted is what the script logs;
// the rest is what drgrade adds so minority-class failures show (semantics.md, "Known bugs").
// In JSON an undefined (NaN) kappa is null.
type Report struct {
	NumClasses      int     `json:"num_classes"`
	Samples         int     `json:"samples"`
	ConfusionMatrix [][]int `json:"confusion_matrix"`
	Accuracy        float64 `json:"accuracy"`
	// PerClass covers every class 0..N-1 (labels=range(N)); absent classes score 0.
	PerClass Classes `json:"per_class"`
	// Weighted is precision/recall/f1_score(average='weighted'), the script's numbers.
	Weighted Averages `json:"weighted"`
	// Macro is average='macro' with labels=None: classes absent from y_true ∪ y_pred are
	// not counted.
	Macro Averages `json:"macro"`
	// MacroAllLabels is average='macro' with labels=range(N): absent classes count as 0.
	MacroAllLabels Averages `json:"macro_all_labels"`
	// BalancedAccuracy is balanced_accuracy_score; BalancedAccuracyWarning is its
	// "y_pred contains classes not in y_true" case.
	BalancedAccuracy        float64 `json:"balanced_accuracy"`
	BalancedAccuracyWarning bool    `json:"balanced_accuracy_warning"`
	// QWK is cohen_kappa_score(weights='quadratic', labels=range(N)): distances between the
	// grades themselves, comparable across epochs. NaN when undefined.
	QWK float64 `json:"-"`
	// QWKPresentLabels is the same with labels=None (sklearn's default call). NaN when undefined.
	QWKPresentLabels float64 `json:"-"`
}

// reportJSON carries the kappas as nullable numbers (encoding/json rejects NaN).
type reportJSON struct {
	reportFields
	QWK              *float64 `json:"qwk"`
	QWKPresentLabels *float64 `json:"qwk_present_labels"`
}

type reportFields Report

func nullable(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

func fromNullable(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// MarshalJSON writes the report with an undefined kappa as null.
func (r Report) MarshalJSON() ([]byte, error) {
	return json.Marshal(reportJSON{reportFields(r), nullable(r.QWK), nullable(r.QWKPresentLabels)})
}

// UnmarshalJSON reads a report written by MarshalJSON (null kappa → NaN).
func (r *Report) UnmarshalJSON(b []byte) error {
	var j reportJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Report(j.reportFields)
	r.QWK = fromNullable(j.QWK)
	r.QWKPresentLabels = fromNullable(j.QWKPresentLabels)
	return nil
}

// Evaluate computes a Report for one set of validation labels and predictions.
func Evaluate(yTrue, yPred []int, numClasses int) (Report, error) {
	c, err := NewConfusion(yTrue, yPred, numClasses)
	if err != nil {
		return Report{}, err
	}
	return c.Report()
}

// Report computes every metric of the Report from the confusion matrix.
func (c *Confusion) Report() (Report, error) {
	all, err := c.PerClass(AllLabels)
	if err != nil {
		return Report{}, err
	}
	present, err := c.PerClass(PresentLabels)
	if err != nil {
		return Report{}, err
	}
	qwk, err := c.QuadraticKappa(AllLabels)
	if err != nil {
		return Report{}, err
	}
	qwkPresent, err := c.QuadraticKappa(PresentLabels)
	if err != nil {
		return Report{}, err
	}
	cm := make([][]int, c.N)
	for i := range cm {
		cm[i] = append([]int(nil), c.M[i]...)
	}
	ba, warn := c.BalancedAccuracy()
	return Report{
		NumClasses:              c.N,
		Samples:                 c.Total(),
		ConfusionMatrix:         cm,
		Accuracy:                c.Accuracy(),
		PerClass:                all,
		Weighted:                present.Weighted(),
		Macro:                   present.Macro(),
		MacroAllLabels:          all.Macro(),
		BalancedAccuracy:        ba,
		BalancedAccuracyWarning: warn,
		QWK:                     qwk,
		QWKPresentLabels:        qwkPresent,
	}, nil
}

// PyFixed3 formats x as Python's '%.3f' % x (and f'{x:.3f}'): correctly rounded, ties to
// even on the exact binary value, which Go's strconv also does; only the spellings of the
// non-finite values differ from Go's ("nan", "inf", "-inf").
func PyFixed3(x float64) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	}
	return strconv.FormatFloat(x, 'f', 3, 64)
}

// EpochLines returns the two lines the script prints and appends to DDR.txt after an epoch,
// each ending in "\n":
//
//	[epoch %d] train_loss: %.3f  train_acc: %.3f  val_accuracy: %.3f
//	Precision: %.3f, Recall: %.3f, F1 Score: %.3f
//
// epoch is the 0-based loop index; the line shows epoch+1, as the script does. w is the
// weighted average (Report.Weighted).
func EpochLines(epoch int, trainLoss, trainAcc, valAcc float64, w Averages) string {
	return fmt.Sprintf("[epoch %d] train_loss: %s  train_acc: %s  val_accuracy: %s\nPrecision: %s, Recall: %s, F1 Score: %s\n",
		epoch+1, PyFixed3(trainLoss), PyFixed3(trainAcc), PyFixed3(valAcc),
		PyFixed3(w.Precision), PyFixed3(w.Recall), PyFixed3(w.F1))
}
