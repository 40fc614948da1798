package metrics

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12 || (math.IsNaN(a) && math.IsNaN(b)) }

func bools(ys ...int) []bool {
	out := make([]bool, len(ys))
	for i, y := range ys {
		out[i] = y == 1
	}
	return out
}

// Hand-checkable AUC and AP (the first row is sklearn's docstring example: roc_auc_score 0.75,
// average_precision_score 0.8333).
func TestAUCAndAPByHand(t *testing.T) {
	tests := []struct {
		name    string
		scores  []float64
		y       []bool
		auc, ap float64
	}{
		{"sklearn docstring", []float64{0.1, 0.4, 0.35, 0.8}, bools(0, 0, 1, 1), 0.75, (1 + 2.0/3) / 2},
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, bools(0, 0, 1, 1), 1, 1},
		// recall 0.5 at precision 1/3, then 1 at 1/2
		{"reversed", []float64{0.9, 0.8, 0.2, 0.1}, bools(0, 0, 1, 1), 0, 0.5/3 + 0.5*0.5},
		// a tie between a positive and a negative counts one half; AP sees one threshold
		{"one tie", []float64{0.5, 0.5}, bools(0, 1), 0.5, 0.5},
		// 3 positives and 1 negative tied at 0.7, a positive above and a negative below: of the
		// 8 pairs, 0.9 wins 2, each tied positive wins 1 and ties 1 (1.5); AP: recall 1/4 at
		// precision 1, then 1 at 4/5
		{"tied block", []float64{0.9, 0.7, 0.7, 0.7, 0.7, 0.1}, bools(1, 1, 1, 1, 0, 0), (2 + 3*1.5) / 8, 1*0.25 + 0.8*0.75},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			auc, err := ROCAUC(tc.scores, tc.y)
			if err != nil || !near(auc, tc.auc) {
				t.Errorf("ROCAUC = %v, %v; want %v", auc, err, tc.auc)
			}
			ap, err := AveragePrecision(tc.scores, tc.y)
			if err != nil || !near(ap, tc.ap) {
				t.Errorf("AveragePrecision = %v, %v; want %v", ap, err, tc.ap)
			}
			d, err := DeLongAUC(tc.scores, tc.y)
			if err != nil || !near(d.AUC, tc.auc) {
				t.Errorf("DeLong AUC = %v, %v; want %v", d.AUC, err, tc.auc)
			}
		})
	}
}

func TestBinaryMetricErrors(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		y      []bool
		want   string
		one    bool
	}{
		{"only negatives", []float64{0.1, 0.2}, bools(0, 0), "0 positives, 2 negatives", true},
		{"only positives", []float64{0.1, 0.2, 0.3}, bools(1, 1, 1), "3 positives, 0 negatives", true},
		{"nan score", []float64{0.1, math.NaN()}, bools(0, 1), "score 1 is NaN", false},
		{"length", []float64{0.1}, bools(0, 1), "1 scores but 2 labels", false},
		{"empty", nil, nil, "no samples", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for what, f := range map[string]func() error{
				"ROCAUC":           func() error { _, err := ROCAUC(tc.scores, tc.y); return err },
				"AveragePrecision": func() error { _, err := AveragePrecision(tc.scores, tc.y); return err },
				"DeLongAUC":        func() error { _, err := DeLongAUC(tc.scores, tc.y); return err },
				"BootstrapCI":      func() error { _, err := BootstrapCI(tc.scores, tc.y, 10, 1); return err },
				"ChooseOperatingPoints": func() error {
					_, err := ChooseOperatingPoints(tc.scores, tc.y, SensitivityTargets)
					return err
				},
			} {
				err := f()
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: err = %v, want one containing %q", what, err, tc.want)
				}
				if errors.Is(err, ErrOneClass) != tc.one {
					t.Errorf("%s: errors.Is(err, ErrOneClass) = %v, want %v", what, !tc.one, tc.one)
				}
			}
		})
	}
}

// DeLong by hand: X = {0.8, 0.35}, Y = {0.1, 0.4}: ψ = [[1, 1], [1, 0]], V10 = V01 = (1, 0.5),
// sample variances 0.125, Var = 0.125/2 + 0.125/2.
func TestDeLongByHand(t *testing.T) {
	d, err := DeLongAUC([]float64{0.1, 0.4, 0.35, 0.8}, bools(0, 0, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !near(d.AUC, 0.75) || !near(d.SE, math.Sqrt(0.125)) {
		t.Errorf("DeLong AUC %v SE %v, want 0.75 and %v", d.AUC, d.SE, math.Sqrt(0.125))
	}
	if d.CI.Lo != math.Max(0, 0.75-z975*d.SE) || d.CI.Hi != 1 {
		t.Errorf("DeLong CI %+v, want [0.75 - 1.96 SE, 1 (clipped)]", d.CI)
	}
	// One positive: var(V10, ddof=1) is undefined, so is the SE (null in JSON).
	d, err = DeLongAUC([]float64{0.1, 0.4, 0.8}, bools(0, 0, 1))
	if err != nil || d.AUC != 1 || !math.IsNaN(d.SE) {
		t.Errorf("one positive: AUC %v SE %v err %v, want 1, NaN, nil", d.AUC, d.SE, err)
	}
	b, _ := json.Marshal(d)
	if !strings.Contains(string(b), `"se":null`) {
		t.Errorf("JSON %s: want se null", b)
	}
}

func TestNewBinaryViews(t *testing.T) {
	// DDR's six classes; class 5 (Ungradable) is left out and counts for neither side.
	probs := [][]float64{
		{0.5, 0.1, 0.1, 0.1, 0.1, 0.1}, // No DR
		{0.0, 0.1, 0.2, 0.3, 0.3, 0.1}, // Severe
		{0.1, 0.1, 0.1, 0.1, 0.1, 0.5}, // Ungradable: excluded
		{0.2, 0.6, 0.1, 0.0, 0.0, 0.1}, // Mild
	}
	labels := []int{0, 3, 5, 1}
	tests := []struct {
		name       string
		grade, ung int
		scores     []float64
		pos        []bool
		index      []int
		excluded   int
		err        string
	}{
		{"referable ddr", 2, 5, []float64{0.3, 0.8, 0.1}, bools(0, 1, 0), []int{0, 1, 3}, 1, ""},
		{"any dr ddr", 1, 5, []float64{0.4, 1.0 - 0.1 + 0.0, 0.7}, bools(0, 1, 1), []int{0, 1, 3}, 1, ""},
		{"no ungradable", 2, NoUngradable, []float64{0.4, 0.9, 0.8, 0.2}, bools(0, 1, 1, 0), []int{0, 1, 2, 3}, 0, ""},
		{"grade 0", 0, 5, nil, nil, nil, 0, "threshold grade 0"},
		{"grade is ungradable", 5, 5, nil, nil, nil, 0, "not the ungradable class 5"},
		{"grade beyond", 6, NoUngradable, nil, nil, nil, 0, "want 1..5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := NewBinary(probs, labels, tc.grade, tc.ung)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Scores) != len(tc.scores) || b.Excluded != tc.excluded {
				t.Fatalf("%d scores, %d excluded; want %d, %d", len(b.Scores), b.Excluded, len(tc.scores), tc.excluded)
			}
			for i := range b.Scores {
				if !near(b.Scores[i], tc.scores[i]) || b.Positive[i] != tc.pos[i] || b.Index[i] != tc.index[i] {
					t.Errorf("sample %d: score %v positive %v index %d; want %v %v %d", i, b.Scores[i], b.Positive[i], b.Index[i],
						tc.scores[i], tc.pos[i], tc.index[i])
				}
			}
		})
	}
	if _, err := NewBinary(probs, []int{0, 1, 2, 6}, 2, 5); err == nil || !strings.Contains(err.Error(), "label 6 of sample 3") {
		t.Errorf("label out of range: %v", err)
	}
}

// Operating points by hand. Scores 0.9 0.8 0.7 0.6 0.4 0.3 with classes + - + + - -: at each
// threshold (TP, FP) = (1,0) (1,1) (2,1) (3,1) (3,2) (3,3); Youden's J = 1/3 0 1/3 2/3 1/3 0,
// so 0.6 (TP 3, FP 1, TN 2, FN 0); every target ≤ 1 is first reached at 0.6 as well.
func TestOperatingPointsByHand(t *testing.T) {
	scores := []float64{0.9, 0.8, 0.7, 0.6, 0.4, 0.3}
	y := bools(1, 0, 1, 1, 0, 0)
	pts, err := ChooseOperatingPoints(scores, y, []float64{0.5, 0.9})
	if err != nil {
		t.Fatal(err)
	}
	want := []OperatingPoint{
		{Name: "youden", Threshold: 0.6, Sensitivity: 1, Specificity: 2.0 / 3, PPV: 0.75, NPV: 1, TP: 3, FP: 1, TN: 2},
		// sens ≥ 0.5: 0.7 is first (TP 2, FP 1); 0.6 has as few FP and one more TP
		{Name: "sens_0.50", TargetSensitivity: 0.5, Threshold: 0.6, Sensitivity: 1, Specificity: 2.0 / 3, PPV: 0.75, NPV: 1, TP: 3, FP: 1, TN: 2},
		{Name: "sens_0.90", TargetSensitivity: 0.9, Threshold: 0.6, Sensitivity: 1, Specificity: 2.0 / 3, PPV: 0.75, NPV: 1, TP: 3, FP: 1, TN: 2},
	}
	for i, w := range want {
		if g := pts[i]; g.Name != w.Name || g.Threshold != w.Threshold || g.TP != w.TP || g.FP != w.FP || g.TN != w.TN || g.FN != w.FN ||
			!near(g.Specificity, w.Specificity) || !near(g.PPV, w.PPV) || g.TargetSensitivity != w.TargetSensitivity {
			t.Errorf("point %d = %+v, want %+v", i, g, w)
		}
	}
	// Equal specificity: the higher sensitivity wins (0.8 over 0.9, both without false positives).
	pts, err = ChooseOperatingPoints([]float64{0.9, 0.8, 0.7, 0.3}, bools(1, 1, 0, 0), []float64{0.5})
	if err != nil || pts[1].Threshold != 0.8 || pts[1].TP != 2 || pts[1].FP != 0 {
		t.Errorf("tie on specificity: %+v (%v), want threshold 0.8 with TP 2, FP 0", pts[1], err)
	}
	// Applied where a class is missing: the undefined rates are NaN, null in JSON.
	p := AtThreshold([]float64{0.2, 0.7}, bools(0, 0), "youden", 0.5)
	if p.FP != 1 || p.TN != 1 || !math.IsNaN(p.Sensitivity) || !near(p.NPV, 1) || p.PPV != 0 {
		t.Errorf("no positives: %+v", p)
	}
	b, _ := json.Marshal(p)
	if want := `{"name":"youden","threshold":0.5,"sensitivity":null,"specificity":0.5,"ppv":0,"npv":1,"tp":0,"fp":1,"tn":1,"fn":0}`; string(b) != want {
		t.Errorf("JSON\n%s\nwant\n%s", b, want)
	}
}

func TestTargetName(t *testing.T) {
	for _, c := range []struct {
		t    float64
		want string
	}{{0.85, "sens_0.85"}, {0.9, "sens_0.90"}, {0.95, "sens_0.95"}, {0.875, "sens_0.875"}} {
		if got := TargetName(c.t); got != c.want {
			t.Errorf("TargetName(%v) = %q, want %q", c.t, got, c.want)
		}
	}
}

// SplitMix64's published first outputs for seed 0 (Vigna's splitmix64.c), and the
// stratified resamples: each keeps the set's numbers of positives and negatives, the same seed
// draws the same resamples, another seed others.
func TestStratifiedResamples(t *testing.T) {
	r := NewSplitMix64(0)
	for _, want := range []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f} {
		if got := r.Uint64(); got != want {
			t.Fatalf("SplitMix64(0) = %#x, want %#x", got, want)
		}
	}
	y := bools(1, 0, 0, 1, 0, 0, 0, 1, 0, 0)
	draw := func(seed uint64) [][]int {
		var out [][]int
		StratifiedResamples(y, 50, seed, func(b int, idx []int) {
			if b != len(out) {
				t.Fatalf("resample %d out of order", b)
			}
			out = append(out, append([]int(nil), idx...))
		})
		return out
	}
	a, b, c := draw(7), draw(7), draw(8)
	seen := map[int]bool{}
	for i := range a {
		pos := 0
		for j, k := range a[i] {
			seen[k] = true
			if y[k] {
				pos++
			}
			if b[i][j] != k {
				t.Fatalf("seed 7 drew differently twice")
			}
		}
		if pos != 3 || len(a[i]) != 10 {
			t.Fatalf("resample %d has %d positives of %d samples, want 3 of 10", i, pos, len(a[i]))
		}
	}
	if len(seen) != 10 {
		t.Errorf("50 resamples drew only %d of the 10 samples", len(seen))
	}
	same := true
	for i := range a {
		for j := range a[i] {
			same = same && a[i][j] == c[i][j]
		}
	}
	if same {
		t.Error("seeds 7 and 8 drew the same resamples")
	}
}

func TestPercentileByHand(t *testing.T) {
	v := []float64{4, 1, 3, 2} // sorted 1 2 3 4; index (n-1)·q
	for _, c := range []struct{ p, want float64 }{
		{0, 1}, {50, 2.5}, {2.5, 1.075}, {97.5, 3.925}, {100, 4}, {25, 1.75},
	} {
		if got := Percentile(v, c.p); !near(got, c.want) {
			t.Errorf("Percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if v[0] != 4 {
		t.Error("Percentile sorted its argument")
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("Percentile of nothing is not NaN")
	}
}

// ECE by hand: confidences 1.0 (right), 0.75 (right), 0.75 (wrong), 0.3 (wrong), 0 (wrong):
// bin (14/15, 1] holds 1.0 (|1 - 1| = 0); (11/15, 12/15] the two 0.75s (|0.75 - 0.5| · 2/5);
// (4/15, 5/15] 0.3 (|0.3 - 0| · 1/5); a confidence of 0 is in no bin (Guo et al.'s lo < c).
func TestECEByHand(t *testing.T) {
	e, err := ExpectedCalibrationError([]float64{1, 0.75, 0.75, 0.3, 0}, bools(1, 1, 0, 0, 0), 15)
	if err != nil {
		t.Fatal(err)
	}
	if want := 0.25*2/5 + 0.3/5; !near(e.ECE, want) {
		t.Errorf("ECE %v, want %v", e.ECE, want)
	}
	counts := 0
	for i, b := range e.Bins {
		counts += b.Count
		switch i {
		case 14, 11, 4:
		default:
			if b.Count != 0 || !math.IsNaN(b.Accuracy) || !math.IsNaN(b.Confidence) {
				t.Errorf("bin %d: %+v, want empty", i, b)
			}
		}
	}
	if b := e.Bins[11]; b.Count != 2 || b.Accuracy != 0.5 || b.Confidence != 0.75 || !near(b.Lower, 11.0/15) || !near(b.Upper, 12.0/15) {
		t.Errorf("bin 11: %+v", b)
	}
	if counts != 4 || e.Bins[14].Upper != 1 || e.Bins[0].Lower != 0 {
		t.Errorf("%d samples binned (want 4), edges %v..%v", counts, e.Bins[0].Lower, e.Bins[14].Upper)
	}
	for _, bad := range []struct {
		conf []float64
		ok   []bool
		bins int
		want string
	}{
		{nil, nil, 15, "no samples"}, {[]float64{1}, nil, 15, "1 confidences but 0"}, {[]float64{1}, bools(1), 0, "0 calibration bins"},
	} {
		if _, err := ExpectedCalibrationError(bad.conf, bad.ok, bad.bins); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("err = %v, want %q", err, bad.want)
		}
	}
}

// Brier scores by hand: multi-class ((0² + 0²) + (0.5² + 0.5²)) / 2; binary ((1-0.8)² + 0.3²) / 2.
func TestBrierByHand(t *testing.T) {
	c, err := Calibrate([][]float32{{1, 0}, {0.5, 0.5}}, []int{0, 1}, 15)
	if err != nil {
		t.Fatal(err)
	}
	if !near(c.Brier, 0.25) {
		t.Errorf("multi-class Brier %v, want 0.25", c.Brier)
	}
	// top label: 1.0 right, 0.5 (argmax class 0 on the tie) wrong
	if want := 0.5 / 2; !near(c.TopLabel.ECE, want) || len(c.PerClass) != 2 {
		t.Errorf("top-label ECE %v (want %v), %d classes", c.TopLabel.ECE, want, len(c.PerClass))
	}
	b, err := BinaryBrier([]float64{0.8, 0.3}, bools(1, 0))
	if err != nil || !near(b, (0.04+0.09)/2) {
		t.Errorf("binary Brier %v (%v), want 0.065", b, err)
	}
	if _, err := Calibrate([][]float64{{1, 0}}, []int{2}, 15); err == nil || !strings.Contains(err.Error(), "label 2 of sample 0") {
		t.Errorf("bad label: %v", err)
	}
}

func TestScreenViewsAndJSON(t *testing.T) {
	probs := [][]float64{{0.7, 0.2, 0.1}, {0.2, 0.5, 0.3}, {0.1, 0.2, 0.7}, {0.3, 0.4, 0.3}}
	labels := []int{0, 1, 2, 2}
	tests := []struct {
		name   string
		probs  [][]float64
		labels []int
		o      ScreenOptions
		views  []string
		err    string
	}{
		{"three classes", probs, labels, ScreenOptions{Ungradable: NoUngradable, Bootstrap: 20, Seed: 3}, []string{ViewReferable, ViewAnyDR}, ""},
		{"two classes: no referable view", [][]float64{{0.8, 0.2}, {0.3, 0.7}}, []int{0, 1}, ScreenOptions{Ungradable: NoUngradable}, []string{ViewAnyDR}, ""},
		{"referable grade 3 of 3 classes", probs, labels, ScreenOptions{ReferableGrade: 3, Ungradable: NoUngradable}, []string{ViewAnyDR}, ""},
		{"negative grade", probs, labels, ScreenOptions{ReferableGrade: -1}, nil, "referable grade -1"},
		{"negative bootstrap", probs, labels, ScreenOptions{Bootstrap: -5}, nil, "-5 bootstrap"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Screen(tc.probs, tc.labels, tc.o)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, v := range s.Views {
				names = append(names, v.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.views, ",") {
				t.Fatalf("views %v, want %v", names, tc.views)
			}
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{`"roc_auc":`, `"roc_auc_ci":{"lo":`, `"average_precision":`, `"roc_auc_delong":{"roc_auc":`, `"operating_points":[{"name":"youden"`, `"brier":`} {
				if !strings.Contains(string(b), key) {
					t.Errorf("JSON lacks %s:\n%s", key, b)
				}
			}
		})
	}
	// One class in a view: reported as undefined with nulls, not an error.
	s, err := Screen(probs, []int{0, 1, 1, 0}, ScreenOptions{Ungradable: NoUngradable, Bootstrap: 10})
	if err != nil {
		t.Fatal(err)
	}
	v := s.View(ViewReferable)
	if v == nil || v.Undefined == "" || !math.IsNaN(v.AUC) || v.Bootstrap != nil {
		t.Fatalf("referable without positives: %+v", v)
	}
	b, _ := json.Marshal(v)
	if !strings.Contains(string(b), `"roc_auc":null`) || !strings.Contains(string(b), `"operating_points":[]`) {
		t.Errorf("JSON of an undefined view: %s", b)
	}
}
