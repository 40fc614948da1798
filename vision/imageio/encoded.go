package imageio

import (
	"errors"
	"fmt"
	"image"
	"io"
	"os"
)

// regionLayout is what the region decoder knows of a JPEG (imagec.JPEGLayout): which region
// to decode for a window's pixels to come out exact.
type regionLayout interface {
	RegionFor(window image.Rectangle) image.Rectangle
}

// Encoded is an image file held in memory and decoded on demand: whole (Decode), or, for the
// JPEGs libjpeg-turbo can decode in part, only around a window (DecodeWindow). A pipeline whose
// first step reads only part of its input (transforms.Pipeline.RunSource) thereby skips most
// of the decoding of a large photo.
//
// An Encoded recycles its file and window buffers from one image to the next: give each
// goroutine its own and refill it with ReadFile or Reset. It is not safe for concurrent use.
type Encoded struct {
	Decoder Decoder // JPEG decoder; the zero value is the default, LibjpegTurbo
	Path    string  // named in errors; "" for in-memory data
	Data    []byte  // the encoded file

	probed    bool
	w, h      int
	layout    regionLayout // nil: no window decoding
	file, win []uint8      // ReadFile's and DecodeWindow's buffers
}

// ReadFile loads the file at path into e, reusing e's buffer, and forgets the previous image.
// Its error is the one Decode(path) gives for a file it cannot read.
func (e *Encoded) ReadFile(path string) error {
	e.Reset(path, nil)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("imageio: %w", err)
	}
	defer f.Close()
	buf := e.file[:0]
	if fi, err := f.Stat(); err == nil && fi.Size() >= int64(cap(buf)) && fi.Size() < 1<<40 {
		buf = make([]byte, 0, fi.Size()+512) // + 512: room to see EOF without growing, as os.ReadFile
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			e.file = buf
			return fmt.Errorf("imageio: %w", err)
		}
	}
	e.file = buf
	e.Data = buf
	return nil
}

// Reset makes e hold data, which it keeps (without copying) until the next Reset or ReadFile.
func (e *Encoded) Reset(path string, data []byte) {
	e.Path, e.Data = path, data
	e.probed, e.w, e.h, e.layout = false, 0, 0, nil
}

// WindowSize returns the image's size when DecodeWindow can decode a window without decoding
// the rest: a JPEG whose header the LibjpegTurbo decoder accepts, within MaxPixels, with three
// components in YCbCr or RGB and 4:4:4, 4:2:2, 4:2:0 or 4:4:0 sampling. For anything else (or
// a header error, which Decode then reports) ok is false.
func (e *Encoded) WindowSize() (w, h int, ok bool) {
	if !e.probed {
		e.probed = true
		jd, err := e.Decoder.jpegDecoder()
		if err == nil && jd == LibjpegTurbo && Sniff(e.Data) == JPEG {
			if w, h, l, ok := turboWindowLayout(e.Data); ok && w > 0 && h > 0 && int64(w)*int64(h) <= MaxPixels {
				e.w, e.h, e.layout = w, h, l
			}
		}
	}
	return e.w, e.h, e.layout != nil
}

// DecodeWindow decodes the image around window r (inside it): the result win holds the
// pixels of a rectangle at..at+(win.W, win.H) that contains r, and inside r they equal
// Decode's byte for byte (pixels outside r may not). When WindowSize reports ok, only the
// region libjpeg-turbo needs for r is decoded, into e's buffer: win is valid until e's next
// DecodeWindow, ReadFile or Reset, and only the data down to r's last row is read (all of it
// for a progressive JPEG), so damage further down goes unnoticed here — which is acceptable
// because trainer.Preflight (--check_images, on by default) decodes every image in full before
// training. Errors from the data read are those Decode would give. Otherwise the whole image
// is decoded (Decode) and returned with at = (0, 0).
func (e *Encoded) DecodeWindow(r image.Rectangle) (win *RGB, at image.Point, err error) {
	w, h, ok := e.WindowSize()
	if !ok {
		m, err := e.Decode()
		if err == nil && (r.Empty() || !r.In(image.Rect(0, 0, m.W, m.H))) {
			err = fmt.Errorf("imageio: window %v is not inside the %dx%d image", r, m.W, m.H)
		}
		if err != nil {
			return nil, image.Point{}, err
		}
		return m, image.Point{}, nil
	}
	if r.Empty() || !r.In(image.Rect(0, 0, w, h)) {
		return nil, image.Point{}, fmt.Errorf("imageio: window %v is not inside the %dx%d image", r, w, h)
	}
	reg := e.layout.RegionFor(r)
	n := 3 * reg.Dx() * reg.Dy()
	if cap(e.win) < n {
		e.win = make([]uint8, n)
	}
	buf := e.win[:n]
	if err := decodeRegionTurbo(e.Data, reg, buf); err != nil {
		err = classify(JPEG, err)
		var ie *Error
		if errors.As(err, &ie) {
			ie.Path = e.Path
		}
		return nil, image.Point{}, err
	}
	return &RGB{W: reg.Dx(), H: reg.Dy(), Pix: buf}, reg.Min, nil
}

// Decode decodes the whole image into new memory (Decoder.DecodeBytes); errors name e.Path.
func (e *Encoded) Decode() (*RGB, error) {
	m, err := e.Decoder.DecodeBytes(e.Data)
	if err != nil {
		var ie *Error
		if errors.As(err, &ie) {
			ie.Path = e.Path
		}
		return nil, err
	}
	return m, nil
}
