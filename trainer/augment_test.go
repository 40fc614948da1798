package trainer

import (
	"slices"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/mixup"
	"github.com/drgrade/drgrade/vision/transforms"
)

// TestAugmentRecipeThroughRun: --auto_augment, --random_erasing, --mixup and --cutmix each
// change the training loss of a short run, name themselves in the run header and in last.pth's
// config, and a mixed run repeats bit for bit.
func TestAugmentRecipeThroughRun(t *testing.T) {
	base, _, _ := runTiny(t, func(*Config) {})
	baseLoss := base.Epochs[0].TrainLoss
	for _, tc := range []struct {
		name, header, key string
		change            func(*Config)
	}{
		{"trivialaugment", "--auto_augment trivialaugment", "auto_augment", func(c *Config) { c.AutoAugment = AutoAugmentTrivial }},
		{"randaugment", "--auto_augment randaugment (3 ops at magnitude 20)", "ra_magnitude",
			func(c *Config) { c.AutoAugment, c.RANumOps, c.RAMagnitude = AutoAugmentRand, 3, 20 }},
		{"random_erasing", "--random_erasing 1", "random_erasing", func(c *Config) { c.RandomErasing = 1 }},
		{"mixup", "--mixup 0.4 --cutmix 0 (prob 1, switch 0.5; soft-target cross-entropy)", "mixup", func(c *Config) { c.Mixup = 0.4 }},
		{"cutmix", "--mixup 0 --cutmix 1 (prob 1", "cutmix", func(c *Config) { c.Cutmix = 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, log, _ := runTiny(t, tc.change)
			if !strings.Contains(log, tc.header) {
				t.Errorf("the run header does not say %q:\n%s", tc.header, log)
			}
			if _, ok := lastConfig(t, res.SavePath+"/last.pth")[tc.key]; !ok {
				t.Errorf("last.pth's config has no %q", tc.key)
			}
			if res.Epochs[0].TrainLoss == baseLoss {
				t.Errorf("train loss %v: the script's run's", baseLoss)
			}
			if tc.name == "mixup" {
				again, _, _ := runTiny(t, tc.change)
				if again.Epochs[0].TrainLoss != res.Epochs[0].TrainLoss {
					t.Errorf("a second mixed run: loss %v, the first %v", again.Epochs[0].TrainLoss, res.Epochs[0].TrainLoss)
				}
			}
		})
	}
}

// TestMixBatches: the training loop's mixing is vision/mixup's Draw from the (seed, epoch,
// batch) source, Apply and Targets; an odd batch stays unmixed with smoothed one-hot targets.
func TestMixBatches(t *testing.T) {
	cfg := mixup.Config{MixupAlpha: 0.4, CutmixAlpha: 1, Prob: 1, SwitchProb: 0.5, LabelSmoothing: 0.1, NumClasses: 5}
	mk := func(n int) *loader.Batch {
		b := &loader.Batch{N: n, H: 6, W: 8, Images: make([]float32, n*3*6*8), Labels: make([]int64, n)}
		for i := range b.Images {
			b.Images[i] = float32(i%97) / 97
		}
		for i := range b.Labels {
			b.Labels[i] = int64(i % 5)
		}
		return b
	}
	a := EpochArgs{Mixup: cfg, MixSeed: 11, Epoch: 3}
	prep := mixBatches(a)
	for batch := 0; batch < 3; batch++ {
		b, want := mk(4), mk(4)
		got, err := prep(b)
		if err != nil {
			t.Fatal(err)
		}
		p := cfg.Draw(transforms.NewRand(11, 3<<32|uint64(batch)), 6, 8)
		if err := mixup.Apply(want.Images, 4, 3, 6, 8, p); err != nil {
			t.Fatal(err)
		}
		wantT, _ := mixup.Targets(want.Labels, 5, p.Lam, 0.1)
		if !slices.Equal(b.Images, want.Images) || !slices.Equal(got, wantT) {
			t.Errorf("batch %d: not Draw + Apply + Targets of the (seed, epoch, batch) source (λ %v)", batch, p.Lam)
		}
		if slices.Equal(b.Images, mk(4).Images) {
			t.Errorf("batch %d was not mixed (λ %v)", batch, p.Lam)
		}
	}
	odd := mk(3)
	got, err := prep(odd)
	if err != nil {
		t.Fatal(err)
	}
	wantT, _ := mixup.Targets(odd.Labels, 5, 1, 0.1)
	if !slices.Equal(odd.Images, mk(3).Images) || !slices.Equal(got, wantT) {
		t.Error("an odd batch: mixed, or not smoothed one-hot targets")
	}
	if mixBatches(EpochArgs{}) != nil {
		t.Error("mixing off: a prep")
	}
}
