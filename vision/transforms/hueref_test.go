package transforms

// The reference for color_test.go: PIL's HSV round trip per pixel in float arithmetic, as
// color.go computed it before the tables (kept verbatim apart from the names), parity-tested
// against Pillow by TestParityTransforms at the time. Its forward half is color.go's rgbToHSV,
// which still computes one pixel in float and builds the tables from representatives.

import (
	"fmt"
	"math"
	"sync"

	"github.com/drgrade/drgrade/vision/imageio"
)

// refAdjustHue is AdjustHue before the tables: it mirrors torchvision's
// functional_pil.adjust_hue (convert to PIL HSV, add np.uint8(hue_factor·255) to the 8-bit hue
// with wrap-around, convert back) per pixel in float arithmetic.
func refAdjustHue(img *imageio.RGB, hueFactor float64) (*imageio.RGB, error) {
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
	tb := refHSVTables()
	for i := 0; i+2 < len(src); i += 3 {
		p := (*[3]uint8)(src[i:])
		d := (*[3]uint8)(dst[i:])
		h, s, v := rgbToHSV(p[0], p[1], p[2])
		d[0], d[1], d[2] = tb.toRGB(h+shift, s, v)
	}
	return out, nil
}

// refHSVTables hold the per-hue and per-saturation terms of Convert.c's hsv2rgb, which depend on
// one 8-bit input only: i = floor(h·6/255) mod 6, f = h·6/255 − i (as float), fs = s/255 (as
// float), and p = round(v·(1 − fs)), which depends on (s, v) only.
var refHSVTables = sync.OnceValue(func() *refHSVTable {
	t := new(refHSVTable)
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

type refHSVTable struct {
	sector [256]uint8
	f, fs  [256]float32
	p      [256][256]uint8
}

// toRGB mirrors Convert.c's hsv2rgb for one pixel (C round() is half away from zero).
func (tb *refHSVTable) toRGB(h, s, v uint8) (uint8, uint8, uint8) {
	if s == 0 {
		return v, v, v
	}
	f, fs := tb.f[h], tb.fs[s]
	fv := float64(v)
	p := tb.p[s][v]
	switch tb.sector[h] {
	case 0:
		return v, refHSVT(fv, fs, f), p
	case 1:
		return refHSVQ(fv, fs, f), v, p
	case 2:
		return p, v, refHSVT(fv, fs, f)
	case 3:
		return p, refHSVQ(fv, fs, f), v
	case 4:
		return refHSVT(fv, fs, f), p, v
	default:
		return v, p, refHSVQ(fv, fs, f)
	}
}

// refHSVQ is round(v·(1 − fs·f)) with fs·f a float product, as in hsv2rgb.
func refHSVQ(fv float64, fs, f float32) uint8 {
	return clipInt8(int(math.Round(fv * (1.0 - float64(float32(fs*f))))))
}

// refHSVT is round(v·(1 − fs·(1 − f))) with the inner terms in double, as in hsv2rgb.
func refHSVT(fv float64, fs, f float32) uint8 {
	return clipInt8(int(math.Round(fv * (1.0 - float64(float64(fs)*(1.0-float64(f)))))))
}
