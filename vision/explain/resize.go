package explain

import "math"

// resizeLinear is cv2.resize(src, (dw, dh), interpolation=cv2.INTER_LINEAR) of a float32
// single-channel sh×sw map, as OpenCV's generic resize computes it (imgproc/src/resize.cpp):
// a source coordinate per destination pixel on half-pixel centres, ((d + 0.5)·scale − 0.5) with
// scale = 1 / (dsize/ssize); coordinates before the first pixel or from the last on take that
// pixel (edge clamping, not align_corners); float32 weights 1 − f and f; a horizontal pass per
// source row, then a vertical one.
func resizeLinear(src []float32, sh, sw, dh, dw int) []float32 {
	xofs, xw := linearTable(sw, dw)
	yofs, yw := linearTable(sh, dh)
	// Each source row resampled horizontally (OpenCV's HResizeLinear), computed once.
	rows := make([][]float32, sh)
	row := func(y int) []float32 {
		if rows[y] == nil {
			s := src[y*sw : (y+1)*sw]
			r := make([]float32, dw)
			for dx := range r {
				x0 := xofs[dx]
				x1 := min(x0+1, sw-1)
				r[dx] = s[x0]*xw[dx][0] + s[x1]*xw[dx][1]
			}
			rows[y] = r
		}
		return rows[y]
	}
	out := make([]float32, dh*dw)
	for dy := 0; dy < dh; dy++ {
		y0 := yofs[dy]
		r0, r1 := row(y0), row(min(y0+1, sh-1))
		b0, b1 := yw[dy][0], yw[dy][1]
		o := out[dy*dw : (dy+1)*dw]
		for dx := range o {
			o[dx] = r0[dx]*b0 + r1[dx]*b1 // VResizeLinear
		}
	}
	return out
}

// linearTable is resize.cpp's coordinate table for INTER_LINEAR along one axis: for each
// destination index, the first source index and the two weights.
func linearTable(ssize, dsize int) (ofs []int, w [][2]float32) {
	inv := float64(dsize) / float64(ssize) // inv_scale_x
	scale := 1 / inv                       // scale_x
	ofs = make([]int, dsize)
	w = make([][2]float32, dsize)
	for d := range ofs {
		f := float32((float64(d)+0.5)*scale - 0.5)
		s := int(math.Floor(float64(f)))
		f -= float32(s)
		if s < 0 {
			f, s = 0, 0
		}
		if s >= ssize-1 {
			f, s = 0, ssize-1
		}
		ofs[d] = s
		w[d] = [2]float32{1 - f, f}
	}
	return ofs, w
}
