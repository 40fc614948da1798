package imageio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
	"github.com/suyashkumar/dicom/pkg/uid"
)

// DICOM files (Ophthalmic Photography exports) are read with github.com/suyashkumar/dicom;
// the pixels are what pydicom 2.4's pixel_array gives, turned into RGB by Pillow
// (Image.fromarray(a, 'YCbCr' for YBR_FULL and YBR_FULL_422).convert('RGB')). Only the image
// elements are read: no patient element is ever copied into an error or any output.
const DICOM Format = "DICOM"

// The transfer syntaxes read.
const (
	tsImplicitLE   = "1.2.840.10008.1.2"
	tsExplicitLE   = "1.2.840.10008.1.2.1"
	tsExplicitBE   = "1.2.840.10008.1.2.2"
	tsJPEGBaseline = "1.2.840.10008.1.2.4.50"
	tsJPEGExtended = "1.2.840.10008.1.2.4.51" // 8-bit data only (as pydicom's Pillow handler)
)

// isDICOM: a DICOM Part 10 file, a 128-byte preamble then "DICM" (what pydicom.dcmread needs
// without force=True).
func isDICOM(data []byte) bool { return len(data) >= 132 && string(data[128:132]) == "DICM" }

// dicomImage is the Image Pixel module of a file and its pixel data.
type dicomImage struct {
	ts, photometric                          string
	rows, cols, samples, bits, planar, signd int
	frames                                   int
	native                                   []byte   // uncompressed pixel data
	fragments                                [][]byte // encapsulated items after the offset table
	nativeOW                                 bool     // the native data's VR is OW
}

// unsupportedDICOM is the error for a file drgrade does not read, naming what it has.
func unsupportedDICOM(format string, a ...any) error {
	return &Error{Format: DICOM, Kind: ErrUnsupported, Detail: fmt.Sprintf(format, a...)}
}

// tsName is "UID (name)" for a transfer syntax.
func tsName(ts string) string {
	if info, err := uid.Lookup(ts); err == nil && info.Name != "" {
		return fmt.Sprintf("%s (%s)", ts, info.Name)
	}
	return ts
}

// readDICOM parses data; with pixels false the pixel data is skipped.
func readDICOM(data []byte, pixels bool) (im *dicomImage, err error) {
	opt := dicom.SkipPixelData()
	if pixels {
		opt = dicom.SkipProcessingPixelDataValue()
	}
	defer func() {
		// The library's Must* helpers panic on elements of an unexpected type.
		if r := recover(); r != nil {
			im, err = nil, &Error{Format: DICOM, Kind: ErrCorrupt, Detail: fmt.Sprintf("cannot parse the DICOM data set: %v", r)}
		}
	}()
	ds, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), nil, opt)
	if err != nil {
		kind := ErrCorrupt
		if msg := err.Error(); isEOF(err) || strings.Contains(msg, "EOF") || strings.Contains(msg, "not enough bytes left") ||
			strings.Contains(msg, "exceeds current limit") {
			kind = ErrTruncated // reads past the end of the file
		}
		// The library's message names tags and lengths, not element values.
		return nil, &Error{Format: DICOM, Kind: kind, Detail: "cannot parse the DICOM data set: " + err.Error()}
	}
	str := func(t tag.Tag) string {
		e, err := ds.FindElementByTag(t)
		if err != nil {
			return ""
		}
		if s, ok := e.Value.GetValue().([]string); ok && len(s) > 0 {
			return strings.TrimRight(strings.TrimSpace(s[0]), "\x00")
		}
		return ""
	}
	num := func(t tag.Tag, def int) int {
		e, err := ds.FindElementByTag(t)
		if err != nil {
			return def
		}
		switch v := e.Value.GetValue().(type) {
		case []int:
			if len(v) > 0 {
				return v[0]
			}
		case []string: // IS, e.g. NumberOfFrames
			if len(v) > 0 {
				if n, err := strconv.Atoi(strings.TrimSpace(v[0])); err == nil {
					return n
				}
			}
		}
		return def
	}
	im = &dicomImage{
		ts: str(tag.TransferSyntaxUID), photometric: str(tag.PhotometricInterpretation),
		rows: num(tag.Rows, 0), cols: num(tag.Columns, 0), samples: num(tag.SamplesPerPixel, 1),
		bits: num(tag.BitsAllocated, 0), planar: num(tag.PlanarConfiguration, 0), signd: num(tag.PixelRepresentation, 0),
		frames: num(tag.NumberOfFrames, 1),
	}
	if im.ts == "" {
		im.ts = tsImplicitLE // Part 10 files without one are read as pydicom does
	}
	switch im.ts {
	case tsImplicitLE, tsExplicitLE, tsExplicitBE, tsJPEGBaseline, tsJPEGExtended:
	default:
		return nil, unsupportedDICOM("transfer syntax %s is not supported: drgrade reads uncompressed (implicit or explicit VR) "+
			"and JPEG baseline DICOM; convert the file, e.g. with dcmdjpeg or gdcmconv --raw", tsName(im.ts))
	}
	if im.rows <= 0 || im.cols <= 0 {
		return nil, &Error{Format: DICOM, Kind: ErrCorrupt, Detail: fmt.Sprintf("no image: Rows %d, Columns %d", im.rows, im.cols)}
	}
	if !pixels {
		return im, nil
	}
	e, err := ds.FindElementByTag(tag.PixelData)
	if err != nil {
		return nil, &Error{Format: DICOM, Kind: ErrCorrupt, Detail: "the file has no Pixel Data element"}
	}
	info, ok := e.Value.GetValue().(dicom.PixelDataInfo)
	if !ok {
		return nil, &Error{Format: DICOM, Kind: ErrCorrupt, Detail: "unreadable Pixel Data element"}
	}
	if info.IsEncapsulated {
		for _, f := range info.Frames {
			if f.Encapsulated {
				im.fragments = append(im.fragments, f.EncapsulatedData.Data)
			}
		}
	} else {
		im.native = info.UnprocessedValueData
		im.nativeOW = e.RawValueRepresentation == "OW"
	}
	return im, nil
}

// dicomSize reads the image size from the header.
func dicomSize(data []byte) (int, int, error) {
	im, err := readDICOM(data, false)
	if err != nil {
		return 0, 0, err
	}
	return im.cols, im.rows, nil
}

// decodeDICOM decodes the first frame of a DICOM file to RGB, as pydicom's pixel_array and
// Pillow's convert('RGB') do (see the DICOM constant).
func decodeDICOM(data []byte, jd JPEGDecoder) (*RGB, error) {
	im, err := readDICOM(data, true)
	if err != nil {
		return nil, err
	}
	if im.signd != 0 {
		return nil, unsupportedDICOM("signed pixel data (Pixel Representation 1) is not supported")
	}
	switch {
	case im.photometric == "MONOCHROME2" && im.samples == 1:
	case (im.photometric == "RGB" || im.photometric == "YBR_FULL" || im.photometric == "YBR_FULL_422") && im.samples == 3:
	default:
		return nil, unsupportedDICOM("photometric interpretation %q with %d sample(s) per pixel is not supported "+
			"(drgrade reads RGB, YBR_FULL, YBR_FULL_422 and MONOCHROME2)", im.photometric, im.samples)
	}
	var out *RGB
	if im.ts == tsJPEGBaseline || im.ts == tsJPEGExtended {
		out, err = im.decodeJPEG(jd)
	} else {
		out, err = im.decodeNative()
	}
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(im.photometric, "YBR") {
		pillowYCbCrToRGB(out.Pix)
	}
	return out, nil
}

// decodeJPEG decodes the first frame of encapsulated JPEG data. pydicom hands the fragments to
// Pillow; for RGB and YBR data it keeps libjpeg from transforming the colours (RGB without an
// Adobe marker: the pillow_handler's mode hack; YBR: draft('YCbCr')), which drgrade gets by
// marking the JPEG as untransformed (Adobe APP14, transform 0, no JFIF APP0).
func (im *dicomImage) decodeJPEG(jd JPEGDecoder) (*RGB, error) {
	if len(im.fragments) == 0 {
		return nil, &Error{Format: DICOM, Kind: ErrCorrupt, Detail: "encapsulated Pixel Data without fragments"}
	}
	if im.bits != 8 {
		return nil, unsupportedDICOM("JPEG with Bits Allocated %d is not supported (8 only)", im.bits)
	}
	frame := im.fragments[0]
	if im.frames <= 1 && len(im.fragments) > 1 {
		frame = bytes.Join(im.fragments, nil) // one frame in several fragments
	}
	// Fragments are padded to an even length: trailing bytes after EOI are ignored by libjpeg.
	if im.samples == 3 {
		if _, adobe := jpegAppSegments(frame); im.photometric != "RGB" || !adobe {
			frame = untransformedJPEG(frame)
		}
	}
	jpegErr := func(err error) error {
		e := classify(JPEG, err).(*Error)
		e.Format = DICOM
		e.Detail = "the encapsulated JPEG: " + e.Kind.Error() + detailSuffix(e.Detail)
		return e
	}
	// The JPEG's own size first: Rows and Columns were checked against MaxPixels, it was not.
	w, h, err := jpegSize(frame, jd)
	if err != nil {
		return nil, jpegErr(err)
	}
	if w != im.cols || h != im.rows {
		return nil, &Error{Format: DICOM, Kind: ErrCorrupt,
			Detail: fmt.Sprintf("the encapsulated JPEG is %dx%d but Rows and Columns say %dx%d", w, h, im.cols, im.rows)}
	}
	m, err := decodeJPEG(frame, jd)
	if err != nil {
		return nil, jpegErr(err)
	}
	return m, nil
}

func detailSuffix(d string) string {
	if d == "" {
		return ""
	}
	return ": " + d
}

// jpegAppSegments reports whether a JPEG has a JFIF APP0 and an Adobe APP14 segment before
// its first scan.
func jpegAppSegments(data []byte) (jfif, adobe bool) {
	forEachSegment(data, func(marker byte, seg []byte) bool {
		jfif = jfif || (marker == 0xE0 && bytes.HasPrefix(seg, []byte("JFIF\x00")))
		adobe = adobe || (marker == 0xEE && bytes.HasPrefix(seg, []byte("Adobe")))
		return true
	})
	return jfif, adobe
}

// forEachSegment calls f with each marker segment's marker and payload between SOI and SOS,
// with the payload's offset range; it stops when f returns false or at malformed data.
func forEachSegment(data []byte, f func(marker byte, seg []byte) bool) {
	i := 2
	for i+4 <= len(data) && data[i] == 0xFF {
		marker := data[i+1]
		if marker == 0xDA || marker == 0xD9 {
			return
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return
		}
		if !f(marker, data[i+4:i+2+n]) {
			return
		}
		i += 2 + n
	}
}

// untransformedJPEG is data without its JFIF APP0 and Adobe APP14 segments and with an Adobe
// APP14 saying transform 0: libjpeg (and image/jpeg) then read the three components as they
// are, only upsampled, as Pillow does in YCbCr mode.
func untransformedJPEG(data []byte) []byte {
	if len(data) < 4 {
		return data
	}
	out := make([]byte, 0, len(data)+len(adobeNoTransformAPP14))
	out = append(out, data[:2]...)
	out = append(out, adobeNoTransformAPP14...)
	i := 2
	forEachSegment(data, func(marker byte, seg []byte) bool {
		n := len(seg) + 4
		drop := (marker == 0xE0 && bytes.HasPrefix(seg, []byte("JFIF\x00"))) || (marker == 0xEE && bytes.HasPrefix(seg, []byte("Adobe")))
		if !drop {
			out = append(out, data[i:i+n]...)
		}
		i += n
		return true
	})
	return append(out, data[i:]...)
}

// adobeNoTransformAPP14 is an Adobe APP14 with transform 0 (components stored untransformed).
var adobeNoTransformAPP14 = adobeCMYKAPP14

// decodeNative unpacks the first frame of uncompressed pixel data as pydicom's numpy handler
// does (planar configuration, byte order, YBR_FULL_422's Y1 Y2 Cb Cr pairs replicated to
// Y1 Cb Cr Y2 Cb Cr), and 16-bit greys as Pillow's I;16 → RGB (clipped to 255).
func (im *dicomImage) decodeNative() (*RGB, error) {
	if im.bits != 8 && im.bits != 16 {
		return nil, unsupportedDICOM("Bits Allocated %d is not supported (8, or 16 for MONOCHROME2)", im.bits)
	}
	if im.bits == 16 && im.samples != 1 {
		return nil, unsupportedDICOM("16-bit colour pixel data is not supported")
	}
	w, h := im.cols, im.rows
	if int64(w)*int64(h) > MaxPixels {
		return nil, &Error{Format: DICOM, Kind: ErrTooLarge, Detail: fmt.Sprintf("%dx%d", w, h)}
	}
	bps := im.bits / 8
	need := w * h * im.samples * bps
	if im.photometric == "YBR_FULL_422" {
		if w%2 != 0 {
			return nil, &Error{Format: DICOM, Kind: ErrCorrupt, Detail: fmt.Sprintf("YBR_FULL_422 with an odd width %d", w)}
		}
		need = w * h * 2
	}
	data := im.native
	if len(data) < need {
		return nil, &Error{Format: DICOM, Kind: ErrTruncated,
			Detail: fmt.Sprintf("the pixel data has %d bytes, %dx%d %s needs %d", len(data), w, h, im.photometric, need)}
	}
	data = data[:need]
	if im.ts == tsExplicitBE && bps == 1 && im.nativeOW {
		// 8-bit samples stored as big-endian OW words: swap each pair back, as pydicom does.
		sw := make([]byte, len(data)+1)
		copy(sw, data)
		for i := 0; i+1 < len(sw); i += 2 {
			sw[i], sw[i+1] = sw[i+1], sw[i]
		}
		data = sw[:need]
	}
	out := NewRGB(w, h)
	n := w * h
	switch {
	case im.samples == 1 && bps == 1:
		grayToRGB(out, data)
	case im.samples == 1:
		order := binary.ByteOrder(binary.LittleEndian)
		if im.ts == tsExplicitBE {
			order = binary.BigEndian
		}
		for i := 0; i < n; i++ {
			v := clipI16(order.Uint16(data[2*i:]))
			out.Pix[3*i], out.Pix[3*i+1], out.Pix[3*i+2] = v, v, v
		}
	case im.photometric == "YBR_FULL_422":
		for i := 0; i < n/2; i++ {
			y1, y2, cb, cr := data[4*i], data[4*i+1], data[4*i+2], data[4*i+3]
			copy(out.Pix[6*i:], []uint8{y1, cb, cr, y2, cb, cr})
		}
	case im.planar == 1:
		for i := 0; i < n; i++ {
			out.Pix[3*i], out.Pix[3*i+1], out.Pix[3*i+2] = data[i], data[n+i], data[2*n+i]
		}
	default:
		copy(out.Pix, data)
	}
	return out, nil
}

// pillowYCbCr holds Pillow's fixed-point YCbCr → RGB terms, value·64 for each 8-bit Cb or Cr:
// round-half-up of the JFIF coefficients times (c − 128), truncated toward zero as C's int
// cast does. Equal to Pillow 13's ImagingConvertYCbCr2RGB on all 2²⁴ inputs (checked with the
// venv's Pillow when this was written).
var pillowYCbCr = func() (t [4][256]int32) {
	for i := range 256 {
		term := func(c float64) int32 { return int32(math.Trunc(c*64*float64(i-128) + 0.5)) }
		t[0][i], t[1][i], t[2][i], t[3][i] = term(1.402), term(-0.34414), term(-0.71414), term(1.772)
	}
	return t
}()

// pillowYCbCrToRGB converts interleaved YCbCr pixels to RGB in place, mirroring Pillow's
// Image.convert('RGB') of a YCbCr image (libImaging ConvertYCbCr.c, 6 fraction bits).
func pillowYCbCrToRGB(pix []uint8) {
	rCr, gCb, gCr, bCb := &pillowYCbCr[0], &pillowYCbCr[1], &pillowYCbCr[2], &pillowYCbCr[3]
	clip := func(v int32) uint8 { return uint8(min(max(v, 0), 255)) }
	for i := 0; i+2 < len(pix); i += 3 {
		y, cb, cr := int32(pix[i]), pix[i+1], pix[i+2]
		pix[i] = clip(y + rCr[cr]>>6)
		pix[i+1] = clip(y + (gCb[cb]+gCr[cr])>>6)
		pix[i+2] = clip(y + bCb[cb]>>6)
	}
}
