package trainer

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/models/pth"
)

// runTiny trains tinyConfig for one epoch with change applied and returns the run and its log.
func runTiny(t *testing.T, change func(*Config)) (*Result, string, Config) {
	t.Helper()
	cfg := tinyConfig(t, t.TempDir())
	cfg.Epochs = 1
	change(&cfg)
	var log bytes.Buffer
	res, err := Run(cfg, &log, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	return res, log.String(), cfg
}

// TestFlagsThroughRun runs the training flags no other test drives through Run, each for one
// short epoch, and checks the effect each must have.
func TestFlagsThroughRun(t *testing.T) {
	base, _, _ := runTiny(t, func(*Config) {})
	baseLoss := base.Epochs[0].TrainLoss

	t.Run("class_weights", func(t *testing.T) {
		none, _, _ := runTiny(t, func(c *Config) { c.ClassWeights = "none" })
		norm, _, _ := runTiny(t, func(c *Config) { c.ClassWeights = "normalized" })
		// The weighted mean is invariant to scaling the weights: normalized trains exactly as
		// the script's 1/count; unweighted does not.
		// (Not bit for bit: the weighted sums round differently; measured 1.7e-6 relative.)
		if d := math.Abs(norm.Epochs[0].TrainLoss-baseLoss) / baseLoss; d > 1e-5 {
			t.Errorf("--class_weights normalized: loss %v, want inverse's %v (a weighted mean ignores the scale)", norm.Epochs[0].TrainLoss, baseLoss)
		}
		if d := math.Abs(none.Epochs[0].TrainLoss-baseLoss) / baseLoss; d < 1e-3 {
			t.Errorf("--class_weights none: loss %v is the weighted run's %v", none.Epochs[0].TrainLoss, baseLoss)
		}
	})

	t.Run("sampler weighted", func(t *testing.T) {
		ds, err := dataset.Load(tinySet(t), "train", 5)
		if err != nil {
			t.Fatal(err)
		}
		weighted, _, _ := runTiny(t, func(c *Config) { c.Sampler = "weighted" })
		got := weighted.LastTrain.ClassCounts
		n := len(ds.Labels)
		if sum(got) != n {
			t.Fatalf("weighted sampler drew %d samples (%v), want len(dataset) = %d", sum(got), got, n)
		}
		// The split is imbalanced; class-balanced draws pick the rare classes (under a tenth
		// of the split each) about 1/5 of the time each, several times their share.
		rareSplit, rareDrawn := 0, 0
		for c, k := range ds.ClassCounts {
			if k*10 < n {
				rareSplit += k
				rareDrawn += got[c]
			}
		}
		if rareSplit == 0 || rareDrawn < 5*rareSplit/2 {
			t.Errorf("weighted sampler drew %v from a split of %v: the rare classes %d times, want at least 2.5 × %d", got, ds.ClassCounts, rareDrawn, rareSplit)
		}
		if fmtCounts(base.LastTrain.ClassCounts) != fmtCounts(ds.ClassCounts) {
			t.Errorf("random sampler drew %v, want each image once: %v", base.LastTrain.ClassCounts, ds.ClassCounts)
		}
	})

	t.Run("focal_alpha auto and --loss", func(t *testing.T) {
		focal, _, _ := runTiny(t, func(c *Config) { c.UseFocalLoss = true })
		byName, _, _ := runTiny(t, func(c *Config) { c.Loss = "focal" })
		auto, _, _ := runTiny(t, func(c *Config) { c.UseFocalLoss = true; c.FocalAlpha = "auto" })
		ce, _, _ := runTiny(t, func(c *Config) { c.Loss = "cross_entropy" })
		if byName.Epochs[0].TrainLoss != focal.Epochs[0].TrainLoss || ce.Epochs[0].TrainLoss != baseLoss {
			t.Errorf("--loss focal %v vs --use_focal_loss %v; --loss cross_entropy %v vs default %v",
				byName.Epochs[0].TrainLoss, focal.Epochs[0].TrainLoss, ce.Epochs[0].TrainLoss, baseLoss)
		}
		if focal.Epochs[0].TrainLoss == baseLoss {
			t.Error("focal loss trained exactly as cross-entropy")
		}
		if auto.Epochs[0].TrainLoss == focal.Epochs[0].TrainLoss {
			t.Error("--focal_alpha auto trained exactly as alpha 1")
		}
	})

	t.Run("head slice and reset", func(t *testing.T) {
		// A 1000-class checkpoint: --head slice keeps its first 5 classifier rows (the
		// script's), --head reset re-initialises them. LR 1e-12 leaves the weights where
		// loading put them.
		src := filepath.Join(t.TempDir(), "imagenet.pth")
		var rows []float32
		locked.Run(func() {
			m, err := models.New("shufflenet_small", 1000)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if err := models.SaveStateDict(m, src); err != nil {
				t.Fatal(err)
			}
			rows = modelSnapshotNamed(t, m, "fc.weight")[:5*1024]
		})
		slice, sliceLog, _ := runTiny(t, func(c *Config) { c.Weights, c.Head, c.LR = src, "slice", 1e-12 })
		reset, resetLog, _ := runTiny(t, func(c *Config) { c.Weights, c.Head, c.LR = src, "reset", 1e-12 })
		fc := func(r *Result) []float32 {
			return ptFloats(t, filepath.Join(r.SavePath, "DDR.pth"), "fc.weight")
		}
		if d := maxAbsDiff(fc(slice), rows); d > 1e-6 {
			t.Errorf("--head slice: fc.weight is %g from the checkpoint's first 5 rows\n%s", d, sliceLog)
		}
		if d := maxAbsDiff(fc(reset), rows); d < 1e-3 {
			t.Errorf("--head reset: fc.weight is still the checkpoint's first 5 rows (%g)\n%s", d, resetLog)
		}
		if !strings.Contains(sliceLog, "head: ") || !strings.Contains(resetLog, "head: ") {
			t.Errorf("the load report does not say what happened to the head:\n%s\n---\n%s", sliceLog, resetLog)
		}
	})
}

func sum(v []int) int {
	s := 0
	for _, x := range v {
		s += x
	}
	return s
}

func fmtCounts(v []int) string { return fmt.Sprint(v) }

// modelSnapshotNamed copies the tensor name of m's state dict to a slice.
func modelSnapshotNamed(t *testing.T, m models.Model, name string) []float32 {
	t.Helper()
	e := m.StateDict().Get(name)
	if e == nil {
		t.Fatalf("no %s", name)
	}
	v := make([]float32, e.Tensor.Numel())
	if err := torchext.CopyTo(e.Tensor, v); err != nil {
		t.Fatal(err)
	}
	return v
}

// ptFloats reads the float32 tensor name from a .pth file.
func ptFloats(t *testing.T, path, name string) []float32 {
	t.Helper()
	sd, err := pth.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e := sd.Get(name)
	if e == nil {
		t.Fatalf("%s: no %s", path, name)
	}
	v, err := e.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}
