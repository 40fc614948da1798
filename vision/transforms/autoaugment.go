package transforms

import (
	"fmt"
	"math"

	"github.com/drgrade/drgrade/vision/imageio"
)

// This file holds torchvision 0.16's automatic augmentation policies for PIL images
// (torchvision.transforms.TrivialAugmentWide and RandAugment, v1) and the PIL operations they
// apply (torchvision.transforms.autoaugment._apply_op): each op is equal to torchvision on a PIL
// image byte for byte (TestParityAutoAugmentOps); the policies draw from drgrade's Rand, not
// torch's generator, so the same seed does not give torchvision's sequence of ops.

// AugOp names one operation of the augmentation space, as torchvision's op_name.
type AugOp string

// The augmentation space's ops, in torchvision's order (the order the policy indexes).
const (
	OpIdentity     AugOp = "Identity"
	OpShearX       AugOp = "ShearX"
	OpShearY       AugOp = "ShearY"
	OpTranslateX   AugOp = "TranslateX"
	OpTranslateY   AugOp = "TranslateY"
	OpRotate       AugOp = "Rotate"
	OpBrightness   AugOp = "Brightness"
	OpColor        AugOp = "Color"
	OpContrast     AugOp = "Contrast"
	OpSharpness    AugOp = "Sharpness"
	OpPosterize    AugOp = "Posterize"
	OpSolarize     AugOp = "Solarize"
	OpAutoContrast AugOp = "AutoContrast"
	OpEqualize     AugOp = "Equalize"
)

var augOps = []AugOp{OpIdentity, OpShearX, OpShearY, OpTranslateX, OpTranslateY, OpRotate,
	OpBrightness, OpColor, OpContrast, OpSharpness, OpPosterize, OpSolarize, OpAutoContrast, OpEqualize}

// ApplyAugOp mirrors torchvision.transforms.autoaugment._apply_op on a PIL image with NEAREST
// interpolation and fill 0 (the policies' defaults).
func ApplyAugOp(img *imageio.RGB, op AugOp, magnitude float64) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	if math.IsNaN(magnitude) || math.IsInf(magnitude, 0) {
		return nil, fmt.Errorf("transforms: %s magnitude %v is not finite", op, magnitude)
	}
	pi := math.Pi                                                       // a variable: 180/pi is the rounded double division of math.degrees
	deg := func(m float64) float64 { return math.Atan(m) * (180 / pi) } // math.degrees(math.atan(m))
	switch op {
	case OpIdentity:
		return img.Clone(), nil
	case OpShearX:
		return Affine(img, 0, [2]float64{}, 1, [2]float64{deg(magnitude), 0}, &[2]float64{}, [3]uint8{})
	case OpShearY:
		return Affine(img, 0, [2]float64{}, 1, [2]float64{0, deg(magnitude)}, &[2]float64{}, [3]uint8{})
	case OpTranslateX: // translate=[int(magnitude), 0]: Python's int truncates toward zero
		return Affine(img, 0, [2]float64{math.Trunc(magnitude), 0}, 1, [2]float64{}, nil, [3]uint8{})
	case OpTranslateY:
		return Affine(img, 0, [2]float64{0, math.Trunc(magnitude)}, 1, [2]float64{}, nil, [3]uint8{})
	case OpRotate:
		return Rotate(img, magnitude, [3]uint8{})
	case OpBrightness:
		return AdjustBrightness(img, 1+magnitude)
	case OpColor:
		return AdjustSaturation(img, 1+magnitude)
	case OpContrast:
		return AdjustContrast(img, 1+magnitude)
	case OpSharpness:
		return AdjustSharpness(img, 1+magnitude)
	case OpPosterize:
		return Posterize(img, int(magnitude))
	case OpSolarize:
		return Solarize(img, magnitude)
	case OpAutoContrast:
		return AutoContrast(img)
	case OpEqualize:
		return Equalize(img)
	}
	return nil, fmt.Errorf("transforms: unknown augmentation op %q", op)
}

// Affine mirrors torchvision.transforms.functional.affine on a PIL image with NEAREST
// interpolation: _get_inverse_affine_matrix about center (nil: the image centre, w/2, h/2),
// then Image.transform(AFFINE). angle and shear are in degrees.
func Affine(img *imageio.RGB, angle float64, translate [2]float64, scale float64, shear [2]float64, center *[2]float64, fill [3]uint8) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("transforms: affine scale %v must be positive", scale)
	}
	c := [2]float64{float64(img.W) * 0.5, float64(img.H) * 0.5}
	if center != nil {
		c = *center
	}
	return affineNearest(img, inverseAffineMatrix(c, angle, translate, scale, shear), fill), nil
}

// inverseAffineMatrix mirrors torchvision's _get_inverse_affine_matrix(inverted=True), operation
// for operation so the doubles round alike.
func inverseAffineMatrix(center [2]float64, angle float64, translate [2]float64, scale float64, shear [2]float64) [6]float64 {
	pi := math.Pi                                                // a variable, as in Rotate
	radians := func(d float64) float64 { return d * (pi / 180) } // math.radians
	rot, sx, sy := radians(angle), radians(shear[0]), radians(shear[1])
	cx, cy := center[0], center[1]
	tx, ty := translate[0], translate[1]
	a := math.Cos(rot-sy) / math.Cos(sy)
	b := -math.Cos(rot-sy)*math.Tan(sx)/math.Cos(sy) - math.Sin(rot)
	cc := math.Sin(rot-sy) / math.Cos(sy)
	d := -math.Sin(rot-sy)*math.Tan(sx)/math.Cos(sy) + math.Cos(rot)
	m := [6]float64{d / scale, -b / scale, 0 / scale, -cc / scale, a / scale, 0 / scale}
	m[2] += float64(m[0]*(-cx-tx)) + float64(m[1]*(-cy-ty))
	m[5] += float64(m[3]*(-cx-tx)) + float64(m[4]*(-cy-ty))
	m[2] += cx
	m[5] += cy
	return m
}

// AdjustSharpness mirrors torchvision.transforms.functional.adjust_sharpness on a PIL image:
// ImageEnhance.Sharpness, a blend with the image through ImageFilter.SMOOTH.
func AdjustSharpness(img *imageio.RGB, factor float64) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	if err := checkFactor("sharpness", factor); err != nil {
		return nil, err
	}
	deg := smooth3x3(img)
	t := newBlendTable(float32(factor))
	out := imageio.NewRGB(img.W, img.H)
	for i := range out.Pix {
		out.Pix[i] = t.at(deg.Pix[i], img.Pix[i])
	}
	return out, nil
}

// smooth3x3 mirrors Filter.c's ImagingFilter3x3 with ImageFilter.SMOOTH ((1 1 1, 1 5 1, 1 1 1)
// / 13): float32 kernel and sums, +0.5 then truncation; the border rows and columns are copied.
func smooth3x3(img *imageio.RGB) *imageio.RGB {
	out := img.Clone()
	w, h := img.W, img.H
	if w < 3 || h < 3 { // ImagingFilter returns a copy of an image smaller than the kernel
		return out
	}
	k1, k5 := float32(1)/float32(13), float32(5)/float32(13)
	row := func(p []uint8, i int, kc float32) float32 {
		return float32(float32(float32(p[i-3])*k1)+float32(float32(p[i])*kc)) + float32(float32(p[i+3])*k1)
	}
	for y := 1; y < h-1; y++ {
		up, mid, down := img.Pix[(y-1)*w*3:y*w*3], img.Pix[y*w*3:(y+1)*w*3], img.Pix[(y+1)*w*3:(y+2)*w*3]
		o := out.Pix[y*w*3 : (y+1)*w*3]
		for x := 1; x < w-1; x++ {
			for c := 0; c < 3; c++ {
				i := x*3 + c
				ss := float32(0.5)
				ss += row(down, i, k1)
				ss += row(mid, i, k5)
				ss += row(up, i, k1)
				o[i] = clipTrunc8(ss)
			}
		}
	}
	return out
}

// clipTrunc8 is Filter.c's clip8: clamp to [0, 255], then truncate.
func clipTrunc8(v float32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// Posterize mirrors torchvision.transforms.functional.posterize on a PIL image
// (ImageOps.posterize): keep the bits high bits of every channel.
func Posterize(img *imageio.RGB, bits int) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	if bits < 1 || bits > 8 { // ImageOps.posterize's range
		return nil, fmt.Errorf("transforms: posterize bits %d must be in [1, 8]", bits)
	}
	var lut [256]uint8
	mask := ^uint8(1<<(8-bits) - 1)
	for i := range lut {
		lut[i] = uint8(i) & mask
	}
	return applyLUT(img, &lut), nil
}

// Solarize mirrors torchvision.transforms.functional.solarize on a PIL image (ImageOps.solarize):
// every value at or above threshold is inverted.
func Solarize(img *imageio.RGB, threshold float64) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	var lut [256]uint8
	for i := range lut {
		if float64(i) < threshold {
			lut[i] = uint8(i)
		} else {
			lut[i] = uint8(255 - i)
		}
	}
	return applyLUT(img, &lut), nil
}

// histograms counts each channel's values, as PIL's Image.histogram for RGB.
func histograms(img *imageio.RGB) [3][256]int {
	var h [3][256]int
	for i := 0; i+2 < len(img.Pix); i += 3 {
		h[0][img.Pix[i]]++
		h[1][img.Pix[i+1]]++
		h[2][img.Pix[i+2]]++
	}
	return h
}

// applyLUT3 maps each channel through its own table (PIL's point with 768 entries).
func applyLUT3(img *imageio.RGB, lut *[3][256]uint8) *imageio.RGB {
	out := imageio.NewRGB(img.W, img.H)
	for i := 0; i+2 < len(img.Pix); i += 3 {
		out.Pix[i] = lut[0][img.Pix[i]]
		out.Pix[i+1] = lut[1][img.Pix[i+1]]
		out.Pix[i+2] = lut[2][img.Pix[i+2]]
	}
	return out
}

// AutoContrast mirrors torchvision.transforms.functional.autocontrast on a PIL image
// (ImageOps.autocontrast, cutoff 0): each channel's range stretched to [0, 255].
func AutoContrast(img *imageio.RGB) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	hs := histograms(img)
	var lut [3][256]uint8
	for c, h := range hs {
		lo, hi := 0, 255
		for lo < 255 && h[lo] == 0 {
			lo++
		}
		for hi > 0 && h[hi] == 0 {
			hi--
		}
		if hi <= lo {
			for i := range lut[c] {
				lut[c][i] = uint8(i)
			}
			continue
		}
		scale := 255.0 / float64(hi-lo)
		offset := float64(-lo) * scale
		for i := range lut[c] {
			v := int(float64(float64(i)*scale) + offset) // Python's int() truncates toward zero
			lut[c][i] = uint8(max(0, min(255, v)))
		}
	}
	return applyLUT3(img, &lut), nil
}

// Equalize mirrors torchvision.transforms.functional.equalize on a PIL image
// (ImageOps.equalize): each channel's histogram equalised with PIL's integer steps.
func Equalize(img *imageio.RGB) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	hs := histograms(img)
	var lut [3][256]uint8
	for c, h := range hs {
		nonzero, sum, last := 0, 0, 0
		for _, n := range h {
			if n > 0 {
				nonzero++
				sum += n
				last = n
			}
		}
		step := 0
		if nonzero > 1 {
			step = (sum - last) / 255
		}
		if step == 0 {
			for i := range lut[c] {
				lut[c][i] = uint8(i)
			}
			continue
		}
		n := step / 2
		for i := range lut[c] {
			lut[c][i] = uint8(min(255, n/step))
			n += h[i]
		}
	}
	return applyLUT3(img, &lut), nil
}

// linspace32 mirrors torch.linspace(start, end, steps) in float32 as torch 2.1's CPU kernel
// computes it on an AVX-512 (and AVX2) build, where the compiler contracts the kernel's
// start + step·i (first half) and end − step·(steps−1−i) (second half) into fused multiply-adds:
// one rounding each, with a float32 step. (Rounded twice, 3 of the 31 ShearX magnitudes of
// TrivialAugmentWide come out 1 ulp away from torch's; TestParityAugmentSpaces.)
func linspace32(start, end float32, steps int) []float64 {
	out := make([]float64, steps)
	if steps == 1 {
		out[0] = float64(start)
		return out
	}
	step := (end - start) / float32(steps-1)
	half := steps / 2
	for i := range out {
		if i < half {
			out[i] = float64(fma32(step, float32(i), start))
		} else {
			out[i] = float64(fma32(-step, float32(steps-i-1), end))
		}
	}
	return out
}

// fma32 is a·b + c rounded once to float32. The float32 product is exact in float64, and for
// the magnitudes of linspace32 (terms within a few binades) so is the sum, so the single
// rounding is the conversion.
func fma32(a, b, c float32) float32 {
	return float32(float64(a)*float64(b) + float64(c))
}

// posterizeBits is 8 − (torch.arange(n) / ((n − 1) / div)).round().int() in float32.
func posterizeBits(n int, div float64) []float64 {
	out := make([]float64, n)
	d := float32(float64(n-1) / div)
	for i := range out {
		out[i] = float64(8 - int(math.RoundToEven(float64(float32(i)/d))))
	}
	return out
}

// trivialMagnitudes is op's entry of TrivialAugmentWide._augmentation_space(num_bins): its
// magnitudes (nil for ops without one, whose magnitude is 0). Only the drawn op's table is
// computed, per image.
func trivialMagnitudes(op AugOp, bins int) []float64 {
	l := func(hi float32) []float64 { return linspace32(0, hi, bins) }
	switch op {
	case OpShearX, OpShearY, OpBrightness, OpColor, OpContrast, OpSharpness:
		return l(0.99)
	case OpTranslateX, OpTranslateY:
		return l(32)
	case OpRotate:
		return l(135)
	case OpPosterize:
		return posterizeBits(bins, 6)
	case OpSolarize:
		return linspace32(255, 0, bins)
	}
	return nil
}

// randMagnitudes is op's entry of RandAugment._augmentation_space(num_bins, (height, width)).
func randMagnitudes(op AugOp, bins, h, w int) []float64 {
	l := func(hi float32) []float64 { return linspace32(0, hi, bins) }
	switch op {
	case OpShearX, OpShearY:
		return l(0.3)
	case OpTranslateX:
		return l(float32(150.0 / 331.0 * float64(w)))
	case OpTranslateY:
		return l(float32(150.0 / 331.0 * float64(h)))
	case OpRotate:
		return l(30)
	case OpBrightness, OpColor, OpContrast, OpSharpness:
		return l(0.9)
	case OpPosterize:
		return posterizeBits(bins, 4)
	case OpSolarize:
		return linspace32(255, 0, bins)
	}
	return nil
}

// signedOp reports whether both policies draw op's sign (the geometric and enhance ops).
func signedOp(op AugOp) bool {
	switch op {
	case OpShearX, OpShearY, OpTranslateX, OpTranslateY, OpRotate, OpBrightness, OpColor, OpContrast, OpSharpness:
		return true
	}
	return false
}

// TrivialAugmentWide mirrors torchvision.transforms.TrivialAugmentWide (NEAREST, fill 0) on a
// PIL image: one op drawn uniformly, a magnitude bin drawn uniformly, and a random sign.
type TrivialAugmentWide struct {
	NumMagnitudeBins int // 31 when 0
}

// Apply draws and applies one op.
func (t TrivialAugmentWide) Apply(img *imageio.RGB, rng Rand) (*imageio.RGB, error) {
	if rng == nil {
		return nil, fmt.Errorf("transforms: TrivialAugmentWide needs a random source")
	}
	bins := t.NumMagnitudeBins
	if bins == 0 {
		bins = 31
	}
	if bins < 2 {
		return nil, fmt.Errorf("transforms: TrivialAugmentWide num_magnitude_bins %d must be at least 2", bins)
	}
	op := augOps[rng.IntN(len(augOps))]
	mag := 0.0
	if ms := trivialMagnitudes(op, bins); ms != nil {
		mag = ms[rng.IntN(len(ms))]
	}
	if signedOp(op) && rng.IntN(2) == 1 {
		mag = -mag
	}
	return ApplyAugOp(img, op, mag)
}

// RandAugment mirrors torchvision.transforms.RandAugment(num_ops, magnitude, num_magnitude_bins)
// (NEAREST, fill 0) on a PIL image: NumOps ops drawn uniformly, each at bin Magnitude with a
// random sign.
type RandAugment struct {
	NumOps           int // 2 in torchvision
	Magnitude        int // 9 in torchvision: the bin index
	NumMagnitudeBins int // 31 when 0
}

// Apply draws and applies NumOps ops.
func (t RandAugment) Apply(img *imageio.RGB, rng Rand) (*imageio.RGB, error) {
	if rng == nil {
		return nil, fmt.Errorf("transforms: RandAugment needs a random source")
	}
	bins := t.NumMagnitudeBins
	if bins == 0 {
		bins = 31
	}
	if t.NumOps < 0 || t.Magnitude < 0 || t.Magnitude >= bins {
		return nil, fmt.Errorf("transforms: RandAugment num_ops %d must be ≥ 0 and magnitude %d in [0, %d)", t.NumOps, t.Magnitude, bins)
	}
	var err error
	for range t.NumOps {
		op := augOps[rng.IntN(len(augOps))]
		mag := 0.0
		if ms := randMagnitudes(op, bins, img.H, img.W); ms != nil {
			mag = ms[t.Magnitude]
		}
		if signedOp(op) && rng.IntN(2) == 1 {
			mag = -mag
		}
		if img, err = ApplyAugOp(img, op, mag); err != nil {
			return nil, err
		}
	}
	return img, nil
}
