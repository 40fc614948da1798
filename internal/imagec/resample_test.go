package imagec

import (
	"bytes"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
)

// guarded returns n bytes that end at an inaccessible page, so a read past them crashes.
func guarded(t *testing.T, n int) []byte {
	t.Helper()
	page := os.Getpagesize()
	size := (n+page-1)/page*page + page
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[size-page:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	return mem[size-page-n : size-page]
}

// refHorizontal is ImagingResampleHorizontal_8bpc written out plainly in Go: the oracle of
// the C passes.
func refHorizontal(dst []byte, dstStride int, src []byte, srcStride, rows int, start, n, k []int32, ksize, shift int) {
	clip8 := func(v int32) byte {
		v >>= 22
		return byte(min(max(v, 0), 255))
	}
	for r := range rows {
		line := src[r*srcStride:]
		for x := range start {
			var s [3]int32
			for c := range s {
				s[c] = 1 << 21
				for j := range int(n[x]) {
					s[c] += int32(line[(int(start[x])-shift+j)*3+c]) * k[x*ksize+j]
				}
				dst[r*dstStride+x*3+c] = clip8(s[c])
			}
		}
	}
}

// TestResampleHorizontalRGB compares both C implementations (AVX2 when the CPU has it, and the
// portable loop) with refHorizontal, exactly, on random lines, strides, shifts, row counts
// (the AVX2 pass takes four lines at a time) and weights: up to 2^22 each, summing to about
// 2^22 as normalised bilinear weights do, taps reaching the end of the line (where the AVX2
// pass must not read past it: the lines end at an inaccessible page), zero-tap outputs, and
// sums that saturate either way.
func TestResampleHorizontalRGB(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for trial := range 300 {
		w := 1 + rng.IntN(300)
		ksize := 1 + rng.IntN(min(w, 40))
		outW := 1 + rng.IntN(60)
		rows := 1 + rng.IntN(9)
		shift := rng.IntN(5)
		lineLen := w * 3
		srcStride := lineLen + rng.IntN(7)
		dstStride := outW*3 + rng.IntN(5)
		src := guarded(t, (rows-1)*srcStride+lineLen) // nothing readable past the last line
		for i := range src {
			src[i] = byte(rng.IntN(256))
		}
		start, n, k := make([]int32, outW), make([]int32, outW), make([]int32, outW*ksize)
		for x := range outW {
			c := rng.IntN(ksize + 1)
			if trial%3 == 0 {
				c = ksize // taps up to the end of the line below
			}
			o := rng.IntN(w - c + 1)
			if trial%3 == 0 && x == outW-1 {
				o = w - c
			}
			start[x], n[x] = int32(o+shift), int32(c)
			left := int32(1<<22 + 8)
			if trial%5 == 0 {
				left = 1 << 23 // saturating sums
			}
			for j := range c {
				v := rng.Int32N(left/int32(c-j) + 1)
				if j == c-1 {
					v = left
				}
				k[x*ksize+j], left = v, left-v
			}
		}
		want := make([]byte, len(src)+rows*dstStride)
		refHorizontal(want, dstStride, src, srcStride, rows, start, n, k, ksize, shift)
		for _, mode := range []int{0, 1} {
			got := make([]byte, len(want))
			if err := resampleHorizontalRGB(got, dstStride, src, srcStride, lineLen, rows, start, n, k, ksize, shift, mode); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("trial %d mode %d (%d lines of %d pixels → %d, ksize %d): output differs", trial, mode, rows, w, outW, ksize)
			}
		}
	}
	// Indices that would leave the buffers are refused before C runs.
	src, dst := make([]byte, 30), make([]byte, 30)
	one := []int32{1}
	bad := []struct {
		name                 string
		start, n             []int32
		lineLen, rows, shift int
	}{
		{"tap past the line", []int32{10}, one, 30, 1, 0},
		{"tap before the line", []int32{0}, one, 30, 1, 1},
		{"lines past src", []int32{0}, one, 30, 2, 0},
		{"more taps than ksize", []int32{0}, []int32{2}, 30, 1, 0},
		{"counts missing", []int32{0, 1}, one, 30, 1, 0},
	}
	for _, tc := range bad {
		if err := ResampleHorizontalRGB(dst, 3, src, 30, tc.lineLen, tc.rows, tc.start, tc.n, []int32{1, 1}, 1, tc.shift); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
