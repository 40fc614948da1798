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
	// Truncating first, then clamping, clips as Blend.c does (0 for v ≤ 0, 255 for v ≥ 255).
	return uint8(min(max(int32(v), 0), 255))
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
	lutInto(out.Pix, img.Pix, lut)
	return out
}

// lutInto writes lut[src[i]] to dst[i]; dst may be src.
func lutInto(dst, src []uint8, lut *[256]uint8) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = lut[v]
	}
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
	return adjustCopy(img, factor, brightnessOp)
}

// AdjustContrast mirrors torchvision.transforms.functional.adjust_contrast on a PIL image:
// ImageEnhance.Contrast, a blend with the uniform grey of the rounded mean luma.
func AdjustContrast(img *imageio.RGB, factor float64) (*imageio.RGB, error) {
	return adjustCopy(img, factor, contrastOp)
}

// AdjustSaturation mirrors torchvision.transforms.functional.adjust_saturation on a PIL image:
// ImageEnhance.Color, a blend with img.convert("L").convert("RGB").
func AdjustSaturation(img *imageio.RGB, factor float64) (*imageio.RGB, error) {
	return adjustCopy(img, factor, saturationOp)
}

// colorOp is one ColorJitter adjustment as a check of its factor and a per-pixel kernel that
// writes the adjusted src into dst, which may be src (ApplyJitter adjusts its copy in place).
type colorOp struct {
	check  func(factor float64) error
	kernel func(dst, src []uint8, factor float64)
}

var (
	brightnessOp = colorOp{
		check: func(f float64) error { return checkFactor("brightness", f) },
		kernel: func(dst, src []uint8, f float64) {
			lutInto(dst, src, blendConstLUT(0, float32(f)))
		},
	}
	contrastOp = colorOp{
		check: func(f float64) error { return checkFactor("contrast", f) },
		kernel: func(dst, src []uint8, f float64) {
			lutInto(dst, src, blendConstLUT(meanLuma(src), float32(f)))
		},
	}
	saturationOp = colorOp{
		check:  func(f float64) error { return checkFactor("saturation", f) },
		kernel: saturate,
	}
	hueOp = colorOp{
		check: func(f float64) error { _, err := hueShift(f); return err },
		kernel: func(dst, src []uint8, f float64) {
			shift, _ := hueShift(f)
			adjustHue(dst, src, shift)
		},
	}
)

// adjustCopy applies op to a copy of img.
func adjustCopy(img *imageio.RGB, factor float64, op colorOp) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	if err := op.check(factor); err != nil {
		return nil, err
	}
	out := imageio.NewRGB(img.W, img.H)
	op.kernel(out.Pix, img.Pix, factor)
	return out, nil
}

// meanLuma is ImageStat.Stat(img.convert("L")).mean[0] rounded as ImageEnhance.Contrast does:
// int(mean + 0.5), the mean being the histogram sum over the pixel count.
func meanLuma(pix []uint8) uint8 {
	n := len(pix) / 3
	if n == 0 {
		return 0 // ImageStat gives mean 0 for an empty image
	}
	var sum uint64
	for p := pix; len(p) >= 3; p = p[3:] {
		sum += uint64(luma(p[0], p[1], p[2]))
	}
	mean := float64(sum) / float64(n)
	return uint8(int(mean + 0.5))
}

// saturate is ImageEnhance.Color's blend of src with its luma into dst (which may be src).
func saturate(dst, src []uint8, factor float64) {
	alpha := float32(factor)
	switch alpha {
	case 0: // Blend's shortcut: a copy of the degenerate image
		for len(src) >= 3 && len(dst) >= 3 {
			l := luma(src[0], src[1], src[2])
			dst[0], dst[1], dst[2] = l, l, l
			src, dst = src[3:], dst[3:]
		}
	case 1:
		copy(dst, src)
	default:
		bt := newBlendTable(alpha)
		if len(src) < saturateTableMin {
			for len(src) >= 3 && len(dst) >= 3 {
				r, g, b := src[0], src[1], src[2]
				l := luma(r, g, b)
				dst[0], dst[1], dst[2] = bt.at(l, r), bt.at(l, g), bt.at(l, b)
				src, dst = src[3:], dst[3:]
			}
			return
		}
		// A large image looks up each blend in a table of all (luma, value) pairs, refilled in
		// a pooled buffer (one training image after another would otherwise allocate 64 KiB each).
		tp := saturatePool.Get().(*[256 * 256]uint8)
		defer saturatePool.Put(tp)
		tab := tp[:]
		for l := 0; l < 256; l++ {
			row := (*[256]uint8)(tab[l*256:])
			for v := range row {
				row[v] = bt.at(uint8(l), uint8(v))
			}
		}
		for len(src) >= 3 && len(dst) >= 3 {
			r, g, b := src[0], src[1], src[2]
			row := (*[256]uint8)(tab[int(luma(r, g, b))*256:])
			dst[0], dst[1], dst[2] = row[r], row[g], row[b]
			src, dst = src[3:], dst[3:]
		}
	}
}

var saturatePool = sync.Pool{New: func() any { return new([256 * 256]uint8) }}

// saturateTableMin is the image size in bytes from which saturate tabulates the blend: filling
// the 65,536 entries costs about as much as blending 20,000 pixels directly.
const saturateTableMin = 3 * 20000

// AdjustHue mirrors torchvision's functional_pil.adjust_hue: convert to PIL HSV, add
// np.uint8(hue_factor·255) to the 8-bit hue with wrap-around, convert back. hue_factor must be
// in [-0.5, 0.5].
func AdjustHue(img *imageio.RGB, hueFactor float64) (*imageio.RGB, error) {
	return adjustCopy(img, hueFactor, hueOp)
}

// hueShift is the 8-bit hue offset of a hue factor: np.uint8(hue_factor·255), which truncates
// toward zero and wraps modulo 256.
func hueShift(hueFactor float64) (uint8, error) {
	if !(hueFactor >= -0.5 && hueFactor <= 0.5) {
		return 0, fmt.Errorf("transforms: hue_factor (%v) is not in [-0.5, 0.5]", hueFactor)
	}
	return uint8(int(hueFactor * 255)), nil
}

// adjustHue writes the hue-shifted src into dst (which may be src): PIL's RGB → HSV → RGB
// round trip (Convert.c's rgb2hsv_row and hsv2rgb) through tables that give the same bytes as
// the per-pixel float arithmetic for every input: TestHSVTablesExhaustive checks both halves on
// all 2^24 inputs, TestAdjustHueExhaustive the whole on all 2^24 colours for a dozen factors.
func adjustHue(dst, src []uint8, shift uint8) {
	tb := hsvTables()
	for len(src) >= 3 && len(dst) >= 3 {
		h, s, v := tb.hsv(tb.sorted((*[3]uint8)(src)))
		h += shift
		dst[0], dst[1], dst[2] = tb.place(h, tb.values(h, s, v))
		src, dst = src[3:], dst[3:]
	}
}

// sorted gives the channel order k (channelOrder) and the max, mid and min channels of c. With
// hsv it is rgbToHSV: hsv(sorted(c)) equals rgbToHSV(c[0], c[1], c[2]).
func (tb *hsvTable) sorted(c *[3]uint8) (k, v, mid, mn uint8) {
	k = channelOrder(c[0], c[1], c[2]) & 7
	o := &tb.order[k]
	return k, c[o[0]], c[o[1]], c[o[2]]
}

// hsv is rgb2hsv_row's h, s, v by table look-ups from sorted's values.
func (tb *hsvTable) hsv(k, v, mid, mn uint8) (uint8, uint8, uint8) {
	cr := v - mn
	return tb.hue[k][cr][mid-mn], tb.sat[cr][v], v
}

// channelOrder packs the comparisons r ≥ g, r ≥ b, g ≥ b into bits 0, 1, 2: which channel is
// max, mid and min, ties resolved by the comparisons as rgb2hsv_row's branches need.
func channelOrder(r, g, b uint8) uint8 {
	var k uint8
	if r >= g {
		k = 1
	}
	if r >= b {
		k |= 2
	}
	if g >= b {
		k |= 4
	}
	return k
}

// values packs hsv2rgb's v, q or t, and p in bytes 0, 1, 2. With place it is hsv2rgb:
// place(h, values(h, s, v)) equals Convert.c's hsv2rgb(h, s, v) (for s = 0, grey, the tables
// give v, v, v).
func (tb *hsvTable) values(h, s, v uint8) uint32 {
	// v's factor is 1 − fs·f (q, odd sectors, fs·f a float product) or 1 − fs·(1 − f) (t, even
	// sectors, in double): both products in double, the float one then rounded to float, which
	// is exact as the double product is.
	hs := &tb.sector[h]
	m := tb.fs[s] * hs.f
	if hs.odd {
		m = float64(float32(m))
	}
	// C round() of the non-negative product. Adding one half and truncating gives the same
	// integers here: no product lies within an ulp below a half (TestHSVTablesExhaustive tries
	// all 2^24 (h, s, v)).
	x := uint32(float64(float64(v)*(1.0-m)) + 0.5)
	return uint32(v) | x<<8 | uint32(tb.p[s][v])<<16
}

// place unpacks values' word to r, g and b as h's sector orders them.
func (tb *hsvTable) place(h uint8, pk uint32) (uint8, uint8, uint8) {
	sh := &tb.sector[h].shift
	return uint8(pk >> (sh[0] & 31)), uint8(pk >> (sh[1] & 31)), uint8(pk >> (sh[2] & 31))
}

// hsvSector holds what hsv2rgb takes from the hue h: its sector i = floor(h·6/255) mod 6 as
// whether q (odd) or t (even) is computed and as the bit offsets in values' packed word of
// the values for r, g and b, and f = h·6/255 − i as float (for q) or 1 − f (for t), in double.
type hsvSector struct {
	f     float64
	shift [3]uint8
	odd   bool
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
// double-precision constants operation by operation. It fills hsvTables.
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

// hsvTable tabulates PIL's HSV round trip by the few 8-bit quantities each part depends on.
type hsvTable struct {
	// hue[channelOrder][max−min][mid−min]: rgb2hsv_row's hue reads only channel differences,
	// so the table holds it for every channel order and difference pair (orders 2 and 5
	// cannot occur).
	hue [8][256][256]uint8
	// order[channelOrder]: the indices of the max, mid and min channels.
	order [8][3]uint8
	// sat[max−min][max]: rgb2hsv_row's saturation, (max−min)/max.
	sat    [256][256]uint8
	sector [256]hsvSector
	// fs[s] = s/255 as float, in double.
	fs [256]float64
	// p[s][v] = round(v·(1 − fs)), fs = s/255 as float.
	p [256][256]uint8
}

var hsvTables = sync.OnceValue(func() *hsvTable {
	t := new(hsvTable)
	for cr := 1; cr < 256; cr++ {
		for e := 0; e <= cr; e++ {
			// Each colour with min 0, max cr and mid e: a colour less its min keeps its hue
			// and its channel order.
			c, m := uint8(cr), uint8(e)
			for _, x := range [6][3]uint8{{c, m, 0}, {c, 0, m}, {m, c, 0}, {0, c, m}, {m, 0, c}, {0, m, c}} {
				t.hue[channelOrder(x[0], x[1], x[2])][cr][e], _, _ = rgbToHSV(x[0], x[1], x[2])
			}
		}
		for v := cr; v < 256; v++ {
			_, t.sat[cr][v], _ = rgbToHSV(uint8(v), uint8(v-cr), uint8(v-cr))
		}
	}
	t.order = [8][3]uint8{0: {2, 1, 0}, 1: {2, 0, 1}, 3: {0, 2, 1}, 4: {1, 2, 0}, 6: {1, 0, 2}, 7: {0, 1, 2}}
	var f, fs [256]float32
	for h := 0; h < 256; h++ {
		hd := float64(h) * 6.0 / 255.0
		i := int(math.Floor(hd))
		f[h] = float32(hd - float64(float32(i)))
		fs[h] = float32(float64(h) / 255.0)
		t.fs[h] = float64(fs[h])
		// hsv2rgb's sectors: (v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q).
		sec := hsvSector{f: float64(f[h]), odd: i%2 == 1}
		sec.shift = [6][3]uint8{{0, 8, 16}, {8, 0, 16}, {16, 0, 8}, {16, 8, 0}, {8, 16, 0}, {0, 16, 8}}[i%6]
		if !sec.odd {
			sec.f = 1.0 - sec.f
		}
		t.sector[h] = sec
	}
	for s := 0; s < 256; s++ {
		for v := 0; v < 256; v++ {
			t.p[s][v] = clipInt8(int(math.Round(float64(v) * (1.0 - float64(fs[s])))))
		}
	}
	return t
})
