package metrics

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestNewConfusionErrors(t *testing.T) {
	tests := []struct {
		name         string
		yTrue, yPred []int
		n            int
		want         string
	}{
		{"no classes", []int{0}, []int{0}, 0, "num_classes"},
		{"length mismatch", []int{0, 1}, []int{0}, 2, "2 samples"},
		{"empty", nil, nil, 3, "no samples"},
		{"true out of range", []int{0, 3}, []int{0, 1}, 3, "y_true[1] = 3"},
		{"pred negative", []int{0, 1}, []int{0, -1}, 3, "y_pred[1] = -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewConfusion(tc.yTrue, tc.yPred, tc.n)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if _, err := Evaluate(tc.yTrue, tc.yPred, tc.n); err == nil {
				t.Fatal("Evaluate accepted invalid input")
			}
		})
	}
}

// Hand-worked example: classes 0..3, class 3 absent from both, class 2 never predicted.
//
//	y_true 0 0 0 1 1 2
//	y_pred 0 0 1 1 0 1
//
// cm rows: [2 1 0 0] [1 1 0 0] [0 1 0 0] [0 0 0 0]
// class 0: P 2/3 R 2/3 F1 2/3; class 1: P 1/3 R 1/2 F1 2/5; class 2: 0 0 0 (support 1).
func TestHandWorked(t *testing.T) {
	yt := []int{0, 0, 0, 1, 1, 2}
	yp := []int{0, 0, 1, 1, 0, 1}
	c, err := NewConfusion(yt, yp, 4)
	if err != nil {
		t.Fatal(err)
	}
	wantCM := [][]int{{2, 1, 0, 0}, {1, 1, 0, 0}, {0, 1, 0, 0}, {0, 0, 0, 0}}
	if !reflect.DeepEqual(c.M, wantCM) {
		t.Fatalf("cm = %v, want %v", c.M, wantCM)
	}
	const eps = 1e-15 // a few ulp: the same few divisions as the hand formula
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > eps {
			t.Errorf("%s = %.17g, want %.17g", what, got, want)
		}
	}
	near("accuracy", c.Accuracy(), 3.0/6)
	present, _ := c.PerClass(PresentLabels)
	all, _ := c.PerClass(AllLabels)
	if len(present) != 3 || len(all) != 4 {
		t.Fatalf("present %d classes, all %d", len(present), len(all))
	}
	wantF1 := []float64{2.0 / 3, 2.0 / 5, 0}
	for i, f := range wantF1 {
		near("f1", present[i].F1, f)
	}
	near("weighted precision", present.Weighted().Precision, (3*(2.0/3)+2*(1.0/3))/6)
	near("macro recall (present)", present.Macro().Recall, (2.0/3+1.0/2)/3)
	near("macro recall (all)", all.Macro().Recall, (2.0/3+1.0/2)/4)
	ba, warn := c.BalancedAccuracy()
	near("balanced accuracy", ba, (2.0/3+1.0/2+0)/3)
	if warn {
		t.Error("balanced accuracy warned although every predicted class is in y_true")
	}
	// QWK over labels 0,1,2 (present) = 0,1,2 (all, class 3 has no mass): num = 1+1+1 = 3;
	// pred counts (3,3,0), true counts (3,2,1), N=6; den = Σ w_ij · pred_i · true_j / 6
	//   = (1·3·2 + 4·3·1 + 1·3·3 + 1·3·1) / 6 = 30/6 = 5 → kappa = 1 - 3/5.
	k, _ := c.QuadraticKappa(PresentLabels)
	near("qwk", k, 1-3.0/5)
}

func TestKappaUndefinedAndLabelSets(t *testing.T) {
	tests := []struct {
		name                 string
		yTrue, yPred         []int
		n                    int
		wantPresent, wantAll float64 // NaN = undefined
	}{
		{"single sample", []int{2}, []int{2}, 5, math.NaN(), math.NaN()},
		{"one class perfect", []int{1, 1, 1}, []int{1, 1, 1}, 5, math.NaN(), math.NaN()},
		{"one class each", []int{0, 0}, []int{1, 1}, 5, 0, 0},
		// labels {0,1,4}; cells (0,0), (1,4), (4,4); pred counts g0:1 g4:2, true counts 1 each.
		// present (index distances 0,1,2): num = 1; den = (1·1+4·1 + 4·2+1·2)/3 = 5.
		// all (grade distances): num = (1-4)² = 9; den = (1·1+16·1 + 16·2+9·2)/3 = 67/3.
		{"gapped", []int{0, 1, 4}, []int{0, 4, 4}, 5, 1 - 1.0/5, 1 - 27.0/67},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, x := range []struct {
				set  LabelSet
				want float64
			}{{PresentLabels, tc.wantPresent}, {AllLabels, tc.wantAll}} {
				got, err := QuadraticKappa(tc.yTrue, tc.yPred, tc.n, x.set)
				if err != nil {
					t.Fatal(err)
				}
				if math.IsNaN(x.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-x.want) > 1e-15) {
					t.Errorf("%v: kappa = %v, want %v", x.set, got, x.want)
				}
			}
		})
	}
}

func TestLabelSetUnknown(t *testing.T) {
	c, _ := NewConfusion([]int{0}, []int{0}, 2)
	if _, err := c.PerClass(LabelSet(7)); err == nil {
		t.Error("PerClass accepted an unknown label set")
	}
	if _, err := c.QuadraticKappa(LabelSet(7)); err == nil {
		t.Error("QuadraticKappa accepted an unknown label set")
	}
	if got := LabelSet(7).String(); got != "LabelSet(7)" {
		t.Errorf("String = %q", got)
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name         string
		yTrue, yPred []int
		nullQWK      bool
	}{
		{"defined kappa", []int{0, 1, 2, 3, 4, 2}, []int{0, 1, 1, 3, 4, 2}, false},
		{"undefined kappa", []int{3}, []int{3}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Evaluate(tc.yTrue, tc.yPred, 5)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(b), `"qwk":null`); got != tc.nullQWK {
				t.Errorf("qwk null = %v in %s", got, b)
			}
			for _, key := range []string{`"confusion_matrix"`, `"per_class"`, `"weighted"`, `"macro_all_labels"`, `"qwk_present_labels"`, `"balanced_accuracy_warning"`} {
				if !strings.Contains(string(b), key) {
					t.Errorf("JSON lacks %s: %s", key, b)
				}
			}
			var back Report
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if math.IsNaN(back.QWK) != tc.nullQWK || math.IsNaN(back.QWKPresentLabels) != tc.nullQWK {
				t.Errorf("round trip kappa %v/%v", back.QWK, back.QWKPresentLabels)
			}
			// NaN != NaN: compare the rest with the kappas blanked.
			r.QWK, r.QWKPresentLabels, back.QWK, back.QWKPresentLabels = 0, 0, 0, 0
			if !reflect.DeepEqual(r, back) {
				t.Errorf("round trip\n%+v\n%+v", back, r)
			}
		})
	}
}

func TestPyFixed3Special(t *testing.T) {
	tests := []struct {
		x    float64
		want string
	}{
		{math.NaN(), "nan"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.Copysign(0, -1), "-0.000"},
		{-0.0004, "-0.000"},
		{0.0625, "0.062"},       // exact tie → even
		{0.1875, "0.188"},       // exact tie → even
		{1234.5675, "1234.568"}, // binary value lies above the tie
		{1234.5625, "1234.562"}, // exact tie → even
	}
	for _, tc := range tests {
		if got := PyFixed3(tc.x); got != tc.want {
			t.Errorf("PyFixed3(%v) = %q, want %q", tc.x, got, tc.want)
		}
	}
}

func TestEpochLines(t *testing.T) {
	got := EpochLines(0, 1.23456, 0.5, 0.0625, Averages{0.81549, 1, math.NaN()})
	want := "[epoch 1] train_loss: 1.235  train_acc: 0.500  val_accuracy: 0.062\n" +
		"Precision: 0.815, Recall: 1.000, F1 Score: nan\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	n := 2505 // the DDR validation split's size
	yt, yp := make([]int, n), make([]int, n)
	for i := range yt {
		yt[i] = (i * 7) % 5
		yp[i] = (i * 11) % 5
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Evaluate(yt, yp, 6); err != nil {
			b.Fatal(err)
		}
	}
}
