package serve

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	_ "image/jpeg" // image.DecodeConfig of headers, for the pixel limit
	_ "image/png"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"

	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/transforms"
)

// Graded is one image's answer: predict's Prediction (its "image" is the upload's file name,
// reduced to a safe base name), the overlay with ?explain=1.
type Graded struct {
	Index int `json:"index"`
	trainer.Prediction
	OverlayPNG string `json:"overlay_png,omitempty"` // base64 PNG: the Grad-CAM heatmap on the picture the model saw
}

// GradeResponse is POST /v1/grade's answer.
type GradeResponse struct {
	Model         string            `json:"model"`
	WeightsSHA256 string            `json:"weights_sha256"`
	Classes       []string          `json:"classes"`
	Temperature   float64           `json:"temperature,omitempty"`
	Referral      *trainer.Referral `json:"referral,omitempty"`
	Results       []Graded          `json:"results"`
	BatchSize     int               `json:"batch_size"` // images in the forward these were graded in
	Timing        Timing            `json:"timing_ms"`
}

// Timing is where a request's time went, in milliseconds.
type Timing struct {
	Read   float64 `json:"read"`   // receiving the body
	Decode float64 `json:"decode"` // decoding and val transforms
	Queue  float64 `json:"queue"`  // waiting for the model thread (batching)
	Model  float64 `json:"model"`  // the batch's forward (and Grad-CAM)
	Total  float64 `json:"total"`
}

// upload is one image of a request.
type upload struct {
	name string
	data []byte
}

// rawTypes are the Content-Types of a raw body holding one image.
var rawTypes = map[string]bool{"image/jpeg": true, "image/jpg": true, "image/png": true, "image/bmp": true, "image/tiff": true,
	"image/webp": true, "application/dicom": true, "application/octet-stream": true}

// apiError is a JSON error answer.
type apiError struct {
	status int
	kind   string
	msg    string
	image  int // index of the image it is about, -1 for none
	name   string
}

func (e *apiError) Error() string { return e.msg }

func newErr(status int, kind, format string, a ...any) *apiError {
	return &apiError{status: status, kind: kind, msg: fmt.Sprintf(format, a...), image: -1}
}

// grade is POST /v1/grade.
func (s *Server) grade(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.fail(w, r, http.StatusMethodNotAllowed, "method", "POST images to /v1/grade")
		return
	}
	select {
	case s.inflight <- struct{}{}:
		defer func() { <-s.inflight }()
	default:
		w.Header().Set("Retry-After", "1")
		s.fail(w, r, http.StatusServiceUnavailable, "busy", fmt.Sprintf("%d requests are being graded (--max_concurrent): try again shortly", s.cfg.MaxConcurrent))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
	ups, aerr := s.readUploads(r)
	if aerr != nil {
		s.failErr(w, r, aerr)
		return
	}
	setImages(w, len(ups))
	readMS := ms(time.Since(start))
	t0 := time.Now()
	samples := make([]transforms.Sample, len(ups))
	for i, u := range ups {
		smp, aerr := s.prepare(u)
		if aerr != nil {
			aerr.image, aerr.name = i, u.name
			s.failErr(w, r, aerr)
			return
		}
		samples[i] = smp
	}
	decodeMS := ms(time.Since(t0))
	if s.queued.Add(int64(len(samples))) > int64(s.cfg.QueueLen) {
		s.queued.Add(-int64(len(samples)))
		w.Header().Set("Retry-After", "1")
		s.fail(w, r, http.StatusServiceUnavailable, "queue_full", fmt.Sprintf("%d images are waiting for the model (--queue): try again shortly", s.cfg.QueueLen))
		return
	}
	j := &job{samples: samples, explain: r.URL.Query().Get("explain") == "1", queued: time.Now(), done: make(chan jobResult, 1)}
	select {
	case s.queue <- j:
	case <-s.stop:
		s.queued.Add(-int64(len(samples)))
		s.fail(w, r, http.StatusServiceUnavailable, "shutting_down", "the server is shutting down")
		return
	}
	var res jobResult
	select {
	case res = <-j.done:
	case <-s.stop:
		s.fail(w, r, http.StatusServiceUnavailable, "shutting_down", "the server is shutting down")
		return
	case <-r.Context().Done():
		s.m.errors.WithLabelValues("client_gone").Inc()
		return
	}
	if res.err != nil {
		s.fail(w, r, http.StatusInternalServerError, "model", "grading failed: "+res.err.Error())
		return
	}
	out := GradeResponse{Model: s.info.Model, WeightsSHA256: s.info.WeightsSHA256, Classes: s.info.Classes,
		Temperature: s.info.Temperature, Referral: s.info.Referral, BatchSize: res.batch}
	for i, p := range res.preds {
		p.Path = ups[i].name
		gr := Graded{Index: i, Prediction: p}
		if i < len(res.overlays) && res.overlays[i] != nil {
			if b, err := encodePNG(res.overlays[i]); err == nil {
				gr.OverlayPNG = base64.StdEncoding.EncodeToString(b)
			}
		}
		out.Results = append(out.Results, gr)
	}
	out.Timing = Timing{Read: readMS, Decode: decodeMS, Queue: res.queueMS, Model: res.modelMS, Total: ms(time.Since(start))}
	writeJSON(w, http.StatusOK, out)
}

// readUploads reads the request's images: the file parts of a multipart/form-data body, or a
// raw body of an image type (or application/octet-stream) as one image.
func (s *Server) readUploads(r *http.Request) ([]upload, *apiError) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return nil, newErr(http.StatusUnsupportedMediaType, "content_type",
			"Content-Type %q: send multipart/form-data with image files, or one image as image/jpeg, image/png or application/octet-stream", ct)
	}
	var ups []upload
	switch {
	case mt == "multipart/form-data":
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, newErr(http.StatusBadRequest, "multipart", "multipart body: %v", err)
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, bodyErr(err)
			}
			if part.FileName() == "" && part.FormName() != "image" {
				part.Close()
				continue // other form fields
			}
			if len(ups) == s.cfg.MaxImages {
				part.Close()
				return nil, newErr(http.StatusRequestEntityTooLarge, "too_many_images", "more than %d images in one request (--max_images)", s.cfg.MaxImages)
			}
			data, err := io.ReadAll(part)
			part.Close()
			if err != nil {
				return nil, bodyErr(err)
			}
			ups = append(ups, upload{name: safeName(part.FileName(), len(ups)), data: data})
		}
	case rawTypes[mt]:
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, bodyErr(err)
		}
		ups = []upload{{name: safeName(r.URL.Query().Get("name"), 0), data: data}}
	default:
		return nil, newErr(http.StatusUnsupportedMediaType, "content_type",
			"Content-Type %q: send multipart/form-data with image files, or one image as image/jpeg, image/png or application/octet-stream", mt)
	}
	if len(ups) == 0 {
		return nil, newErr(http.StatusBadRequest, "no_image", "no image in the request (multipart: a file part, or a part named \"image\")")
	}
	return ups, nil
}

// bodyErr is a body read failure: over --max_body, or a broken upload.
func bodyErr(err error) *apiError {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return newErr(http.StatusRequestEntityTooLarge, "body_too_large", "request body over %d bytes (--max_body)", mb.Limit)
	}
	return newErr(http.StatusBadRequest, "body", "reading the request body: %v", err)
}

// prepare checks an upload's size from its header, then decodes and transforms it (at most
// Workers at once).
func (s *Server) prepare(u upload) (transforms.Sample, *apiError) {
	if len(u.data) == 0 {
		return transforms.Sample{}, newErr(http.StatusBadRequest, "empty", "empty image (0 bytes)")
	}
	// The header's size, before any pixel is allocated: a decompression bomb stops here.
	if c, _, err := image.DecodeConfig(bytes.NewReader(u.data)); err == nil && int64(c.Width)*int64(c.Height) > s.cfg.MaxPixels {
		return transforms.Sample{}, newErr(http.StatusRequestEntityTooLarge, "too_many_pixels",
			"image of %d×%d = %d pixels: more than %d (--max_pixels)", c.Width, c.Height, int64(c.Width)*int64(c.Height), s.cfg.MaxPixels)
	}
	s.decode <- struct{}{}
	smp, err := s.g.Prepare("", u.data)
	<-s.decode
	if err == nil {
		return smp, nil
	}
	var ie *imageio.Error
	if !errors.As(err, &ie) {
		return smp, newErr(http.StatusUnprocessableEntity, "transform", "%v", err)
	}
	switch {
	case errors.Is(err, imageio.ErrEmpty):
		return smp, newErr(http.StatusBadRequest, "empty", "%v", err)
	case errors.Is(err, imageio.ErrUnknownFormat):
		return smp, newErr(http.StatusUnsupportedMediaType, "not_an_image", "%v", err)
	case errors.Is(err, imageio.ErrTooLarge):
		return smp, newErr(http.StatusRequestEntityTooLarge, "too_many_pixels", "%v", err)
	case errors.Is(err, imageio.ErrTruncated):
		return smp, newErr(http.StatusUnprocessableEntity, "truncated", "%v", err)
	case errors.Is(err, imageio.ErrUnsupported):
		return smp, newErr(http.StatusUnprocessableEntity, "unsupported", "%v", err)
	default:
		return smp, newErr(http.StatusUnprocessableEntity, "corrupt", "%v", err)
	}
}

// safeName reduces a client's file name to something safe to show and log: the base name
// (no folders, either slash), printable characters only, at most 100 bytes; "image-<i>" when
// nothing is left. JSON encoding escapes it further (<, >, & included).
func safeName(name string, i int) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	var b strings.Builder
	for _, r := range name {
		if r == utf8.RuneError || !unicode.IsPrint(r) || r == '/' {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > 100 {
			break
		}
		b.WriteRune(r)
	}
	n := b.String()
	if n == "" || n == "." || n == ".." {
		return fmt.Sprintf("image-%d", i)
	}
	return n
}

func encodePNG(m image.Image) ([]byte, error) {
	var b bytes.Buffer
	err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, m)
	return b.Bytes(), err
}
