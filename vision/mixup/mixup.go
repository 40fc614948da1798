// Package mixup mirrors timm's batch Mixup and CutMix (timm.data.mixup.Mixup, mode "batch",
// timm 0.9.12) on a loader batch before it becomes a tensor: one λ per batch, the batch mixed
// with itself reversed (timm's x.flip(0)), and soft targets with label smoothing folded in, for
// the soft-target cross-entropy (loss.SoftTargetCrossEntropy).
//
// The random draws (whether to mix, mixup or CutMix, λ from a Beta, the box centre) come from
// drgrade's seeded source, not NumPy's; given the same draws the mixed batch and the targets
// equal timm's (TestParityMixup).
package mixup

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// Config is timm's Mixup(mixup_alpha, cutmix_alpha, prob, switch_prob, label_smoothing,
// num_classes) with correct_lam=True and no cutmix_minmax.
type Config struct {
	MixupAlpha     float64 // Beta(α, α) for mixup; 0: off
	CutmixAlpha    float64 // Beta(α, α) for CutMix; 0: off
	Prob           float64 // probability of mixing a batch at all (timm's prob, 1.0)
	SwitchProb     float64 // with both on, probability of CutMix over mixup (0.5)
	LabelSmoothing float64 // folded into the targets (timm's 0.1)
	NumClasses     int
}

// Enabled reports whether any mixing is configured.
func (c Config) Enabled() bool { return c.MixupAlpha > 0 || c.CutmixAlpha > 0 }

// Validate checks the ranges timm accepts.
func (c Config) Validate() error {
	switch {
	case c.MixupAlpha < 0 || c.CutmixAlpha < 0 || math.IsNaN(c.MixupAlpha+c.CutmixAlpha):
		return fmt.Errorf("mixup: alphas must be ≥ 0 (mixup %v, cutmix %v)", c.MixupAlpha, c.CutmixAlpha)
	case !(c.Prob >= 0 && c.Prob <= 1):
		return fmt.Errorf("mixup: probability %v must be in [0, 1]", c.Prob)
	case !(c.SwitchProb >= 0 && c.SwitchProb <= 1):
		return fmt.Errorf("mixup: switch probability %v must be in [0, 1]", c.SwitchProb)
	case !(c.LabelSmoothing >= 0 && c.LabelSmoothing < 1):
		return fmt.Errorf("mixup: label smoothing %v must be in [0, 1)", c.LabelSmoothing)
	case c.NumClasses < 2:
		return fmt.Errorf("mixup: %d classes; need at least 2", c.NumClasses)
	}
	return nil
}

// Params is one batch's draw: λ (1: no mixing), and for CutMix the box rows [YL, YH) and
// columns [XL, XH) pasted from the reversed batch, with λ corrected to the box's area.
type Params struct {
	Lam            float64
	CutMix         bool
	YL, YH, XL, XH int
}

// Draw mirrors Mixup._params_per_batch and, for CutMix, cutmix_bbox_and_lam with
// correct_lam=True, for images of h×w.
func (c Config) Draw(rng *rand.Rand, h, w int) Params {
	p := Params{Lam: 1}
	if !c.Enabled() || rng.Float64() >= c.Prob {
		return p
	}
	beta := func(a float64) float64 { return distuv.Beta{Alpha: a, Beta: a, Src: rng}.Rand() }
	switch {
	case c.MixupAlpha > 0 && c.CutmixAlpha > 0:
		p.CutMix = rng.Float64() < c.SwitchProb
		if p.CutMix {
			p.Lam = beta(c.CutmixAlpha)
		} else {
			p.Lam = beta(c.MixupAlpha)
		}
	case c.MixupAlpha > 0:
		p.Lam = beta(c.MixupAlpha)
	default:
		p.CutMix = true
		p.Lam = beta(c.CutmixAlpha)
	}
	if p.CutMix {
		return Box(h, w, p.Lam, rng.IntN(h), rng.IntN(w))
	}
	return p
}

// Box mirrors timm's rand_bbox (margin 0) for a given centre (cy, cx) and cutmix_bbox_and_lam's
// correction of λ to the clipped box's area.
func Box(h, w int, lam float64, cy, cx int) Params {
	ratio := math.Sqrt(1 - lam)
	cutH, cutW := int(float64(h)*ratio), int(float64(w)*ratio)
	clip := func(v, hi int) int { return max(0, min(hi, v)) }
	p := Params{CutMix: true,
		YL: clip(cy-cutH/2, h), YH: clip(cy+cutH/2, h),
		XL: clip(cx-cutW/2, w), XH: clip(cx+cutW/2, w)}
	p.Lam = 1 - float64((p.YH-p.YL)*(p.XH-p.XL))/float64(h*w)
	return p
}

// Apply mixes the batch in place as Mixup._mix_batch: images is n×c×h×w float32 (NCHW); mixup
// blends image k with image n−1−k (x·λ + flip(x)·(1−λ) in float32, as torch's mul_ and add_);
// CutMix pastes the box of image n−1−k into image k.
func Apply(images []float32, n, c, h, w int, p Params) error {
	if len(images) != n*c*h*w {
		return fmt.Errorf("mixup: %d values for a %d×%d×%d×%d batch", len(images), n, c, h, w)
	}
	if n%2 != 0 {
		return fmt.Errorf("mixup: a batch of %d images; timm's batch mode needs an even batch", n)
	}
	if p.Lam == 1 {
		return nil
	}
	per := c * h * w
	if p.CutMix {
		if p.YL < 0 || p.XL < 0 || p.YH > h || p.XH > w || p.YL > p.YH || p.XL > p.XH {
			return fmt.Errorf("mixup: box [%d:%d, %d:%d] outside %d×%d", p.YL, p.YH, p.XL, p.XH, h, w)
		}
		// x[:, :, yl:yh, xl:xh] = x.flip(0)[:, :, yl:yh, xl:xh]: the right side is a copy, so
		// each pair swaps its boxes.
		for k := 0; k < n/2; k++ {
			a, b := images[k*per:(k+1)*per], images[(n-1-k)*per:(n-k)*per]
			for ch := range c {
				for y := p.YL; y < p.YH; y++ {
					o := (ch*h+y)*w + p.XL
					for x := 0; x < p.XH-p.XL; x++ {
						a[o+x], b[o+x] = b[o+x], a[o+x]
					}
				}
			}
		}
		return nil
	}
	lam, rest := float32(p.Lam), float32(1-p.Lam)
	for k := 0; k < n/2; k++ {
		a, b := images[k*per:(k+1)*per], images[(n-1-k)*per:(n-k)*per]
		for i := range a {
			va, vb := a[i], b[i]
			a[i] = float32(va*lam) + float32(vb*rest)
			b[i] = float32(vb*lam) + float32(va*rest)
		}
	}
	return nil
}

// Targets mirrors timm's mixup_target: one-hot rows with off value smoothing/K and on value
// 1 − smoothing + smoothing/K, row k mixed with row n−1−k as y1·λ + y2·(1−λ) (float32). The
// result is n×numClasses.
func Targets(labels []int64, numClasses int, lam, smoothing float64) ([]float32, error) {
	if numClasses < 1 {
		return nil, errors.New("mixup: no classes")
	}
	n := len(labels)
	off := float32(smoothing / float64(numClasses))
	on := float32(1 - smoothing + smoothing/float64(numClasses))
	l, r := float32(lam), float32(1-lam)
	out := make([]float32, n*numClasses)
	for k, y := range labels {
		y2 := labels[n-1-k]
		if y < 0 || int(y) >= numClasses {
			return nil, fmt.Errorf("mixup: label %d outside [0, %d)", y, numClasses)
		}
		for j := range numClasses {
			v1, v2 := off, off
			if int64(j) == y {
				v1 = on
			}
			if int64(j) == y2 {
				v2 = on
			}
			out[k*numClasses+j] = float32(v1*l) + float32(v2*r)
		}
	}
	return out, nil
}
