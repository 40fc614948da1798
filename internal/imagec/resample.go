package imagec

// The horizontal pass of Pillow's bilinear resize in C (resample.c): vision/transforms'
// hottest loop. AVX2 when the CPU has it.

/*
#cgo CFLAGS: -O3
#include "resample.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// ResampleHorizontalRGB mirrors Pillow's ImagingResampleHorizontal_8bpc (libImaging/Resample.c)
// on rows RGB lines, bit for bit: output pixel x of line r (outW = len(start) pixels at
// dst[r·dstStride:]) is, per channel, clip8(2^21 + Σ_j k[x·ksize+j]·p_j) over the n[x] input
// pixels from start[x] of line r, which is src[r·srcStride:][:lineLen] and begins with input
// pixel shift; clip8 drops 22 fraction bits and saturates. The weights must be non-negative
// with sums that fit in int32, as bilinear weights in 22-bit fixed point do (transforms'
// computeCoeffs). Every index is checked before C runs.
func ResampleHorizontalRGB(dst []byte, dstStride int, src []byte, srcStride, lineLen, rows int,
	start, n, k []int32, ksize, shift int) error {
	return resampleHorizontalRGB(dst, dstStride, src, srcStride, lineLen, rows, start, n, k, ksize, shift, 0)
}

// resampleHorizontalRGB is ResampleHorizontalRGB with tx_resample_h_rgb's mode (1: portable C
// only, for the tests).
func resampleHorizontalRGB(dst []byte, dstStride int, src []byte, srcStride, lineLen, rows int,
	start, n, k []int32, ksize, shift, mode int) error {
	outW := len(start)
	bad := func(format string, a ...any) error {
		return fmt.Errorf("imagec: ResampleHorizontalRGB: "+format, a...)
	}
	switch {
	case rows <= 0 || outW == 0:
		return nil
	case len(n) != outW || ksize <= 0 || len(k) < outW*ksize:
		return bad("%d starts, %d counts, %d weights for ksize %d", outW, len(n), len(k), ksize)
	case lineLen <= 0 || srcStride < 0 || int64(rows-1)*int64(srcStride)+int64(lineLen) > int64(len(src)):
		return bad("%d lines of %d bytes at stride %d do not fit in %d bytes", rows, lineLen, srcStride, len(src))
	case dstStride < 0 || int64(rows-1)*int64(dstStride)+int64(outW)*3 > int64(len(dst)):
		return bad("%d output lines of %d pixels at stride %d do not fit in %d bytes", rows, outW, dstStride, len(dst))
	}
	for x := range outW {
		o, c := int64(start[x])-int64(shift), int64(n[x])
		if c != 0 && (c < 0 || c > int64(ksize) || o < 0 || (o+c)*3 > int64(lineLen)) {
			return bad("output %d reads %d pixels from %d, outside the %d-byte line", x, c, o, lineLen)
		}
	}
	C.tx_resample_h_rgb((*C.uint8_t)(unsafe.Pointer(&dst[0])), C.ptrdiff_t(dstStride),
		(*C.uint8_t)(unsafe.Pointer(&src[0])), C.ptrdiff_t(srcStride), C.size_t(lineLen),
		C.int(rows), C.int(outW), (*C.int32_t)(unsafe.Pointer(&start[0])),
		(*C.int32_t)(unsafe.Pointer(&n[0])), (*C.int32_t)(unsafe.Pointer(&k[0])),
		C.int(ksize), C.int(shift), C.int(mode))
	return nil
}
