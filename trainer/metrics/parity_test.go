package metrics

import (
	"math"
	"testing"

	"github.com/drgrade/drgrade/internal/pyoracle"
)

// tolMetric bounds |Go − sklearn|: both compute the same ratios of small integer counts in
// float64; only the summation order of the averages differs (numpy's pairwise sums), a few ulp
// on values in [-1, 1]. 1e-9 is the brief's bound; measured max is reported by the test log.
const tolMetric = 1e-9

type goldenAverages struct {
	Precision, Recall, F1 float64
}

type goldenPRFS struct {
	Labels    []int
	Precision []float64
	Recall    []float64
	F1        []float64
	Support   []int
	Macro     goldenAverages
	Weighted  goldenAverages
}

type goldenCase struct {
	Name                    string
	NumClasses              int     `json:"num_classes"`
	YTrue                   []int   `json:"y_true"`
	YPred                   []int   `json:"y_pred"`
	ConfusionMatrix         [][]int `json:"confusion_matrix"`
	Accuracy                float64
	ScriptWeighted          goldenAverages `json:"script_weighted"`
	Present                 goldenPRFS
	All                     goldenPRFS
	BalancedAccuracy        float64  `json:"balanced_accuracy"`
	BalancedAccuracyWarning bool     `json:"balanced_accuracy_warning"`
	QWKPresent              *float64 `json:"qwk_present"`
	QWKAll                  *float64 `json:"qwk_all"`
	Epoch                   int
	TrainLoss               float64 `json:"train_loss"`
	TrainAcc                float64 `json:"train_acc"`
	DDRLines                string  `json:"ddr_lines"`
}

// maxDiff tracks the largest deviation seen, for the log.
type maxDiff struct{ v float64 }

func (m *maxDiff) check(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	d := math.Abs(got - want)
	if d > m.v {
		m.v = d
	}
	if !(d <= tol) {
		t.Errorf("%s = %.17g, sklearn %.17g (|diff| %.3g > %g)", what, got, want, d, tol)
	}
}

func (m *maxDiff) avg(t *testing.T, what string, got Averages, want goldenAverages) {
	t.Helper()
	m.check(t, what+".precision", got.Precision, want.Precision, tolMetric)
	m.check(t, what+".recall", got.Recall, want.Recall, tolMetric)
	m.check(t, what+".f1", got.F1, want.F1, tolMetric)
}

func (m *maxDiff) kappa(t *testing.T, what string, got float64, want *float64) {
	t.Helper()
	if want == nil {
		if !math.IsNaN(got) {
			t.Errorf("%s = %v, sklearn nan (undefined)", what, got)
		}
		return
	}
	m.check(t, what, got, *want, tolMetric)
}

func (m *maxDiff) prfs(t *testing.T, c *Confusion, set LabelSet, want goldenPRFS) {
	t.Helper()
	cs, err := c.PerClass(set)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != len(want.Labels) {
		t.Fatalf("%v: %d classes, sklearn %d (%v)", set, len(cs), len(want.Labels), want.Labels)
	}
	for i, s := range cs {
		if s.Label != want.Labels[i] || s.Support != want.Support[i] {
			t.Errorf("%v class %d: label/support %d/%d, sklearn %d/%d", set, i, s.Label, s.Support, want.Labels[i], want.Support[i])
		}
		m.check(t, set.String()+" precision", s.Precision, want.Precision[i], tolMetric)
		m.check(t, set.String()+" recall", s.Recall, want.Recall[i], tolMetric)
		m.check(t, set.String()+" f1", s.F1, want.F1[i], tolMetric)
	}
	m.avg(t, set.String()+" macro", cs.Macro(), want.Macro)
	m.avg(t, set.String()+" weighted", cs.Weighted(), want.Weighted)
}

func TestParityMetrics(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/metrics", "testdata/metrics_gen.py")
	var cases []goldenCase
	pyoracle.ReadJSON(t, dir, "cases.json", &cases)
	if len(cases) < 30 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	var m maxDiff
	for _, g := range cases {
		t.Run(g.Name, func(t *testing.T) {
			c, err := NewConfusion(g.YTrue, g.YPred, g.NumClasses)
			if err != nil {
				t.Fatal(err)
			}
			for i := range g.ConfusionMatrix {
				for j := range g.ConfusionMatrix[i] {
					if c.M[i][j] != g.ConfusionMatrix[i][j] {
						t.Fatalf("confusion matrix %v, sklearn %v", c.M, g.ConfusionMatrix)
					}
				}
			}
			m.check(t, "accuracy", c.Accuracy(), g.Accuracy, tolMetric)
			m.prfs(t, c, PresentLabels, g.Present)
			m.prfs(t, c, AllLabels, g.All)
			w, err := Weighted(g.YTrue, g.YPred, g.NumClasses)
			if err != nil {
				t.Fatal(err)
			}
			m.avg(t, "script weighted", w, g.ScriptWeighted)
			ba, warn := c.BalancedAccuracy()
			m.check(t, "balanced accuracy", ba, g.BalancedAccuracy, tolMetric)
			if warn != g.BalancedAccuracyWarning {
				t.Errorf("balanced accuracy warning %v, sklearn %v", warn, g.BalancedAccuracyWarning)
			}
			r, err := c.Report()
			if err != nil {
				t.Fatal(err)
			}
			m.kappa(t, "qwk (labels=range(n))", r.QWK, g.QWKAll)
			m.kappa(t, "qwk (labels=None)", r.QWKPresentLabels, g.QWKPresent)
			m.avg(t, "report weighted", r.Weighted, g.ScriptWeighted)
			m.avg(t, "report macro", r.Macro, g.Present.Macro)
			m.avg(t, "report macro all", r.MacroAllLabels, g.All.Macro)
			// Byte-exact: the lines the script writes to DDR.txt.
			if got := EpochLines(g.Epoch, g.TrainLoss, g.TrainAcc, r.Accuracy, r.Weighted); got != g.DDRLines {
				t.Errorf("DDR lines\n%q\nscript\n%q", got, g.DDRLines)
			}
		})
	}
	t.Logf("%d cases, max |Go - sklearn| = %.3g", len(cases), m.v)
}

func TestParityPyFixed3(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/metrics", "testdata/metrics_gen.py")
	var vals []struct {
		X float64
		S string
	}
	pyoracle.ReadJSON(t, dir, "format.json", &vals)
	if len(vals) < 100 {
		t.Fatalf("only %d format cases", len(vals))
	}
	for _, v := range vals {
		// Exact: the same correctly rounded decimal conversion.
		if got := PyFixed3(v.X); got != v.S {
			t.Errorf("PyFixed3(%.17g) = %q, Python '%%.3f' %q", v.X, got, v.S)
		}
	}
}
