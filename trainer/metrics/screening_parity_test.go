package metrics

import (
	"math"
	"strconv"
	"testing"

	"github.com/drgrade/drgrade/internal/pyoracle"
)

// Bounds of |Go − reference| for the screening goldens (testdata/screening_gen.py).
const (
	// tolAUC bounds ROC AUC, AP, Brier, the bootstrap intervals and the curves: Go repeats the
	// float64 formulas of sklearn, scipy's trapezoid and NumPy (np.sum's pairwise order,
	// np.percentile's _lerp) operation for operation, on the same integer counts, so they come
	// out bit-identical (measured max 0, logged); 1e-9 is the bound.
	tolAUC = 1e-9
	// tolDeLong bounds DeLong's AUC and SE: Go's fast midrank algorithm against the O(m·n)
	// structural components of the reference, different sums of the same terms (measured
	// max ~1e-16, logged).
	tolDeLong = 1e-12
	// tolCalib bounds ECE, bin statistics and the multi-class Brier: the same NumPy operations
	// in the same order (measured max 0, logged).
	tolCalib = 1e-12
)

type goldenPoint struct {
	Name              string
	TargetSensitivity *float64 `json:"target_sensitivity"`
	Threshold         float64
	Sensitivity       *float64
	Specificity       *float64
	PPV               *float64
	NPV               *float64
	TP, FP, TN, FN    int
}

type goldenView struct {
	Name       string
	Grade      int
	Excluded   int
	Positives  int
	Negatives  int
	Brier      float64
	SklearnAUC *float64 `json:"sklearn_auc"`
	AUC        *float64
	AP         *float64
	ROC        *struct {
		FPR, TPR   []float64
		Thresholds []*float64
	}
	PR *struct {
		Precision, Recall, Thresholds []float64
	}
	DeLongAUC float64  `json:"delong_auc"`
	DeLongSE  *float64 `json:"delong_se"`
	Points    []goldenPoint
	Bootstrap *struct {
		N             int
		Seed          uint64
		FirstResample []int      `json:"first_resample"`
		AUCCI         [2]float64 `json:"auc_ci"`
		APCI          [2]float64 `json:"ap_ci"`
		AUC, AP       []float64
		ROCBand       *struct{ Lo, Hi []float64 } `json:"roc_band"`
		PRBand        *struct{ Lo, Hi []float64 } `json:"pr_band"`
	}
}

type goldenBin struct {
	Lower, Upper         float64
	Count                int
	Accuracy, Confidence *float64
}

type goldenECE struct {
	ECE  float64
	Bins []goldenBin
}

type goldenScreenCase struct {
	Name           string
	NumClasses     int `json:"num_classes"`
	Ungradable     int
	ReferableGrade int `json:"referable_grade"`
	Probs          [][]float64
	Labels         []int
	Views          []goldenView
	Calibration    struct {
		TopLabel     goldenECE   `json:"top_label"`
		PerClass     []goldenECE `json:"per_class"`
		ClasswiseECE float64     `json:"classwise_ece"`
		Brier        float64
	}
}

// maxDiffs tracks the largest deviation per kind, for the log.
type maxDiffs map[string]float64

func (m maxDiffs) check(t *testing.T, kind, what string, got, want, tol float64) {
	t.Helper()
	d := math.Abs(got - want)
	if math.IsNaN(got) || math.IsNaN(want) {
		d = math.Inf(1)
		if math.IsNaN(got) && math.IsNaN(want) {
			d = 0
		}
	}
	if d > m[kind] {
		m[kind] = d
	}
	if !(d <= tol) {
		t.Errorf("%s = %.17g, reference %.17g (|diff| %.3g > %g)", what, got, want, d, tol)
	}
}

func (m maxDiffs) nullable(t *testing.T, kind, what string, got float64, want *float64, tol float64) {
	t.Helper()
	w := math.NaN()
	if want != nil {
		w = *want
	}
	m.check(t, kind, what, got, w, tol)
}

func (m maxDiffs) slice(t *testing.T, kind, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, reference %d", what, len(got), len(want))
		return
	}
	for i := range got {
		m.check(t, kind, what, got[i], want[i], tol)
	}
}

func (m maxDiffs) point(t *testing.T, what string, got OperatingPoint, want goldenPoint) {
	t.Helper()
	if got.Name != want.Name || got.TP != want.TP || got.FP != want.FP || got.TN != want.TN || got.FN != want.FN {
		t.Errorf("%s: %s TP/FP/TN/FN %d/%d/%d/%d, reference %s %d/%d/%d/%d", what, got.Name, got.TP, got.FP, got.TN, got.FN,
			want.Name, want.TP, want.FP, want.TN, want.FN)
	}
	m.check(t, "auc", what+" threshold", got.Threshold, want.Threshold, 0)
	wt := 0.0
	if want.TargetSensitivity != nil {
		wt = *want.TargetSensitivity
	}
	m.check(t, "auc", what+" target", got.TargetSensitivity, wt, 0)
	m.nullable(t, "auc", what+" sensitivity", got.Sensitivity, want.Sensitivity, tolAUC)
	m.nullable(t, "auc", what+" specificity", got.Specificity, want.Specificity, tolAUC)
	m.nullable(t, "auc", what+" ppv", got.PPV, want.PPV, tolAUC)
	m.nullable(t, "auc", what+" npv", got.NPV, want.NPV, tolAUC)
}

func (m maxDiffs) ece(t *testing.T, what string, got ECE, want goldenECE, edges bool) {
	t.Helper()
	m.check(t, "calib", what+" ECE", got.ECE, want.ECE, tolCalib)
	if len(got.Bins) != len(want.Bins) {
		t.Fatalf("%s: %d bins, reference %d", what, len(got.Bins), len(want.Bins))
	}
	for i, b := range got.Bins {
		w := want.Bins[i]
		if b.Count != w.Count {
			t.Errorf("%s bin %d: %d samples, reference %d", what, i, b.Count, w.Count)
		}
		if edges {
			m.check(t, "calib", what+" bin lower", b.Lower, w.Lower, 0)
			m.check(t, "calib", what+" bin upper", b.Upper, w.Upper, 0)
		}
		m.nullable(t, "calib", what+" bin accuracy", b.Accuracy, w.Accuracy, tolCalib)
		m.nullable(t, "calib", what+" bin confidence", b.Confidence, w.Confidence, tolCalib)
	}
}

// TestParityScreening runs screening_gen.py once (live under DRGRADE_PARITY=1, about 25 s) and
// compares every part against it.
func TestParityScreening(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/screening", "testdata/screening_gen.py")
	t.Run("views", func(t *testing.T) { screeningViews(t, dir) })
	t.Run("thresholds_applied", func(t *testing.T) { screeningThresholdsApplied(t, dir) })
	t.Run("percentile", func(t *testing.T) { screeningPercentile(t, dir) })
	t.Run("np_sum", func(t *testing.T) { screeningNumpySum(t, dir) })
}

// screeningViews: both views of every case (AUC, AP, curves, DeLong, operating points,
// bootstrap) and its calibration.
func screeningViews(t *testing.T, dir string) {
	var cases []goldenScreenCase
	pyoracle.ReadJSON(t, dir, "cases.json", &cases)
	if len(cases) < 15 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	m := maxDiffs{}
	for _, g := range cases {
		t.Run(g.Name, func(t *testing.T) {
			seed := uint64(0)
			boot := 0
			for _, v := range g.Views {
				if v.Bootstrap != nil {
					seed, boot = v.Bootstrap.Seed, v.Bootstrap.N
				}
			}
			s, err := Screen(g.Probs, g.Labels, ScreenOptions{ReferableGrade: g.ReferableGrade, Ungradable: g.Ungradable,
				Bootstrap: boot, Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Views) != len(g.Views) {
				t.Fatalf("%d views, reference %d", len(s.Views), len(g.Views))
			}
			for i, w := range g.Views {
				checkView(t, m, &s.Views[i], w)
				if s.Excluded != w.Excluded {
					t.Errorf("%d excluded, reference %d", s.Excluded, w.Excluded)
				}
			}
			c, err := Calibrate(g.Probs, g.Labels, CalibrationBins)
			if err != nil {
				t.Fatal(err)
			}
			m.ece(t, "top-label", c.TopLabel, g.Calibration.TopLabel, true)
			if len(c.PerClass) != g.NumClasses {
				t.Fatalf("%d per-class ECEs for %d classes", len(c.PerClass), g.NumClasses)
			}
			for k := range c.PerClass {
				m.ece(t, "class "+strconv.Itoa(k), c.PerClass[k], g.Calibration.PerClass[k], false)
			}
			m.check(t, "calib", "classwise ECE", c.ClasswiseECE, g.Calibration.ClasswiseECE, tolCalib)
			m.check(t, "calib", "multi-class Brier", c.Brier, g.Calibration.Brier, tolCalib)
		})
	}
	t.Logf("%d cases, max |Go - sklearn/NumPy|: AUC/AP/Brier/CI/curves %.3g, DeLong %.3g, calibration %.3g",
		len(cases), m["auc"], m["delong"], m["calib"])
}

func checkView(t *testing.T, m maxDiffs, v *ScreenView, w goldenView) {
	t.Helper()
	name := v.Name
	if v.Name != w.Name || v.Grade != w.Grade || v.Positives != w.Positives || v.Negatives != w.Negatives {
		t.Fatalf("view %s grade %d %d+/%d-, reference %s grade %d %d+/%d-", v.Name, v.Grade, v.Positives, v.Negatives,
			w.Name, w.Grade, w.Positives, w.Negatives)
	}
	m.check(t, "auc", name+" brier", v.Brier, w.Brier, tolAUC)
	if w.AUC == nil { // one class: sklearn's roc_auc_score is nan, ours is undefined
		if w.SklearnAUC != nil || v.Undefined == "" || !math.IsNaN(v.AUC) || !math.IsNaN(v.AP) || len(v.Points) != 0 {
			t.Errorf("%s: one class (sklearn AUC %v): want undefined, got %q AUC %v AP %v %d points", name, w.SklearnAUC, v.Undefined, v.AUC, v.AP, len(v.Points))
		}
		if _, err := ROCAUC(v.Data.Scores, v.Data.Positive); err == nil {
			t.Errorf("%s: ROCAUC of one class: no error", name)
		}
		return
	}
	m.check(t, "auc", name+" roc_auc", v.AUC, *w.AUC, tolAUC)
	m.check(t, "auc", name+" average_precision", v.AP, *w.AP, tolAUC)
	if w.ROC != nil {
		m.slice(t, "auc", name+" roc fpr", v.ROC.FPR, w.ROC.FPR, tolAUC)
		m.slice(t, "auc", name+" roc tpr", v.ROC.TPR, w.ROC.TPR, tolAUC)
		thr := make([]float64, len(w.ROC.Thresholds))
		for i, p := range w.ROC.Thresholds {
			thr[i] = math.Inf(1)
			if p != nil {
				thr[i] = *p
			}
		}
		if !math.IsInf(v.ROC.Thresholds[0], 1) {
			t.Errorf("%s: first ROC threshold %v, want +Inf", name, v.ROC.Thresholds[0])
		}
		m.slice(t, "auc", name+" roc thresholds", v.ROC.Thresholds[1:], thr[1:], 0)
		m.slice(t, "auc", name+" pr precision", v.PR.Precision, w.PR.Precision, tolAUC)
		m.slice(t, "auc", name+" pr recall", v.PR.Recall, w.PR.Recall, tolAUC)
		m.slice(t, "auc", name+" pr thresholds", v.PR.Thresholds, w.PR.Thresholds, 0)
	}
	m.check(t, "delong", name+" DeLong AUC", v.DeLong.AUC, w.DeLongAUC, tolDeLong)
	m.nullable(t, "delong", name+" DeLong SE", v.DeLong.SE, w.DeLongSE, tolDeLong)
	if len(v.Points) != len(w.Points) {
		t.Fatalf("%s: %d operating points, reference %d", name, len(v.Points), len(w.Points))
	}
	for i := range v.Points {
		m.point(t, name+" "+w.Points[i].Name, v.Points[i], w.Points[i])
	}
	b := w.Bootstrap
	if v.Bootstrap == nil || b == nil {
		t.Fatalf("%s: bootstrap %v, reference %v", name, v.Bootstrap, b)
	}
	first := true
	StratifiedResamples(v.Data.Positive, 1, b.Seed, func(_ int, idx []int) {
		for i := range idx {
			if idx[i] != b.FirstResample[i] {
				if first {
					t.Errorf("%s: first resample differs at %d: %d, reference %d", name, i, idx[i], b.FirstResample[i])
				}
				first = false
			}
		}
	})
	if b.AUC != nil {
		m.slice(t, "auc", name+" bootstrap AUCs", v.Bootstrap.AUC, b.AUC, tolAUC)
		m.slice(t, "auc", name+" bootstrap APs", v.Bootstrap.AP, b.AP, tolAUC)
		m.slice(t, "auc", name+" ROC band lo", v.Bootstrap.ROCBand.Lo, b.ROCBand.Lo, tolAUC)
		m.slice(t, "auc", name+" ROC band hi", v.Bootstrap.ROCBand.Hi, b.ROCBand.Hi, tolAUC)
		m.slice(t, "auc", name+" PR band lo", v.Bootstrap.PRBand.Lo, b.PRBand.Lo, tolAUC)
		m.slice(t, "auc", name+" PR band hi", v.Bootstrap.PRBand.Hi, b.PRBand.Hi, tolAUC)
	}
	m.check(t, "auc", name+" AUC CI lo", v.AUCCI.Lo, b.AUCCI[0], tolAUC)
	m.check(t, "auc", name+" AUC CI hi", v.AUCCI.Hi, b.AUCCI[1], tolAUC)
	m.check(t, "auc", name+" AP CI lo", v.APCI.Lo, b.APCI[0], tolAUC)
	m.check(t, "auc", name+" AP CI hi", v.APCI.Hi, b.APCI[1], tolAUC)
}

// screeningThresholdsApplied: thresholds chosen on one set ("val") and applied unchanged to
// another ("train") give the counts NumPy counts for them there.
func screeningThresholdsApplied(t *testing.T, dir string) {
	var g struct {
		Val, Train goldenScreenCase
		Applied    []struct {
			Name   string
			Points []goldenPoint
		}
	}
	pyoracle.ReadJSON(t, dir, "apply.json", &g)
	val, err := Screen(g.Val.Probs, g.Val.Labels, ScreenOptions{Ungradable: NoUngradable})
	if err != nil {
		t.Fatal(err)
	}
	train, err := Screen(g.Train.Probs, g.Train.Labels, ScreenOptions{Ungradable: NoUngradable, Apply: val.Thresholds()})
	if err != nil {
		t.Fatal(err)
	}
	m := maxDiffs{}
	for i, w := range g.Applied {
		v := train.View(w.Name)
		if v == nil || len(v.Points) != len(w.Points) {
			t.Fatalf("view %s: %v, reference %d points", w.Name, v, len(w.Points))
		}
		for j := range w.Points {
			m.point(t, "train "+w.Name, v.Points[j], w.Points[j])
			if v.Points[j].Threshold != val.Views[i].Points[j].Threshold {
				t.Errorf("%s %s: threshold %v applied, chosen %v", w.Name, v.Points[j].Name, v.Points[j].Threshold, val.Views[i].Points[j].Threshold)
			}
		}
	}
	t.Logf("max |Go - NumPy| %.3g", m["auc"])
}

func screeningPercentile(t *testing.T, dir string) {
	var cases []struct {
		Values []float64
		Q      []float64
		P      []float64
	}
	pyoracle.ReadJSON(t, dir, "percentile.json", &cases)
	m := maxDiffs{}
	for _, c := range cases {
		for i, q := range c.Q {
			// Exact: the same sort and _lerp.
			m.check(t, "p", "percentile", Percentile(c.Values, q), c.P[i], 0)
		}
	}
	t.Logf("%d arrays, max |Go - np.percentile| %.3g", len(cases), m["p"])
}

// formulaArray is screening_gen.py's formula(n), the same float operations.
func formulaArray(n int) []float64 {
	a := make([]float64, n)
	for i := range a {
		a[i] = float64((i*7919)%1000-500) / 997.0 / math.Pow10(i%11)
	}
	return a
}

func screeningNumpySum(t *testing.T, dir string) {
	var cases []struct {
		N   int
		Sum float64
	}
	pyoracle.ReadJSON(t, dir, "sums.json", &cases)
	for _, c := range cases {
		// Exact: np.sum's pairwise order, chunk by chunk.
		if got := npSum(formulaArray(c.N)); got != c.Sum {
			t.Errorf("npSum of %d values = %.17g, np.sum %.17g", c.N, got, c.Sum)
		}
	}
}
