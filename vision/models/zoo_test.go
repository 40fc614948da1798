package models

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
)

// The conformance table (timm's tests/test_models.py): each property of a model is one test
// function over the registry, a subtest per model, and this table is the one place that says
// which model each property runs on and with what. Every zoo model has a row
// (TestConformanceCoversZoo); the key list (TestParityKeys), the live forward parity of its
// generator's group (TestParityForward<Group>) and the head slicing (TestHeadSliceEveryModel)
// run on every zoo model. The costlier properties run on the smallest model of each code path
// that has them, as the rows say.

// zooCase is one model's row.
type zooCase struct {
	name  string
	group string // the generator that knows it: testdata/zoo_<group>_gen.py
	big   bool   // over 100M parameters: the slowest to build, save and load (checkHeadSlice)

	parity parity // the forward-parity runs beyond its group's live eval run

	sizes    []int64  // TestForwardShapes: input sizes (0: Config.InputSize)
	backward bool     // TestBackwardGradients
	dropPath bool     // TestDropPathTrainOnly
	refuses  string   // TestRefusesOtherSizes: a 256×256 input is an error containing this
	memory   *memCase // TestMemoryStable (memory_test.go)
}

// parity flags name forward-parity runs (zoo_parity_test.go).
type parity uint8

const (
	liveTrain   parity = 1 << iota // TestParityForward<Group> compares train-mode logits and BatchNorm buffers too
	seededTrain                    // TestParityTrainModern: train mode at batch 2, seeded right before the forward
	oddSize                        // TestParityOddSizesModern: eval mode at 2×3×100×164
	golden                         // TestParityForwardGolden: committed goldens at 64 px, eval and train mode
)

// nominal is TestForwardShapes' sizes for a model checked at its Config.InputSize only.
var nominal = []int64{0}

// zooCases are the rows, in the order the generators need: a model whose train check draws
// dropout must be its run's first (cnnDropoutSeed), so mobilenet_v3_w035 and mobilenet_v3 lead
// the cnn rows.
var zooCases = []zooCase{
	{name: "resnet_small", group: "resnet", memory: &memCase{step: newClose, warmup: 3, passes: 8}},
	{name: "resnet", group: "resnet", parity: liveTrain, memory: &memCase{step: evalForward, batch: 8, warmup: 5, passes: 200, shortPasses: 30}},
	{name: "resnext", group: "resnet"},
	{name: "resnet_big", group: "resnet"},
	{name: "resnext_big", group: "resnet"},

	{name: "mobilenet_v3_w035", group: "cnn", parity: golden}, // registered by zoo_parity_test.go, not a zoo model
	{name: "mobilenet_v3", group: "cnn", parity: liveTrain, sizes: nominal, backward: true},
	{name: "alexnet", group: "cnn", sizes: nominal},
	{name: "zfnet", group: "cnn", big: true, sizes: nominal, refuses: "224×224"},
	{name: "vgg_tiny", group: "cnn", big: true},
	{name: "vgg_small", group: "cnn", big: true},
	{name: "vgg", group: "cnn", big: true},
	{name: "vgg_big", group: "cnn", big: true},
	{name: "googlenet", group: "cnn", sizes: nominal, backward: true},
	{name: "xception", group: "cnn", sizes: nominal, backward: true},
	{name: "densenet_tiny", group: "cnn", parity: liveTrain, sizes: nominal, backward: true, memory: &memCase{step: evalForward, batch: 2, warmup: 5, passes: 30}},
	{name: "densenet_small", group: "cnn"},
	{name: "densenet", group: "cnn"},
	{name: "densenet_big", group: "cnn"},
	{name: "mobilenet_v3_large", group: "cnn"},
	{name: "shufflenet_small", group: "cnn", parity: golden, sizes: nominal, backward: true},
	{name: "shufflenet", group: "cnn"},

	{name: "efficient_v2_small", group: "modern", parity: seededTrain | oddSize, sizes: []int64{224, 33}},
	{name: "efficient_v2", group: "modern"},
	{name: "efficient_v2_large", group: "modern", big: true},
	{name: "convnext_tiny", group: "modern", parity: oddSize, sizes: []int64{200}, dropPath: true},
	{name: "convnext_small", group: "modern"},
	{name: "convnext", group: "modern"},
	{name: "convnext_big", group: "modern", big: true},
	{name: "convnext_huge", group: "modern", big: true},
	{name: "vision_transformer_small", group: "modern", refuses: "expects 224×224 images, got 256×256"},
	{name: "vision_transformer", group: "modern", memory: &memCase{step: trainStep, batch: 4, warmup: 3, passes: 50, shortPasses: skipShort}},
	{name: "vision_transformer_big", group: "modern", big: true},
	// 100 px: 25×25 patches, so windows pad and patch merging pads odd sizes.
	{name: "swin_transformer_tiny", group: "modern", parity: oddSize, sizes: []int64{100, 32}, dropPath: true},
	{name: "swin_transformer_small", group: "modern"},
	{name: "swin_transformer", group: "modern"},
}

// casesWhere lists the rows that keep says to check, in table order.
func casesWhere(keep func(zooCase) bool) []zooCase {
	var out []zooCase
	for _, c := range zooCases {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// zooCaseOf is name's row.
func zooCaseOf(t testing.TB, name string) zooCase {
	t.Helper()
	for _, c := range zooCases {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("model %q has no row in zooCases", name)
	return zooCase{}
}

// TestConformanceCoversZoo: every zoo model has exactly one row, and every row is a registered
// model, so no model escapes the registry-wide properties and no row tests nothing.
func TestConformanceCoversZoo(t *testing.T) {
	rows := map[string]int{}
	for _, c := range zooCases {
		rows[c.name]++
		if _, err := Lookup(c.name); err != nil {
			t.Errorf("row %q: %v", c.name, err)
		}
	}
	zoo := zooNames()
	if len(zoo) < 35 {
		t.Errorf("%d zoo models registered, want at least 35", len(zoo))
	}
	for _, n := range zoo {
		if rows[n] != 1 {
			t.Errorf("zoo model %q has %d rows in zooCases, want 1", n, rows[n])
		}
	}
}

// withModel runs f on a locked OS thread (libtorch's grad mode is per thread) with a fresh
// 5-class model of name, closed afterwards.
func withModel(t *testing.T, name string, f func(m Model)) {
	t.Helper()
	locked.Run(func() {
		m, err := New(name, 5)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		f(m)
	})
}

// randn is a standard-normal float32 CPU tensor; the caller drops it.
func randn(t testing.TB, shape ...int64) *ts.Tensor {
	t.Helper()
	x, err := ts.Randn(shape, gotch.Float, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// forward is m.ForwardT that fails the test on error; the caller drops the result.
func forward(t testing.TB, m Model, x *ts.Tensor, train bool) *ts.Tensor {
	t.Helper()
	y, err := m.ForwardT(x, train)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

// TestForwardShapes: each listed model maps a batch of 2 at each of its sizes to [2, 5] finite
// logits in eval and in train mode (the convolutional and windowed models take sizes other
// than their nominal one: EfficientNetV2 at 33 px, Swin padding its windows), and a 1-channel
// input is an error, not a panic.
func TestForwardShapes(t *testing.T) {
	for _, c := range casesWhere(func(c zooCase) bool { return c.sizes != nil }) {
		t.Run(c.name, func(t *testing.T) {
			withModel(t, c.name, func(m Model) {
				defer torchext.NoGrad()()
				for _, size := range c.sizes {
					if size == 0 {
						size = int64(m.Config().InputSize)
					}
					x := randn(t, 2, 3, size, size)
					defer x.MustDrop()
					for _, train := range []bool{false, true} {
						y := forward(t, m, x, train)
						got, vals := describeShape(y.MustSize()), y.Float64Values()
						y.MustDrop()
						if got != "[2, 5]" {
							t.Errorf("%d px, train %v: logits %s, want [2, 5]", size, train, got)
						}
						for _, v := range vals {
							if math.IsNaN(v) || math.IsInf(v, 0) {
								t.Errorf("%d px, train %v: non-finite logit %v", size, train, v)
								break
							}
						}
					}
				}
				gray := randn(t, 2, 1, 64, 64)
				defer gray.MustDrop()
				if y, err := m.ForwardT(gray, false); err == nil {
					y.MustDrop()
					t.Error("a 1-channel input was accepted")
				}
			})
		})
	}
}

// TestRefusesOtherSizes: a model that only takes its nominal size (ViT's position embedding,
// ZFNet's classifier without an adaptive pool) refuses a 256×256 batch with an error naming
// the size it needs, not a libtorch trace (PyTorch raises a matmul shape error).
func TestRefusesOtherSizes(t *testing.T) {
	for _, c := range casesWhere(func(c zooCase) bool { return c.refuses != "" }) {
		t.Run(c.name, func(t *testing.T) {
			withModel(t, c.name, func(m Model) {
				defer torchext.NoGrad()()
				x := randn(t, 1, 3, 256, 256)
				defer x.MustDrop()
				y, err := m.ForwardT(x, false)
				if err == nil {
					y.MustDrop()
					t.Fatal("a 256×256 input was accepted")
				}
				if msg := err.Error(); !strings.Contains(msg, c.refuses) || strings.Contains(msg, "Exception raised") {
					t.Errorf("256×256 input: error %q, want one containing %q", msg, c.refuses)
				}
			})
		})
	}
}

// TestBackwardGradients: a train-mode forward and backward at 96 px runs through every block
// type (channel split views, concatenations, residual sums, squeeze-excitation, dense blocks)
// and gives every parameter a finite gradient, as loss.backward() does in PyTorch.
func TestBackwardGradients(t *testing.T) {
	for _, c := range casesWhere(func(c zooCase) bool { return c.backward }) {
		t.Run(c.name, func(t *testing.T) {
			withModel(t, c.name, func(m Model) {
				x := randn(t, 2, 3, 96, 96)
				defer x.MustDrop()
				backwardMean(t, m, x)
				for _, e := range m.StateDict().Entries() {
					if !e.Buffer {
						checkGradient(t, e)
					}
				}
			})
		})
	}
}

// backwardMean is a training step without the optimizer: a train-mode forward of x and the
// backward of the logits' mean, which leaves the gradients in m's parameters.
func backwardMean(t testing.TB, m Model, x *ts.Tensor) {
	t.Helper()
	y := forward(t, m, x, true)
	defer y.MustDrop()
	loss, err := y.Mean(gotch.Float, false)
	if err != nil {
		t.Fatal(err)
	}
	defer loss.MustDrop()
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
}

// checkGradient fails the test unless e's parameter has a gradient and it is finite.
func checkGradient(t *testing.T, e *Entry) {
	t.Helper()
	g, err := e.Tensor.Grad(false)
	if err != nil {
		t.Fatalf("%s: %v", e.Name, err)
	}
	defer g.MustDrop()
	if ok, _ := g.Defined(); !ok {
		t.Errorf("%s: no gradient", e.Name)
		return
	}
	for _, v := range g.Float64Values() {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("%s: non-finite gradient", e.Name)
			return
		}
	}
}

// TestDropPathTrainOnly: dropout and stochastic depth are inactive in eval mode (two forwards
// agree exactly) and active in train mode (two forwards with different masks differ). The
// models listed have no BatchNorm, so train mode changes nothing else.
func TestDropPathTrainOnly(t *testing.T) {
	for _, c := range casesWhere(func(c zooCase) bool { return c.dropPath }) {
		t.Run(c.name, func(t *testing.T) {
			torchext.ManualSeed(1)
			withModel(t, c.name, func(m Model) {
				// A larger layer scale than the 1e-6 initialisation so that dropping a
				// ConvNeXt block is visible in float32 logits.
				for _, e := range m.StateDict().Entries() {
					if strings.HasSuffix(e.Name, "layer_scale") {
						ones, _ := ts.Ones(e.Tensor.MustSize(), gotch.Float, gotch.CPU)
						if err := torchext.CopyInto(e.Tensor, ones); err != nil {
							t.Fatal(err)
						}
						ones.MustDrop()
					}
				}
				x := randn(t, 4, 3, 64, 64)
				defer x.MustDrop()
				defer torchext.NoGrad()()
				run := func(train bool) string {
					y := forward(t, m, x, train)
					defer y.MustDrop()
					return fmt.Sprint(y.Float64Values())
				}
				e1, e2 := run(false), run(false)
				if e1 != e2 {
					t.Errorf("two eval forwards differ: %v vs %v", e1, e2)
				}
				t1, t2 := run(true), run(true)
				if t1 == t2 {
					t.Errorf("two train forwards are identical (%v): drop path inactive in training", t1)
				}
				if t1 == e1 {
					t.Errorf("a train forward equals the eval forward")
				}
			})
		})
	}
}
