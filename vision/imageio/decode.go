package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Format is an image container format, recognised from the file's first bytes.
type Format string

// The formats Decode understands.
const (
	JPEG Format = "JPEG"
	PNG  Format = "PNG"
	BMP  Format = "BMP"
	TIFF Format = "TIFF"
	WebP Format = "WebP"
)

// Kinds of decoding failure; an *Error wraps exactly one of them (use errors.Is).
var (
	ErrEmpty         = errors.New("empty file (0 bytes)")
	ErrUnknownFormat = errors.New("not a JPEG, PNG, BMP, TIFF or WebP image")
	ErrTruncated     = errors.New("truncated image (the file ends before the image data does)")
	ErrCorrupt       = errors.New("corrupt image data")
	ErrUnsupported   = errors.New("unsupported image variant")
	ErrTooLarge      = errors.New("image too large (more pixels than Pillow's decompression-bomb limit)")
)

// MaxPixels is Pillow's decompression-bomb limit: Image.open raises DecompressionBombError
// above 2 × Image.MAX_IMAGE_PIXELS = 2 × 89,478,485 pixels. Checking it before decoding also
// keeps a corrupt header from making the decoder allocate gigabytes.
const MaxPixels = 2 * 89478485

// Error is a decoding failure of one file.
type Error struct {
	Path   string // file name, "" for DecodeBytes
	Format Format // "" when the format was not recognised
	Kind   error  // one of ErrEmpty, ErrUnknownFormat, ErrTruncated, ErrCorrupt, ErrUnsupported, ErrTooLarge
	Detail string // what the decoder said, or a hint about the content
}

// Error names the file (when known), the format, what went wrong and the decoder's detail.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("imageio: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Format != "" {
		b.WriteString(string(e.Format))
		b.WriteString(": ")
	}
	b.WriteString(e.Kind.Error())
	if e.Detail != "" {
		b.WriteString(" (")
		b.WriteString(e.Detail)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap lets errors.Is match the kind.
func (e *Error) Unwrap() error { return e.Kind }

// Decoder decodes image files with a chosen JPEG implementation (see JPEGDecoder). The zero
// Decoder uses DefaultJPEGDecoder; Decode and DecodeBytes are Decoder{}'s methods. A Decoder
// holds no state and is safe for concurrent use.
type Decoder struct {
	JPEG JPEGDecoder // "" means DefaultJPEGDecoder()
}

// Decode reads the image file at path and returns its pixels as PIL's
// Image.open(path).convert('RGB') would. Errors are *Error and name the file.
func Decode(path string) (*RGB, error) { return Decoder{}.Decode(path) }

// DecodeBytes decodes an in-memory image file; see Decode.
func DecodeBytes(data []byte) (*RGB, error) { return Decoder{}.DecodeBytes(data) }

// Decode is the package-level Decode with d's JPEG decoder.
func (d Decoder) Decode(path string) (*RGB, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("imageio: %w", err)
	}
	m, err := d.DecodeBytes(data)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Path = path
		}
		return nil, err
	}
	return m, nil
}

// DecodeBytes is the package-level DecodeBytes with d's JPEG decoder.
func (d Decoder) DecodeBytes(data []byte) (*RGB, error) {
	m, _, _, err := d.decode(data, false)
	return m, err
}

// Check reads the image file at path and returns its size, or the error Decode would return
// for it, without keeping the pixels: Preflight's --check_images. See Decoder.CheckBytes.
func Check(path string) (w, h int, err error) { return Decoder{}.Check(path) }

// Check is the package-level Check with d's JPEG decoder.
func (d Decoder) Check(path string) (w, h int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, fmt.Errorf("imageio: %w", err)
	}
	w, h, err = d.CheckBytes(data)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Path = path
		}
		return 0, 0, err
	}
	return w, h, nil
}

// CheckBytes returns the size of an in-memory image file, or the error DecodeBytes would
// return for it. libjpeg-turbo decodes a JPEG at 1/8 scale: it still entropy-decodes every
// coefficient and reads every marker, where truncated and corrupt files fail (with the same
// warnings and the same retry rule), while the IDCT, upsampling and colour conversion, which
// cannot fail, run on 1/64 of the pixels. Other formats, and JPEGs under the pure-Go decoder,
// are decoded in full.
func (d Decoder) CheckBytes(data []byte) (w, h int, err error) {
	_, w, h, err = d.decode(data, true)
	return w, h, err
}

// decode is DecodeBytes, or CheckBytes when check is set (then m may be nil).
func (d Decoder) decode(data []byte, check bool) (m *RGB, w, h int, err error) {
	jd, err := d.jpegDecoder()
	if err != nil {
		return nil, 0, 0, err
	}
	if len(data) == 0 {
		return nil, 0, 0, &Error{Kind: ErrEmpty}
	}
	f := Sniff(data)
	if f == "" {
		return nil, 0, 0, &Error{Kind: ErrUnknownFormat, Detail: describe(data)}
	}
	w, h, err = imageSize(f, data, jd)
	if err != nil {
		return nil, 0, 0, classify(f, err)
	}
	if int64(w)*int64(h) > MaxPixels {
		return nil, 0, 0, &Error{Format: f, Kind: ErrTooLarge, Detail: fmt.Sprintf("%dx%d = %d pixels, limit %d", w, h, int64(w)*int64(h), MaxPixels)}
	}
	if check && f == JPEG && jd == LibjpegTurbo {
		err = checkJPEGTurbo(data)
	} else {
		m, err = decodeAs(f, data, jd)
		if err == nil {
			w, h = m.W, m.H
		}
	}
	if err != nil {
		return nil, 0, 0, classify(f, err)
	}
	if w <= 0 || h <= 0 {
		return nil, 0, 0, &Error{Format: f, Kind: ErrCorrupt, Detail: fmt.Sprintf("image size %dx%d", w, h)}
	}
	return m, w, h, nil
}

// Sniff returns the format of an image file from its first bytes (the same signatures Pillow's
// plugins accept), or "" when none matches.
func Sniff(data []byte) Format {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		return JPEG
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case bytes.HasPrefix(data, []byte("BM")) && len(data) >= 18:
		return BMP
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		return TIFF
	case len(data) >= 16 && bytes.HasPrefix(data, []byte("RIFF")) && string(data[8:12]) == "WEBP":
		return WebP
	case isDICOM(data):
		return DICOM
	}
	return ""
}

// imageSize reads the image size from the header. For an uncompressed BMP (the only kind
// x/image/bmp reads) it also checks that the file holds all the rows the header promises, as
// the decoder would allocate the whole image before noticing. jd reads JPEG headers.
func imageSize(f Format, data []byte, jd JPEGDecoder) (int, int, error) {
	r := bytes.NewReader(data)
	var cfg image.Config
	var err error
	switch f {
	case JPEG:
		return jpegSize(data, jd)
	case PNG:
		cfg, err = png.DecodeConfig(r)
	case BMP:
		if cfg, err = bmp.DecodeConfig(r); err == nil && len(data) >= 30 {
			offset := int64(binary.LittleEndian.Uint32(data[10:14]))
			bpp := int64(binary.LittleEndian.Uint16(data[28:30]))
			need := offset + (int64(cfg.Width)*bpp+31)/32*4*int64(cfg.Height)
			if need > int64(len(data)) {
				err = fmt.Errorf("header needs %d bytes, the file has %d: %w", need, len(data), io.ErrUnexpectedEOF)
			}
		}
	case TIFF:
		cfg, err = tiff.DecodeConfig(r)
	case WebP:
		cfg, err = webp.DecodeConfig(r)
	case DICOM:
		return dicomSize(data)
	}
	return cfg.Width, cfg.Height, err
}

func decodeAs(f Format, data []byte, jd JPEGDecoder) (*RGB, error) {
	switch f {
	case JPEG:
		return decodeJPEG(data, jd)
	case PNG:
		return decodePNG(data)
	case BMP:
		m, err := bmp.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return toRGB(m, false)
	case TIFF:
		m, err := tiff.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return toRGB(m, false)
	case WebP:
		// libwebp's demuxer (Pillow's WebPAnimDecoder) wants the whole RIFF payload, down to
		// the padding byte of an odd-sized chunk, which x/image/webp does not need.
		if riff := int64(binary.LittleEndian.Uint32(data[4:8])) + 8; riff > int64(len(data)) {
			return nil, fmt.Errorf("RIFF header says %d bytes, the file has %d: %w", riff, len(data), io.ErrUnexpectedEOF)
		}
		m, err := webp.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return webpToRGB(m)
	case DICOM:
		return decodeDICOM(data, jd)
	}
	return nil, ErrUnknownFormat
}

// decodePNG decodes a PNG. Pillow decodes a PNG whose IDAT stream is complete even when the
// trailing IEND chunk is missing, while image/png insists on IEND; so a file that stops
// after its image data is retried with an IEND appended.
func decodePNG(data []byte) (*RGB, error) {
	gray16 := len(data) >= 26 && data[24] == 16 && data[25] == 0 // IHDR bit depth 16, colour type 0
	m, err := png.Decode(bytes.NewReader(data))
	if err != nil && isEOF(err) && !bytes.HasSuffix(data, pngIEND) {
		fixed := append(append([]byte(nil), data...), pngIEND...)
		if m2, err2 := png.Decode(bytes.NewReader(fixed)); err2 == nil {
			m, err = m2, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return toRGB(m, gray16)
}

var pngIEND = []byte{0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82}

func isEOF(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// classify turns a decoder error into an *Error of the right kind.
func classify(f Format, err error) error {
	var e *Error
	if errors.As(err, &e) {
		e.Format = f
		return e
	}
	msg := err.Error()
	kind := ErrCorrupt
	switch {
	case isEOF(err), strings.Contains(msg, "not enough pixel data"), strings.Contains(msg, "short Huffman data"):
		kind = ErrTruncated
	case strings.Contains(msg, "unsupported"):
		kind = ErrUnsupported
	}
	return &Error{Format: f, Kind: kind, Detail: msg}
}

// describe gives a hint about content that is not an image, e.g. a text file named .jpg.
func describe(data []byte) string {
	head := data
	if len(head) > 32 {
		head = head[:32]
	}
	if utf8.Valid(head) && isText(head) {
		return fmt.Sprintf("looks like text: %q", strings.TrimSpace(string(head)))
	}
	switch {
	case bytes.HasPrefix(data, []byte("GIF8")):
		return "GIF is not supported"
	case bytes.HasPrefix(data, []byte("RIFF")):
		return "a RIFF file that is not WebP"
	}
	return fmt.Sprintf("starts with % x", head[:min(len(head), 8)])
}

func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}

// bounded returns the image's bounds rectangle as width, height and origin.
func bounded(m image.Image) (w, h, x0, y0 int) {
	r := m.Bounds()
	return r.Dx(), r.Dy(), r.Min.X, r.Min.Y
}
