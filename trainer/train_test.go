package trainer

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/trainer/tblog"
	"github.com/drgrade/drgrade/vision/models/pth"
	"github.com/drgrade/drgrade/vision/synth"
)

var (
	synthOnce sync.Once
	synthDir  string
	synthErr  error
)

// tinySet is a small synthetic DDR-layout data set shared by the trainer tests.
func tinySet(t *testing.T) string {
	t.Helper()
	synthOnce.Do(func() {
		dir, err := os.MkdirTemp("", "drgrade-trainer-test-")
		if err != nil {
			synthErr = err
			return
		}
		synthDir = filepath.Join(dir, "data")
		_, synthErr = synth.Generate(synthDir, synth.Options{N: 60, Size: 64, Seed: 3}, nil)
	})
	if synthErr != nil {
		t.Fatal(synthErr)
	}
	return synthDir
}

func tinyConfig(t *testing.T, out string) Config {
	cfg := DefaultConfig()
	cfg.DataPath = tinySet(t)
	cfg.Model = "shufflenet_small" // small and dropout-free: fast, and resumable bit for bit
	cfg.Weights = ""
	cfg.Epochs = 3
	cfg.BatchSize = 8
	cfg.ImgSize = 32
	cfg.Threads = 1
	cfg.NumWorkers = 2
	cfg.Output = out
	cfg.Quiet = true
	return cfg
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// modelBytes is the model part of a last.pth, for bit-for-bit comparisons.
func modelBytes(t *testing.T, lastPath string) map[string][]byte {
	t.Helper()
	sd, err := pth.Load(lastPath)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range sd.Entries {
		if strings.HasPrefix(e.Name, ckModel) || strings.HasPrefix(e.Name, ckOptState) {
			out[e.Name] = e.Data
		}
	}
	return out
}

func sameTensors(t *testing.T, a, b map[string][]byte) {
	t.Helper()
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d vs %d tensors", len(a), len(b))
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			t.Fatalf("%s differs", k)
		}
	}
}

// TestSeedReproducible: two CPU runs with the same seed and thread count write identical
// DDR.txt files and identical weights; TensorBoard gets one folder per run with the script's tags.
func TestSeedReproducible(t *testing.T) {
	out1, out2 := t.TempDir(), t.TempDir()
	var log1 bytes.Buffer
	r1, err := Run(tinyConfig(t, out1), &log1, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, log1.String())
	}
	if _, err := Run(tinyConfig(t, out2), &bytes.Buffer{}, nil); err != nil {
		t.Fatal(err)
	}
	w1, w2 := filepath.Join(out1, "weights", "shufflenet_small"), filepath.Join(out2, "weights", "shufflenet_small")
	d1, d2 := readFile(t, filepath.Join(w1, "DDR.txt")), readFile(t, filepath.Join(w2, "DDR.txt"))
	if !bytes.Equal(d1, d2) {
		t.Fatalf("DDR.txt differs between two runs with the same seed:\n%s\n---\n%s", d1, d2)
	}
	if n := strings.Count(string(d1), "\n"); n != 9 {
		t.Errorf("DDR.txt has %d lines, want 3 per epoch:\n%s", n, d1)
	}
	if !strings.HasPrefix(string(d1), "[epoch 1] train_loss: ") || !strings.Contains(string(d1), "\nPrecision: ") ||
		!strings.Contains(string(d1), ", Referable AUC: ") {
		t.Errorf("DDR.txt is not in the script's format:\n%s", d1)
	}
	sameTensors(t, modelBytes(t, filepath.Join(w1, "last.pth")), modelBytes(t, filepath.Join(w2, "last.pth")))
	for _, f := range []string{"DDR.pth", "metrics.json", "metrics.csv"} {
		if _, err := os.Stat(filepath.Join(w1, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	// The best checkpoint is a plain state_dict PyTorch can load.
	best, err := pth.Load(filepath.Join(w1, "DDR.pth"))
	if err != nil || best.Get("fc.weight") == nil || best.Get("conv1.1.num_batches_tracked") == nil {
		t.Errorf("DDR.pth is not shufflenet_v2_x0_5's state_dict: %v", err)
	}
	events, err := tblog.ReadDir(r1.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]int{}
	for _, e := range events {
		for _, v := range e.Values {
			tags[v.Tag]++
		}
	}
	for _, tag := range []string{"train_loss", "train_acc", "val_accuracy", "learning_rate", "precision", "recall", "f1_score", "kappa", "macro_f1", "referable_auc"} {
		if tags[tag] != 3 {
			t.Errorf("TensorBoard tag %s logged %d times, want once per epoch", tag, tags[tag])
		}
	}
	if filepath.Base(r1.LogPath) != "run1" {
		t.Errorf("first run logged to %s, want .../run1", r1.LogPath)
	}
	// A second run into the same output keeps the first run's events.
	r3, err := Run(tinyConfig(t, out1), &bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(r3.LogPath) != "run2" {
		t.Errorf("second run logged to %s, want .../run2", r3.LogPath)
	}
	if again, _ := tblog.ReadDir(r1.LogPath); len(again) != len(events) {
		t.Error("a new run touched the previous run's TensorBoard folder")
	}
}

// TestResumeMatchesUninterrupted: a run stopped after epoch 1 and resumed from last.pth ends
// with the same weights, optimiser state and DDR.txt, bit for bit, as an uninterrupted run.
func TestResumeMatchesUninterrupted(t *testing.T) {
	full, part := t.TempDir(), t.TempDir()
	if _, err := Run(tinyConfig(t, full), &bytes.Buffer{}, nil); err != nil {
		t.Fatal(err)
	}
	ddr := filepath.Join(part, "weights", "shufflenet_small", "DDR.txt")
	stopAfterEpoch1 := func() bool {
		b, _ := os.ReadFile(ddr)
		return strings.Count(string(b), "\n") >= 3
	}
	_, err := Run(tinyConfig(t, part), &bytes.Buffer{}, stopAfterEpoch1)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run returned %v", err)
	}
	cfg := tinyConfig(t, part)
	cfg.Resume = filepath.Join(part, "weights", "shufflenet_small", "last.pth")
	var log bytes.Buffer
	if _, err := Run(cfg, &log, nil); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "Resuming from") {
		t.Errorf("no resume message:\n%s", log.String())
	}
	a := readFile(t, filepath.Join(full, "weights", "shufflenet_small", "DDR.txt"))
	b := readFile(t, ddr)
	if !bytes.Equal(a, b) {
		t.Fatalf("DDR.txt differs:\nuninterrupted:\n%s\nresumed:\n%s", a, b)
	}
	sameTensors(t, modelBytes(t, filepath.Join(full, "weights", "shufflenet_small", "last.pth")), modelBytes(t, cfg.Resume))

	// Resuming a checkpoint of another model is refused with both names.
	other := tinyConfig(t, t.TempDir())
	other.Model = "resnet"
	other.Resume = cfg.Resume
	if _, err := Run(other, &bytes.Buffer{}, nil); err == nil || !strings.Contains(err.Error(), "shufflenet_small") {
		t.Errorf("resume into another model: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.BatchSize = 0 }, "--batch_size"},
		{func(c *Config) { c.Epochs = 0 }, "--epochs"},
		{func(c *Config) { c.LR = -1 }, "--lr"},
		{func(c *Config) { c.BestMetric = "auc" }, "--best_metric"},
		{func(c *Config) { c.FocalAlpha = "x" }, "--focal_alpha"},
		{func(c *Config) { c.ImgSize = 8 }, "--img_size"},
	} {
		c := DefaultConfig()
		tc.mut(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want an error about %s", err, tc.want)
		}
	}
	if err := (&Config{}).Validate(); err == nil {
		t.Error("the zero Config validated")
	}
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Errorf("the script's defaults do not validate: %v", err)
	}
}

// TestRunOnThreadWithGradOff: run starts from grad mode on whatever the OS thread it lands on
// was left with (Go reuses threads; libtorch's grad mode is per thread), as the script's main
// thread does. Before, a pooled thread left with grad off failed the first backward.
func TestRunOnThreadWithGradOff(t *testing.T) {
	cfg := tinyConfig(t, t.TempDir())
	cfg.Epochs = 1
	var err error
	var log bytes.Buffer
	locked.Run(func() {
		torchext.SetGradEnabled(false)
		_, err = run(cfg, &log, nil, nil)
		if torchext.GradEnabled() != true {
			t.Error("grad mode is off after run")
		}
	})
	if err != nil {
		t.Fatalf("run on a thread with grad off: %v\n%s", err, log.String())
	}
}
