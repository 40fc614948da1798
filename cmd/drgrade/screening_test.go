package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// screeningJSON is what the tests read of metrics.json's (and eval --json's) "screening".
type screeningJSON struct {
	ReferableGrade int    `json:"referable_grade"`
	Bootstrap      int    `json:"bootstrap_resamples"`
	ChosenOn       string `json:"points_chosen_on"`
	ThresholdsFile string `json:"thresholds_file"`
	Views          []struct {
		Name      string
		Grade     int
		Positives int
		Negatives int
		AUC       *float64                  `json:"roc_auc"`
		AUCCI     struct{ Lo, Hi *float64 } `json:"roc_auc_ci"`
		DeLong    struct{ SE *float64 }     `json:"roc_auc_delong"`
		AP        *float64                  `json:"average_precision"`
		Points    []struct {
			Name           string
			Threshold      float64
			TP, FP, TN, FN int
		} `json:"operating_points"`
	}
}

// TestScreeningThroughBinary: drgrade train --best_metric referable_auc logs the referable-DR
// AUC each epoch and keeps the best epoch's checkpoint, whose `drgrade eval` gives the same
// AUC; eval's screening table, metrics.json and thresholds.json; the thresholds chosen on val
// applied to train give the counts they imply there; predict's P(referable) and refer column;
// and the bad flags and thresholds files, each an exit 2 naming the culprit.
func TestScreeningThroughBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the drgrade binary")
	}
	work := t.TempDir()
	bin := buildDrgrade(t, work)
	data := filepath.Join(work, "data")
	out := filepath.Join(work, "out")
	runOK(t, bin, work, "synth", "--out", data, "--n", "60", "--size", "64", "--proportions", "uniform")
	code, stdout, stderr := runDrgrade(t, bin, work, trainArgs(data, out, "--epochs", "3", "--best_metric", "referable_auc", "--lr", "0.002")...)
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
	}
	wdir := filepath.Join(out, "weights", "shufflenet_small")
	ddr, err := os.ReadFile(filepath.Join(wdir, "DDR.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(ddr), ", Referable AUC: "); n != 3 {
		t.Errorf("DDR.txt has %d Referable AUC fields, want one per epoch:\n%s", n, ddr)
	}
	if rows := readCSV(t, filepath.Join(wdir, "metrics.csv")); rows[0][len(rows[0])-1] != "referable_auc" || len(rows) != 4 {
		t.Errorf("metrics.csv: header %v, %d rows", rows[0], len(rows))
	}
	var hist []struct {
		Epoch        int
		ReferableAUC *float64 `json:"referable_auc"`
	}
	readJSON(t, filepath.Join(wdir, "metrics.json"), &hist)
	best := math.Inf(-1)
	for _, h := range hist {
		if h.ReferableAUC == nil {
			t.Fatalf("epoch %d: referable_auc null on a val split with both classes", h.Epoch)
		}
		best = math.Max(best, *h.ReferableAUC)
	}
	if !strings.Contains(stdout, "saved the best model so far (referable_auc ") {
		t.Errorf("train did not select by referable_auc:\n%s", stdout)
	}

	common := []string{"--model", "shufflenet_small", "--img_size", "64", "--threads", "1", "--num_workers", "1", "--batch_size", "8"}
	weights := filepath.Join(wdir, "DDR.pth")
	eval := func(args ...string) (int, string, string) {
		return runDrgrade(t, bin, work, append(append([]string{"eval", "--weights", weights, "--data_path", data}, common...), args...)...)
	}

	// eval on val: the table, metrics.json, thresholds.json; the AUC of DDR.pth is the best
	// epoch's referable_auc (the same probabilities).
	valOut := filepath.Join(work, "eval_val")
	code, stdout, stderr = eval("--out", valOut, "--bootstrap", "200", "--seed", "3")
	if code != 0 {
		t.Fatalf("eval: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"Screening: referable DR = grade ≥ 2", "ROC AUC [95% CI]", "DELONG SE", "referable DR (grade ≥ 2)",
		"any DR (grade ≥ 1)", "sens_0.95", "thresholds chosen on val", "200 stratified bootstrap resamples (seed 3)", "ECE top-label"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("eval's table lacks %q:\n%s", want, stdout)
		}
	}
	var m struct {
		Split       string
		Metrics     map[string]any
		Screening   screeningJSON
		Calibration struct {
			Bins     int
			TopLabel struct {
				ECE  *float64
				Bins []struct{ Count int }
			} `json:"top_label"`
			PerClass []any `json:"per_class"`
			Brier    *float64
		}
	}
	readJSON(t, filepath.Join(valOut, "metrics.json"), &m)
	s := m.Screening
	if m.Metrics["accuracy"] == nil || len(s.Views) != 2 || s.Views[0].Name != "referable" || s.Views[1].Name != "any_dr" || s.Bootstrap != 200 {
		t.Fatalf("metrics.json: %+v", m)
	}
	ref := s.Views[0]
	if ref.AUC == nil || *ref.AUC != best {
		t.Errorf("eval's referable AUC of DDR.pth %v, the best epoch's referable_auc %v", ref.AUC, best)
	}
	if ref.AUCCI.Lo == nil || !(*ref.AUCCI.Lo <= *ref.AUC && *ref.AUC <= *ref.AUCCI.Hi) || ref.DeLong.SE == nil || len(ref.Points) != 4 {
		t.Errorf("referable view: %+v", ref)
	}
	if m.Calibration.Bins != 15 || len(m.Calibration.TopLabel.Bins) != 15 || len(m.Calibration.PerClass) != 5 || m.Calibration.Brier == nil {
		t.Errorf("metrics.json calibration: %+v", m.Calibration)
	}
	thr := filepath.Join(valOut, "thresholds.json")
	var tf struct {
		Split          string
		ReferableGrade int `json:"referable_grade"`
		Views          map[string][]struct{ Name string }
	}
	readJSON(t, thr, &tf)
	if tf.Split != "val" || tf.ReferableGrade != 2 || len(tf.Views["referable"]) != 4 || len(tf.Views["any_dr"]) != 4 {
		t.Errorf("thresholds.json: %+v", tf)
	}

	// The thresholds chosen on val, applied to train: the same thresholds, and the counts
	// they imply on train's P(referable) and P(any DR), summed here from the JSON softmax.
	code, stdout, stderr = eval("--split", "train", "--thresholds", thr, "--bootstrap", "0", "--json")
	if code != 0 {
		t.Fatalf("eval --split train --thresholds: exit %d\n%s", code, stderr)
	}
	var tj struct {
		Screening   screeningJSON
		Predictions []struct {
			Label         int
			Probabilities []float32
		}
	}
	if err := json.Unmarshal([]byte(stdout), &tj); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, stdout)
	}
	if tj.Screening.ChosenOn != "val" || tj.Screening.ThresholdsFile != thr || tj.Screening.Views[0].AUCCI.Lo != nil {
		t.Errorf("train screening: chosen on %q from %q, CI %v (want val, %s, none with --bootstrap 0)",
			tj.Screening.ChosenOn, tj.Screening.ThresholdsFile, tj.Screening.Views[0].AUCCI.Lo, thr)
	}
	for vi, v := range tj.Screening.Views {
		for pi, p := range v.Points {
			if chosen := s.Views[vi].Points[pi]; p.Name != chosen.Name || p.Threshold != chosen.Threshold {
				t.Errorf("%s %s: threshold %v on train, %s %v chosen on val", v.Name, p.Name, p.Threshold, chosen.Name, chosen.Threshold)
			}
			var tp, fp, tn, fn int
			for _, pr := range tj.Predictions {
				score := 0.0
				for k := v.Grade; k < len(pr.Probabilities); k++ {
					score += float64(pr.Probabilities[k])
				}
				switch pos := pr.Label >= v.Grade; {
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
			if p.TP != tp || p.FP != fp || p.TN != tn || p.FN != fn || tp+fp+tn+fn != len(tj.Predictions) {
				t.Errorf("%s %s on train: TP/FP/TN/FN %d/%d/%d/%d, threshold %v implies %d/%d/%d/%d", v.Name, p.Name,
					p.TP, p.FP, p.TN, p.FN, p.Threshold, tp, fp, tn, fn)
			}
		}
	}

	// predict: P(referable) and P(any DR) per image; with --thresholds, refer = P(referable) ≥
	// the operating point's threshold.
	img := filepath.Join(data, "val", strings.Fields(string(must(os.ReadFile(filepath.Join(data, "val.txt")))))[0])
	predict := func(args ...string) (int, string, string) {
		return runDrgrade(t, bin, work, append(append([]string{"predict", "--weights", weights}, common...), args...)...)
	}
	code, stdout, stderr = predict("--thresholds", thr, "--operating_point", "youden", "--json", img)
	if code != 0 {
		t.Fatalf("predict --thresholds: exit %d\n%s", code, stderr)
	}
	var pj struct {
		Predictions []struct {
			PReferable *float64 `json:"p_referable"`
			PAnyDR     *float64 `json:"p_any_dr"`
			Refer      *bool
		}
		Referral struct {
			ChosenOn       string `json:"chosen_on"`
			OperatingPoint struct {
				Name      string
				Threshold float64
			} `json:"operating_point"`
		}
	}
	if err := json.Unmarshal([]byte(stdout), &pj); err != nil || len(pj.Predictions) != 1 {
		t.Fatalf("predict --json: %v\n%s", err, stdout)
	}
	p := pj.Predictions[0]
	youden := s.Views[0].Points[0]
	if p.PReferable == nil || p.PAnyDR == nil || p.Refer == nil || *p.Refer != (*p.PReferable >= youden.Threshold) ||
		pj.Referral.OperatingPoint.Name != "youden" || pj.Referral.OperatingPoint.Threshold != youden.Threshold || pj.Referral.ChosenOn != "val" {
		t.Errorf("predict: %+v, referral %+v; youden threshold %v", p, pj.Referral, youden.Threshold)
	}
	code, stdout, _ = predict("--thresholds", thr, img)
	if code != 0 || !strings.Contains(stdout, "REFER") || !strings.Contains(stdout, "P REFERABLE") || !strings.Contains(stdout, "the sens_0.90 point chosen on val") {
		t.Errorf("predict table: exit %d\n%s", code, stdout)
	}

	// Bad input: exit 2, the flag or the file and its key named, nothing scored.
	bad := func(name, body string) string {
		p := filepath.Join(work, name)
		writeFile(t, p, []byte(body))
		return p
	}
	grade3 := bad("grade3.json", strings.Replace(string(must(os.ReadFile(thr))), `"referable_grade": 2`, `"referable_grade": 3`, 1))
	broken := bad("broken.json", "{\n  \"split\": \"val\",\n  \"views\": {\n")
	noThr := bad("nothr.json", `{"split": "val", "num_classes": 5, "referable_grade": 2, "views": {"referable": [{"name": "youden"}]}}`)
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"eval thresholds of another grade", []string{"eval", "--split", "train", "--thresholds", grade3}, []string{grade3, `key "referable_grade"`}},
		{"eval thresholds not JSON", []string{"eval", "--thresholds", broken}, []string{broken, "line 4"}},
		{"eval thresholds without a threshold", []string{"eval", "--thresholds", noThr}, []string{noThr, `key "views.referable[0].threshold": missing`}},
		{"eval missing thresholds file", []string{"eval", "--thresholds", "none.json"}, []string{"--thresholds none.json"}},
		{"eval referable grade too high", []string{"eval", "--referable_grade", "5"}, []string{"--referable_grade 5"}},
		{"eval negative bootstrap", []string{"eval", "--bootstrap", "-1"}, []string{"--bootstrap"}},
		{"predict point not in file", []string{"predict", "--thresholds", thr, "--operating_point", "sens_0.99", img}, []string{thr, "sens_0.99", "--operating_point"}},
		{"predict operating point without file", []string{"predict", "--operating_point", "youden", img}, []string{"--operating_point needs --thresholds"}},
		{"train referable grade", trainArgs(data, filepath.Join(work, "out2"), "--referable_grade", "0"), []string{"--referable_grade must be at least 1"}},
	} {
		args := c.args
		if args[0] != "train" {
			args = append(append([]string{args[0], "--weights", weights}, common...), args[1:]...)
			if args[0] == "eval" {
				args = append(args, "--data_path", data)
			}
		}
		code, stdout, stderr := runDrgrade(t, bin, work, args...)
		if code != 2 || leaks.MatchString(stdout+stderr) || strings.Contains(stdout, "Screening:") {
			t.Errorf("%s: exit %d (want 2)\nstdout: %s\nstderr: %s", c.name, code, stdout, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr should name %q:\n%s", c.name, w, stderr)
			}
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
