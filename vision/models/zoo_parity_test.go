package models

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/internal/torchext"
)

// Forward parity with PyTorch. The generator builds each model in PyTorch with every parameter
// and buffer perturbed (zoo_ref.perturb, so a dropped bias or a misplaced statistic changes the
// logits), saves its state_dict, an input and the logits; drgrade loads the state_dict and
// must give the same logits.
const (
	// logitTol bounds max|drgrade − PyTorch| / max|PyTorch logit|, float32 on both sides.
	// Measured worst: 1.6e-6, vision_transformer in eval mode (vision_transformer_small
	// 1.2e-6, _big 5.8e-7): there PyTorch's nn.MultiheadAttention takes its fused inference
	// kernel (torch._native_multi_head_attention) while drgrade composes ATen's math path
	// (sdpaMath), which sums in another order. All other logits are bit-identical (0): the
	// other 32 zoo models (`make parity`, libtorch 2.1 CPU), the train-mode checks, the odd
	// sizes and the committed goldens, being the same kernels called in the same order. 1e-4 is
	// room for another build's summation order (60× the ViT worst), while dropping
	// MobileNetV3's squeeze-excitation bias moves the logits by 1.2e-3 (eval) and 0.14
	// (train mode), measured on the goldens.
	logitTol = 1e-4
	// bufferTol bounds the relative difference of the BatchNorm running statistics after one
	// train-mode forward (float32 batch means and unbiased variances). Measured worst: 0,
	// bit-identical, over the 1224 buffers of the six train checks (resnet, densenet_tiny,
	// mobilenet_v3, efficient_v2_small live; mobilenet_v3_w035, shufflenet_small goldens).
	// 1e-5 is room for another build's reduction order, while a biased batch variance moves
	// running_var by 1.2e-4 (TestParityConvBN).
	bufferTol = 1e-5
)

// cnnDropoutSeed is DROPOUT_SEED in testdata/zoo_cnn_gen.py: seeded right before the run's
// first model is built; the generator replays that constructor's draws, so the train-mode
// dropout mask is the same on both sides (for the first model only).
const cnnDropoutSeed = 11

// modernTrainSeed is zoo_modern_gen.py's TRAIN_SEED: both sides seed the default generator
// with it right before the train-mode forward, so dropout and stochastic depth draw the same
// masks.
const modernTrainSeed = 11

// parityRun is one generator invocation and the comparison of its outputs.
type parityRun struct {
	group     string   // testdata/zoo_<group>_gen.py
	models    parity   // the group's rows with this flag; 0: every zoo model of the group
	train     parity   // of those, the rows with this flag are compared in train mode too
	args      []string // generator flags besides --out, --forward and --train_check
	seedNew   uint64   // seeded before the first model is built (0: not)
	seedTrain uint64   // seeded right before each train-mode forward (0: not)
}

// names are the run's models in table order, and those also checked in train mode.
func (r parityRun) names() (names []string, train map[string]bool) {
	zoo := map[string]bool{}
	for _, n := range zooNames() {
		zoo[n] = true
	}
	train = map[string]bool{}
	for _, c := range zooCases {
		in := c.parity&r.models != 0 || r.models == 0 && zoo[c.name]
		if c.group != r.group || !in {
			continue
		}
		names = append(names, c.name)
		if c.parity&r.train != 0 {
			train[c.name] = true
		}
	}
	return names, train
}

// generate runs the generator: into goldenDir (committed goldens, pyoracle.Golden's modes),
// or, where goldenDir is "", into a temporary directory under `make parity` only.
func (r parityRun) generate(t *testing.T, goldenDir string) string {
	names, train := r.names()
	var tc []string
	for _, n := range names {
		if train[n] {
			tc = append(tc, n)
		}
	}
	script := "testdata/zoo_" + r.group + "_gen.py"
	args := append([]string{"--forward", strings.Join(names, ","), "--train_check", strings.Join(tc, ",")}, r.args...)
	if goldenDir != "" {
		return pyoracle.Golden(t, goldenDir, script, args...)
	}
	return pyoracle.LiveDir(t, script, args...)
}

// compare loads each model's PyTorch weights from dir and compares eval-mode logits and, for
// the train-checked models, train-mode logits and the BatchNorm buffers that forward leaves.
func (r parityRun) compare(t *testing.T, dir string) {
	names, train := r.names()
	if r.seedNew != 0 {
		torchext.ManualSeed(r.seedNew)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			withModel(t, name, func(m Model) {
				loadAll(t, m, filepath.Join(dir, name+".pth"))
				checkInformative(t, m)
				x := readNpyTensor(t, filepath.Join(dir, name+"_x.npy"))
				defer x.MustDrop()
				defer torchext.NoGrad()()
				compareLogits(t, m, x, false, filepath.Join(dir, name+"_eval.npy"))
				if !train[name] {
					return
				}
				if r.seedTrain != 0 {
					torchext.ManualSeed(r.seedTrain)
				}
				compareLogits(t, m, x, true, filepath.Join(dir, name+"_train.npy"))
				compareBuffers(t, m, filepath.Join(dir, name+"_train_buffers.pth"))
			})
		})
	}
}

// forwardParity is a live run: the generator's output compared, under `make parity`.
func forwardParity(t *testing.T, r parityRun) { r.compare(t, r.generate(t, "")) }

// loadAll loads a full state_dict into m and fails unless every tensor was loaded.
func loadAll(t *testing.T, m Model, path string) {
	t.Helper()
	r, err := LoadWeights(m, path, HeadSlice)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Missing)+len(r.Unexpected) > 0 || r.Loaded != len(m.StateDict().Entries()) {
		t.Fatalf("load: %s", r)
	}
}

// compareLogits runs m on x and compares the logits with the .npy file want within logitTol.
func compareLogits(t *testing.T, m Model, x *ts.Tensor, train bool, want string) {
	t.Helper()
	y := forward(t, m, x, train)
	defer y.MustDrop()
	w := readNpyTensor(t, want)
	defer w.MustDrop()
	d := maxRelDiff(t, y, w)
	t.Logf("%s: max |diff| / max |logit| = %.3g", filepath.Base(want), d)
	if d > logitTol {
		t.Errorf("%s: max |diff| / max |logit| = %.3g > %g", filepath.Base(want), d, logitTol)
	}
}

// compareBuffers compares m's buffers with PyTorch's after the same train-mode forward (path
// holds exactly the buffers) within bufferTol.
func compareBuffers(t *testing.T, m Model, path string) {
	t.Helper()
	ref, err := New(m.Config().Name, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	r, err := LoadWeights(ref, path, HeadSlice)
	if err != nil {
		t.Fatal(err)
	}
	n, worst := 0, 0.0
	for _, e := range m.StateDict().Entries() {
		if !e.Buffer {
			continue
		}
		n++
		d := maxRelDiff(t, e.Tensor, ref.StateDict().Get(e.Name).Tensor)
		worst = max(worst, d)
		if d > bufferTol {
			t.Errorf("%s after a train-mode forward: rel diff %.3g > %g", e.Name, d, bufferTol)
		}
	}
	t.Logf("%d buffers after a train-mode forward: worst rel diff %.3g", n, worst)
	if n == 0 || r.Loaded != n {
		t.Errorf("compared %d buffers, the reference file has %d", n, r.Loaded)
	}
}

// checkInformative fails the test if a floating-point tensor of more than one element is
// constant in the reference weights just loaded into m: a dropped or misplaced tensor
// (a bias left at its zero initialisation) would then give the same logits.
// zoo_ref.check_informative refuses to write such weights; this catches goldens from before.
func checkInformative(t *testing.T, m Model) {
	t.Helper()
	for _, e := range m.StateDict().Entries() {
		if e.Tensor.DType() != gotch.Float || e.Tensor.Numel() < 2 {
			continue
		}
		lo, err := e.Tensor.Min(false)
		if err != nil {
			t.Fatal(err)
		}
		hi, err := e.Tensor.Max(false)
		if err != nil {
			t.Fatal(err)
		}
		l, h := lo.Float64Values()[0], hi.Float64Values()[0]
		lo.MustDrop()
		hi.MustDrop()
		if l == h {
			t.Errorf("%s is constant (%v) in the reference weights: regenerate them with zoo_ref.perturb", e.Name, l)
		}
	}
}

// TestParityForwardResnet: the five ResNet-family models (BasicBlock, Bottleneck, grouped
// Bottleneck, downsampling) against torchvision, resnet in train mode too. Live only: the
// perturbed state_dicts are 85 MB (resnet_small) to 354 MB (resnext_big), too big to commit;
// each of these code paths is also in the committed key lists (TestParityKeys) and the head
// slicing of every model in TestHeadSliceEveryModel.
func TestParityForwardResnet(t *testing.T) {
	forwardParity(t, parityRun{group: "resnet", train: liveTrain})
}

// TestParityForwardCNN: every classic CNN against torchvision, timm (xception) and the
// researcher's ZFNet; densenet_tiny and mobilenet_v3 in train mode too, mobilenet_v3's
// classifier dropout included (it comes first: cnnDropoutSeed).
func TestParityForwardCNN(t *testing.T) {
	forwardParity(t, parityRun{group: "cnn", train: liveTrain, seedNew: cnnDropoutSeed})
}

// TestParityForwardModern: the 14 EfficientNetV2, ConvNeXt, ViT and Swin models against
// torchvision, eval mode. The train-mode check is TestParityTrainModern's: it needs a batch of
// 2 (BatchNorm on batch statistics), which this run would impose on every model.
func TestParityForwardModern(t *testing.T) {
	forwardParity(t, parityRun{group: "modern"})
}

// TestParityTrainModern: a seeded train-mode forward of efficient_v2_small gives torchvision's
// logits (the same dropout and stochastic-depth masks, BatchNorm on batch statistics) and
// leaves the same BatchNorm running statistics and num_batches_tracked.
func TestParityTrainModern(t *testing.T) {
	forwardParity(t, parityRun{group: "modern", models: seededTrain, train: seededTrain, args: []string{"--batch", "2"}, seedTrain: modernTrainSeed})
}

// TestParityOddSizesModern: eval-mode parity on a non-square input whose sizes are no multiple
// of the window or stride: Swin pads windows and merges and, in its third stage (7×11 tokens
// padded to 7×14), shifts along the width only; ConvNeXt and EfficientNetV2 floor their
// strided convolutions.
func TestParityOddSizesModern(t *testing.T) {
	forwardParity(t, parityRun{group: "modern", models: oddSize, args: []string{"--shape", "2,3,100,164"}})
}

// mobilenet_v3_w035 is torchvision's mobilenet_v3_small(width_mult=0.35), registered by this
// test only (not a zoo model): drgrade's MobileNetV3 code (newMobileNetV3, the same as the
// zoo's mobilenet_v3 and mobilenet_v3_large) with the small model's table scaled as
// torchvision's InvertedResidualConfig.adjust_channels does, _make_divisible(c * 0.35, 8),
// and last_channel _make_divisible(1024 * 0.35, 8) = 360. Its weights are 0.8 MB, small
// enough to commit (width 1.0: 6 MB).
func init() {
	const width = 0.35
	adjust := func(c int64) int64 { return mbMakeDivisible(float64(c)*width, 8) }
	if err := Register("mobilenet_v3_w035", func(n int) (Model, error) {
		setting := make([]mbBlockConfig, len(mobileNetV3Small))
		for i, c := range mobileNetV3Small {
			c.in, c.expanded, c.out = adjust(c.in), adjust(c.expanded), adjust(c.out)
			setting[i] = c
		}
		return newMobileNetV3("mobilenet_v3_w035", setting, adjust(1024), n)
	}, Config{Arch: "mobilenet_v3_small", Classifier: "classifier.3"}); err != nil {
		panic(err)
	}
}

// TestParityForwardGolden: eval- and train-mode logits and the BatchNorm buffers after the
// train-mode forward, at 64×64 px and batch 2, of the golden rows (mobilenet_v3_w035 and
// shufflenet_small, 2.8 MB of weights in testdata/forward), so that `go test` compares whole
// models with torchvision without the venv; `make parity` compares the generator's live
// output.
func TestParityForwardGolden(t *testing.T) {
	r := parityRun{group: "cnn", models: golden, train: golden, args: []string{"--size", "64", "--batch", "2"}, seedNew: cnnDropoutSeed}
	dir := r.generate(t, "testdata/forward")
	var meta struct {
		Torch, Torchvision string
		Size, Batch        int
	}
	pyoracle.ReadJSON(t, dir, "meta_cnn.json", &meta)
	if !strings.HasPrefix(meta.Torch, "2.1.0") || !strings.HasPrefix(meta.Torchvision, "0.16.0") || meta.Size != 64 || meta.Batch != 2 {
		t.Fatalf("goldens from torch %s / torchvision %s at %d px, batch %d: want 2.1.0 / 0.16.0, 64 px, batch 2", meta.Torch, meta.Torchvision, meta.Size, meta.Batch)
	}
	r.compare(t, dir)
}

// goldenKeys is one model's entry in testdata/keys/keys_<group>.json, written by torchvision
// (timm for xception) through testdata/zoo_<group>_gen.py --keys.
type goldenKeys struct {
	Arch   string
	Keys   [][]any // [name, shape]
	Params int64
}

// TestParityKeys: every zoo model's state_dict has torchvision's keys in torchvision's order,
// with the same shapes, architecture name and parameter count (the key lists of each group's
// generator, committed); a model without a golden key list, or a list without a model, fails.
func TestParityKeys(t *testing.T) {
	want := map[string]goldenKeys{}
	groups := map[string]bool{}
	for _, c := range zooCases {
		if groups[c.group] {
			continue
		}
		groups[c.group] = true
		dir := pyoracle.Golden(t, "testdata/keys", "testdata/zoo_"+c.group+"_gen.py", "--keys")
		var g map[string]goldenKeys
		pyoracle.ReadJSON(t, dir, "keys_"+c.group+".json", &g)
		for n, k := range g {
			if zooCaseOf(t, n).group != c.group {
				t.Errorf("keys_%s.json lists %q, a model of group %q", c.group, n, zooCaseOf(t, n).group)
			}
			want[n] = k
		}
	}
	zoo := zooNames()
	if len(want) != len(zoo) {
		t.Errorf("%d golden key lists for %d zoo models", len(want), len(zoo))
	}
	for _, name := range zoo {
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("no golden key list in testdata/keys/keys_%s.json", zooCaseOf(t, name).group)
			}
			withModel(t, name, func(m Model) { checkKeys(t, m, w) })
		})
	}
}

// checkKeys compares m's state_dict with a golden key list.
func checkKeys(t *testing.T, m Model, want goldenKeys) {
	if m.Config().Arch != want.Arch {
		t.Errorf("arch %q, golden %q", m.Config().Arch, want.Arch)
	}
	entries := m.StateDict().Entries()
	if len(entries) != len(want.Keys) {
		t.Errorf("%d state_dict entries, torchvision has %d", len(entries), len(want.Keys))
	}
	for i := 0; i < min(len(entries), len(want.Keys)); i++ {
		wk := fmt.Sprint(want.Keys[i][0])
		ws := strings.ReplaceAll(fmt.Sprint(want.Keys[i][1]), " ", ", ")
		gs := describeShape(entries[i].Tensor.MustSize())
		if entries[i].Name != wk || gs != ws {
			t.Errorf("entry %d: %s %s, torchvision %s %s", i, entries[i].Name, gs, wk, ws)
			break
		}
	}
	if got := m.StateDict().NumParameters(); got != want.Params {
		t.Errorf("%d parameters, torchvision %d", got, want.Params)
	}
}
