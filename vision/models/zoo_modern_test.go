package models

import (
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/testutil"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/internal/torchext"
)

// modernNames are the --model names of zoo_modern_gen.py, smallest of each family first.
var modernNames = []string{
	"efficient_v2_small", "efficient_v2", "efficient_v2_large",
	"convnext_tiny", "convnext_small", "convnext", "convnext_big", "convnext_huge",
	"vision_transformer_small", "vision_transformer", "vision_transformer_big",
	"swin_transformer_tiny", "swin_transformer_small", "swin_transformer",
}

// modernTrainSeed is zoo_modern_gen.py's TRAIN_SEED: both sides seed the default generator
// with it right before the train-mode forward, so dropout and stochastic depth draw the same
// masks.
const modernTrainSeed = 11

func TestParityKeysModern(t *testing.T) { checkKeys(t, "modern") }

// TestParityForwardModern compares eval-mode logits of all 14 models with torchvision's.
// The train-mode check of efficient_v2_small lives in TestParityTrainModern: its logits
// depend on dropout and stochastic-depth masks, which only match when both sides seed the
// generator right before the forward, and forwardParity builds the model (drawing its
// initial weights) in between.
func TestParityForwardModern(t *testing.T) {
	forwardParity(t, "modern", modernNames, nil)
}

// TestParityTrainModern: a seeded train-mode forward of efficient_v2_small gives torchvision's
// logits (same dropout and stochastic-depth masks, BatchNorm on batch statistics) and leaves
// the same BatchNorm running statistics and num_batches_tracked.
func TestParityTrainModern(t *testing.T) {
	const name = "efficient_v2_small"
	dir := pyoracle.LiveDir(t, "testdata/zoo_modern_gen.py", "--forward", name, "--train_check", name, "--batch", "2")
	locked.Run(func() {
		m, err := New(name, 5)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if _, err := LoadWeights(m, filepath.Join(dir, name+".pth"), HeadSlice); err != nil {
			t.Fatal(err)
		}
		x := readNpyTensor(t, filepath.Join(dir, name+"_x.npy"))
		defer x.MustDrop()
		defer torchext.NoGrad()()
		torchext.ManualSeed(modernTrainSeed)
		y, err := m.ForwardT(x, true)
		if err != nil {
			t.Fatal(err)
		}
		defer y.MustDrop()
		want := readNpyTensor(t, filepath.Join(dir, name+"_train.npy"))
		defer want.MustDrop()
		// 1e-4 of max |logit|: forwardParity's bound (float32 summation order).
		d := maxRelDiff(t, y, want)
		t.Logf("train logits: max |diff| / max |logit| = %.3g", d)
		if d > 1e-4 {
			t.Errorf("train logits: max |diff| / max |logit| = %.3g > 1e-4", d)
		}
		bufs, err := New(name, 5)
		if err != nil {
			t.Fatal(err)
		}
		defer bufs.Close()
		r, err := LoadWeights(bufs, filepath.Join(dir, name+"_train_buffers.pth"), HeadSlice)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range m.StateDict().Entries() {
			if !e.Buffer {
				continue
			}
			n++
			// 1e-5 relative: the running statistics are means of float32 batch statistics
			// (forwardParity's bound for them).
			if d := maxRelDiff(t, e.Tensor, bufs.StateDict().Get(e.Name).Tensor); d > 1e-5 {
				t.Errorf("%s after a train-mode forward: rel diff %.3g", e.Name, d)
			}
		}
		if n == 0 || r.Loaded != n {
			t.Errorf("compared %d buffers, the reference file has %d", n, r.Loaded)
		}
	})
}

// TestParityOddSizesModern: eval-mode parity on a non-square input whose sizes are no multiple
// of the window or stride: Swin pads windows and merges and, in its third stage (7×11 tokens
// padded to 7×14), shifts along the width only; ConvNeXt and EfficientNetV2 floor their
// strided convolutions.
func TestParityOddSizesModern(t *testing.T) {
	names := []string{"swin_transformer_tiny", "convnext_tiny", "efficient_v2_small"}
	dir := pyoracle.LiveDir(t, "testdata/zoo_modern_gen.py", "--forward", strings.Join(names, ","), "--shape", "2,3,100,164")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			locked.Run(func() {
				m, err := New(name, 5)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				if _, err := LoadWeights(m, filepath.Join(dir, name+".pth"), HeadSlice); err != nil {
					t.Fatal(err)
				}
				x := readNpyTensor(t, filepath.Join(dir, name+"_x.npy"))
				defer x.MustDrop()
				defer torchext.NoGrad()()
				y, err := m.ForwardT(x, false)
				if err != nil {
					t.Fatal(err)
				}
				defer y.MustDrop()
				want := readNpyTensor(t, filepath.Join(dir, name+"_eval.npy"))
				defer want.MustDrop()
				// 1e-4 of max |logit|: forwardParity's bound (float32 summation order).
				d := maxRelDiff(t, y, want)
				t.Logf("max |diff| / max |logit| = %.3g", d)
				if d > 1e-4 {
					t.Errorf("max |diff| / max |logit| = %.3g > 1e-4", d)
				}
			})
		})
	}
}

// TestViTRejectsOtherSizes: a 256×256 batch gives an error naming the expected 224, not a
// libtorch trace from the position embedding.
func TestViTRejectsOtherSizes(t *testing.T) {
	locked.Run(func() {
		m, err := New("vision_transformer_small", 5)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		x, err := ts.Zeros([]int64{1, 3, 256, 256}, gotch.Float, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		defer x.MustDrop()
		y, err := m.ForwardT(x, false)
		if err == nil {
			y.MustDrop()
			t.Fatal("a 256×256 input was accepted")
		}
		msg := err.Error()
		if !strings.Contains(msg, "224") || !strings.Contains(msg, "256") || strings.Contains(msg, "Exception raised") {
			t.Errorf("error %q should name the expected 224×224 and the 256×256 received", msg)
		}
	})
}

// TestModernAnyInputSize: the convolutional and windowed models accept inputs other than
// their nominal size (the trainer's 224 for EfficientNetV2, odd sizes that make Swin pad).
func TestModernAnyInputSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int64
	}{
		{"efficient_v2_small", 224},
		{"efficient_v2_small", 33},
		{"convnext_tiny", 200},
		{"swin_transformer_tiny", 100}, // 25×25 patches: windows pad, merges pad odd sizes
		{"swin_transformer_tiny", 32},
	} {
		t.Run(fmt.Sprintf("%s_%d", tc.name, tc.size), func(t *testing.T) {
			locked.Run(func() {
				m, err := New(tc.name, 5)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				x, err := ts.Randn([]int64{2, 3, tc.size, tc.size}, gotch.Float, gotch.CPU)
				if err != nil {
					t.Fatal(err)
				}
				defer x.MustDrop()
				defer torchext.NoGrad()()
				y, err := m.ForwardT(x, false)
				if err != nil {
					t.Fatal(err)
				}
				defer y.MustDrop()
				if got := describeShape(y.MustSize()); got != "[2, 5]" {
					t.Errorf("logits %s, want [2, 5]", got)
				}
			})
		})
	}
}

// TestModernDropPathTrainOnly: dropout and stochastic depth are inactive in eval mode (two
// forwards agree exactly) and active in train mode (two forwards with different masks differ).
// The models chosen have no BatchNorm, so train mode changes nothing else.
func TestModernDropPathTrainOnly(t *testing.T) {
	for _, name := range []string{"convnext_tiny", "swin_transformer_tiny"} {
		t.Run(name, func(t *testing.T) {
			locked.Run(func() {
				torchext.ManualSeed(1)
				m, err := New(name, 5)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
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
				x, err := ts.Randn([]int64{4, 3, 64, 64}, gotch.Float, gotch.CPU)
				if err != nil {
					t.Fatal(err)
				}
				defer x.MustDrop()
				defer torchext.NoGrad()()
				run := func(train bool) []float64 {
					y, err := m.ForwardT(x, train)
					if err != nil {
						t.Fatal(err)
					}
					defer y.MustDrop()
					return y.Float64Values()
				}
				e1, e2 := run(false), run(false)
				if fmt.Sprint(e1) != fmt.Sprint(e2) {
					t.Errorf("two eval forwards differ: %v vs %v", e1, e2)
				}
				t1, t2 := run(true), run(true)
				if fmt.Sprint(t1) == fmt.Sprint(t2) {
					t.Errorf("two train forwards are identical (%v): drop path inactive in training", t1)
				}
				if fmt.Sprint(t1) == fmt.Sprint(e1) {
					t.Errorf("a train forward equals the eval forward")
				}
			})
		})
	}
}

// TestViTTrainMemoryStable: repeated train-mode forward+backward passes of vision_transformer
// (loss = mean of the logits; loss and gradients dropped each step) do not grow the resident
// set: within 3% of its size after the warm-up passes. The passes run in a child process with
// glibc's mmap threshold fixed (GLIBC_TUNABLES), so freed tensor buffers go back to the
// system at once and RSS tracks live memory; with glibc's default dynamic threshold, RSS
// wanders ±10% between passes of this very loop while the number of live tensors is constant.
// Go's collector is off during the passes so that a leaked handle stays leaked.
func TestViTTrainMemoryStable(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: ViT-B/16 forward+backward passes")
	}
	if testutil.InMemoryTestParent(t, "TestViTTrainMemoryStable") {
		return
	}
	const warmup, passes, batch = 3, 50, 4 // the floor: 50 passes of vit_b_16 at batch 4
	// Without garbage collection a tensor handle that Forward forgets to drop stays alive
	// (gotch's finalizers would otherwise free some of them at unpredictable times).
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	locked.Run(func() {
		m, err := New("vision_transformer", 5)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		params := m.StateDict().Parameters()
		x, err := ts.Randn([]int64{batch, 3, 224, 224}, gotch.Float, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		defer x.MustDrop()
		step := func() {
			y, err := m.ForwardT(x, true)
			if err != nil {
				t.Fatal(err)
			}
			loss, err := y.Mean(gotch.Float, true)
			if err != nil {
				t.Fatal(err)
			}
			if err := loss.Backward(); err != nil {
				t.Fatal(err)
			}
			loss.MustDrop()
			torchext.ZeroGrad(params)
		}
		for i := 0; i < warmup; i++ {
			step()
		}
		base := testutil.RSS(t)
		peak := base
		for i := 0; i < passes; i++ {
			step()
			peak = max(peak, testutil.RSS(t))
		}
		growth := float64(peak-base) / float64(base)
		t.Logf("RSS after %d warm-up passes %.1f MiB, peak over %d passes %.1f MiB (%+.2f%%)", warmup, float64(base)/(1<<20), passes, float64(peak)/(1<<20), 100*growth)
		// 3%: the bound. One leaked activation per block and pass (≥1.2 MiB × 12
		// blocks) would exceed it within the 50 passes.
		if growth > 0.03 {
			t.Errorf("RSS grew %.2f%% over %d passes (> 3%%): intermediates leak", 100*growth, passes)
		}
	})
}
