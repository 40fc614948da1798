package imageio

import "image"

// webpToRGB finishes a golang.org/x/image/webp decode the way libwebp (inside Pillow) does:
// lossless images are NRGBA and only lose alpha; lossy ones are 4:2:0 YUV, which libwebp turns
// into RGB with its fancy upsampler and 14-bit fixed-point YUV→RGB (the alpha plane of a lossy
// image with alpha does not touch RGB).
func webpToRGB(m image.Image) (*RGB, error) {
	switch m := m.(type) {
	case *image.YCbCr:
		if m.SubsampleRatio == image.YCbCrSubsampleRatio420 && m.Rect.Min == (image.Point{}) {
			return webpYUVToRGB(m), nil
		}
	case *image.NYCbCrA:
		if m.SubsampleRatio == image.YCbCrSubsampleRatio420 && m.Rect.Min == (image.Point{}) {
			return webpYUVToRGB(&m.YCbCr), nil
		}
	}
	return toRGB(m, false)
}

// webpYUVToRGB mirrors libwebp's EmitFancyRGB (src/dec/io_dec.c) driving
// UpsampleRgbaLinePair (src/dsp/upsampling.c): each output row interpolates between its
// nearer chroma row and the next-nearer one (the first row and, for even heights, the last
// row use their own chroma row twice), then horizontally with the 9-3-3-1 kernel.
func webpYUVToRGB(m *image.YCbCr) *RGB {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	ch := (h + 1) / 2
	out := NewRGB(w, h)
	u := make([]uint8, w+1)
	v := make([]uint8, w+1)
	for y := range h {
		var near, far int
		switch {
		case y == 0:
			near, far = 0, 0
		case y%2 == 1:
			near, far = (y-1)/2, min((y+1)/2, ch-1)
		default:
			near, far = y/2, y/2-1
		}
		webpUpsampleRow(u, m.Cb[near*m.CStride:], m.Cb[far*m.CStride:], w)
		webpUpsampleRow(v, m.Cr[near*m.CStride:], m.Cr[far*m.CStride:], w)
		yrow := m.Y[y*m.YStride:]
		o := out.Pix[3*w*y:]
		for x := range w {
			o[3*x], o[3*x+1], o[3*x+2] = webpYUVPixel(int(yrow[x]), int(u[x]), int(v[x]))
		}
	}
	return out
}

// webpUpsampleRow is one row of UPSAMPLE_FUNC for one chroma plane, given the nearer (n) and
// next-nearer (f) chroma rows; libwebp packs U and V into one uint32 but the lanes never
// carry into each other, so per-plane arithmetic gives identical results.
func webpUpsampleRow(dst, n, f []uint8, w int) {
	dst[0] = uint8((3*int(n[0]) + int(f[0]) + 2) >> 2)
	last := (w - 1) >> 1
	for x := 1; x <= last; x++ {
		n0, n1, f0, f1 := int(n[x-1]), int(n[x]), int(f[x-1]), int(f[x])
		avg := n0 + n1 + f0 + f1 + 8
		dA := (avg + 2*(n1+f0)) >> 3
		dB := (avg + 2*(n0+f1)) >> 3
		dst[2*x-1] = uint8((dA + n0) >> 1)
		dst[2*x] = uint8((dB + n1) >> 1)
	}
	if w&1 == 0 {
		dst[w-1] = uint8((3*int(n[last]) + int(f[last]) + 2) >> 2)
	}
}

// webpYUVPixel mirrors VP8YuvToRgb (src/dsp/yuv.h).
func webpYUVPixel(y, u, v int) (uint8, uint8, uint8) {
	mulHi := func(a, c int) int { return (a * c) >> 8 }
	yy := mulHi(y, 19077)
	return webpClip8(yy + mulHi(v, 26149) - 14234),
		webpClip8(yy - mulHi(u, 6419) - mulHi(v, 13320) + 8708),
		webpClip8(yy + mulHi(u, 33050) - 17685)
}

// webpClip8 mirrors VP8Clip8: 6 fractional bits, clipped to [0, 255].
func webpClip8(v int) uint8 {
	const mask2 = (256 << 6) - 1
	if v&^mask2 == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}
