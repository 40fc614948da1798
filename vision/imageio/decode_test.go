package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// corpus is the committed parity corpus (written by testdata/images_gen.py).
const corpus = "testdata/images/images"

func readCorpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSniff(t *testing.T) {
	tests := []struct {
		head string
		want Format
	}{
		{"\xff\xd8\xff\xe0\x00\x10JFIF", JPEG},
		{"\x89PNG\r\n\x1a\n\x00\x00", PNG},
		{"BM" + strings.Repeat("\x00", 20), BMP},
		{"BM", ""}, // too short to be a BMP header
		{"II*\x00\x08\x00\x00\x00", TIFF},
		{"MM\x00*\x00\x00\x00\x08", TIFF},
		{"RIFF\x10\x00\x00\x00WEBPVP8 ", WebP},
		{"RIFF\x10\x00\x00\x00WAVEfmt ", ""},
		{"GIF89a", ""},
		{"hello world", ""},
		{"\xff\xd8", ""},
		{"", ""},
	}
	for _, tc := range tests {
		if got := Sniff([]byte(tc.head)); got != tc.want {
			t.Errorf("Sniff(%q) = %q, want %q", tc.head, got, tc.want)
		}
	}
}

func TestDecodeErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	jpg := readCorpus(t, "jpeg420_q90_161x121.jpg")
	tests := []struct {
		name    string
		content []byte // nil: do not create the file
		mkdir   bool
		kind    error // nil: any error
		detail  string
	}{
		{name: "zero.jpg", content: []byte{}, kind: ErrEmpty},
		{name: "notes.jpg", content: []byte("patient 12, left eye\nre-take\n"), kind: ErrUnknownFormat, detail: "looks like text"},
		{name: "binary.png", content: []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, kind: ErrUnknownFormat, detail: "starts with 00 01 02"},
		{name: "cut.jpg", content: jpg[:len(jpg)*2/3], kind: ErrTruncated},
		{name: "bomb.png", content: pngHeader(20000, 20000), kind: ErrTooLarge, detail: "400000000 pixels, limit 178956970"},
		{name: "liar.bmp", content: bmpHeader(1<<14, 1<<12), kind: ErrTruncated, detail: "header needs"},
		{name: "absent.jpg", kind: nil},
		{name: "adir.jpg", mkdir: true, kind: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			switch {
			case tc.mkdir:
				if err := os.Mkdir(path, 0o755); err != nil {
					t.Fatal(err)
				}
			case tc.content != nil:
				if err := os.WriteFile(path, tc.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Decode(path)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("error %q is not %v", err, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("error %q lacks %q", err, tc.detail)
			}
		})
	}
	// DecodeBytes has no file name to give.
	_, err := DecodeBytes(nil)
	var e *Error
	if !errors.As(err, &e) || e.Path != "" || err.Error() != "imageio: empty file (0 bytes)" {
		t.Errorf("DecodeBytes(nil) = %v", err)
	}
}

// pngHeader is the start of an 8-bit RGB PNG of the given size (valid signature and IHDR).
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32([]byte("IHDR"), w), h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

// bmpHeader is a 24-bit BMP header promising w×h pixels, followed by one row of data.
func bmpHeader(w, h uint32) []byte {
	b := []byte("BM")
	b = binary.LittleEndian.AppendUint32(b, 0)  // file size (unchecked)
	b = binary.LittleEndian.AppendUint32(b, 0)  // reserved
	b = binary.LittleEndian.AppendUint32(b, 54) // pixel data offset
	b = binary.LittleEndian.AppendUint32(b, 40) // BITMAPINFOHEADER
	b = binary.LittleEndian.AppendUint32(b, w)
	b = binary.LittleEndian.AppendUint32(b, h)
	b = binary.LittleEndian.AppendUint16(b, 1)  // planes
	b = binary.LittleEndian.AppendUint16(b, 24) // bits per pixel
	b = append(b, make([]byte, 24)...)          // compression 0 and the rest
	return append(b, make([]byte, 3*w)...)
}

// TestTruncatedFilesFail cuts corpus files at many points and decodes them with every JPEG
// decoder: like Pillow (without LOAD_TRUNCATED_IMAGES) every cut must be an error, never a partial image or a panic. The one
// exception Pillow shares: a PNG that only lacks its final IEND chunk.
func TestTruncatedFilesFail(t *testing.T) {
	tests := []struct {
		file      string
		okFromEnd int // cuts that remove at most this many trailing bytes may decode
	}{
		{"jpeg420_q90_161x121.jpg", 0},
		{"progressive420_q80_203x157.jpg", 0},
		{"cmyk_adobe_q90_90x60.jpg", 0},
		{"rgb_97x61.png", 12},
		{"palette_trns_64x40.png", 12},
		{"rgb24_77x51.bmp", 0},
		{"palette8_40x30.bmp", 0},
		{"rgb_lzw_64x40.tiff", 0},
		{"rgb_raw_64x40.tif", 0},
		{"lossless_rgb_70x50.webp", 0},
		{"lossy_q80_121x81.webp", 0},
	}
	for _, jd := range JPEGDecoders() {
		dec := Decoder{JPEG: jd}
		for _, tc := range tests {
			t.Run(string(jd)+"/"+tc.file, func(t *testing.T) {
				data := readCorpus(t, tc.file)
				step := max(1, len(data)/97)
				for cut := 0; cut < len(data); cut += step {
					m, err := dec.DecodeBytes(data[:cut])
					if err == nil && len(data)-cut > tc.okFromEnd {
						t.Fatalf("cut at %d of %d bytes decoded to %dx%d", cut, len(data), m.W, m.H)
					}
				}
				for cut := len(data) - 16; cut < len(data); cut++ { // the last bytes one by one
					if _, err := dec.DecodeBytes(data[:cut]); err == nil && len(data)-cut > tc.okFromEnd {
						t.Fatalf("cut at %d of %d bytes decoded", cut, len(data))
					}
				}
			})
		}
	}
}

func TestConversionRules(t *testing.T) {
	t.Run("cmyk2rgb", func(t *testing.T) {
		// Pillow: channel = nk - round(v*nk/255) with nk = 255-k, via MULDIV255.
		for _, k := range []uint8{0, 1, 77, 128, 254, 255} {
			for _, v := range []uint8{0, 1, 2, 100, 127, 128, 200, 254, 255} {
				nk := 255 - float64(k)
				want := uint8(nk - math.Floor(float64(v)*nk/255+0.5))
				if got, _, _ := cmykToRGB(v, 0, 0, k); got != want {
					t.Errorf("cmykToRGB(c=%d, k=%d) = %d, want %d", v, k, got, want)
				}
			}
		}
	})
	t.Run("unpremultiply", func(t *testing.T) {
		tests := []struct{ r, g, b, a, wr, wg, wb uint8 }{
			{10, 20, 30, 255, 10, 20, 30},
			{10, 20, 30, 0, 0, 0, 0},
			{64, 32, 0, 128, 127, 63, 0},    // 64*255/128 = 127.5 → 127 (integer division)
			{200, 100, 1, 100, 255, 255, 2}, // clipped
		}
		for _, tc := range tests {
			r, g, b := unpremultiply(tc.r, tc.g, tc.b, tc.a)
			if r != tc.wr || g != tc.wg || b != tc.wb {
				t.Errorf("unpremultiply(%d,%d,%d,%d) = %d,%d,%d, want %d,%d,%d", tc.r, tc.g, tc.b, tc.a, r, g, b, tc.wr, tc.wg, tc.wb)
			}
		}
	})
	t.Run("I;16 clips", func(t *testing.T) {
		for v, want := range map[uint16]uint8{0: 0, 1: 1, 255: 255, 256: 255, 65535: 255} {
			if got := clipI16(v); got != want {
				t.Errorf("clipI16(%d) = %d, want %d", v, got, want)
			}
		}
	})
	t.Run("palette ignores alpha", func(t *testing.T) {
		tests := []struct {
			c    color.Color
			want [3]uint8
		}{
			{color.NRGBA{10, 20, 30, 0}, [3]uint8{10, 20, 30}},
			{color.RGBA{10, 20, 30, 255}, [3]uint8{10, 20, 30}},
			{color.RGBA64{0x1234, 0xfedc, 0x00ff, 0xffff}, [3]uint8{0x12, 0xfe, 0x00}},
		}
		for _, tc := range tests {
			if got := paletteRGB(tc.c); got != tc.want {
				t.Errorf("paletteRGB(%v) = %v, want %v", tc.c, got, tc.want)
			}
		}
	})
}

// TestConcurrentDecode checks that decoders share no state (run with -race), with every JPEG
// decoder.
func TestConcurrentDecode(t *testing.T) {
	files := []string{"jpeg420_q90_161x121.jpg", "lossy_q80_121x81.webp", "rgb16_23x17.png", "cmyk_adobe_q90_90x60.jpg", "gray_q85_130x70.jpg"}
	for _, jd := range JPEGDecoders() {
		dec := Decoder{JPEG: jd}
		want := map[string][]byte{}
		for _, f := range files {
			m, err := dec.DecodeBytes(readCorpus(t, f))
			if err != nil {
				t.Fatal(err)
			}
			want[f] = m.Pix
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 20 {
					f := files[(g+i)%len(files)]
					m, err := dec.DecodeBytes(readCorpus(t, f))
					if err != nil || !bytes.Equal(m.Pix, want[f]) {
						t.Errorf("%s: concurrent decode of %s differs (%v)", jd, f, err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}

// FuzzDecodeBytes feeds arbitrary bytes (seeded with corpus files) to DecodeBytes: it must
// return an image of consistent size or an *Error, and never panic.
func FuzzDecodeBytes(f *testing.F) {
	for _, name := range []string{"jpeg420_q95_6x6.jpg", "jpeg420_q95_3x5.jpg", "gray2bit_19x13.png",
		"la16_14x9.png", "bilevel_33x17.bmp", "rgb16_23x17.tif", "lossless_rgb_70x50.webp", "cmyk_noadobe_q90_90x60.jpg",
		"rgb_ids420_65x47.jpg"} {
		b, err := os.ReadFile(filepath.Join(corpus, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		// Keep the fuzzer's allocations small: MaxPixels still allows ~700 MB images.
		if f := Sniff(data); f != "" {
			if w, h, err := imageSize(f, data, DefaultJPEGDecoder()); err == nil && int64(w)*int64(h) > 1<<22 {
				return
			}
		}
		m, err := DecodeBytes(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			return
		}
		if m.W <= 0 || m.H <= 0 || len(m.Pix) != 3*m.W*m.H {
			t.Fatalf("bad image %dx%d with %d bytes", m.W, m.H, len(m.Pix))
		}
	})
}
