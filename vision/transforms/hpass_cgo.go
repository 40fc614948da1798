//go:build cgo && !purego

package transforms

import "github.com/drgrade/drgrade/internal/imagec"

// horizontalPass is the horizontal resampling pass over rows lines: line r is
// src[off+r·stride:][:lineLen], holding input pixels from shift on, and output line r is
// dst[r·dstStride:][:3·len(c.start)]. This build runs it in C (imagec.ResampleHorizontalRGB,
// AVX2 when the CPU has it), bit-identical to horizontalPassGo (TestHorizontalPassC) and
// about three times faster.
func horizontalPass(dst []uint8, dstStride int, src []uint8, off, stride, lineLen, rows int, c *coeffs, shift int) {
	if rows <= 0 || len(c.start) == 0 {
		return
	}
	if err := imagec.ResampleHorizontalRGB(dst, dstStride, src[off:], stride, lineLen, rows, c.start, c.n, c.k, c.ksize, shift); err != nil {
		// Unreachable (the indices come from computeCoeffs and resample); the Go pass reports
		// the bad index the same way any slice access would.
		horizontalPassGo(dst, dstStride, src, off, stride, lineLen, rows, c, shift)
	}
}
