package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// calibrationCheckpoint is a trained shufflenet_small (the trainer's eval parity checkpoint,
// PyTorch's {'model': ...} file): on synth images it is right more often than chance and not
// always, so a temperature can be fitted (a freshly trained two-epoch model is uniform).
const calibrationCheckpoint = "../../trainer/testdata/eval_ckpt/torch_checkpoint.pth"

type predictJSON struct {
	Temperature float64
	Predictions []struct {
		Image         string
		Grade         int
		Probabilities []float64
	}
}

func TestCalibrateCommandList(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "  calibrate ") {
		t.Errorf("drgrade --help: exit %d, no calibrate in\n%s", code, stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"calibrate", "--help"}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "Usage: drgrade calibrate") {
		t.Errorf("drgrade calibrate --help: exit %d\n%s", code, stdout.String())
	}
	for _, cmd := range []string{"eval", "predict"} {
		stdout.Reset()
		if run([]string{cmd, "--help"}, &stdout, &stderr); !strings.Contains(stdout.String(), "-temperature") {
			t.Errorf("drgrade %s --help has no --temperature", cmd)
		}
	}
}

// TestCalibrateThenPredict runs the binary: calibrate writes <weights>.calibration.json;
// predict and eval then apply its temperature (saying so): the grades stay, the probabilities
// become softmax(logits/T), checked against predict's own uncalibrated probabilities
// (softmax(log p / T) = softmax(z / T)); --temperature none and a number override it; eval
// --calibrate fits the same T; a calibration file whose checkpoint was replaced is refused by
// name, and failed runs leave it as it was.
func TestCalibrateThenPredict(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the drgrade binary")
	}
	work := t.TempDir()
	bin := buildDrgrade(t, work)
	data := filepath.Join(work, "data")
	runOK(t, bin, work, "synth", "--out", data, "--n", "200", "--size", "128", "--seed", "7", "--proportions", "uniform")
	ck := filepath.Join(work, "ck.pth")
	b, err := os.ReadFile(calibrationCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, ck, b)
	calFile := ck + ".calibration.json"
	common := []string{"--model", "shufflenet_small", "--img_size", "64", "--threads", "1", "--num_workers", "1"}
	val := filepath.Join(data, "val")
	predict := func(extra ...string) (predictJSON, string) {
		t.Helper()
		code, stdout, stderr := runDrgrade(t, bin, work, append(append([]string{"predict", "--weights", ck, "--json", val}, common...), extra...)...)
		if code != 0 {
			t.Fatalf("predict %v: exit %d\n%s", extra, code, stderr)
		}
		var p predictJSON
		if err := json.Unmarshal([]byte(stdout), &p); err != nil {
			t.Fatalf("predict --json: %v\n%s", err, stdout)
		}
		if len(p.Predictions) != 40 {
			t.Fatalf("predict: %d predictions, want 40", len(p.Predictions))
		}
		return p, stderr
	}
	raw, stderr := predict()
	if raw.Temperature != 0 || strings.Contains(stderr, "temperature") {
		t.Fatalf("predict before calibrating: temperature %v, stderr:\n%s", raw.Temperature, stderr)
	}

	// calibrate --json: the file's contents on stdout, the file beside the checkpoint.
	code, stdout, stderr := runDrgrade(t, bin, work, append([]string{"calibrate", "--weights", ck, "--data_path", data, "--json"}, common...)...)
	if code != 0 {
		t.Fatalf("calibrate: exit %d\n%s", code, stderr)
	}
	var cal, saved struct {
		Temperature   float64
		NLLBefore     float64 `json:"nll_before"`
		NLLAfter      float64 `json:"nll_after"`
		ECEBefore     float64 `json:"ece_before"`
		ECEAfter      float64 `json:"ece_after"`
		Samples       int
		Split         string
		WeightsSHA256 string `json:"weights_sha256"`
	}
	if err := json.Unmarshal([]byte(stdout), &cal); err != nil {
		t.Fatalf("calibrate --json: %v\n%s", err, stdout)
	}
	readJSON(t, calFile, &saved)
	if saved != cal || cal.Samples != 40 || cal.Split != "val" || len(cal.WeightsSHA256) != 64 || !(cal.Temperature > 0) || math.Abs(cal.Temperature-1) < 0.01 {
		t.Fatalf("calibrate: stdout %+v, file %+v", cal, saved)
	}
	if !strings.Contains(stderr, "wrote "+calFile) {
		t.Errorf("calibrate does not say where it wrote:\n%s", stderr)
	}
	if !(cal.NLLAfter <= cal.NLLBefore) {
		t.Errorf("NLL after %v > before %v", cal.NLLAfter, cal.NLLBefore)
	}
	T := cal.Temperature

	// predict now uses T: same grades, probabilities softmax(z/T).
	got, stderr := predict()
	if got.Temperature != T || !strings.Contains(stderr, "using temperature") || !strings.Contains(stderr, calFile) {
		t.Errorf("predict after calibrating: temperature %v (want %v), stderr:\n%s", got.Temperature, T, stderr)
	}
	checkTempered(t, "calibration file", raw, got, T)
	if p, _ := predict("--temperature", "none"); p.Temperature != 0 {
		t.Errorf("--temperature none: temperature %v", p.Temperature)
	} else {
		checkTempered(t, "--temperature none", raw, p, 1)
	}
	p2, stderr := predict("--temperature", "2.5")
	if !strings.Contains(stderr, "using temperature 2.5 (--temperature)") {
		t.Errorf("--temperature 2.5: stderr\n%s", stderr)
	}
	checkTempered(t, "--temperature 2.5", raw, p2, 2.5)
	if p, _ := predict("--tta", "hflip"); p.Temperature != T {
		t.Errorf("--tta hflip: temperature %v, want %v", p.Temperature, T)
	}

	// eval applies it too (and says so); eval --calibrate fits the very same T.
	code, stdout, stderr = runDrgrade(t, bin, work, append([]string{"eval", "--weights", ck, "--data_path", data, "--json"}, common...)...)
	var ej struct{ Temperature float64 }
	if code != 0 || json.Unmarshal([]byte(stdout), &ej) != nil || ej.Temperature != T || !strings.Contains(stderr, "using temperature") {
		t.Errorf("eval with the calibration file: exit %d, temperature %v (want %v)\n%s", code, ej.Temperature, T, stderr)
	}
	code, stdout, stderr = runDrgrade(t, bin, work, append([]string{"eval", "--weights", ck, "--data_path", data, "--calibrate"}, common...)...)
	if code != 0 {
		t.Fatalf("eval --calibrate: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"quadratic weighted kappa", "temperature ", "NLL  before", "ECE  before", "grades unchanged"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("eval --calibrate output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout+stderr, "using temperature") {
		t.Errorf("eval --calibrate scored with a temperature:\n%s", stdout+stderr)
	}
	var again struct{ Temperature float64 }
	readJSON(t, calFile, &again)
	if again.Temperature != T {
		t.Errorf("eval --calibrate fitted T %v, calibrate %v", again.Temperature, T)
	}

	// Refusals: exit 2, the reason named, the calibration file untouched.
	before, err := os.ReadFile(calFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"calibrate --tta", []string{"calibrate", "--weights", ck, "--data_path", data, "--tta", "hflip"}, "--tta"},
		{"eval --calibrate --tta", []string{"eval", "--weights", ck, "--data_path", data, "--calibrate", "--tta", "hflip"}, "--tta"},
		{"eval --calibrate --temperature", []string{"eval", "--weights", ck, "--data_path", data, "--calibrate", "--temperature", "2"}, "--temperature"},
		{"calibrate missing split", []string{"calibrate", "--weights", ck, "--data_path", data, "--split", "test"}, "test"},
		{"calibrate missing weights", []string{"calibrate", "--weights", ck + ".nope", "--data_path", data}, ck + ".nope"},
		{"predict bad temperature", []string{"predict", "--weights", ck, "--temperature", "-1", val}, "--temperature"},
		{"eval bad temperature", []string{"eval", "--weights", ck, "--data_path", data, "--temperature", "hot"}, "--temperature"},
	} {
		code, stdout, stderr := runDrgrade(t, bin, work, append(c.args, common...)...)
		if code != 2 || !strings.Contains(stderr, c.want) || leaks.MatchString(stdout+stderr) {
			t.Errorf("%s: exit %d (want 2), stderr should name %q:\n%s", c.name, code, c.want, stderr)
		}
	}
	if after, err := os.ReadFile(calFile); err != nil || !bytes.Equal(after, before) {
		t.Errorf("a refused run changed %s (%v)", calFile, err)
	}

	// The checkpoint is replaced (retrained): its calibration file is stale and refused.
	out := filepath.Join(work, "out")
	runOK(t, bin, work, trainArgs(data, out)...)
	retrained, err := os.ReadFile(filepath.Join(out, "weights", "shufflenet_small", "DDR.pth"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, ck, retrained)
	for _, args := range [][]string{{"predict", "--weights", ck, val}, {"eval", "--weights", ck, "--data_path", data}} {
		code, stdout, stderr := runDrgrade(t, bin, work, append(args, common...)...)
		if code != 2 || !strings.Contains(stderr, "stale") || !strings.Contains(stderr, calFile) || !strings.Contains(stderr, "--temperature none") || leaks.MatchString(stdout+stderr) {
			t.Errorf("%s with a stale calibration file: exit %d (want 2)\n%s", args[0], code, stderr)
		}
	}
	if p, _ := predict("--temperature", "none"); p.Temperature != 0 {
		t.Errorf("stale file, --temperature none: temperature %v", p.Temperature)
	}
	if after, err := os.ReadFile(calFile); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the stale %s was changed (%v)", calFile, err)
	}
}

// checkTempered: got has raw's grades, and probabilities softmax(log(raw)/T) (= softmax(z/T),
// z the logits) within float32 rounding.
func checkTempered(t *testing.T, what string, raw, got predictJSON, T float64) {
	t.Helper()
	changed, maxDiff := 0.0, 0.0
	for i, r := range raw.Predictions {
		g := got.Predictions[i]
		if g.Image != r.Image || g.Grade != r.Grade {
			t.Fatalf("%s: %s grade %d, uncalibrated %s grade %d", what, g.Image, g.Grade, r.Image, r.Grade)
		}
		want := make([]float64, len(r.Probabilities))
		sum := 0.0
		for c, p := range r.Probabilities {
			want[c] = math.Exp(math.Log(p) / T)
			sum += want[c]
		}
		for c := range want {
			want[c] /= sum
			maxDiff = math.Max(maxDiff, math.Abs(g.Probabilities[c]-want[c]))
			changed = math.Max(changed, math.Abs(g.Probabilities[c]-r.Probabilities[c]))
		}
	}
	if maxDiff > 1e-5 {
		t.Errorf("%s: probabilities differ from softmax(z/%v) by up to %.3g", what, T, maxDiff)
	}
	if T != 1 && changed < 1e-3 {
		t.Errorf("%s: the temperature %v changed no probability (max change %.3g)", what, T, changed)
	}
	if T == 1 && changed != 0 {
		t.Errorf("%s: probabilities changed by %.3g without a temperature", what, changed)
	}
}
