//go:build cgo && !purego

package imageio

import (
	"errors"
	"image"
	"strings"

	"github.com/drgrade/drgrade/internal/imagec"
)

// haveLibjpegTurbo says whether the LibjpegTurbo decoder is compiled in.
const haveLibjpegTurbo = true

// turboSize reads a JPEG's size with libjpeg-turbo's header reader.
func turboSize(data []byte) (int, int, error) {
	h, err := imagec.DecodeJPEGHeader(data)
	if err != nil {
		return 0, 0, turboHeaderError(data, err)
	}
	return h.Width, h.Height, nil
}

// decodeJPEGTurbo is the LibjpegTurbo decoder: libjpeg-turbo writes the pixels in the
// colour space Pillow's JpegDecoder asks for (RGB for YCbCr and RGB JPEGs, grey for
// greyscale, CMYK for CMYK and YCCK), then Pillow's convert('RGB') rules finish them.
func decodeJPEGTurbo(data []byte) (*RGB, error) {
	h, err := imagec.DecodeJPEGHeader(data)
	if err != nil {
		return nil, turboHeaderError(data, err)
	}
	out := NewRGB(h.Width, h.Height)
	pf, buf := turboPixelFormat(h.Colorspace), out.Pix
	if pf != imagec.JPEGPixelRGB {
		buf = make([]uint8, h.Width*h.Height*pf.Size())
	}
	if err := turboDecode(data, buf, h.Width, h.Height, pf); err != nil {
		return nil, err
	}
	switch pf {
	case imagec.JPEGPixelGray:
		grayToRGB(out, buf)
	case imagec.JPEGPixelCMYK:
		adobeCMYKToRGB(out, buf)
	}
	return out, nil
}

// checkJPEGTurbo decodes data at 1/8 scale (TurboJPEG picks the scaling factor from the
// output size) with decodeJPEGTurbo's pixel formats and turboDecode's warning policy.
func checkJPEGTurbo(data []byte) error {
	h, err := imagec.DecodeJPEGHeader(data)
	if err != nil {
		return turboHeaderError(data, err)
	}
	w8, h8 := (h.Width+7)/8, (h.Height+7)/8
	pf := turboPixelFormat(h.Colorspace)
	return turboDecode(data, make([]uint8, w8*h8*pf.Size()), w8, h8, pf)
}

// turboPixelFormat is the output format Pillow's JpegDecoder asks for a JPEG colour space: RGB
// for YCbCr and RGB, grey for greyscale, CMYK for CMYK and YCCK.
func turboPixelFormat(cs imagec.JPEGColorspace) imagec.JPEGPixelFormat {
	switch cs {
	case imagec.JPEGGray:
		return imagec.JPEGPixelGray
	case imagec.JPEGCMYK, imagec.JPEGYCCK:
		return imagec.JPEGPixelCMYK
	}
	return imagec.JPEGPixelRGB
}

// turboDecode decodes, stopping at libjpeg's first warning. Warnings that mean image data is
// missing or damaged refuse the file (as the PureGo decoder does; Pillow raises for the
// truncated ones). A harmless first warning (extraneous bytes before a marker, an unknown
// JFIF revision, ...) leaves the image intact and Pillow ignores it, so the image is decoded
// again to the end. TurboJPEG reports only the last message of that run (a later fatal error
// is reported as a warning too), so the file is accepted only if that last message is the
// first one again: a single harmless warning, or one repeated.
func turboDecode(data, buf []byte, w, h int, pf imagec.JPEGPixelFormat) error {
	return turboRetry(func(stopOnWarning bool) error {
		return imagec.DecodeJPEG(data, buf, w, h, pf, stopOnWarning)
	})
}

// turboRetry runs decode with turboDecode's warning policy: stop at the first warning, and
// when it is harmless decode again to the end and accept a single (or repeated) harmless one.
func turboRetry(decode func(stopOnWarning bool) error) error {
	err := decode(true)
	if first, ok := err.(*imagec.JPEGError); ok && first.Warning && harmless(first.Msg) {
		err = decode(false)
		if last, ok := err.(*imagec.JPEGError); ok && last.Warning && last.Msg == first.Msg {
			err = nil
		}
	}
	return turboError(err)
}

// turboWindowLayout reports whether libjpeg-turbo can decode windows of data
// (imagec.DecodeJPEGRegion): a JPEG whose header both TurboJPEG (as turboSize reads it) and
// libjpeg accept, with a Regular layout (three components, YCbCr or RGB, 4:4:4, 4:2:2, 4:2:0
// or 4:4:0). Anything else, or a header error, is left to the full decode.
func turboWindowLayout(data []byte) (w, h int, l regionLayout, ok bool) {
	if _, err := imagec.DecodeJPEGHeader(data); err != nil {
		return 0, 0, nil, false
	}
	jl, err := imagec.ReadJPEGLayout(data)
	if err != nil || !jl.Regular {
		return 0, 0, nil, false
	}
	return jl.Width, jl.Height, jl, true
}

// decodeRegionTurbo decodes region (from the layout's RegionFor) into buf with turboDecode's
// warning policy and errors.
func decodeRegionTurbo(data []byte, region image.Rectangle, buf []uint8) error {
	return turboRetry(func(stopOnWarning bool) error {
		return imagec.DecodeJPEGRegion(data, buf, region, stopOnWarning)
	})
}

// harmless says whether a libjpeg warning leaves the image data intact: JWRN_EXTRANEOUS_DATA,
// JWRN_JFIF_MAJOR, JWRN_ADOBE_XFORM, JWRN_BOGUS_PROGRESSION, JWRN_NOT_SEQUENTIAL,
// JWRN_BOGUS_ICC (jerror.h). The others report a premature end of the file or corrupt
// entropy-coded data.
func harmless(msg string) bool {
	for _, p := range []string{"Corrupt JPEG data: bad ICC marker", "Unknown Adobe color transform code",
		"Warning: unknown JFIF revision number", "Inconsistent progression sequence",
		"Invalid SOS parameters for sequential JPEG"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return strings.HasPrefix(msg, "Corrupt JPEG data: ") && strings.Contains(msg, " extraneous bytes before marker ")
}

// turboError turns a libjpeg-turbo failure into an *Error of the right kind.
func turboError(err error) error {
	var e *imagec.JPEGError
	if !errors.As(err, &e) {
		return err
	}
	kind := ErrCorrupt
	switch {
	case strings.HasPrefix(e.Msg, "Premature end of JPEG file"):
		kind = ErrTruncated
	case strings.Contains(strings.ToLower(e.Msg), "unsupported"):
		kind = ErrUnsupported
	}
	return &Error{Kind: kind, Detail: err.Error()}
}

// turboHeaderError classifies a header libjpeg-turbo refused. libjpeg's memory source turns
// the end of the data into a fake EOI marker, so a file cut inside its header fails with a
// message about the symptom ("missing SOS marker"); headerTruncated tells that case apart.
func turboHeaderError(data []byte, err error) error {
	if headerTruncated(data) {
		return &Error{Kind: ErrTruncated, Detail: err.Error()}
	}
	return turboError(err)
}
