package imagec

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"strings"
	"testing"
)

// encodeJPEG writes m with Go's encoder at quality 100 (all quantisation steps 1).
func encodeJPEG(t *testing.T, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func flatGray(w, h int, v uint8) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = v
	}
	return m
}

func flatRGB(w, h int, c color.RGBA) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetRGBA(x, y, c)
		}
	}
	return m
}

func TestDecodeJPEGHeader(t *testing.T) {
	tests := []struct {
		name string
		m    image.Image
		want JPEGHeader
	}{
		{"gray", flatGray(13, 7, 100), JPEGHeader{13, 7, JPEGGray}},
		{"colour", flatRGB(21, 17, color.RGBA{200, 100, 50, 255}), JPEGHeader{21, 17, JPEGYCbCr}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeJPEGHeader(encodeJPEG(t, tc.m))
			if err != nil || got != tc.want {
				t.Errorf("DecodeJPEGHeader = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestDecodeJPEGFlat decodes flat images, whose blocks hold only a DC coefficient: at quality
// 100 the grey level survives exactly (libjpeg's islow DC path is exact for a quantiser of 1),
// and a colour moves by at most 2 levels, one rounding in the encoder's RGB→YCbCr and one in
// libjpeg's YCbCr→RGB per channel.
func TestDecodeJPEGFlat(t *testing.T) {
	tests := []struct {
		name string
		m    image.Image
		pf   JPEGPixelFormat
		want []uint8
		tol  int
	}{
		{"gray as gray", flatGray(16, 8, 100), JPEGPixelGray, []uint8{100}, 0},
		{"gray as RGB", flatGray(16, 8, 37), JPEGPixelRGB, []uint8{37, 37, 37}, 0},
		{"colour as RGB", flatRGB(19, 11, color.RGBA{200, 100, 50, 255}), JPEGPixelRGB, []uint8{200, 100, 50}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := encodeJPEG(t, tc.m)
			b := tc.m.Bounds()
			dst := make([]byte, b.Dx()*b.Dy()*tc.pf.Size())
			if err := DecodeJPEG(data, dst, b.Dx(), b.Dy(), tc.pf, true); err != nil {
				t.Fatal(err)
			}
			for i, v := range dst {
				if d := int(v) - int(tc.want[i%len(tc.want)]); d > tc.tol || d < -tc.tol {
					t.Fatalf("value %d of the decode is %d, want %d ± %d", i, v, tc.want[i%len(tc.want)], tc.tol)
				}
			}
		})
	}
}

// TestDecodeJPEGErrors checks how libjpeg's complaints come back: a file cut inside its
// Huffman tables first warns "Premature end of JPEG file" (libjpeg then feeds a fake EOI),
// which is the error with stopOnWarning; without it decoding goes on into a fatal "Bogus
// Huffman table definition" that TurboJPEG 2.x still labels a warning. Non-JPEG data is fatal,
// and bad arguments never reach C.
func TestDecodeJPEGErrors(t *testing.T) {
	data := encodeJPEG(t, flatRGB(64, 48, color.RGBA{10, 200, 30, 255}))
	dst := make([]byte, 64*48*3)
	for _, tc := range []struct {
		stop bool
		msg  string
	}{{true, "Premature end of JPEG file"}, {false, ""}} {
		err := DecodeJPEG(data[:len(data)/2], dst, 64, 48, JPEGPixelRGB, tc.stop)
		var e *JPEGError
		if !errors.As(err, &e) || !e.Warning || !strings.HasPrefix(e.Msg, tc.msg) {
			t.Errorf("cut file, stopOnWarning %v: %v, want a warning starting %q", tc.stop, err, tc.msg)
		}
	}
	_, err := DecodeJPEGHeader([]byte("not a jpeg at all"))
	var e *JPEGError
	if !errors.As(err, &e) || e.Warning || !strings.Contains(e.Msg, "Not a JPEG file") {
		t.Errorf("DecodeJPEGHeader(text) = %v, want libjpeg's fatal 'Not a JPEG file'", err)
	}
	bad := []struct {
		name      string
		data, dst []byte
		w, h      int
		pf        JPEGPixelFormat
	}{
		{"empty data", nil, dst, 64, 48, JPEGPixelRGB},
		{"dst too small", data, dst[:100], 64, 48, JPEGPixelRGB},
		{"zero width", data, dst, 0, 48, JPEGPixelRGB},
		{"unknown pixel format", data, dst, 64, 48, JPEGPixelFormat(99)},
	}
	for _, tc := range bad {
		if err := DecodeJPEG(tc.data, tc.dst, tc.w, tc.h, tc.pf, true); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if _, err := DecodeJPEGHeader(nil); err == nil {
		t.Error("DecodeJPEGHeader(nil): no error")
	}
	// SOI, the quantisation tables, EOI: an abbreviated "tables-only" datastream, no image.
	tables := append(append([]byte{}, data[:bytes.Index(data, []byte{0xFF, 0xC0})]...), 0xFF, 0xD9)
	if h, err := DecodeJPEGHeader(tables); err == nil {
		t.Errorf("DecodeJPEGHeader(tables only) = %+v, no error", h)
	}
}

// TestDecodeJPEGHeaderOddSampling: TurboJPEG 2.x refuses the header of a JPEG whose sampling
// factors it has no TJSAMP name for, though tjDecompress2 decodes such files (and Pillow does);
// DecodeJPEGHeader must still report the size. Luma sampling 3×1 is such a case.
func TestDecodeJPEGHeaderOddSampling(t *testing.T) {
	data := encodeJPEG(t, flatRGB(40, 24, color.RGBA{1, 2, 3, 255}))
	sof := bytes.Index(data, []byte{0xFF, 0xC0})
	if sof < 0 || data[sof+9] != 3 {
		t.Fatalf("no 3-component SOF0 in Go's output")
	}
	data[sof+11] = 0x31 // component 1: H=3, V=1
	got, err := DecodeJPEGHeader(data)
	if err != nil || got != (JPEGHeader{40, 24, JPEGYCbCr}) {
		t.Errorf("DecodeJPEGHeader = %+v, %v; want 40x24 YCbCr", got, err)
	}
}
