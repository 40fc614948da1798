package imageio

import (
	"fmt"
	"image"
)

// JPEGDecoder names an implementation of JPEG decoding. Both give Pillow's colour-space rules
// and its CMYK handling; they differ in exactness and speed (the numbers are from
// TestParityImages and BenchmarkDecodeJPEG, see the package doc).
type JPEGDecoder string

// The JPEG decoders.
const (
	// LibjpegTurbo decodes through libjpeg-turbo's TurboJPEG API (internal/imagec), the
	// library inside Pillow, with Pillow's settings: bit-exact with Pillow. It needs cgo and
	// libturbojpeg (setup-libtorch.sh installs it), and is left out with -tags purego.
	LibjpegTurbo JPEGDecoder = "libjpeg-turbo"
	// PureGo decodes with Go's image/jpeg and finishes the planes with libjpeg's fancy
	// upsampling and fixed-point YCbCr→RGB: within 3 levels of Pillow (Go's IDCT is not
	// libjpeg's), slower, but with no C dependency.
	PureGo JPEGDecoder = "pure-go"
)

// JPEGDecoders lists the JPEG decoders compiled into this binary, the default first.
func JPEGDecoders() []JPEGDecoder {
	if haveLibjpegTurbo {
		return []JPEGDecoder{LibjpegTurbo, PureGo}
	}
	return []JPEGDecoder{PureGo}
}

// DefaultJPEGDecoder is the decoder Decode and DecodeBytes use: LibjpegTurbo, unless the
// binary was built with -tags purego or without cgo.
func DefaultJPEGDecoder() JPEGDecoder { return JPEGDecoders()[0] }

// jpegDecoder resolves d.JPEG, refusing a decoder this binary does not have.
func (d Decoder) jpegDecoder() (JPEGDecoder, error) {
	switch {
	case d.JPEG == "":
		return DefaultJPEGDecoder(), nil
	case d.JPEG == PureGo, d.JPEG == LibjpegTurbo && haveLibjpegTurbo:
		return d.JPEG, nil
	case d.JPEG == LibjpegTurbo:
		return "", &Error{Kind: ErrUnsupported, Detail: "the libjpeg-turbo JPEG decoder is not in this build (built with -tags purego or without cgo)"}
	}
	return "", &Error{Kind: ErrUnsupported, Detail: fmt.Sprintf("unknown JPEG decoder %q", d.JPEG)}
}

// jpegSize reads a JPEG's size from its header with decoder jd.
func jpegSize(data []byte, jd JPEGDecoder) (int, int, error) {
	if jd == LibjpegTurbo {
		return turboSize(data)
	}
	return pureGoSize(data)
}

// decodeJPEG decodes a JPEG with decoder jd.
func decodeJPEG(data []byte, jd JPEGDecoder) (*RGB, error) {
	if jd == LibjpegTurbo {
		return decodeJPEGTurbo(data)
	}
	return decodeJPEGPureGo(data)
}

// grayToRGB replicates each grey value (Pillow's L → RGB).
func grayToRGB(dst *RGB, gray []uint8) {
	for i, v := range gray[:dst.W*dst.H] {
		dst.Pix[3*i], dst.Pix[3*i+1], dst.Pix[3*i+2] = v, v, v
	}
}

// adobeCMYKToRGB converts libjpeg's CMYK output the way Pillow does: its JPEG plugin always
// reads CMYK with the "CMYK;I" raw mode (Adobe polarity, every channel inverted), then
// convert('RGB') applies cmyk2rgb.
func adobeCMYKToRGB(dst *RGB, cmyk []uint8) {
	for i := range dst.W * dst.H {
		c := cmyk[4*i : 4*i+4 : 4*i+4]
		dst.Pix[3*i], dst.Pix[3*i+1], dst.Pix[3*i+2] = cmykToRGB(255-c[0], 255-c[1], 255-c[2], 255-c[3])
	}
}

// subsampling gives the luma samples per chroma sample, horizontally and vertically.
func subsampling(r image.YCbCrSubsampleRatio) (hs, vs int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 2, 1
	case image.YCbCrSubsampleRatio420:
		return 2, 2
	case image.YCbCrSubsampleRatio440:
		return 1, 2
	case image.YCbCrSubsampleRatio411:
		return 4, 1
	case image.YCbCrSubsampleRatio410:
		return 4, 2
	}
	return 1, 1
}

// headerTruncated says whether a JPEG's data ends before its first SOS segment is complete,
// walking the marker segments from SOI (fill bytes 0xFF may precede a marker). Data that
// stops being a marker sequence is corrupt, not truncated.
func headerTruncated(data []byte) bool {
	i := 2 // after SOI
	for {
		if i >= len(data) {
			return true
		}
		if data[i] != 0xFF {
			return false
		}
		for i < len(data) && data[i] == 0xFF {
			i++
		}
		if i >= len(data) {
			return true
		}
		m := data[i]
		i++
		switch {
		case m == 0x00 || m == 0xD9: // not a marker here; EOI before any scan
			return false
		case m == 0x01 || m == 0xD8 || m >= 0xD0 && m <= 0xD7: // TEM, SOI, RSTn: no length
			continue
		}
		if i+2 > len(data) {
			return true
		}
		n := int(data[i])<<8 | int(data[i+1])
		if n < 2 {
			return false
		}
		if i+n > len(data) {
			return true
		}
		if m == 0xDA { // SOS: the header is complete
			return false
		}
		i += n
	}
}
