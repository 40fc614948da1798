//go:build cgo && !purego

package transforms

import (
	"bytes"
	"testing"
)

// TestHorizontalPassC: the C horizontal pass equals the Go one (horizontalRow, itself checked
// against Pillow by the parity tests) byte for byte, on random pictures with Pillow's
// bilinear coefficients for up- and downscaling by many factors (1 to 41 taps), output
// windows anywhere, lines that start past input pixel 0 (shift) and padded strides.
func TestHorizontalPassC(t *testing.T) {
	rng := NewRand(21, 22)
	var c coeffs
	for trial := range 400 {
		inW := 1 + rng.IntN(700)
		outW := 1 + rng.IntN(300)
		if trial%4 == 0 {
			outW = 1 + rng.IntN(max(1, inW/20)) // strong downscaling: long filters
		}
		o0 := rng.IntN(outW)
		count := 1 + rng.IntN(outW-o0)
		computeCoeffs(&c, inW, outW, o0, count)
		c0, c1 := c.span()
		rows := 1 + rng.IntN(11)
		pad := rng.IntN(4) * 3
		stride := (c1-c0)*3 + pad
		img := synthImage(c1-c0+pad/3, rows, uint64(trial))
		off := 0
		if trial%2 == 1 { // lines inside a wider picture
			stride += 60
			wide := synthImage(stride/3, rows+1, uint64(trial))
			img, off = wide, 15*3+stride
		}
		dstStride := count*3 + rng.IntN(3)
		want := make([]uint8, rows*dstStride)
		got := make([]uint8, rows*dstStride)
		horizontalPassGo(want, dstStride, img.Pix, off, stride, (c1-c0)*3, rows, &c, c0)
		horizontalPass(got, dstStride, img.Pix, off, stride, (c1-c0)*3, rows, &c, c0)
		if !bytes.Equal(got, want) {
			t.Fatalf("trial %d: %d→%d, outputs %d+%d, ksize %d, %d rows: C and Go passes differ", trial, inW, outW, o0, count, c.ksize, rows)
		}
	}
}
