//go:build !cgo || purego

package transforms

// horizontalPass is the horizontal resampling pass over rows lines: line r is
// src[off+r·stride:][:lineLen], holding input pixels from shift on, and output line r is
// dst[r·dstStride:][:3·len(c.start)]. This build (-tags purego or no cgo) runs it in Go.
func horizontalPass(dst []uint8, dstStride int, src []uint8, off, stride, lineLen, rows int, c *coeffs, shift int) {
	horizontalPassGo(dst, dstStride, src, off, stride, lineLen, rows, c, shift)
}
