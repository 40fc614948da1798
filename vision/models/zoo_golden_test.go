package models

import (
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/internal/torchext"
)

// mobilenet_v3_w035 is torchvision's mobilenet_v3_small(width_mult=0.35), registered by this
// test only (not a zoo model): drgrade's MobileNetV3 code (newMobileNetV3, the same as the
// zoo's mobilenet_v3 and mobilenet_v3_large) with the small model's table scaled as
// torchvision's InvertedResidualConfig.adjust_channels does, _make_divisible(c * 0.35, 8),
// and last_channel _make_divisible(1024 * 0.35, 8) = 360. Its weights are 0.8 MB, small
// enough to commit (width 1.0: 6 MB).
func init() {
	const width = 0.35
	adjust := func(c int64) int64 { return mbMakeDivisible(float64(c)*width, 8) }
	Register("mobilenet_v3_w035", func(n int) (Model, error) {
		setting := make([]mbBlockConfig, len(mobileNetV3Small))
		for i, c := range mobileNetV3Small {
			c.in, c.expanded, c.out = adjust(c.in), adjust(c.expanded), adjust(c.out)
			setting[i] = c
		}
		return newMobileNetV3("mobilenet_v3_w035", setting, adjust(1024), n)
	}, Config{Arch: "mobilenet_v3_small", Classifier: "classifier.3"})
}

// goldenForwardNames are the models whose PyTorch-created weights, input and logits are
// committed in testdata/forward (2.8 MB in all: shufflenet_v2_x0_5's state_dict is 1.5 MB,
// mobilenet_v3_w035's 0.9 MB), so that `go test` compares whole models with torchvision
// without the venv. mobilenet_v3_w035 comes first: its train-mode check includes classifier
// dropout, matched for the first model only (see cnnDropoutSeed).
var goldenForwardNames = []string{"mobilenet_v3_w035", "shufflenet_small"}

// TestParityForwardGolden: eval- and train-mode logits and the BatchNorm buffers after the
// train-mode forward, at 64×64 px and batch 2, of two whole models with every parameter and
// buffer perturbed by zoo_ref.perturb (so a dropped bias — squeeze-excitation, classifier —
// or a misplaced BatchNorm statistic changes the logits): compared with the committed
// goldens by `go test`, with the generator's live output under `make parity`. Bounds in
// forwardParity.
func TestParityForwardGolden(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/forward", "testdata/zoo_cnn_gen.py",
		"--forward", strings.Join(goldenForwardNames, ","), "--train_check", strings.Join(goldenForwardNames, ","),
		"--size", "64", "--batch", "2")
	var meta struct {
		Torch, Torchvision string
		Size, Batch        int
	}
	pyoracle.ReadJSON(t, dir, "meta_cnn.json", &meta)
	if !strings.HasPrefix(meta.Torch, "2.1.0") || !strings.HasPrefix(meta.Torchvision, "0.16.0") || meta.Size != 64 || meta.Batch != 2 {
		t.Fatalf("goldens from torch %s / torchvision %s at %d px, batch %d: want 2.1.0 / 0.16.0, 64 px, batch 2", meta.Torch, meta.Torchvision, meta.Size, meta.Batch)
	}
	torchext.ManualSeed(cnnDropoutSeed) // right before the first model's constructor, as the generator replays
	train := map[string]bool{}
	for _, n := range goldenForwardNames {
		train[n] = true
	}
	forwardParityIn(t, dir, goldenForwardNames, train)
}
