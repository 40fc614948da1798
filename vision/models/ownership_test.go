package models

import (
	"runtime/debug"
	"testing"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
)

// TestOwnershipEveryModel: for every registered model, an eval forward under no_grad and a
// training step (train-mode forward, sum, backward) leave the number of live gotch tensor
// handles where it was, once the caller drops the logits: every intermediate a forward makes
// is dropped by its owner (docs/ownership.md). Go's collector is off, so no finalizer frees a
// forgotten handle behind the count's back. A warm-up eval forward and training step come
// first: they create what lives on (the shared undefined tensor, the parameters' gradients,
// which live in libtorch and not as handles). -short leaves out the models of over 100M
// parameters, slow to build; each shares its code with a smaller model of its family.
func TestOwnershipEveryModel(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && ownershipBig[name] {
				t.Skip("over 100M parameters: run without -short")
			}
			locked.Run(func() { checkOwnership(t, name) })
			torchext.ReleaseCPUCache() // the model's freed parameters
		})
	}
}

// ownershipBig are the zoo models of over 100M parameters.
var ownershipBig = map[string]bool{
	"vgg_tiny": true, "vgg_small": true, "vgg": true, "vgg_big": true, "zfnet": true,
	"efficient_v2_large": true, "convnext_big": true, "convnext_huge": true, "vision_transformer_big": true,
}

// ownershipSize is the input side each model is checked at: small, except where the
// architecture fixes it (ViT's position embedding, ZFNet's classifier).
func ownershipSize(cfg Config) int64 {
	if cfg.FixedInput || cfg.Name == "zfnet" {
		return int64(cfg.InputSize)
	}
	return 64
}

func checkOwnership(t *testing.T, name string) {
	start := time.Now()
	m, err := New(name, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	size := ownershipSize(m.Config())
	x, err := ts.Randn([]int64{2, 3, size, size}, gotch.Float, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer x.MustDrop()
	eval := func() {
		defer torchext.NoGrad()()
		y, err := m.ForwardT(x, false)
		if err != nil {
			t.Fatal(err)
		}
		y.MustDrop()
	}
	step := func() {
		y, err := m.ForwardT(x, true)
		if err != nil {
			t.Fatal(err)
		}
		defer y.MustDrop()
		l, err := y.Sum(gotch.Float, false)
		if err != nil {
			t.Fatal(err)
		}
		defer l.MustDrop()
		if err := l.Backward(); err != nil {
			t.Fatal(err)
		}
	}
	eval()
	step()
	for _, c := range []struct {
		what string
		run  func()
	}{{"an eval forward", eval}, {"a training step", step}} {
		before := len(ts.ExistingTensors)
		c.run()
		if after := len(ts.ExistingTensors); after != before {
			t.Errorf("%s at %d px: live tensors %d → %d", c.what, size, before, after)
		}
	}
	torchext.ZeroGrad(m.StateDict().Parameters())
	t.Logf("%d px, %.1f s", size, time.Since(start).Seconds())
}
