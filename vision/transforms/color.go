package transforms

import (
	"fmt"
	"math"
	"sync"

	"github.com/drgrade/drgrade/vision/imageio"
)

// luma mirrors Convert.c's rgb2l: ITU-R 601-2 luma in 16.16 fixed point (L24 >> 16).
func luma(r, g, b uint8) uint8 {
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
}

// blendValue mirrors Blend.c's ImagingBlend for one sample: in1 + alpha·(in2 − in1) in float32,
// truncated, and clipped only when alpha extrapolates (outside [0, 1]).
func blendValue(in1, in2 uint8, alpha float32) uint8 {
	// float32(...) around the product keeps it rounded separately, as the C code does.
	t := float32(in1) + float32(alpha*float32(int32(in2)-int32(in1)))
	if alpha >= 0 && alpha <= 1 {
		return uint8(t)
	}
	if t <= 0 {
		return 0
	}
	if t >= 255 {
		return 255
	}
	return uint8(t)
}

// blendTable tabulates the product term of blendValue, α·(in2 − in1) as float32, for every
// difference, so blending two varying images costs one add and one conversion per value.
type blendTable struct {
	prod [511]float32
	clip bool // α outside [0, 1]: Blend.c clips
}

func newBlendTable(alpha float32) *blendTable {
	t := &blendTable{clip: !(alpha >= 0 && alpha <= 1)}
	for d := -255; d <= 255; d++ {
		t.prod[d+255] = float32(alpha * float32(d))
	}
	return t
}

// at equals blendValue(in1, in2, α).
func (t *blendTable) at(in1, in2 uint8) uint8 {
	v := float32(in1) + t.prod[int(in2)-int(in1)+255]
	if !t.clip {
		return uint8(v)
	}
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}

// blendConstLUT tabulates blendValue against a constant degenerate value, so the per-pixel work
// of brightness and contrast is one table look-up.
func blendConstLUT(deg uint8, alpha float32) *[256]uint8 {
	var lut [256]uint8
	for v := range lut {
		lut[v] = blendValue(deg, uint8(v), alpha)
	}
	return &lut
}

func applyLUT(img *imageio.RGB, lut *[256]uint8) *imageio.RGB {
	out := imageio.NewRGB(img.W, img.H)
	dst := out.Pix
	for i, v := range img.Pix {
		dst[i] = lut[v]
	}
	return out
}

// checkFactor rejects factors PIL would also reject or that make no sense as enhancement.
func checkFactor(name string, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return fmt.Errorf("transforms: %s factor %v must be a finite non-negative number", name, f)
	}
	return nil
}

// AdjustBrightness mirrors torchvision.transforms.functional.adjust_brightness on a PIL image:
// ImageEnhance.Brightness, i.e. Image.blend(black, img, factor) with the factor as float32.
func AdjustBrightness(img *imageio.RGB, factor float64) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	if err := checkFactor("brightness", factor); err != nil {
		return nil, err
	}
	return applyLUT(img, blendConstLUT(0, float32(factor))), nil
}

// meanLuma is ImageStat.Stat(img.convert("L")).mean[0] rounded as ImageEnhance.Contrast does:
// int(mean + 0.5), the mean being the histogram sum over the pixel count.
func meanLuma(img *imageio.RGB) uint8 {
	if img.W == 0 || img.H == 0 {
		return 0 // ImageStat gives mean 0 for an empty image
	}
	var sum uint64
	p := img.Pix
	for i := 0; i+2 < len(p); i += 3 {
		sum += uint64(luma(p[i], p[i+1], p[i+2]))
	}
	mean := float64(sum) / float64(img.W*img.H)
	return uint8(int(mean + 0.5))
}

// AdjustContrast mirrors torchvision.transforms.functional.adjust_contrast on a PIL image:
// ImageEnhance.Contrast, a blend with the uniform grey of the rounded mean luma.
func AdjustContrast(img *imageio.RGB, factor float64) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	if err := checkFactor("contrast", factor); err != nil {
		return nil, err
	}
	return applyLUT(img, blendConstLUT(meanLuma(img), float32(factor))), nil
}

// AdjustSaturation mirrors torchvision.transforms.functional.adjust_saturation on a PIL image:
// ImageEnhance.Color, a blend with img.convert("L").convert("RGB").
func AdjustSaturation(img *imageio.RGB, factor float64) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	if err := checkFactor("saturation", factor); err != nil {
		return nil, err
	}
	out := imageio.NewRGB(img.W, img.H)
	alpha := float32(factor)
	src, dst := img.Pix, out.Pix
	switch alpha {
	case 0: // Blend's shortcut: a copy of the degenerate image
		for i := 0; i+2 < len(src); i += 3 {
			l := luma(src[i], src[i+1], src[i+2])
			dst[i], dst[i+1], dst[i+2] = l, l, l
		}
	case 1:
		copy(dst, src)
	default:
		bt := newBlendTable(alpha)
		for i := 0; i+2 < len(src); i += 3 {
			p := (*[3]uint8)(src[i:])
			d := (*[3]uint8)(dst[i:])
			l := luma(p[0], p[1], p[2])
			d[0], d[1], d[2] = bt.at(l, p[0]), bt.at(l, p[1]), bt.at(l, p[2])
		}
	}
	return out, nil
}

// AdjustHue mirrors torchvision's functional_pil.adjust_hue: convert to PIL HSV, add
// np.uint8(hue_factor·255) to the 8-bit hue with wrap-around, convert back. hue_factor must be
// in [-0.5, 0.5].
func AdjustHue(img *imageio.RGB, hueFactor float64) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	if !(hueFactor >= -0.5 && hueFactor <= 0.5) {
		return nil, fmt.Errorf("transforms: hue_factor (%v) is not in [-0.5, 0.5]", hueFactor)
	}
	// np.uint8(float) truncates toward zero and wraps modulo 256.
	shift := uint8(int(hueFactor * 255))
	out := imageio.NewRGB(img.W, img.H)
	src, dst := img.Pix, out.Pix
	tb := hsvTables()
	for i := 0; i+2 < len(src); i += 3 {
		p := (*[3]uint8)(src[i:])
		d := (*[3]uint8)(dst[i:])
		h, s, v := rgbToHSV(p[0], p[1], p[2])
		d[0], d[1], d[2] = tb.toRGB(h+shift, s, v)
	}
	return out, nil
}

func clipInt8(v int) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// rgbToHSV mirrors Convert.c's rgb2hsv_row, reproducing its mix of float32 variables and
// double-precision constants operation by operation.
func rgbToHSV(r, g, b uint8) (uint8, uint8, uint8) {
	maxc := max(r, g, b)
	minc := min(r, g, b)
	if minc == maxc {
		return 0, 0, maxc
	}
	cr := float32(maxc - minc)
	s := cr / float32(maxc)
	var h float32
	switch {
	case r == maxc:
		gc := float32(maxc-g) / cr
		bc := float32(maxc-b) / cr
		h = bc - gc
	case g == maxc:
		rc := float32(maxc-r) / cr
		bc := float32(maxc-b) / cr
		h = float32(2.0 + float64(rc) - float64(bc))
	default:
		rc := float32(maxc-r) / cr
		gc := float32(maxc-g) / cr
		h = float32(4.0 + float64(gc) - float64(rc))
	}
	// fmod(h/6 + 1, 1): h/6 + 1 lies in [5/6, 11/6], where subtracting 1 is exact (Sterbenz),
	// so this is the exact fmod without math.Mod's cost.
	x := float64(h)/6.0 + 1.0
	if x >= 1 {
		x -= 1
	}
	h = float32(x)
	return clipInt8(int(float64(h) * 255.0)), clipInt8(int(float64(s) * 255.0)), maxc
}

// hsvTables hold the per-hue and per-saturation terms of Convert.c's hsv2rgb, which depend on
// one 8-bit input only: i = floor(h·6/255) mod 6, f = h·6/255 − i (as float), fs = s/255 (as
// float), and p = round(v·(1 − fs)), which depends on (s, v) only.
var hsvTables = sync.OnceValue(func() *hsvTable {
	t := new(hsvTable)
	for h := 0; h < 256; h++ {
		hd := float64(h) * 6.0 / 255.0
		i := int(math.Floor(hd))
		t.sector[h] = uint8(i % 6)
		t.f[h] = float32(hd - float64(float32(i)))
		t.fs[h] = float32(float64(h) / 255.0)
	}
	for s := 0; s < 256; s++ {
		for v := 0; v < 256; v++ {
			t.p[s][v] = clipInt8(int(math.Round(float64(v) * (1.0 - float64(t.fs[s])))))
		}
	}
	return t
})

type hsvTable struct {
	sector [256]uint8
	f, fs  [256]float32
	p      [256][256]uint8
}

// toRGB mirrors Convert.c's hsv2rgb for one pixel (C round() is half away from zero).
func (tb *hsvTable) toRGB(h, s, v uint8) (uint8, uint8, uint8) {
	if s == 0 {
		return v, v, v
	}
	f, fs := tb.f[h], tb.fs[s]
	fv := float64(v)
	p := tb.p[s][v]
	switch tb.sector[h] {
	case 0:
		return v, hsvT(fv, fs, f), p
	case 1:
		return hsvQ(fv, fs, f), v, p
	case 2:
		return p, v, hsvT(fv, fs, f)
	case 3:
		return p, hsvQ(fv, fs, f), v
	case 4:
		return hsvT(fv, fs, f), p, v
	default:
		return v, p, hsvQ(fv, fs, f)
	}
}

// hsvQ is round(v·(1 − fs·f)) with fs·f a float product, as in hsv2rgb.
func hsvQ(fv float64, fs, f float32) uint8 {
	return clipInt8(int(math.Round(fv * (1.0 - float64(float32(fs*f))))))
}

// hsvT is round(v·(1 − fs·(1 − f))) with the inner terms in double, as in hsv2rgb.
func hsvT(fv float64, fs, f float32) uint8 {
	return clipInt8(int(math.Round(fv * (1.0 - float64(float64(fs)*(1.0-float64(f)))))))
}
