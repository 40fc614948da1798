package imagec

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// regionCorpus lists the colour JPEGs the region tests run on: the region corpus of
// vision/imageio (every subsampling the region decoder handles, baseline and progressive, odd
// sizes, restart markers; region_gen.py) and the colour JPEGs of imageio's parity corpus.
func regionCorpus(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"../../vision/imageio/testdata/region/*.jpg",
		"../../vision/imageio/testdata/images/images/*.jpg"} {
		m, err := filepath.Glob(pat)
		if err != nil || len(m) == 0 {
			t.Fatalf("no test JPEGs match %s (%v)", pat, err)
		}
		files = append(files, m...)
	}
	return files
}

// fullDecode is the reference: DecodeJPEG (tjDecompress2) of the whole image.
func fullDecode(t *testing.T, data []byte, w, h int) []byte {
	t.Helper()
	full := make([]byte, w*h*3)
	if err := DecodeJPEG(data, full, w, h, JPEGPixelRGB, true); err != nil {
		t.Fatal(err)
	}
	return full
}

// testWindows returns windows of a w×h image: the whole image, windows touching each edge and
// each corner, 1-pixel windows and 1-pixel-wide strips, windows that start or end on the
// iMCU grid (mcu) and right beside it, and n random ones.
func testWindows(w, h, mcu, n int, rng *rand.Rand) []image.Rectangle {
	ws := []image.Rectangle{
		image.Rect(0, 0, w, h),
		image.Rect(0, 0, 1, 1), image.Rect(w-1, 0, w, 1), image.Rect(0, h-1, 1, h), image.Rect(w-1, h-1, w, h),
		image.Rect(w/2, h/2, w/2+1, h/2+1),
		image.Rect(0, h/3, w, h/3+1), image.Rect(w/3, 0, w/3+1, h), // 1-pixel strips
		image.Rect(0, 0, w/2, h/2), image.Rect(w/2, 0, w, h/2), image.Rect(0, h/2, w/2, h), image.Rect(w/2, h/2, w, h),
		image.Rect(w/4, 0, 3*w/4, h), image.Rect(0, h/4, w, 3*h/4), // top-to-bottom, left-to-right
	}
	for _, x := range []int{mcu, mcu - 1, mcu + 1, 2 * mcu, 2*mcu + 1} {
		for _, y := range []int{mcu, mcu - 1, mcu + 1, 2*mcu - 1} {
			if x > 0 && y > 0 && x < w && y < h {
				ws = append(ws, image.Rect(x, y, w, h), image.Rect(0, 0, x, y), image.Rect(x, y, min(x+mcu+3, w), min(y+5, h)))
			}
		}
	}
	for range n {
		x0, y0 := rng.IntN(w), rng.IntN(h)
		ws = append(ws, image.Rect(x0, y0, x0+1+rng.IntN(w-x0), y0+1+rng.IntN(h-y0)))
	}
	return ws
}

// windowDiff counts the bytes of window r that differ between region (the decode of reg) and
// the full w-wide decode.
func windowDiff(full, region []byte, w int, reg, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		a := full[(y*w+r.Min.X)*3 : (y*w+r.Max.X)*3]
		o := ((y-reg.Min.Y)*reg.Dx() + r.Min.X - reg.Min.X) * 3
		b := region[o : o+len(a)]
		if !bytes.Equal(a, b) {
			for i := range a {
				if a[i] != b[i] {
					n++
				}
			}
		}
	}
	return n
}

// TestDecodeJPEGRegionExact: every window decoded through RegionFor equals the full decode's
// crop byte for byte, on every file of the corpus (4:4:4, 4:2:2, 4:2:0, 4:4:0, baseline and
// progressive, RGB, restart markers, odd and tiny sizes). Decoding the window itself with no
// margin is also tried and its differing windows counted: libjpeg's fancy upsampling at a
// crop's left and right edges (libjpeg.txt) is why RegionFor adds a column margin, and rows
// need none (RegionFor's region starts at the window's first row).
func TestDecodeJPEGRegionExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, path := range regionCorpus(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte{0xFF, 0xD8}) {
			continue // png_named.jpg
		}
		h, err := DecodeJPEGHeader(data)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h.Colorspace != JPEGYCbCr && h.Colorspace != JPEGRGB {
			continue // grey and CMYK files of the parity corpus
		}
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			l, err := ReadJPEGLayout(data)
			if err != nil {
				t.Fatal(err)
			}
			if l.Width != h.Width || l.Height != h.Height || l.Components != 3 {
				t.Fatalf("layout %+v disagrees with TurboJPEG's header %+v", l, h)
			}
			wantRegular := !strings.Contains(name, "411")
			if l.Regular != wantRegular {
				t.Fatalf("layout %+v: Regular %v, want %v", l, l.Regular, wantRegular)
			}
			if !l.Regular {
				return
			}
			full := fullDecode(t, data, l.Width, l.Height)
			n := 40
			if l.Width*l.Height > 1e6 {
				n = 4 // the 2000×1300 fundus: a few random windows
			}
			inexact := 0
			for _, r := range testWindows(l.Width, l.Height, l.MCUWidth(), n, rng) {
				reg := l.RegionFor(r)
				if !r.In(reg) || reg.Min.X%l.MCUWidth() != 0 || reg.Min.Y != r.Min.Y || reg.Max.Y != r.Max.Y {
					t.Fatalf("RegionFor(%v) = %v", r, reg)
				}
				dst := make([]byte, reg.Dx()*reg.Dy()*3)
				if err := DecodeJPEGRegion(data, dst, reg, true); err != nil {
					t.Fatalf("window %v, region %v: %v", r, reg, err)
				}
				if d := windowDiff(full, dst, l.Width, reg, r); d != 0 {
					t.Errorf("window %v (region %v): %d bytes differ from the full decode", r, reg, d)
				}
				bare := l.regionFor(r, 0, 0)
				dst = make([]byte, bare.Dx()*bare.Dy()*3)
				if err := DecodeJPEGRegion(data, dst, bare, true); err != nil {
					t.Fatalf("window %v, region %v: %v", r, bare, err)
				}
				if windowDiff(full, dst, l.Width, bare, r) != 0 {
					inexact++
				}
			}
			t.Logf("%dx%d, sampling %dx%d: without the column margin %d windows differ", l.Width, l.Height, l.MaxH, l.MaxV, inexact)
		})
	}
}

// TestDecodeJPEGRegionErrors: a damaged file gives the full decode's error whenever the
// region decode reports one, and always when the region reaches the damage's rows (for a
// truncated file, the last row; for a progressive file, any region, as all scans are read up
// front). Bad arguments and irregular files are refused before C writes anything.
func TestDecodeJPEGRegionErrors(t *testing.T) {
	dir := "../../vision/imageio/testdata/images/bad/"
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []struct{ file, cut string }{
		{"truncated_half.jpg", ""}, {"corrupt_entropy.jpg", ""}, {"truncated_no_eoi.jpg", ""},
		{"../../region/p420_q85_171x133.jpg", "half"}, {"../../region/b422_q90_165x99.jpg", "half"},
	}
	for _, tc := range cases {
		data, err := os.ReadFile(dir + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if tc.cut == "half" {
			data = data[:len(data)/2]
		}
		l, err := ReadJPEGLayout(data)
		if err != nil || !l.Regular {
			t.Fatalf("%s: layout %+v, %v", tc.file, l, err)
		}
		for _, stop := range []bool{true, false} {
			full := make([]byte, l.Width*l.Height*3)
			ferr := DecodeJPEG(data, full, l.Width, l.Height, JPEGPixelRGB, stop)
			var fe *JPEGError
			if !errors.As(ferr, &fe) {
				t.Fatalf("%s: full decode gives %v, want a JPEGError", tc.file, ferr)
			}
			progressive := strings.HasPrefix(filepath.Base(tc.file), "p")
			for _, r := range testWindows(l.Width, l.Height, l.MCUWidth(), 20, rng) {
				reg := l.RegionFor(r)
				err := DecodeJPEGRegion(data, make([]byte, reg.Dx()*reg.Dy()*3), reg, stop)
				var e *JPEGError
				switch {
				case err == nil && (progressive || reg.Max.Y == l.Height):
					t.Errorf("%s stop=%v window %v: no error, want %v", tc.file, stop, r, ferr)
				case err != nil && (!errors.As(err, &e) || *e != *fe):
					t.Errorf("%s stop=%v window %v: %v, want the full decode's %v", tc.file, stop, r, err, ferr)
				}
			}
		}
	}

	good, err := os.ReadFile("../../vision/imageio/testdata/region/b420_q90_197x139.jpg")
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 197*139*3)
	odd := encodeJPEG(t, flatRGB(40, 24, color.RGBA{1, 2, 3, 255}))
	odd[bytes.Index(odd, []byte{0xFF, 0xC0})+11] = 0x31 // luma sampling 3×1: not Regular
	if l, err := ReadJPEGLayout(odd); err != nil || l.Regular || l.MaxH != 3 {
		t.Errorf("ReadJPEGLayout(3×1 luma) = %+v, %v; want MaxH 3, not Regular", l, err)
	}
	gray := encodeJPEG(t, flatGray(16, 8, 100))
	if l, err := ReadJPEGLayout(gray); err != nil || l.Regular || l.Components != 1 {
		t.Errorf("ReadJPEGLayout(grey) = %+v, %v; want 1 component, not Regular", l, err)
	}
	if _, err := ReadJPEGLayout([]byte("not a jpeg at all")); err == nil {
		t.Error("ReadJPEGLayout(text): no error")
	}
	bad := []struct {
		name   string
		data   []byte
		dst    []byte
		region image.Rectangle
	}{
		{"empty data", nil, dst, image.Rect(0, 0, 16, 16)},
		{"empty region", good, dst, image.Rect(16, 16, 16, 20)},
		{"negative origin", good, dst, image.Rect(-16, 0, 16, 16)},
		{"dst too small", good, dst[:100], image.Rect(0, 0, 16, 16)},
		{"left edge off the iMCU grid", good, dst, image.Rect(3, 0, 40, 16)},
		{"beyond the right edge", good, dst, image.Rect(16, 0, 198, 16)},
		{"beyond the bottom", good, dst, image.Rect(0, 130, 16, 140)},
		{"not regular (3×1 luma)", odd, dst, image.Rect(0, 0, 40, 24)},
		{"grey", gray, dst, image.Rect(0, 0, 16, 8)},
	}
	for _, tc := range bad {
		for i := range dst {
			dst[i] = 0xAB
		}
		err := DecodeJPEGRegion(tc.data, tc.dst, tc.region, true)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		}
		if bytes.Count(dst, []byte{0xAB}) != len(dst) {
			t.Errorf("%s: %v, but dst was written", tc.name, err)
		}
	}
}

// BenchmarkDecodeJPEGRegion decodes the centre half of a 2048×1536 4:2:0 JPEG, against the
// whole image (BenchmarkDecodeJPEGRegion/full).
func BenchmarkDecodeJPEGRegion(b *testing.B) {
	m := image.NewRGBA(image.Rect(0, 0, 2048, 1536))
	for i := range m.Pix {
		m.Pix[i] = uint8(i*7 + i/8192)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	l, err := ReadJPEGLayout(data)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range []image.Rectangle{image.Rect(0, 0, 2048, 1536), image.Rect(512, 384, 1536, 1152)} {
		reg := l.RegionFor(r)
		dst := make([]byte, reg.Dx()*reg.Dy()*3)
		b.Run(fmt.Sprintf("%dx%d", r.Dx(), r.Dy()), func(b *testing.B) {
			for range b.N {
				if err := DecodeJPEGRegion(data, dst, reg, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
