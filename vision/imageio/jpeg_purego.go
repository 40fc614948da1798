package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"strings"
)

// pureGoSize reads a JPEG's size with image/jpeg's header reader.
func pureGoSize(data []byte) (int, int, error) {
	cfg, err := stdjpeg.DecodeConfig(bytes.NewReader(data))
	return cfg.Width, cfg.Height, err
}

// decodeJPEGPureGo is the PureGo decoder: Go's image/jpeg, whose colour-space rules are
// libjpeg's (JFIF and Adobe markers, 'R','G','B' component ids), then for YCbCr and RGB
// images libjpeg-turbo's fancy upsampling (and for YCbCr its colour tables) on image/jpeg's
// component planes. What is left of the difference with Pillow is Go's IDCT (not libjpeg's
// islow), plus nearest-neighbour chroma for the rare subsampled CMYK JPEGs, which image/jpeg
// converts itself.
func decodeJPEGPureGo(data []byte) (*RGB, error) {
	cfg, err := stdjpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	rgbCoded := cfg.ColorModel == color.RGBAModel
	if rgbCoded {
		// image/jpeg converts RGB-coded JPEGs itself, replicating subsampled components; a
		// JFIF marker makes it hand back the R, G, B planes as "Y, Cb, Cr" instead.
		data = withMarker(data, jfifAPP0)
	}
	m, err := stdjpeg.Decode(bytes.NewReader(data))
	var unsup stdjpeg.UnsupportedError
	if errors.As(err, &unsup) && strings.Contains(string(unsup), "Adobe") {
		// A 4-component JPEG without an Adobe APP14 marker: libjpeg reads it as plain CMYK
		// (Adobe transform 0) and Pillow decodes it; image/jpeg refuses it unless told so.
		m, err = stdjpeg.Decode(bytes.NewReader(withMarker(data, adobeCMYKAPP14)))
	}
	if err != nil {
		return nil, err
	}
	if ycc, ok := m.(*image.YCbCr); ok && ycc.Rect.Min == (image.Point{}) {
		return planesToRGB(ycc, rgbCoded), nil
	}
	// *image.Gray; *image.CMYK, which image/jpeg has already inverted from Adobe polarity
	// exactly like Pillow's "CMYK;I".
	return toRGB(m, false)
}

// Marker segments the PureGo decoder inserts after SOI to steer image/jpeg: a JFIF APP0
// (version 1.01, no density, no thumbnail) and an Adobe APP14 (version 100, no flags,
// transform 0 = no colour transform).
var (
	jfifAPP0       = []byte{0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	adobeCMYKAPP14 = []byte{0xFF, 0xEE, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0}
)

// withMarker returns a copy of a JPEG with the marker segment seg right after SOI.
func withMarker(data, seg []byte) []byte {
	out := make([]byte, 0, len(data)+len(seg))
	out = append(out, data[:2]...)
	out = append(out, seg...)
	return append(out, data[2:]...)
}

// plane is one decoded JPEG component at its own resolution, as libjpeg sees it: w×h real
// samples (libjpeg's downsampled_width/height), the decoder's padding blocks beyond them,
// each sample covering hs×vs output pixels.
type plane struct {
	pix          []uint8
	stride       int
	w, h, hs, vs int
}

// chromaPlane describes a chroma plane of m.
func chromaPlane(pix []uint8, m *image.YCbCr) plane {
	hs, vs := subsampling(m.SubsampleRatio)
	w, h := m.Rect.Dx(), m.Rect.Dy()
	return plane{pix: pix, stride: m.CStride, w: (w + hs - 1) / hs, h: (h + vs - 1) / vs, hs: hs, vs: vs}
}

// planesToRGB finishes an image/jpeg YCbCr decode the way libjpeg-turbo does with Pillow's
// settings: chroma upsampled by upsampleRow (jdsample.c), then yccPixel (jdcolor.c). With
// rgbCoded the planes are R, G, B (see decodeJPEGPureGo) and only need upsampling.
func planesToRGB(m *image.YCbCr, rgbCoded bool) *RGB {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out := NewRGB(w, h)
	cbp, crp := chromaPlane(m.Cb, m), chromaPlane(m.Cr, m)
	cb, cr := make([]uint8, w+4), make([]uint8, w+4)
	for y := range h {
		cbp.upsampleRow(cb, y)
		crp.upsampleRow(cr, y)
		yr := m.Y[y*m.YStride : y*m.YStride+w]
		o := out.Pix[3*w*y : 3*w*(y+1)]
		if rgbCoded {
			for x, v := range yr {
				o[3*x], o[3*x+1], o[3*x+2] = v, cb[x], cr[x]
			}
			continue
		}
		for x, v := range yr {
			o[3*x], o[3*x+1], o[3*x+2] = yccPixel(v, cb[x], cr[x])
		}
	}
	return out
}

// upsampleRow writes output row y of the plane, upsampled to full width, into dst (at least
// output width + 4 long). It picks libjpeg-turbo's method from the sampling ratio (jdsample.c
// jinit_upsampler): h2v1 and h2v2 use the fancy triangle filter when the plane is more than
// two samples wide, h1v2 always does, everything else replicates (box filter).
func (p plane) upsampleRow(dst []uint8, y int) {
	cw := p.w
	row := func(r int) []uint8 { return p.pix[r*p.stride : r*p.stride+cw : r*p.stride+cw] } // real samples only
	switch {
	case p.hs == 1 && p.vs == 1:
		copy(dst, row(y))
	case p.hs == 2 && p.vs == 1 && cw > 2: // h2v1_fancy_upsample: 3/4 nearer + 1/4 further
		in := row(y)
		dst[0] = in[0]
		dst[1] = uint8((int(in[0])*3 + int(in[1]) + 2) >> 2)
		for i := 1; i < cw-1; i++ {
			v := int(in[i]) * 3
			dst[2*i] = uint8((v + int(in[i-1]) + 1) >> 2)
			dst[2*i+1] = uint8((v + int(in[i+1]) + 2) >> 2)
		}
		v := int(in[cw-1])
		dst[2*cw-2] = uint8((v*3 + int(in[cw-2]) + 1) >> 2)
		dst[2*cw-1] = uint8(v)
	case p.hs == 1 && p.vs == 2: // h1v2_fancy_upsample
		near, far, bias := verticalPair(y, p.h)
		n, f := row(near), row(far)
		for x := range cw {
			dst[x] = uint8((int(n[x])*3 + int(f[x]) + bias) >> 2)
		}
	case p.hs == 2 && p.vs == 2 && cw > 2: // h2v2_fancy_upsample: vertical pass, then horizontal
		near, far, _ := verticalPair(y, p.h)
		n, f := row(near), row(far)
		this, next := int(n[0])*3+int(f[0]), int(n[1])*3+int(f[1])
		dst[0] = uint8((this*4 + 8) >> 4)
		dst[1] = uint8((this*3 + next + 7) >> 4)
		last := this
		this = next
		d := dst[:2*cw]
		for i := 2; i < cw; i++ { // output pair i-1
			next = int(n[i])*3 + int(f[i])
			d[2*i-2] = uint8((this*3 + last + 8) >> 4)
			d[2*i-1] = uint8((this*3 + next + 7) >> 4)
			last, this = this, next
		}
		dst[2*cw-2] = uint8((this*3 + last + 8) >> 4)
		dst[2*cw-1] = uint8((this*4 + 7) >> 4)
	default: // h2v1_upsample, h2v2_upsample, int_upsample: replicate
		in := row(y / p.vs)
		for x := range min(cw*p.hs, len(dst)) {
			dst[x] = in[x/p.hs]
		}
	}
}

// verticalPair gives, for output row y of a 2:1 vertically subsampled plane with ch rows, the
// nearer and the next-nearer plane row and libjpeg's rounding bias: the upper output row of a
// pair looks at the row above (bias 1), the lower one at the row below (bias 2); the first and
// last real rows are duplicated at the edges (jdmainct.c context rows).
func verticalPair(y, ch int) (near, far, bias int) {
	near = y / 2
	if y%2 == 0 {
		return near, max(near-1, 0), 1
	}
	return near, min(near+1, ch-1), 2
}

// libjpeg's YCbCr→RGB tables (jdcolor.c build_ycc_rgb_table), SCALEBITS = 16.
var crR, cbB, crG, cbG [256]int32

func init() {
	const half = 1 << 15
	fix := func(x float64) int32 { return int32(x*(1<<16) + 0.5) }
	for i := range 256 {
		x := int32(i - 128)
		crR[i] = (fix(1.40200)*x + half) >> 16
		cbB[i] = (fix(1.77200)*x + half) >> 16
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + half
	}
}

// yccPixel mirrors jdcolor.c ycc_rgb_convert for one pixel (range_limit is a clamp here:
// every sum lies in [-256, 511]).
func yccPixel(y, cb, cr uint8) (uint8, uint8, uint8) {
	yy := int32(y) + 256
	return clampTab[(yy+crR[cr])&1023], clampTab[(yy+(cbG[cb]+crG[cr])>>16)&1023], clampTab[(yy+cbB[cb])&1023]
}

// clampTab[v+256] is v clamped to [0, 255], for v in [-256, 767].
var clampTab = func() (t [1024]uint8) {
	for i := range t {
		t[i] = uint8(min(max(i-256, 0), 255))
	}
	return t
}()
