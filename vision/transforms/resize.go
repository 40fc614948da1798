package transforms

import (
	"fmt"
	"image"
	"math"
	"sync"

	"github.com/drgrade/drgrade/vision/imageio"
)

// Pillow's 8-bit resampler keeps coefficients as 32-bit integers with 22 fractional bits
// (PRECISION_BITS = 32 - 8 - 2 in libImaging/Resample.c) and rounds sums by adding one half.
const (
	precisionBits = 32 - 8 - 2
	half          = 1 << (precisionBits - 1)
)

// coeffs are the fixed-point bilinear weights of one axis for a window of output positions.
type coeffs struct {
	ksize int     // weights reserved per output position
	start []int32 // first input index used by each output position
	n     []int32 // number of input indices used
	k     []int32 // weights, ksize per output position
	w     []float64
}

// bilinearFilter mirrors Resample.c's bilinear_filter (a triangle of support 1).
func bilinearFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// computeCoeffs mirrors Resample.c's precompute_coeffs + normalize_coeffs_8bpc for the bilinear
// filter, box (0, inSize), evaluated only for output positions [o0, o0+count). The support
// scales with the downscale factor, which is Pillow's antialiasing.
func computeCoeffs(c *coeffs, inSize, outSize, o0, count int) {
	// box[] is float in C; in1-in0 is exact for any realistic size.
	scale := float64(float32(inSize)) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := 1.0 * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c.ksize = ksize
	c.start = grow32(c.start, count)
	c.n = grow32(c.n, count)
	c.k = grow32(c.k, count*ksize)
	if cap(c.w) < ksize {
		c.w = make([]float64, ksize)
	}
	w := c.w[:ksize]
	inv := 1.0 / filterscale
	for i := 0; i < count; i++ {
		xx := o0 + i
		// Explicit float64 conversions keep every product rounded on its own (no FMA), as in C.
		center := float64((float64(xx) + 0.5) * scale) // in0 + (xx + 0.5)·scale with in0 = 0
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax = max(xmax-xmin, 0)
		ww := 0.0
		for x := 0; x < xmax; x++ {
			v := bilinearFilter(float64((float64(x+xmin) - center + 0.5) * inv))
			w[x] = v
			ww += v
		}
		if ww != 0 {
			for x := 0; x < xmax; x++ {
				w[x] /= ww
			}
		}
		kk := c.k[i*ksize : (i+1)*ksize]
		for x := range kk {
			if x >= xmax {
				kk[x] = 0
				continue
			}
			if w[x] < 0 {
				kk[x] = int32(-0.5 + float64(w[x]*(1<<precisionBits)))
			} else {
				kk[x] = int32(0.5 + float64(w[x]*(1<<precisionBits)))
			}
		}
		// Taps whose fixed-point weight is 0 add nothing to Pillow's integer sums: drop them
		// from both ends so the passes skip them.
		lo, hi := 0, xmax
		for lo < hi && kk[lo] == 0 {
			lo++
		}
		for hi > lo && kk[hi-1] == 0 {
			hi--
		}
		if lo > 0 {
			copy(kk, kk[lo:hi])
		}
		c.start[i] = int32(xmin + lo)
		c.n[i] = int32(hi - lo)
	}
}

// span returns the range of input indices that any output position reads.
func (c *coeffs) span() (lo, hi int) {
	lo, hi = math.MaxInt, 0
	for i, n := range c.n {
		if n > 0 {
			lo = min(lo, int(c.start[i]))
			hi = max(hi, int(c.start[i]+n))
		}
	}
	if lo > hi {
		return 0, 0
	}
	return lo, hi
}

func grow32(s []int32, n int) []int32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]int32, n)
}

// clip8 mirrors Resample.c's clip8: drop the fraction bits, saturate to 0..255.
func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// scratch holds the per-call buffers of a resample, pooled so the hot path does not allocate.
type scratch struct {
	h, v coeffs
	tmp  []uint8
	acc  []uint64
	rows [][]uint8
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// dims is a width × height in pixels.
type dims struct{ w, h int }

// rect is the w×h box whose top-left pixel is (x, y).
type rect struct{ x, y, w, h int }

// scale is a resize of an in-sized image to out, keyed so the two sizes cannot be swapped.
type scale struct{ in, out dims }

// whole is the box of all of the out-sized image.
func (s scale) whole() rect { return rect{w: s.out.w, h: s.out.h} }

// resample is Pillow 13's two-pass bilinear resize (ImagingResampleInner) of the sc.in-sized
// window at `at` of src to sc.out, producing only the output window win (a box of the
// sc.out-sized image).
// Each pass rounds to 8 bits, so the pass order matters: Pillow runs the horizontal pass first
// unless the height shrinks by more than twice as many pixels as the width. Every output pixel
// depends only on its own coefficients and the pixels they cover, so computing a window gives
// exactly the pixels a full resize followed by a crop gives. The output window must lie inside
// sc.out, and src must hold the input pixels the output window reads (resampleReads): the
// whole sc.in window, or just that part, in which case at may be negative.
func resample(src *imageio.RGB, at image.Point, sc scale, win rect) *imageio.RGB {
	x0, y0 := at.X, at.Y
	w, h, outW, outH := sc.in.w, sc.in.h, sc.out.w, sc.out.h
	ox, oy, cw, ch := win.x, win.y, win.w, win.h
	out := imageio.NewRGB(cw, ch)
	if cw == 0 || ch == 0 {
		return out
	}
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	needH := outW != w
	needV := outH != h
	horizontalFirst := !(h-outH > 0 && h-outH > (w-outW)*2)
	sstride := src.W * 3
	base := y0*sstride + x0*3 // offset of the window's top-left pixel

	switch {
	case !needH && !needV:
		for y := 0; y < ch; y++ {
			o := base + (oy+y)*sstride + ox*3
			copy(out.Pix[y*cw*3:(y+1)*cw*3], src.Pix[o:o+cw*3])
		}
	case !needV:
		computeCoeffs(&s.h, w, outW, ox, cw)
		c0, c1 := s.h.span()
		horizontalPass(out.Pix, cw*3, src.Pix, base+oy*sstride+c0*3, sstride, (c1-c0)*3, ch, &s.h, c0)
	case !needH:
		computeCoeffs(&s.v, h, outH, oy, ch)
		s.verticalPass(out.Pix, cw*3, src.Pix, sstride, base+ox*3, cw*3, ch)
	case horizontalFirst:
		// Horizontal pass over the rows the vertical pass reads, into tmp.
		computeCoeffs(&s.v, h, outH, oy, ch)
		computeCoeffs(&s.h, w, outW, ox, cw)
		r0, r1 := s.v.span()
		c0, c1 := s.h.span()
		rows := r1 - r0
		tmp := s.tmpBuf(rows * cw * 3)
		horizontalPass(tmp, cw*3, src.Pix, base+r0*sstride+c0*3, sstride, (c1-c0)*3, rows, &s.h, c0)
		// tmp row r holds window row r0+r.
		s.verticalPass(out.Pix, cw*3, tmp, cw*3, -r0*cw*3, cw*3, ch)
	default:
		// Vertical pass first, over the columns the horizontal pass reads, into tmp.
		computeCoeffs(&s.v, h, outH, oy, ch)
		computeCoeffs(&s.h, w, outW, ox, cw)
		c0, c1 := s.h.span()
		cols := c1 - c0
		tmp := s.tmpBuf(ch * cols * 3)
		s.verticalPass(tmp, cols*3, src.Pix, sstride, base+c0*3, cols*3, ch)
		horizontalPass(out.Pix, cw*3, tmp, 0, cols*3, cols*3, ch, &s.h, c0)
	}
	return out
}

// resampleReads returns the input pixels resample reads (in the sc.in window's coordinates)
// for the output window win of the sc.out-sized image: the columns and rows the coefficients
// of the passes that run cover, or the copied block when neither runs.
func resampleReads(sc scale, win rect) image.Rectangle {
	w, h, outW, outH := sc.in.w, sc.in.h, sc.out.w, sc.out.h
	ox, oy, cw, ch := win.x, win.y, win.w, win.h
	if cw == 0 || ch == 0 {
		return image.Rectangle{}
	}
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	x0, x1, y0, y1 := ox, ox+cw, oy, oy+ch
	if outW != w {
		computeCoeffs(&s.h, w, outW, ox, cw)
		x0, x1 = s.h.span()
	}
	if outH != h {
		computeCoeffs(&s.v, h, outH, oy, ch)
		y0, y1 = s.v.span()
	}
	return image.Rect(x0, y0, x1, y1)
}

func (s *scratch) tmpBuf(n int) []uint8 {
	if cap(s.tmp) < n {
		s.tmp = make([]uint8, n)
	}
	return s.tmp[:n]
}

// verticalPass mirrors ImagingResampleVertical_8bpc for rows output rows of n bytes: output row
// yy sums the input rows s.v.start[yy]+j (row r of the input starting at srcOff + r·srcStride)
// weighted by s.v.k. Adjacent bytes share one 64-bit accumulator in two 32-bit lanes: bilinear
// weights are non-negative and a lane's sum stays below 2^31, so lanes never carry into each
// other and every sum is Pillow's exact integer.
func (s *scratch) verticalPass(dst []uint8, dstStride int, src []uint8, srcStride, srcOff, n, rows int) {
	m := (n + 1) / 2
	if cap(s.acc) < m {
		s.acc = make([]uint64, m)
	}
	acc := s.acc[:m]
	ks := s.v.ksize
	for yy := 0; yy < rows; yy++ {
		for i := range acc {
			acc[i] = half | half<<32
		}
		st := int(s.v.start[yy])
		kk := s.v.k[yy*ks : yy*ks+int(s.v.n[yy])]
		rowsIn := s.rows[:0]
		for j := range kk {
			o := srcOff + (st+j)*srcStride
			rowsIn = append(rowsIn, src[o:o+n])
		}
		s.rows = rowsIn
		verticalAccumulate(acc, rowsIn, kk, n)
		d := dst[yy*dstStride : yy*dstStride+n]
		for i := 0; i < n/2; i++ {
			v := acc[i]
			p := (*[2]uint8)(d[2*i:])
			p[0], p[1] = clip8(int32(uint32(v))), clip8(int32(uint32(v>>32)))
		}
		if n%2 == 1 {
			d[n-1] = clip8(int32(uint32(acc[m-1])))
		}
	}
}

// pair packs bytes 2i and 2i+1 of r into the two 32-bit lanes of a uint64.
func pair(r []uint8, i int) uint64 {
	p := (*[2]uint8)(r[2*i:])
	return uint64(p[0]) | uint64(p[1])<<32
}

// verticalAccumulate adds Σ c[j]·rows[j] to the paired accumulators, four taps per sweep. Sums
// are exact integers, so grouping the taps does not change the result.
func verticalAccumulate(acc []uint64, rows [][]uint8, c []int32, n int) {
	pairs := n / 2
	a := acc[:pairs]
	j := 0
	for ; j+3 < len(c); j += 4 {
		r0, r1, r2, r3 := rows[j][:2*pairs], rows[j+1][:2*pairs], rows[j+2][:2*pairs], rows[j+3][:2*pairs]
		k0, k1, k2, k3 := uint64(c[j]), uint64(c[j+1]), uint64(c[j+2]), uint64(c[j+3])
		for i := range a {
			a[i] += pair(r0, i)*k0 + pair(r1, i)*k1 + pair(r2, i)*k2 + pair(r3, i)*k3
		}
	}
	for ; j+1 < len(c); j += 2 {
		r0, r1 := rows[j][:2*pairs], rows[j+1][:2*pairs]
		k0, k1 := uint64(c[j]), uint64(c[j+1])
		for i := range a {
			a[i] += pair(r0, i)*k0 + pair(r1, i)*k1
		}
	}
	if j < len(c) {
		r0, k0 := rows[j][:2*pairs], uint64(c[j])
		for i := range a {
			a[i] += pair(r0, i) * k0
		}
	}
	if n%2 == 1 {
		for j, k := range c {
			acc[pairs] += uint64(rows[j][n-1]) * uint64(k)
		}
	}
}

// horizontalPassGo is horizontalPass in Go: horizontalRow over each line.
func horizontalPassGo(dst []uint8, dstStride int, src []uint8, off, stride, lineLen, rows int, c *coeffs, shift int) {
	n := len(c.start) * 3
	for r := 0; r < rows; r++ {
		o := off + r*stride
		horizontalRow(dst[r*dstStride:r*dstStride+n], src[o:o+lineLen], c, shift)
	}
}

// horizontalRow mirrors ImagingResampleHorizontal_8bpc for one RGB line; line starts at input
// pixel shift. The small tap counts of up- and moderate downscaling get straight-line code (the
// per-pixel loop overhead dominates there); longer filters take four taps per iteration.
func horizontalRow(dst, line []uint8, c *coeffs, shift int) {
	ks := c.ksize
	n := len(dst) / 3
	for xx := 0; xx < n; xx++ {
		st := (int(c.start[xx]) - shift) * 3
		cnt := int(c.n[xx])
		kk := c.k[xx*ks : xx*ks+cnt]
		var s0, s1, s2 int32
		switch cnt {
		case 0: // no taps (never for bilinear weights, but line may not reach start then)
			s0, s1, s2 = half, half, half
		case 2:
			q, k := (*[6]uint8)(line[st:st+6]), (*[2]int32)(kk)
			s0 = half + int32(q[0])*k[0] + int32(q[3])*k[1]
			s1 = half + int32(q[1])*k[0] + int32(q[4])*k[1]
			s2 = half + int32(q[2])*k[0] + int32(q[5])*k[1]
		case 3:
			q, k := (*[9]uint8)(line[st:st+9]), (*[3]int32)(kk)
			s0 = half + int32(q[0])*k[0] + int32(q[3])*k[1] + int32(q[6])*k[2]
			s1 = half + int32(q[1])*k[0] + int32(q[4])*k[1] + int32(q[7])*k[2]
			s2 = half + int32(q[2])*k[0] + int32(q[5])*k[1] + int32(q[8])*k[2]
		case 4:
			q, k := (*[12]uint8)(line[st:st+12]), (*[4]int32)(kk)
			s0 = half + int32(q[0])*k[0] + int32(q[3])*k[1] + int32(q[6])*k[2] + int32(q[9])*k[3]
			s1 = half + int32(q[1])*k[0] + int32(q[4])*k[1] + int32(q[7])*k[2] + int32(q[10])*k[3]
			s2 = half + int32(q[2])*k[0] + int32(q[5])*k[1] + int32(q[8])*k[2] + int32(q[11])*k[3]
		case 5:
			q, k := (*[15]uint8)(line[st:st+15]), (*[5]int32)(kk)
			s0 = half + int32(q[0])*k[0] + int32(q[3])*k[1] + int32(q[6])*k[2] + int32(q[9])*k[3] + int32(q[12])*k[4]
			s1 = half + int32(q[1])*k[0] + int32(q[4])*k[1] + int32(q[7])*k[2] + int32(q[10])*k[3] + int32(q[13])*k[4]
			s2 = half + int32(q[2])*k[0] + int32(q[5])*k[1] + int32(q[8])*k[2] + int32(q[11])*k[3] + int32(q[14])*k[4]
		case 6:
			q, k := (*[18]uint8)(line[st:st+18]), (*[6]int32)(kk)
			s0 = half + int32(q[0])*k[0] + int32(q[3])*k[1] + int32(q[6])*k[2] + int32(q[9])*k[3] + int32(q[12])*k[4] + int32(q[15])*k[5]
			s1 = half + int32(q[1])*k[0] + int32(q[4])*k[1] + int32(q[7])*k[2] + int32(q[10])*k[3] + int32(q[13])*k[4] + int32(q[16])*k[5]
			s2 = half + int32(q[2])*k[0] + int32(q[5])*k[1] + int32(q[8])*k[2] + int32(q[11])*k[3] + int32(q[14])*k[4] + int32(q[17])*k[5]
		default:
			// Long filters: red and blue share one 64-bit multiply in two 32-bit lanes. Bilinear
			// weights are non-negative and each lane's sum stays below 2^31 (255·2^22 plus
			// rounding), so the lanes never carry into each other and the sums are exact.
			p := line[st : st+cnt*3]
			rb, g := uint64(half)|uint64(half)<<32, uint64(half)
			j := 0
			for ; j+3 < cnt; j += 4 {
				q, k := (*[12]uint8)(p[3*j:]), (*[4]int32)(kk[j:])
				k0, k1, k2, k3 := uint64(k[0]), uint64(k[1]), uint64(k[2]), uint64(k[3])
				rb += (uint64(q[0])|uint64(q[2])<<32)*k0 + (uint64(q[3])|uint64(q[5])<<32)*k1 +
					(uint64(q[6])|uint64(q[8])<<32)*k2 + (uint64(q[9])|uint64(q[11])<<32)*k3
				g += uint64(q[1])*k0 + uint64(q[4])*k1 + uint64(q[7])*k2 + uint64(q[10])*k3
			}
			for ; j < cnt; j++ {
				q, k0 := (*[3]uint8)(p[3*j:]), uint64(kk[j])
				rb += (uint64(q[0]) | uint64(q[2])<<32) * k0
				g += uint64(q[1]) * k0
			}
			s0, s1, s2 = int32(uint32(rb)), int32(uint32(g)), int32(uint32(rb>>32))
		}
		d := (*[3]uint8)(dst[xx*3:])
		d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
	}
}

// ResizedOutputSize mirrors torchvision.transforms.functional._compute_resized_output_size
// (without max_size): size [s] scales the shorter side to s keeping the aspect ratio (the
// longer side truncated), size [h, w] is taken as is. It returns the output height and width.
func ResizedOutputSize(h, w int, size []int) (int, int, error) {
	switch len(size) {
	case 1:
		if size[0] <= 0 {
			return 0, 0, fmt.Errorf("transforms: resize size %v must be positive", size)
		}
		short, long := h, w
		if w <= h {
			short, long = w, h
		}
		if short <= 0 {
			return 0, 0, fmt.Errorf("transforms: cannot resize an empty %dx%d image", w, h)
		}
		newShort := size[0]
		newLong := int(float64(newShort*long) / float64(short))
		if w <= h {
			return newLong, newShort, nil
		}
		return newShort, newLong, nil
	case 2:
		if size[0] <= 0 || size[1] <= 0 {
			return 0, 0, fmt.Errorf("transforms: resize size %v must be positive", size)
		}
		return size[0], size[1], nil
	}
	return 0, 0, fmt.Errorf("transforms: resize size must have 1 or 2 elements, got %v", size)
}

// Resize mirrors torchvision.transforms.functional.resize on a PIL image with the default
// bilinear interpolation: PIL's Image.resize(BILINEAR), whose filter support grows with the
// downscale factor (antialiasing). size is [shorter side] or [h, w].
func Resize(img *imageio.RGB, size []int) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	oh, ow, err := ResizedOutputSize(img.H, img.W, size)
	if err != nil {
		return nil, err
	}
	if oh == img.H && ow == img.W {
		return img.Clone(), nil
	}
	if img.W == 0 || img.H == 0 {
		return nil, fmt.Errorf("transforms: cannot resize an empty %dx%d image", img.W, img.H)
	}
	sc := scale{in: dims{img.W, img.H}, out: dims{ow, oh}}
	return resample(img, image.Point{}, sc, sc.whole()), nil
}

// check rejects malformed images before any transform indexes into them.
func check(img *imageio.RGB) error {
	if img == nil {
		return fmt.Errorf("transforms: nil image")
	}
	if img.W < 0 || img.H < 0 || len(img.Pix) != 3*img.W*img.H {
		return fmt.Errorf("transforms: malformed %dx%d image with %d bytes", img.W, img.H, len(img.Pix))
	}
	return nil
}
