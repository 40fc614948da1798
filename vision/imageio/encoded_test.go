package imageio

import (
	"bytes"
	"errors"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// windowsOf returns windows of a w×h image: the whole image, its corners and edges, 1-pixel
// windows and strips, and n random ones.
func windowsOf(w, h, n int, rng *rand.Rand) []image.Rectangle {
	ws := []image.Rectangle{
		image.Rect(0, 0, w, h), image.Rect(0, 0, 1, 1), image.Rect(w-1, h-1, w, h),
		image.Rect(w/2, h/2, w/2+1, h/2+1), image.Rect(0, h/2, w, h/2+1), image.Rect(w/2, 0, w/2+1, h),
		image.Rect(w/3, h/3, w, h), image.Rect(0, 0, 2*w/3, 2*h/3), image.Rect(w/4, 0, 3*w/4, h),
	}
	for range n {
		x0, y0 := rng.IntN(w), rng.IntN(h)
		ws = append(ws, image.Rect(x0, y0, x0+1+rng.IntN(w-x0), y0+1+rng.IntN(h-y0)))
	}
	return ws
}

// sameInside reports whether win (whose pixel (0, 0) is at) holds full's pixels inside r.
func sameInside(full, win *RGB, at image.Point, r image.Rectangle) bool {
	if !r.In(image.Rect(at.X, at.Y, at.X+win.W, at.Y+win.H)) {
		return false
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		a := full.Pix[(y*full.W+r.Min.X)*3 : (y*full.W+r.Max.X)*3]
		o := ((y-at.Y)*win.W + r.Min.X - at.X) * 3
		if !bytes.Equal(a, win.Pix[o:o+len(a)]) {
			return false
		}
	}
	return true
}

// windowable says which corpus files Encoded decodes in windows with the LibjpegTurbo
// decoder: the colour JPEGs with 4:4:4, 4:2:2, 4:2:0 or 4:4:0 sampling; not grey, CMYK or
// 4:1:1 JPEGs, and no other format.
func windowable(name string, data []byte) bool {
	return Sniff(data) == JPEG && !strings.HasPrefix(name, "gray") && !strings.HasPrefix(name, "cmyk") &&
		!strings.Contains(name, "411")
}

// TestEncodedDecodeWindow: for every file of the parity and region corpora and every JPEG
// decoder, the pixels DecodeWindow gives inside each window equal the full decode's byte for
// byte, windowed decoding is used exactly for the files it should be, and one Encoded reused
// across all files and windows (recycling its buffers) gives the same.
func TestEncodedDecodeWindow(t *testing.T) {
	files, err := filepath.Glob("testdata/images/images/*")
	if err != nil {
		t.Fatal(err)
	}
	region, err := filepath.Glob("testdata/region/*.jpg")
	if err != nil || len(region) < 10 {
		t.Fatalf("region corpus: %d files (%v)", len(region), err)
	}
	files = append(files, region...)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, jd := range JPEGDecoders() {
		e := &Encoded{Decoder: Decoder{JPEG: jd}}
		windowed := 0
		for _, path := range files {
			name := filepath.Base(path)
			if err := e.ReadFile(path); err != nil {
				t.Fatal(err)
			}
			full, err := e.Decoder.DecodeBytes(e.Data)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			w, h, ok := e.WindowSize()
			if want := jd == LibjpegTurbo && windowable(name, e.Data); ok != want {
				t.Errorf("%s %s: WindowSize ok = %v, want %v", jd, name, ok, want)
			}
			if ok {
				windowed++
				if w != full.W || h != full.H {
					t.Errorf("%s %s: WindowSize %dx%d, image %dx%d", jd, name, w, h, full.W, full.H)
				}
			}
			n := 12
			if full.W*full.H > 1e6 {
				n = 2
			}
			for _, r := range windowsOf(full.W, full.H, n, rng) {
				win, at, err := e.DecodeWindow(r)
				if err != nil {
					t.Fatalf("%s %s window %v: %v", jd, name, r, err)
				}
				if !sameInside(full, win, at, r) {
					t.Errorf("%s %s window %v: pixels differ from the full decode (window at %v, %dx%d)", jd, name, r, at, win.W, win.H)
				}
				if !ok && (at != image.Point{} || win.W != full.W || win.H != full.H) {
					t.Errorf("%s %s: fallback window is %dx%d at %v, want the whole image", jd, name, win.W, win.H, at)
				}
			}
			for _, r := range []image.Rectangle{{}, image.Rect(0, 0, full.W+1, 1), image.Rect(-1, 0, 1, 1)} {
				if _, _, err := e.DecodeWindow(r); err == nil {
					t.Errorf("%s %s: window %v outside the image gave no error", jd, name, r)
				}
			}
		}
		if jd == LibjpegTurbo && windowed < 20 {
			t.Errorf("only %d files decoded in windows", windowed)
		}
	}
}

// TestEncodedErrors: Encoded's errors are Decode's: the same message (naming the file) for an
// unreadable file, for every bad file of the corpus through Decode, and through DecodeWindow
// of the whole image; a cut file fails with Decode's kind for every window that reaches its
// last row (and any window of a progressive file, whose scans are all read up front), and a
// window that fails gives Decode's kind. Harmless warnings (junk before a marker) still give
// the clean file's pixels.
func TestEncodedErrors(t *testing.T) {
	var e Encoded
	missing := filepath.Join(t.TempDir(), "absent.jpg")
	_, derr := Decode(missing)
	if err := e.ReadFile(missing); err == nil || derr == nil || err.Error() != derr.Error() {
		t.Errorf("ReadFile(missing) = %v, Decode gives %v", err, derr)
	}

	bad, err := filepath.Glob("testdata/images/bad/*")
	if err != nil || len(bad) == 0 {
		t.Fatalf("no bad files (%v)", err)
	}
	badWindowed := 0
	for _, path := range bad {
		_, derr := Decode(path)
		if err := e.ReadFile(path); err != nil {
			t.Fatal(err)
		}
		_, err := e.Decode()
		if derr == nil { // truncated_no_iend.png decodes, as in Pillow
			if err != nil {
				t.Errorf("%s: Encoded.Decode gives %v, Decode no error", path, err)
			}
			continue
		}
		if err == nil || err.Error() != derr.Error() || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Encoded.Decode gives %v, Decode %v", path, err, derr)
		}
		if w, h, ok := e.WindowSize(); ok {
			badWindowed++
			_, _, err := e.DecodeWindow(image.Rect(0, 0, w, h))
			if err == nil || err.Error() != derr.Error() {
				t.Errorf("%s: DecodeWindow(whole image) gives %v, Decode %v", path, err, derr)
			}
		}
	}

	if !haveLibjpegTurbo {
		return // no window decoding in this build; TestEncodedDecodeWindow covers the fallback
	}
	if badWindowed < 3 { // truncated_half, truncated_no_eoi, corrupt_entropy
		t.Errorf("only %d bad files went through DecodeWindow", badWindowed)
	}

	rng := rand.New(rand.NewPCG(7, 8))
	for _, name := range []string{"testdata/region/b420_q90_197x139.jpg", "testdata/region/p422_q85_150x101.jpg",
		"testdata/region/b440_q90_143x117.jpg", "testdata/images/images/jpeg444_q90_160x120.jpg"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		progressive := strings.HasPrefix(filepath.Base(name), "p")
		for _, cut := range []int{len(data) / 3, len(data) * 2 / 3, len(data) - 3} {
			cutData := data[:cut]
			_, derr := DecodeBytes(cutData)
			var want *Error
			if !errors.As(derr, &want) {
				t.Fatalf("%s cut at %d: Decode gives %v", name, cut, derr)
			}
			e.Reset("cut.jpg", cutData)
			w, h, ok := e.WindowSize()
			if !ok {
				t.Fatalf("%s cut at %d: not windowable", name, cut)
			}
			for _, r := range windowsOf(w, h, 10, rng) {
				_, _, err := e.DecodeWindow(r)
				var got *Error
				switch {
				case err == nil && (progressive || r.Max.Y == h):
					t.Errorf("%s cut at %d, window %v: no error, Decode gives %v", name, cut, r, derr)
				case err != nil && (!errors.As(err, &got) || got.Kind != want.Kind || got.Path != "cut.jpg"):
					t.Errorf("%s cut at %d, window %v: %v, Decode gives %v", name, cut, r, err, derr)
				}
			}
		}
	}

	data := readCorpus(t, "jpeg420_q90_161x121.jpg")
	clean, err := DecodeBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	junk := []byte{1, 2, 3, 4, 5}
	for _, at := range []int{len(data) - 2, bytes.Index(data, []byte{0xFF, 0xDB})} {
		f := append(append(append([]byte{}, data[:at]...), junk...), data[at:]...)
		e.Reset("junk.jpg", f)
		for _, r := range windowsOf(clean.W, clean.H, 5, rng) {
			win, o, err := e.DecodeWindow(r)
			if err != nil || !sameInside(clean, win, o, r) {
				t.Errorf("junk at %d, window %v: error %v, or pixels differ from the clean file", at, r, err)
			}
		}
	}
}

// BenchmarkEncodedDecodeWindow decodes the centre 1352×1356 of a 2048×1536 4:2:0 JPEG (the
// window the validation pipeline reads), against the whole image through DecodeBytes.
func BenchmarkEncodedDecodeWindow(b *testing.B) {
	data := benchJPEG(b)
	e := &Encoded{}
	e.Reset("bench.jpg", data)
	b.Run("window", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := e.DecodeWindow(image.Rect(342, 90, 1694, 1446)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeBytes(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
