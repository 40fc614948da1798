// resample.h: Pillow's horizontal resampling pass for 8-bit RGB lines (see resample.go).
#pragma once

#include <stddef.h>
#include <stdint.h>

// tx_resample_h_rgb mirrors ImagingResampleHorizontal_8bpc (Pillow's libImaging/Resample.c)
// on rows RGB lines: output pixel x of line r is
//   clip8(2^21 + sum_j k[x*ksize + j] * line_r[start[x] - shift + j])   (per channel)
// where line r starts at src + r*src_stride and holds line_len readable bytes (input pixel
// shift first), output line r is out_w*3 bytes at dst + r*dst_stride, and clip8 drops 22
// fraction bits and saturates to 0..255. The caller guarantees every tap lies inside its
// line. mode 0 picks the fastest implementation the CPU has, 1 forces the portable one; both
// compute the same integer sums.
void tx_resample_h_rgb(uint8_t *dst, ptrdiff_t dst_stride, const uint8_t *src,
                       ptrdiff_t src_stride, size_t line_len, int rows, int out_w,
                       const int32_t *start, const int32_t *n, const int32_t *k, int ksize,
                       int shift, int mode);
