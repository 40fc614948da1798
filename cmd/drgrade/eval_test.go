package main

import (
	"encoding/csv"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/testutil"
)

// TestEvalAndPredict runs `drgrade train`, then `drgrade eval` and `drgrade predict` on its
// checkpoints, through the real binary: the files eval writes, its JSON, that eval agrees with
// the trainer's last validation, predict's directory walk, TTA and unreadable files, and the
// usage errors of both commands.
func TestEvalAndPredict(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the drgrade binary")
	}
	work := t.TempDir()
	bin := buildDrgrade(t, work)
	data := filepath.Join(work, "data")
	out := filepath.Join(work, "out")
	runOK(t, bin, work, "synth", "--out", data, "--n", "60", "--size", "64", "--proportions", "uniform")
	runOK(t, bin, work, trainArgs(data, out, "--epochs", "2")...)
	wdir := filepath.Join(out, "weights", "shufflenet_small")
	for _, f := range []string{"curves.png", "confusion_matrix.png"} { // the trainer's plots
		checkPNG(t, filepath.Join(wdir, f))
	}
	ddr, last := filepath.Join(wdir, "DDR.pth"), filepath.Join(wdir, "last.pth")
	common := []string{"--model", "shufflenet_small", "--img_size", "64", "--threads", "1", "--num_workers", "1"}

	// eval on last.pth must reproduce the trainer's last validation accuracy.
	var hist []struct {
		ValAcc float64 `json:"val_accuracy"`
		Kappa  *float64
	}
	readJSON(t, filepath.Join(wdir, "metrics.json"), &hist)
	evalOut := filepath.Join(work, "eval")
	code, stdout, stderr := runDrgrade(t, bin, work, append([]string{"eval", "--weights", last, "--data_path", data,
		"--json", "--out", evalOut}, common...)...)
	if code != 0 {
		t.Fatalf("eval: exit %d\n%s", code, stderr)
	}
	var js struct {
		Metrics struct {
			Accuracy        float64 `json:"accuracy"`
			ConfusionMatrix [][]int `json:"confusion_matrix"`
			Samples         int     `json:"samples"`
		}
		Predictions []struct {
			Image         string
			Label         int
			Prediction    int
			Probabilities []float64
		}
	}
	if err := json.Unmarshal([]byte(stdout), &js); err != nil {
		t.Fatalf("eval --json: stdout is not JSON (%v):\n%s", err, stdout)
	}
	if got, want := js.Metrics.Accuracy, hist[len(hist)-1].ValAcc; got != want {
		t.Errorf("eval accuracy %v, the trainer's last val_accuracy %v", got, want)
	}
	if len(js.Predictions) != js.Metrics.Samples || js.Metrics.Samples == 0 {
		t.Errorf("%d predictions for %d samples", len(js.Predictions), js.Metrics.Samples)
	}
	for _, p := range js.Predictions {
		sum, best := 0.0, 0
		for c, v := range p.Probabilities {
			sum += v
			if v > p.Probabilities[best] {
				best = c
			}
		}
		if len(p.Probabilities) != 5 || sum < 0.999 || sum > 1.001 || best != p.Prediction {
			t.Fatalf("%s: probabilities %v (sum %v) and prediction %d disagree", p.Image, p.Probabilities, sum, p.Prediction)
		}
	}
	checkPNG(t, filepath.Join(evalOut, "confusion_matrix.png"))
	rows := readCSV(t, filepath.Join(evalOut, "predictions.csv"))
	if len(rows) != len(js.Predictions)+1 || strings.Join(rows[0][:3], ",") != "image,label,prediction" || len(rows[0]) != 12 ||
		strings.Join(rows[0][10:], ",") != "p_referable,p_any_dr" {
		t.Errorf("predictions.csv: %d rows, header %v", len(rows), rows[0])
	}
	if pc := readCSV(t, filepath.Join(evalOut, "per_class.csv")); len(pc) != 1+5+2 || pc[1][1] != "No DR" {
		t.Errorf("per_class.csv: %v", pc)
	}
	var saved struct{ Split string }
	readJSON(t, filepath.Join(evalOut, "metrics.json"), &saved)
	if saved.Split != "val" {
		t.Errorf("metrics.json split %q", saved.Split)
	}

	for _, f := range []string{"roc.png", "pr.png", "calibration.png"} { // the screening figures
		checkPNG(t, filepath.Join(evalOut, f))
	}

	// The table form names the metrics a researcher looks for; --report writes the HTML report
	// (without --out, from a temporary folder), which must open in a real browser with every
	// figure and every Grad-CAM overlay of the gallery decoded.
	reportPath := filepath.Join(work, "report.html")
	code, stdout, stderr = runDrgrade(t, bin, work, append([]string{"eval", "--weights", ddr, "--data_path", data, "--split", "train",
		"--report", reportPath}, common...)...)
	if code != 0 {
		t.Fatalf("eval --report: exit %d\n%s", code, stderr)
	}
	page := testutil.OpenPage(t, "file://"+reportPath)
	// confusion matrix, ROC, PR, calibration, and two pictures per mistake in the gallery
	if mistakes := strings.Count(readText(t, reportPath), "truly "); page.Images != 4+2*mistakes || page.Loaded != page.Images || mistakes == 0 {
		t.Errorf("report: %d of %d pictures decoded, %d mistakes in the gallery (want 4 figures + 2 per mistake, all decoded)", page.Loaded, page.Images, mistakes)
	}
	if !strings.Contains(page.Title, "shufflenet_small") {
		t.Errorf("report title %q", page.Title)
	}
	if code != 0 {
		t.Fatalf("eval --split train: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"quadratic weighted kappa", "balanced accuracy", "PRECISION", "TRUE  \\  PRED", "on " + data + "/train"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("eval table lacks %q:\n%s", want, stdout)
		}
	}

	// predict: a folder is walked; a text file among the images is reported and skipped.
	imgs := filepath.Join(work, "imgs")
	copyTree(t, filepath.Join(data, "val"), imgs)
	writeFile(t, filepath.Join(imgs, "notes.jpg"), []byte("not an image"))
	n, _ := os.ReadDir(filepath.Join(data, "val"))
	code, stdout, stderr = runDrgrade(t, bin, work, append([]string{"predict", "--weights", ddr, "--json", "--tta", "hflip", imgs}, common...)...)
	if code != 2 || !strings.Contains(stderr, "notes.jpg") || !strings.Contains(stderr, "1 of") {
		t.Errorf("predict with an unreadable file: exit %d (want 2), stderr:\n%s", code, stderr)
	}
	var pj struct {
		TTA         string
		Predictions []struct {
			Image string
			Grade int
		}
		Unreadable []struct{ Image string }
	}
	if err := json.Unmarshal([]byte(stdout), &pj); err != nil {
		t.Fatalf("predict --json: %v\n%s", err, stdout)
	}
	if len(pj.Predictions) != len(n) || len(pj.Unreadable) != 1 || pj.TTA != "hflip" {
		t.Errorf("predict: %d predictions for %d images, %d unreadable, tta %q", len(pj.Predictions), len(n), len(pj.Unreadable), pj.TTA)
	}
	camDir := filepath.Join(work, "cams")
	code, stdout, stderr = runDrgrade(t, bin, work, append([]string{"predict", "--weights", ddr, "--explain", camDir, filepath.Join(imgs, n[0].Name())}, common...)...)
	if code != 0 || !strings.Contains(stdout, n[0].Name()) || !strings.Contains(stdout, "PROLIFERATIVE") {
		t.Errorf("predict one image: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	stem := strings.TrimSuffix(n[0].Name(), filepath.Ext(n[0].Name()))
	if f, err := os.Open(filepath.Join(camDir, stem+"_overlay.png")); err != nil { // predict --explain
		t.Errorf("predict --explain: %v", err)
	} else if cfg, err := png.DecodeConfig(f); err != nil || cfg.Width != 64 || cfg.Height != 64 {
		t.Errorf("predict --explain overlay: %+v, %v (want the 64×64 val-transformed image)", cfg, err)
	} else {
		f.Close()
	}
	if _, err := os.Stat(filepath.Join(camDir, stem+"_cam.npy")); err != nil {
		t.Errorf("predict --explain: %v", err)
	}

	// A val image cut short: eval stops with exit 2 naming it, as train does (one error
	// taxonomy: trainer.IsInputError). Done last: the cases below fail before reading images.
	valList, err := os.ReadFile(filepath.Join(data, "val.txt"))
	if err != nil {
		t.Fatal(err)
	}
	firstVal := strings.Fields(string(valList))[0]
	corrupt := filepath.Join(data, "val", firstVal)
	if b, err := os.ReadFile(corrupt); err != nil || os.WriteFile(corrupt, b[:len(b)/3], 0o644) != nil {
		t.Fatalf("cutting %s short: %v", corrupt, err)
	}

	// Usage errors: exit 2, the culprit named, no stack trace.
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"eval without weights", []string{"eval", "--data_path", data}, "--weights"},
		{"eval missing weights", []string{"eval", "--weights", "nope.pth", "--data_path", data}, "nope.pth"},
		{"eval another model", []string{"eval", "--weights", ddr, "--data_path", data, "--model", "resnet_small"}, "cannot load into resnet_small"},
		{"eval missing split", []string{"eval", "--weights", ddr, "--data_path", data, "--split", "test"}, "test"},
		{"eval bad tta", []string{"eval", "--weights", ddr, "--data_path", data, "--tta", "vflip"}, "--tta"},
		{"predict nothing", []string{"predict", "--weights", ddr}, "images or folders"},
		{"predict missing file", []string{"predict", "--weights", ddr, "nope.jpg"}, "nope.jpg"},
		{"predict not a checkpoint", []string{"predict", "--weights", filepath.Join(data, "val.txt"), imgs}, "val.txt"},
		{"eval corrupt image", []string{"eval", "--weights", ddr, "--data_path", data}, firstVal},
	} {
		args := append(append([]string{}, c.args...), common...)
		if c.name == "eval another model" {
			args = append(args, "--model", "resnet_small") // the later flag wins
		}
		code, stdout, stderr := runDrgrade(t, bin, work, args...)
		if code != 2 || !strings.Contains(stderr, c.want) || leaks.MatchString(stdout+stderr) {
			t.Errorf("%s: exit %d (want 2), stderr should name %q and carry no trace:\n%s", c.name, code, c.want, stderr)
		}
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 300 {
		t.Errorf("%s: %v is too small to read", path, b)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
