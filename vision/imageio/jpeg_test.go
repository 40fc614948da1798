package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"math"
	"testing"
)

func TestJPEGDecoders(t *testing.T) {
	ds := JPEGDecoders()
	if ds[0] != DefaultJPEGDecoder() || ds[len(ds)-1] != PureGo {
		t.Fatalf("JPEGDecoders() = %v, default %v", ds, DefaultJPEGDecoder())
	}
	if haveLibjpegTurbo != (DefaultJPEGDecoder() == LibjpegTurbo) {
		t.Errorf("libjpeg-turbo compiled in: %v, but the default is %v", haveLibjpegTurbo, DefaultJPEGDecoder())
	}
	data := readCorpus(t, "jpeg420_q90_161x121.jpg")
	def, err := DecodeBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	explicit, err := Decoder{JPEG: DefaultJPEGDecoder()}.DecodeBytes(data)
	if err != nil || !bytes.Equal(def.Pix, explicit.Pix) {
		t.Errorf("DecodeBytes and the explicit default decoder differ (%v)", err)
	}
	refused := []JPEGDecoder{"libjpeg"}
	if !haveLibjpegTurbo {
		refused = append(refused, LibjpegTurbo)
	}
	for _, jd := range refused {
		if _, err := (Decoder{JPEG: jd}).DecodeBytes(data); !errors.Is(err, ErrUnsupported) {
			t.Errorf("decoder %q: error %v, want ErrUnsupported", jd, err)
		}
	}
}

func TestHeaderTruncated(t *testing.T) {
	data := readCorpus(t, "jpeg420_q90_161x121.jpg")
	sos := bytes.Index(data, []byte{0xFF, 0xDA})
	dqt := bytes.Index(data, []byte{0xFF, 0xDB})
	if sos < 0 || dqt < 0 {
		t.Fatal("corpus JPEG lacks DQT or SOS")
	}
	sosLen := int(data[sos+2])<<8 | int(data[sos+3])
	tests := []struct {
		name string
		data []byte
		want bool
	}{
		{"whole file", data, false},
		{"SOI only", data[:2], true},
		{"cut in a marker", data[:dqt+1], true},
		{"cut in a length", data[:dqt+3], true},
		{"cut in DQT", data[:dqt+10], true},
		{"cut in the SOS header", data[:sos+sosLen], true},
		{"complete SOS header", data[:sos+2+sosLen], false},
		{"fill bytes, then cut", append(append([]byte{}, data[:dqt]...), 0xFF, 0xFF), true},
		{"garbage after SOI", []byte{0xFF, 0xD8, 'x', 'y'}, false},
		{"EOI before any scan", []byte{0xFF, 0xD8, 0xFF, 0xD9}, false},
		{"length below 2", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 1, 0, 0}, false},
	}
	for _, tc := range tests {
		if got := headerTruncated(tc.data); got != tc.want {
			t.Errorf("%s: headerTruncated = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestJPEGHarmlessWarnings: junk bytes between marker segments make libjpeg warn
// (JWRN_EXTRANEOUS_DATA) but lose no image data, and Pillow decodes such files. Both decoders
// must give the clean file's pixels.
func TestJPEGHarmlessWarnings(t *testing.T) {
	data := readCorpus(t, "jpeg420_q90_161x121.jpg")
	junk := []byte{1, 2, 3, 4, 5}
	insert := func(at int) []byte {
		return append(append(append([]byte{}, data[:at]...), junk...), data[at:]...)
	}
	files := map[string][]byte{
		"before EOI": insert(len(data) - 2),
		"before DQT": insert(bytes.Index(data, []byte{0xFF, 0xDB})),
	}
	for _, jd := range JPEGDecoders() {
		dec := Decoder{JPEG: jd}
		clean, err := dec.DecodeBytes(data)
		if err != nil {
			t.Fatal(err)
		}
		for name, f := range files {
			m, err := dec.DecodeBytes(f)
			if err != nil || !bytes.Equal(m.Pix, clean.Pix) {
				t.Errorf("%s, junk %s: error %v, or pixels differ from the clean file", jd, name, err)
			}
		}
	}
}

// benchJPEG is a 2048×1536 4:2:0 JPEG (quality 90) of smooth content with some detail, the
// size of a large fundus photograph.
func benchJPEG(b testing.TB) []byte {
	const w, h = 2048, 1536
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			d := math.Hypot(float64(x-w/2), float64(y-h/2)) / float64(h/2)
			shade := math.Max(0, 1-0.5*d*d)
			ripple := 8 * math.Sin(float64(x)/7) * math.Cos(float64(y)/11)
			m.Set(x, y, color.RGBA{uint8(math.Min(255, 200*shade+ripple+10)), uint8(95*shade + 10), uint8(40*shade + 5), 255})
		}
	}
	var buf bytes.Buffer
	if err := stdjpeg.Encode(&buf, m, &stdjpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkDecodeJPEG2048x1536 times each JPEG decoder on benchJPEG, and Go's image/jpeg alone
// (no RGB conversion) for scale.
func BenchmarkDecodeJPEG2048x1536(b *testing.B) {
	data := benchJPEG(b)
	for _, jd := range JPEGDecoders() {
		b.Run(string(jd), func(b *testing.B) {
			dec := Decoder{JPEG: jd}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := dec.DecodeBytes(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("image-jpeg", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := stdjpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
