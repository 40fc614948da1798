// resample.c: see resample.h. The sums are exact 32-bit integers in every implementation
// (bilinear weights are non-negative 22-bit fixed point summing to about 2^22, so a sum of
// 8-bit pixels times weights stays below 2^31), hence bit-identical to Pillow's and to
// vision/transforms' Go horizontalRow.
#include "resample.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TX_HAVE_AVX2_PATH 1
#endif

enum { PRECISION_BITS = 32 - 8 - 2, HALF = 1 << (PRECISION_BITS - 1) };

static inline uint8_t clip8(int32_t v) {
  v >>= PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

// h_rgb_portable is the straightforward loop of ImagingResampleHorizontal_8bpc.
static void h_rgb_portable(uint8_t *dst, ptrdiff_t dst_stride, const uint8_t *src,
                           ptrdiff_t src_stride, int rows, int out_w, const int32_t *start,
                           const int32_t *n, const int32_t *k, int ksize, int shift) {
  for (int r = 0; r < rows; r++) {
    const uint8_t *line = src + r * src_stride;
    uint8_t *d = dst + r * dst_stride;
    for (int x = 0; x < out_w; x++) {
      const uint8_t *p = line + (ptrdiff_t)(start[x] - shift) * 3;
      const int32_t *kk = k + (ptrdiff_t)x * ksize;
      int32_t s0 = HALF, s1 = HALF, s2 = HALF;
      for (int j = 0; j < n[x]; j++) {
        s0 += p[3 * j] * kk[j];
        s1 += p[3 * j + 1] * kk[j];
        s2 += p[3 * j + 2] * kk[j];
      }
      d[3 * x] = clip8(s0);
      d[3 * x + 1] = clip8(s1);
      d[3 * x + 2] = clip8(s2);
    }
  }
}

#ifdef TX_HAVE_AVX2_PATH
// The AVX2 pass takes four taps per step. A weight w (0 <= w < 2^26) is split as
// w = hi*2^11 + lo with both halves in int16, and vpmaddwd sums pixel*lo and pixel*hi over
// tap pairs into 32-bit lanes; sum(lo) + sum(hi)*2^11 is the exact sum. Each 128-bit lane
// holds one channel-interleaved tap pair as 16-bit words: R_j R_j+1 G_j G_j+1 B_j B_j+1 0 0
// (taps j, j+1 in the low lane, j+2, j+3 in the high lane), picked by one vpshufb from the 12
// bytes of the four taps. Four lines share each weight load.

// h_weights lays out the split weights: per output pixel, per group of four taps, a 32-byte
// vector of low halves then one of high halves, in the word order above. Taps past n[x] get
// weight 0, so the pixels loaded for them do not count.
static int16_t *h_weights(int out_w, const int32_t *n, const int32_t *k, int ksize, int groups) {
  size_t words = (size_t)out_w * groups * 32;
  int16_t *t = aligned_alloc(32, words * sizeof(int16_t));
  if (t == NULL) return NULL;
  memset(t, 0, words * sizeof(int16_t));
  for (int x = 0; x < out_w; x++) {
    for (int j = 0; j < n[x]; j++) {
      int32_t w = k[(ptrdiff_t)x * ksize + j];
      int g = j / 4, lane = (j % 4) / 2, t01 = j % 2;
      int16_t *lo = t + ((size_t)x * groups + g) * 32, *hi = lo + 16;
      for (int c = 0; c < 3; c++) {
        lo[lane * 8 + c * 2 + t01] = (int16_t)(w & 2047);
        hi[lane * 8 + c * 2 + t01] = (int16_t)(w >> 11);
      }
    }
  }
  return t;
}

// load16 reads the 16 bytes at line+o, zero-filling past the line's end.
__attribute__((target("avx2"))) static inline __m128i load16(const uint8_t *line, size_t o,
                                                             size_t line_len) {
  if (o + 16 <= line_len) return _mm_loadu_si128((const __m128i *)(line + o));
  uint8_t tmp[16] = {0};
  memcpy(tmp, line + o, line_len - o);
  return _mm_loadu_si128((const __m128i *)tmp);
}

__attribute__((target("avx2"))) static void h_rgb_avx2(
    uint8_t *dst, ptrdiff_t dst_stride, const uint8_t *src, ptrdiff_t src_stride,
    size_t line_len, int rows, int out_w, const int32_t *start, const int32_t *n,
    const int16_t *wt, int groups, int shift) {
  const __m256i shuf = _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1,
                                        6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1);
  int r = 0;
  for (; r < rows; r += 4) {
    int nl = rows - r < 4 ? rows - r : 4;
    const uint8_t *lines[4];
    for (int i = 0; i < 4; i++) lines[i] = src + (ptrdiff_t)(r + (i < nl ? i : 0)) * src_stride;
    for (int x = 0; x < out_w; x++) {
      size_t off = (size_t)(start[x] - shift) * 3;
      int ng = (n[x] + 3) / 4;
      const __m256i *w = (const __m256i *)(wt + (size_t)x * groups * 32);
      __m256i lo[4], hi[4];
      for (int i = 0; i < 4; i++) lo[i] = hi[i] = _mm256_setzero_si256();
      for (int g = 0; g < ng; g++) {
        size_t o = off + 12 * (size_t)g;
        __m256i wl = _mm256_load_si256(w + 2 * g), wh = _mm256_load_si256(w + 2 * g + 1);
        for (int i = 0; i < 4; i++) {
          __m256i v = _mm256_shuffle_epi8(
              _mm256_broadcastsi128_si256(load16(lines[i], o, line_len)), shuf);
          lo[i] = _mm256_add_epi32(lo[i], _mm256_madd_epi16(v, wl));
          hi[i] = _mm256_add_epi32(hi[i], _mm256_madd_epi16(v, wh));
        }
      }
      for (int i = 0; i < nl; i++) {
        __m256i s = _mm256_add_epi32(lo[i], _mm256_slli_epi32(hi[i], 11));
        __m128i q = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        uint8_t *d = dst + (ptrdiff_t)(r + i) * dst_stride + 3 * (ptrdiff_t)x;
        d[0] = clip8(_mm_cvtsi128_si32(q) + HALF);
        d[1] = clip8(_mm_extract_epi32(q, 1) + HALF);
        d[2] = clip8(_mm_extract_epi32(q, 2) + HALF);
      }
    }
  }
}
#endif

void tx_resample_h_rgb(uint8_t *dst, ptrdiff_t dst_stride, const uint8_t *src,
                       ptrdiff_t src_stride, size_t line_len, int rows, int out_w,
                       const int32_t *start, const int32_t *n, const int32_t *k, int ksize,
                       int shift, int mode) {
#ifdef TX_HAVE_AVX2_PATH
  if (mode == 0 && __builtin_cpu_supports("avx2")) {
    int ok = 1;  // weights must split into two int16 halves: 0 <= w < 2^26
    for (int x = 0; x < out_w && ok; x++)
      for (int j = 0; j < n[x]; j++) {
        int32_t w = k[(ptrdiff_t)x * ksize + j];
        if (w < 0 || w >= (1 << 26)) {
          ok = 0;
          break;
        }
      }
    int groups = (ksize + 3) / 4;
    int16_t *wt = ok ? h_weights(out_w, n, k, ksize, groups) : NULL;
    if (wt != NULL) {
      h_rgb_avx2(dst, dst_stride, src, src_stride, line_len, rows, out_w, start, n, wt, groups,
                 shift);
      free(wt);
      return;
    }
  }
#else
  (void)line_len;
#endif
  h_rgb_portable(dst, dst_stride, src, src_stride, rows, out_w, start, n, k, ksize, shift);
}
