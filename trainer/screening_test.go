package trainer

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/trainer/metrics"
	"github.com/drgrade/drgrade/vision/dataset"
)

func TestReferableAUC(t *testing.T) {
	// 5 grades: P(referable) = p2+p3+p4 = 0.1, 0.8, 0.3, 0.9 for labels 0, 3, 1, 2 → AUC 1.
	five := [][]float32{{0.8, 0.1, 0.05, 0.05, 0}, {0.1, 0.1, 0.2, 0.3, 0.3}, {0.3, 0.4, 0.1, 0.1, 0.1}, {0, 0.1, 0.9, 0, 0}}
	// 6 classes (DDR): the Ungradable sample (label 5, highest p_5) is left out; its
	// probability counts for no grade, so the first sample's P(referable) is 0.1, not 0.9.
	six := [][]float32{{0.1, 0, 0.1, 0, 0, 0.8}, {0.1, 0, 0.5, 0, 0, 0.4}, {0.9, 0.1, 0, 0, 0, 0}, {0.2, 0, 0, 0, 0, 0.8}}
	tests := []struct {
		name   string
		probs  [][]float32
		labels []int
		n      int
		grade  int
		want   float64
	}{
		{"five grades", five, []int{0, 3, 1, 2}, 5, 2, 1},
		// p3+p4 = 0.05, 0.6, 0.2, 0: positives 0.6 (beats both negatives) and 0 (beats none)
		{"grade 3", five, []int{0, 3, 1, 4}, 5, 3, 0.5},
		// the Ungradable image (P(referable) 0) would be a positive below a negative
		{"ddr ungradable image left out", six, []int{0, 2, 0, 5}, 6, 2, 1},
		// counting p_5 would put the No DR image (0.9) above the Moderate one (0.5)
		{"ddr ungradable probability not counted", six, []int{0, 2, 1, 5}, 6, 2, 1},
		{"no referable image", five, []int{0, 1, 1, 0}, 5, 2, math.NaN()},
		{"only referable images", five, []int{2, 3, 4, 2}, 5, 2, math.NaN()},
		{"two classes", [][]float32{{0.9, 0.1}, {0.2, 0.8}}, []int{0, 1}, 2, 2, math.NaN()},
		{"no probabilities", nil, []int{0, 2}, 5, 2, math.NaN()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ReferableAUC(EvalResult{Probs: tc.probs, Labels: tc.labels}, tc.n, tc.grade)
			if !(got == tc.want || math.Abs(got-tc.want) < 1e-12 || (math.IsNaN(got) && math.IsNaN(tc.want))) {
				t.Errorf("ReferableAUC = %v, want %v", got, tc.want)
			}
		})
	}
	if UngradableClass(6) != 5 || UngradableClass(5) != metrics.NoUngradable {
		t.Errorf("UngradableClass(6) = %d, UngradableClass(5) = %d", UngradableClass(6), UngradableClass(5))
	}
}

func TestMergeProbRows(t *testing.T) {
	bits := func(v float32) int64 { return int64(math.Float32bits(v)) }
	tests := []struct {
		name string
		all  [][]int64
		want map[int][]float32
	}{
		{"none", [][]int64{{0}, {0}}, nil},
		{"two ranks", [][]int64{{2, 0, bits(0.25), bits(0.75), 2, bits(1), bits(0)}, {2, 1, bits(0.5), bits(0.5)}},
			map[int][]float32{0: {0.25, 0.75}, 2: {1, 0}, 1: {0.5, 0.5}}},
		// DistributedSampler pads the last shard with the first samples: counted once, rank 0's
		{"padding", [][]int64{{1, 0, bits(0.1), 1, bits(0.2)}, {1, 2, bits(0.3), 0, bits(0.9)}},
			map[int][]float32{0: {0.1}, 1: {0.2}, 2: {0.3}}},
		{"a rank without rows", [][]int64{{3, 4, bits(0.2), bits(0.3), bits(0.5)}, {0}, {}},
			map[int][]float32{4: {0.2, 0.3, 0.5}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mergeProbRows(tc.all)
			if len(got) != len(tc.want) || (got == nil) != (tc.want == nil) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, w := range tc.want {
				if g := got[k]; len(g) != len(w) || (len(w) > 0 && g[0] != w[0]) || g[len(g)-1] != w[len(w)-1] {
					t.Errorf("index %d: %v, want %v", k, g, w)
				}
			}
		})
	}
}

func TestEpochRecordJSON(t *testing.T) {
	r := EpochRecord{Epoch: 2, Kappa: math.NaN(), ReferableAUC: math.NaN(), ValAcc: 0.5}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"kappa":null`) || !strings.Contains(string(b), `"referable_auc":null`) {
		t.Errorf("JSON %s: want kappa and referable_auc null", b)
	}
	var back EpochRecord
	if err := json.Unmarshal(b, &back); err != nil || !math.IsNaN(back.Kappa) || !math.IsNaN(back.ReferableAUC) || back.ValAcc != 0.5 {
		t.Errorf("round trip: %+v (%v), want NaN kappa and referable AUC", back, err)
	}
	// metrics.json of a run from before referable_auc (a --resume): NaN, not 0 (which would
	// be a value --best_metric referable_auc could beat or lose to).
	if err := json.Unmarshal([]byte(`{"epoch":1,"kappa":0.25}`), &back); err != nil || back.Kappa != 0.25 || !math.IsNaN(back.ReferableAUC) {
		t.Errorf("old record: %+v (%v)", back, err)
	}
	r = EpochRecord{Epoch: 1, Kappa: 0.1, ReferableAUC: 0.75}
	if b, _ = json.Marshal(r); !strings.Contains(string(b), `"referable_auc":0.75`) {
		t.Errorf("JSON %s: want referable_auc 0.75", b)
	}
	if got, want := ExtraEpochLine(math.NaN(), 0.25, 0.5, 0.8125), "Kappa: nan, Macro-F1: 0.250, Balanced Acc: 0.500, Referable AUC: 0.812\n"; got != want {
		t.Errorf("ExtraEpochLine = %q, want %q", got, want)
	}
	if v := (EpochRecord{ReferableAUC: math.NaN()}).metric("referable_auc"); !math.IsInf(v, -1) {
		t.Errorf("an undefined referable_auc compares as %v, want -Inf (never best)", v)
	}
	if v := (EpochRecord{ReferableAUC: 0.9}).metric("referable_auc"); v != 0.9 {
		t.Errorf("metric(referable_auc) = %v, want 0.9", v)
	}
}

func writeThresholdsFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "thresholds.json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadThresholds(t *testing.T) {
	good := `{"split": "val", "num_classes": 5, "referable_grade": 2,
 "views": {"referable": [{"name": "youden", "threshold": 0.4}, {"name": "sens_0.90", "target_sensitivity": 0.9, "threshold": 0.2}],
           "any_dr": [{"name": "youden", "threshold": 0.5}]}}`
	tests := []struct {
		name, body string
		grade      int
		want       string // "" : no error
	}{
		{"good", good, 2, ""},
		{"grade differs", good, 3, `key "referable_grade": 2, but --referable_grade is 3`},
		{"syntax error line", "{\"split\": \"val\",\n \"num_classes\": 5\n \"views\": {}}", 2, "line 3: not valid JSON"},
		{"cut short", "{\"split\": \"val\",\n \"views\": {\n", 2, "line 3: not valid JSON: the file ends early"},
		{"empty", "", 2, "line 1: not valid JSON: the file ends early"},
		{"unknown key", `{"split": "val", "num_class": 5}`, 2, `unknown key "num_class"`},
		{"wrong type", `{"split": "val", "num_classes": "five"}`, 2, `key "num_classes": line 1: a string where a int belongs`},
		{"no split", `{"num_classes": 5, "referable_grade": 2, "views": {}}`, 2, `key "split": missing`},
		{"classes differ", `{"split": "val", "num_classes": 6, "referable_grade": 2}`, 2, `key "num_classes": 6, but --num_classes is 5`},
		{"no views", `{"split": "val", "num_classes": 5, "referable_grade": 2}`, 2, `key "views": no operating points`},
		{"bad view", `{"split": "val", "num_classes": 5, "referable_grade": 2, "views": {"referral": [{"name": "a", "threshold": 0.1}]}}`, 2,
			`key "views.referral": not a view`},
		{"no threshold", `{"split": "val", "num_classes": 5, "referable_grade": 2, "views": {"referable": [{"name": "a"}]}}`, 2,
			`key "views.referable[0].threshold": missing`},
		{"threshold above 1", `{"split": "val", "num_classes": 5, "referable_grade": 2, "views": {"any_dr": [{"name": "a", "threshold": 2}]}}`, 2,
			`key "views.any_dr[0].threshold": 2 is not a probability`},
		{"twice", `{"split": "val", "num_classes": 5, "referable_grade": 2, "views": {"any_dr": [{"name": "a", "threshold": 0.2}, {"name": "a", "threshold": 0.3}]}}`, 2,
			`key "views.any_dr[1].name": "a" appears twice`},
		{"empty view", `{"split": "val", "num_classes": 5, "referable_grade": 2, "views": {"any_dr": []}}`, 2, `key "views.any_dr": no operating points`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeThresholdsFile(t, tc.body)
			f, err := ReadThresholds(path, 5, tc.grade)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if f.Split != "val" || len(f.Views[metrics.ViewReferable]) != 2 || f.Views[metrics.ViewReferable][1].Threshold != 0.2 {
					t.Errorf("read %+v", f)
				}
				if _, err := f.Point(path, metrics.ViewReferable, "sens_0.95"); err == nil || !strings.Contains(err.Error(), "it has youden, sens_0.90") {
					t.Errorf("missing point: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("err = %v\nwant one naming %s and containing %q", err, path, tc.want)
			}
		})
	}
	if _, err := ReadThresholds(filepath.Join(t.TempDir(), "none.json"), 5, 2); err == nil || !strings.Contains(err.Error(), "--thresholds") {
		t.Errorf("missing file: %v", err)
	}
}

// fakeEval is an evaluation without a model: probabilities and labels as if scored.
func fakeEval(t *testing.T, split string, probs [][]float32, labels []int, cfg EvalConfig) *EvalOutput {
	t.Helper()
	cfg.Split, cfg.NumClasses, cfg.Model, cfg.DataPath = split, len(probs[0]), "resnet", "data/DDR"
	o := &EvalOutput{Config: cfg, Dataset: &dataset.Dataset{}}
	for i, p := range probs {
		best := 0
		for k := range p {
			if p[k] > p[best] {
				best = k
			}
		}
		o.Result.Probs = append(o.Result.Probs, p)
		o.Result.Labels = append(o.Result.Labels, labels[i])
		o.Result.Preds = append(o.Result.Preds, best)
		o.Result.Index = append(o.Result.Index, i)
		o.Dataset.Names = append(o.Dataset.Names, split+"_"+strconv.Itoa(i)+".jpg")
	}
	var err error
	if o.Applied, err = checkScreening(&o.Config); err != nil {
		t.Fatal(err)
	}
	if o.Report, err = metrics.Evaluate(o.Result.Labels, o.Result.Preds, o.Config.NumClasses); err != nil {
		t.Fatal(err)
	}
	if err := o.screen(); err != nil {
		t.Fatal(err)
	}
	return o
}

// randomProbs makes n softmax-like rows of 5 grades whose mass leans to the label.
func randomProbs(n int, seed uint64) ([][]float32, []int) {
	r := metrics.NewSplitMix64(seed)
	var probs [][]float32
	var labels []int
	for i := 0; i < n; i++ {
		y := r.IntN(5)
		p := make([]float32, 5)
		sum := float32(0)
		for k := range p {
			p[k] = float32(r.IntN(1000)+1) / 1000
			if k == y {
				p[k] += 0.3
			}
			sum += p[k]
		}
		for k := range p {
			p[k] /= sum
		}
		probs, labels = append(probs, p), append(labels, y)
	}
	return probs, labels
}

// TestThresholdsChosenOnValAppliedToTrain: eval on "val" writes thresholds.json; eval on
// "train" with it applies every threshold unchanged, and its counts are those the thresholds
// imply on train's P(referable) and P(any DR) (predictions.csv's p_referable and p_any_dr,
// counted here).
func TestThresholdsChosenOnValAppliedToTrain(t *testing.T) {
	vp, vl := randomProbs(80, 1)
	tp, tl := randomProbs(200, 2)
	val := fakeEval(t, "val", vp, vl, EvalConfig{Bootstrap: 50, Seed: 4})
	dir := t.TempDir()
	if err := WriteEvalFiles(filepath.Join(dir, "val"), val); err != nil {
		t.Fatal(err)
	}
	thr := filepath.Join(dir, "val", "thresholds.json")
	train := fakeEval(t, "train", tp, tl, EvalConfig{Thresholds: thr})
	if train.Screening.PointsChosenOn != "val" || train.Screening.ThresholdsFile != thr {
		t.Errorf("points chosen on %q from %q, want val from %s", train.Screening.PointsChosenOn, train.Screening.ThresholdsFile, thr)
	}
	if err := WriteEvalFiles(filepath.Join(dir, "train"), train); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "train", "predictions.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, v := range val.Screening.Views {
		tv := train.Screening.View(v.Name)
		if tv == nil || len(tv.Points) != 4 || len(v.Points) != 4 {
			t.Fatalf("view %s: val %d points, train %+v", v.Name, len(v.Points), tv)
		}
		for i, p := range v.Points {
			got := tv.Points[i]
			if got.Name != p.Name || got.Threshold != p.Threshold {
				t.Errorf("%s %s: threshold %v applied, %v chosen on val", v.Name, got.Name, got.Threshold, p.Threshold)
			}
			var tp, fp, tn, fn int
			for i, row := range rows[1:] {
				label, _ := strconv.Atoi(row[col["label"]])
				score := metrics.PositiveScore(train.Result.Probs[i], v.Grade, metrics.NoUngradable)
				if csvScore, _ := strconv.ParseFloat(row[col["p_"+v.Name]], 64); math.Abs(csvScore-score) > 1e-7 {
					t.Fatalf("predictions.csv row %d: p_%s %v, P = %v", i, v.Name, csvScore, score)
				}
				switch pos := label >= v.Grade; {
				case score >= p.Threshold && pos:
					tp++
				case score >= p.Threshold:
					fp++
				case pos:
					fn++
				default:
					tn++
				}
			}
			if got.TP != tp || got.FP != fp || got.TN != tn || got.FN != fn {
				t.Errorf("%s %s on train: TP/FP/TN/FN %d/%d/%d/%d, the threshold %v implies %d/%d/%d/%d",
					v.Name, got.Name, got.TP, got.FP, got.TN, got.FN, p.Threshold, tp, fp, tn, fn)
			}
		}
	}
	// The train eval's own thresholds.json keeps where they were chosen.
	back, err := ReadThresholds(filepath.Join(dir, "train", "thresholds.json"), 5, 2)
	if err != nil || back.Split != "val" || back.Source != thr {
		t.Errorf("train's thresholds.json: %+v (%v), want split val from %s", back, err, thr)
	}
	// metrics.json: the old keys and the new objects.
	var mj map[string]json.RawMessage
	b, err := os.ReadFile(filepath.Join(dir, "val", "metrics.json"))
	if err != nil || json.Unmarshal(b, &mj) != nil {
		t.Fatalf("metrics.json: %v", err)
	}
	for _, k := range []string{"metrics", "split", "screening", "calibration"} {
		if _, ok := mj[k]; !ok {
			t.Errorf("metrics.json lacks %q", k)
		}
	}
	var s struct {
		Views []struct {
			Name   string
			AUC    *float64                 `json:"roc_auc"`
			AUCCI  struct{ Lo, Hi float64 } `json:"roc_auc_ci"`
			Points []json.RawMessage        `json:"operating_points"`
		}
	}
	if err := json.Unmarshal(mj["screening"], &s); err != nil || len(s.Views) != 2 || s.Views[0].AUC == nil ||
		!(s.Views[0].AUCCI.Lo <= *s.Views[0].AUC && *s.Views[0].AUC <= s.Views[0].AUCCI.Hi) || len(s.Views[0].Points) != 4 {
		t.Errorf("metrics.json screening: %+v (%v)", s, err)
	}
	var out bytes.Buffer
	PrintScreening(&out, val.Screening, val.Calibration)
	for _, want := range []string{"referable DR (grade ≥ 2)", "any DR (grade ≥ 1)", "ROC AUC [95% CI]", "DELONG SE", "sens_0.90", "youden",
		"thresholds chosen on val", "ECE top-label", "50 stratified bootstrap resamples (seed 4)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the screening table lacks %q:\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), "\n"); n > 30 {
		t.Errorf("the screening table takes %d lines, more than a screen:\n%s", n, out.String())
	}
}
