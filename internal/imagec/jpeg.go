package imagec

// JPEG decoding through libjpeg-turbo's TurboJPEG API (jpeg.c), the library Pillow decodes
// JPEGs with. vision/imageio is its user.

/*
#cgo LDFLAGS: -lturbojpeg
#include <turbojpeg.h>
#include "jpeg.h"
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"
)

// JPEGColorspace is the colour space libjpeg assigns to a JPEG's components (TurboJPEG's
// TJCS_*), decided as jdapimin.c does from the JFIF and Adobe markers and the component ids.
type JPEGColorspace int

// The JPEG colour spaces.
const (
	JPEGRGB   JPEGColorspace = C.TJCS_RGB
	JPEGYCbCr JPEGColorspace = C.TJCS_YCbCr
	JPEGGray  JPEGColorspace = C.TJCS_GRAY
	JPEGCMYK  JPEGColorspace = C.TJCS_CMYK
	JPEGYCCK  JPEGColorspace = C.TJCS_YCCK
)

// JPEGPixelFormat is the layout DecodeJPEG writes (TurboJPEG's TJPF_*).
type JPEGPixelFormat int

// The pixel formats drgrade asks for: what Pillow's JpegDecoder has libjpeg produce for
// modes RGB, L and CMYK (out_color_space JCS_RGB, JCS_GRAYSCALE, JCS_CMYK).
const (
	JPEGPixelRGB  JPEGPixelFormat = C.TJPF_RGB
	JPEGPixelGray JPEGPixelFormat = C.TJPF_GRAY
	JPEGPixelCMYK JPEGPixelFormat = C.TJPF_CMYK
)

// Size is the number of bytes per pixel (TurboJPEG's tjPixelSize).
func (pf JPEGPixelFormat) Size() int {
	switch pf {
	case JPEGPixelRGB:
		return 3
	case JPEGPixelGray:
		return 1
	case JPEGPixelCMYK:
		return 4
	}
	return 0
}

// JPEGHeader is what a JPEG's frame header says.
type JPEGHeader struct {
	Width, Height int
	Colorspace    JPEGColorspace
}

// JPEGError is an error or warning from libjpeg-turbo.
type JPEGError struct {
	// Warning says libjpeg warned (the data is damaged or odd, but decoding could go on).
	// TurboJPEG 2.x also reports a fatal error that follows a warning as a warning, so with
	// stopOnWarning off a Warning may still mean the decode was abandoned.
	Warning bool
	Msg     string // libjpeg's last message, e.g. "Premature end of JPEG file"
}

// Error is libjpeg's message prefixed with "libjpeg-turbo: " ("libjpeg-turbo warning: " for a warning).
func (e *JPEGError) Error() string {
	if e.Warning {
		return "libjpeg-turbo warning: " + e.Msg
	}
	return "libjpeg-turbo: " + e.Msg
}

func resultError(r *C.tx_jpeg_result) error {
	if r.status == 0 {
		return nil
	}
	return &JPEGError{Warning: r.status == 1, Msg: C.GoString(&r.msg[0])}
}

// DecodeJPEGHeader reads a JPEG's frame header (tjDecompressHeader3). Sampling factors that
// TurboJPEG 2.x cannot name (it then refuses the header) are accepted, since tjDecompress2
// decodes them; so is a header that only drew a libjpeg warning.
func DecodeJPEGHeader(data []byte) (JPEGHeader, error) {
	if len(data) == 0 {
		return JPEGHeader{}, &JPEGError{Msg: "empty JPEG data"}
	}
	var r C.tx_jpeg_result
	C.tx_jpeg_header((*C.uchar)(unsafe.Pointer(&data[0])), C.size_t(len(data)), &r)
	h := JPEGHeader{Width: int(r.width), Height: int(r.height), Colorspace: JPEGColorspace(r.colorspace)}
	err := resultError(&r)
	valid := h.Width > 0 && h.Height > 0 && r.colorspace >= 0
	if e, ok := err.(*JPEGError); ok && valid && (e.Warning || strings.Contains(e.Msg, "Could not determine subsampling type")) {
		err = nil
	}
	if err == nil && !valid { // e.g. a tables-only datastream, which TurboJPEG 2.1.4+ accepts
		err = &JPEGError{Msg: "JPEG datastream contains no image"}
	}
	if err != nil {
		return JPEGHeader{}, err
	}
	return h, nil
}

// DecodeJPEG decodes the whole w×h JPEG in data into dst (w*h*pf.Size() bytes, rows packed)
// with tjDecompress2, using the settings Pillow leaves libjpeg with: the accurate integer
// IDCT (JDCT_ISLOW) and fancy upsampling, at full size. With stopOnWarning the first libjpeg
// warning ends the decode and is the error's message; otherwise decoding goes on and the
// error carries libjpeg's last message (see JPEGError.Warning).
func DecodeJPEG(data, dst []byte, w, h int, pf JPEGPixelFormat, stopOnWarning bool) error {
	if len(data) == 0 {
		return &JPEGError{Msg: "empty JPEG data"}
	}
	if w <= 0 || h <= 0 || pf.Size() == 0 {
		return fmt.Errorf("imagec: DecodeJPEG: bad size %dx%d or pixel format %d", w, h, pf)
	}
	if need := int64(w) * int64(h) * int64(pf.Size()); int64(len(dst)) < need {
		return fmt.Errorf("imagec: DecodeJPEG: dst has %d bytes, %dx%d needs %d", len(dst), w, h, need)
	}
	stop := C.int(0)
	if stopOnWarning {
		stop = 1
	}
	var r C.tx_jpeg_result
	C.tx_jpeg_decode((*C.uchar)(unsafe.Pointer(&data[0])), C.size_t(len(data)),
		(*C.uchar)(unsafe.Pointer(&dst[0])), C.int(w), C.int(h), C.int(pf), stop, &r)
	return resultError(&r)
}
