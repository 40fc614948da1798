package models

import (
	"math"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/testutil"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
)

// cnnNames are the --model names of zoo_cnn_gen.py. mobilenet_v3 comes first: its train-mode
// check includes classifier dropout, whose mask matches PyTorch's only if libtorch's generator
// is in the same state, which the generator arranges for the first model only (see
// cnnDropoutSeed).
var cnnNames = []string{
	"mobilenet_v3", "alexnet", "zfnet", "vgg_tiny", "vgg_small", "vgg", "vgg_big", "googlenet",
	"xception", "densenet_tiny", "densenet_small", "densenet", "densenet_big",
	"mobilenet_v3_large", "shufflenet_small", "shufflenet",
}

// cnnDropoutSeed is DROPOUT_SEED in testdata/zoo_cnn_gen.py.
const cnnDropoutSeed = 11

func TestParityKeysCNN(t *testing.T) { checkKeys(t, "cnn") }

// TestParityForwardCNN loads PyTorch-created weights into every classic CNN and compares
// eval-mode logits (and, for densenet_tiny and mobilenet_v3, train-mode logits and BatchNorm
// buffers) with torchvision/timm/the researcher's ZFNet; bounds in forwardParity.
func TestParityForwardCNN(t *testing.T) {
	// The generator replays, after seeding, the draws of drgrade's mobilenet_v3 constructor,
	// so the train-mode dropout mask is the same on both sides.
	torchext.ManualSeed(cnnDropoutSeed)
	forwardParity(t, "cnn", cnnNames, map[string]bool{"densenet_tiny": true, "mobilenet_v3": true})
}

// TestDenseNetForwardMemory: eval forwards (under no_grad, on a locked thread) free every
// intermediate (the dense blocks' concatenations, the pre-activation units' BatchNorm and ReLU
// outputs), so the resident set is flat after warm-up. It caught gotch's in-place ops leaking
// each activated tensor (see cnn_blocks.go). The 3% bound is the issue's; it absorbs allocator noise, while a leaked
// activation of densenet121 at batch 2 (≥ 0.4 MB each, ~120 per forward) would add tens of
// MB per forward.
func TestDenseNetForwardMemory(t *testing.T) {
	locked.Run(func() {
		defer torchext.NoGrad()()
		m, err := New("densenet_tiny", 5)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		x, err := ts.Randn([]int64{2, 3, 224, 224}, gotch.Float, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		defer x.MustDrop()
		forward := func() {
			y, err := m.ForwardT(x, false)
			if err != nil {
				t.Fatal(err)
			}
			y.MustDrop()
		}
		for i := 0; i < 5; i++ {
			forward()
		}
		before := testutil.RSS(t)
		for i := 0; i < 30; i++ {
			forward()
		}
		after := testutil.RSS(t)
		growth := float64(after-before) / float64(before)
		t.Logf("RSS %d → %d bytes (%+.2f%%)", before, after, 100*growth)
		if growth > 0.03 {
			t.Errorf("RSS grew %.2f%% over 30 forwards (bound 3%%)", 100*growth)
		}
	})
}

// TestCNNShapesAndErrors: every model maps its configured input size to [N, 5] logits in
// eval mode, and a wrong input is an error, not a panic.
func TestCNNShapesAndErrors(t *testing.T) {
	for _, name := range []string{"alexnet", "googlenet", "mobilenet_v3", "shufflenet_small", "densenet_tiny", "xception", "zfnet"} {
		t.Run(name, func(t *testing.T) {
			locked.Run(func() {
				defer torchext.NoGrad()()
				m, err := New(name, 5)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				size := int64(m.Config().InputSize)
				x, err := ts.Randn([]int64{1, 3, size, size}, gotch.Float, gotch.CPU)
				if err != nil {
					t.Fatal(err)
				}
				defer x.MustDrop()
				for _, train := range []bool{false, true} {
					y, err := m.ForwardT(x, train)
					if err != nil {
						t.Fatal(err)
					}
					s := y.MustSize()
					vals := y.Float64Values()
					y.MustDrop()
					if len(s) != 2 || s[0] != 1 || s[1] != 5 {
						t.Errorf("logits shape %v, want [1 5]", s)
					}
					for _, v := range vals {
						if math.IsNaN(v) || math.IsInf(v, 0) {
							t.Errorf("non-finite logit %v", v)
						}
					}
				}
				gray, err := ts.Randn([]int64{1, 1, size, size}, gotch.Float, gotch.CPU)
				if err != nil {
					t.Fatal(err)
				}
				defer gray.MustDrop()
				if _, err := m.ForwardT(gray, false); err == nil {
					t.Error("a 1-channel input was accepted")
				}
			})
		})
	}
}

// TestZFNetInputSize: ZFNet has no adaptive pool, so an input other than ~224×224 is refused
// with a message naming the size it needs (PyTorch raises a matmul shape error).
func TestZFNetInputSize(t *testing.T) {
	locked.Run(func() {
		defer torchext.NoGrad()()
		m, err := New("zfnet", 5)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		x, err := ts.Randn([]int64{1, 3, 256, 256}, gotch.Float, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		defer x.MustDrop()
		_, err = m.ForwardT(x, false)
		if err == nil || !strings.Contains(err.Error(), "224×224") {
			t.Errorf("256×256 input: error %v, want one naming 224×224", err)
		}
	})
}

// TestTruncNormalBounds: cnnTruncNormal (nn.init.trunc_normal_) keeps every value in [a, b]
// and, for bounds at ±0.5σ, has the truncated normal's standard deviation
// σ·sqrt(1 − 2·0.5·φ(0.5)/(2Φ(0.5)−1)) ≈ 0.2839σ.
func TestTruncNormalBounds(t *testing.T) {
	locked.Run(func() {
		x, err := ts.Empty([]int64{100000}, gotch.Float, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		defer x.MustDrop()
		if err := cnnTruncNormal(1, 2, 0, 2)(x); err != nil {
			t.Fatal(err)
		}
		v := x.Float64Values()
		var sum, sq float64
		for _, f := range v {
			if f < 0 || f > 2 {
				t.Fatalf("value %v outside [0, 2]", f)
			}
			sum += f
			sq += f * f
		}
		n := float64(len(v))
		mean := sum / n
		std := math.Sqrt(sq/n - mean*mean)
		phi := math.Exp(-0.125) / math.Sqrt(2*math.Pi)
		want := 2 * math.Sqrt(1-2*0.5*phi/math.Erf(0.5/math.Sqrt2))
		// Sampling error of the mean and std of 1e5 draws is ~0.2% of σ; 2% leaves room.
		if math.Abs(mean-1) > 0.02 || math.Abs(std-want) > 0.02*want {
			t.Errorf("mean %.4f std %.4f, want 1 and %.4f", mean, std, want)
		}
	})
}

// TestMakeDivisible pins mbMakeDivisible to torchvision's _make_divisible on the values
// MobileNetV3's squeeze-excitation uses (expanded // 4) and edge cases; the expected values
// were printed by torchvision.models._utils._make_divisible(v, 8).
func TestMakeDivisible(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want int64
	}{
		{4, 8}, {18, 24}, {22, 24}, {24, 24}, {30, 32}, {36, 40}, {60, 64}, {72, 72}, {120, 120},
		{144, 144}, {168, 168}, {240, 240}, {11, 16}, {3, 8},
	} {
		if got := mbMakeDivisible(c.v, 8); got != c.want {
			t.Errorf("_make_divisible(%v, 8) = %d, want %d", c.v, got, c.want)
		}
	}
}

// TestCNNBackward: a train-mode forward and backward runs through every block type (channel
// split views, concatenations, residual sums, squeeze-excitation, dense blocks) and gives
// every parameter a finite gradient, as loss.backward() does in PyTorch.
func TestCNNBackward(t *testing.T) {
	for _, name := range []string{"mobilenet_v3", "shufflenet_small", "densenet_tiny", "googlenet", "xception"} {
		t.Run(name, func(t *testing.T) {
			locked.Run(func() {
				m, err := New(name, 5)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				x, err := ts.Randn([]int64{2, 3, 96, 96}, gotch.Float, gotch.CPU)
				if err != nil {
					t.Fatal(err)
				}
				defer x.MustDrop()
				y, err := m.ForwardT(x, true)
				if err != nil {
					t.Fatal(err)
				}
				loss, err := y.Mean(gotch.Float, true)
				if err != nil {
					t.Fatal(err)
				}
				defer loss.MustDrop()
				if err := loss.Backward(); err != nil {
					t.Fatal(err)
				}
				for _, e := range m.StateDict().Entries() {
					if e.Buffer {
						continue
					}
					g, err := e.Tensor.Grad(false)
					if err != nil {
						t.Fatalf("%s: %v", e.Name, err)
					}
					if ok, _ := g.Defined(); !ok {
						t.Errorf("%s: no gradient", e.Name)
						g.MustDrop()
						continue
					}
					for _, v := range g.Float64Values() {
						if math.IsNaN(v) || math.IsInf(v, 0) {
							t.Errorf("%s: non-finite gradient", e.Name)
							break
						}
					}
					g.MustDrop()
				}
			})
		})
	}
}
