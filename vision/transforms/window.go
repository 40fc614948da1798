package transforms

import (
	"fmt"
	"image"

	"github.com/drgrade/drgrade/vision/imageio"
)

// Windowed is implemented by a step that reads only a window of its input. When it is a
// pipeline's first step, Pipeline.RunSource has the decoder decode just that window (plus
// what the decoder needs around it) instead of the whole photo. RandomResizedCrop and
// ResizeCenterCropStep implement it.
type Windowed interface {
	Transform
	// Window draws the step's random parameters for a w×h input exactly as Apply does (the
	// same draws in the same order) and returns the input window the step reads and a function
	// that completes the step: finish(win, at), where win's pixel (0, 0) is input pixel at and
	// win holds the input's pixels everywhere inside the window, returns what Apply returns
	// for the whole input, bit for bit. finish allocates its result; it neither modifies win
	// nor keeps it.
	Window(w, h int, rng Rand) (image.Rectangle, WindowFinish, error)
}

// WindowFinish completes a Windowed step from the decoded window (see Windowed.Window).
type WindowFinish func(win *imageio.RGB, at image.Point) (*imageio.RGB, error)

// Source is an encoded image that RunSource decodes only as far as the pipeline needs.
// *imageio.Encoded implements it.
type Source interface {
	// WindowSize returns the image size when DecodeWindow can decode a window without the
	// rest of the image; ok false means RunSource decodes the whole image (Decode).
	WindowSize() (w, h int, ok bool)
	// DecodeWindow decodes around window r: the result (whose pixel (0, 0) is image pixel at)
	// holds exactly Decode's pixels inside r, and stays valid until the pipeline step that
	// asked for it has returned.
	DecodeWindow(r image.Rectangle) (win *imageio.RGB, at image.Point, err error)
	// Decode decodes the whole image into memory of its own.
	Decode() (*imageio.RGB, error)
}

// RunSource is Run on an image still encoded: when the first step is Windowed and src can
// decode windows, the step draws its parameters from the image size alone, only its window is
// decoded, and the step finishes from that; otherwise src is decoded whole and Run. The
// result, random draws and errors of the steps are Run's on src.Decode(), bit for bit
// (TestRunSourceMatchesRun); the decoding errors are src's.
func (p *Pipeline) RunSource(src Source, rng Rand, dst []float32) (Sample, error) {
	var first Windowed
	if len(p.Steps) > 0 {
		first, _ = p.Steps[0].(Windowed)
	}
	w, h, ok := src.WindowSize()
	if first == nil || !ok {
		img, err := src.Decode()
		if err != nil {
			return Sample{}, err
		}
		return p.Run(img, rng, dst)
	}
	r, finish, err := first.Window(w, h, rng)
	if err != nil {
		return Sample{}, stepError(0, first, err)
	}
	win, at, err := src.DecodeWindow(r)
	if err != nil {
		return Sample{}, err
	}
	img, err := finish(win, at)
	if err != nil {
		return Sample{}, stepError(0, first, err)
	}
	out, err := p.Steps.applyFrom(img, rng, 1)
	if err != nil {
		return Sample{}, err
	}
	return p.finish(out, rng, dst)
}

// covers checks that win, placed at at, holds the input window r.
func covers(win *imageio.RGB, at image.Point, r image.Rectangle) error {
	if err := check(win); err != nil {
		return err
	}
	if !r.In(image.Rect(at.X, at.Y, at.X+win.W, at.Y+win.H)) {
		return fmt.Errorf("transforms: decoded window %dx%d at %v does not cover %v", win.W, win.H, at, r)
	}
	return nil
}

// Window draws the crop box (Params) and returns it as the window; finishing resamples the box
// from the decoded window as Apply does from the whole image.
func (t RandomResizedCrop) Window(w, h int, rng Rand) (image.Rectangle, WindowFinish, error) {
	b, err := t.Params(w, h, rng)
	if err != nil {
		return image.Rectangle{}, nil, err
	}
	r := image.Rect(b.Left, b.Top, b.Left+b.Width, b.Top+b.Height)
	size := t.squareSize()
	return r, func(win *imageio.RGB, at image.Point) (*imageio.RGB, error) {
		if err := covers(win, at, r); err != nil {
			return nil, err
		}
		return ResizedCrop(win, b.Top-at.Y, b.Left-at.X, b.Height, b.Width, size)
	}, nil
}

// Window returns the input rows and columns that the coefficients of the surviving output
// pixels cover; when Apply would resize the whole image (a crop larger than the resized image,
// or no resize), the whole image.
func (t ResizeCenterCropStep) Window(w, h int, _ Rand) (image.Rectangle, WindowFinish, error) {
	if w <= 0 || h <= 0 {
		return image.Rectangle{}, nil, fmt.Errorf("transforms: cannot resize an empty %dx%d image", w, h)
	}
	oh, ow, err := ResizedOutputSize(h, w, t.Resize)
	if err != nil {
		return image.Rectangle{}, nil, err
	}
	ch, cw, err := cropSize(t.Crop)
	if err != nil {
		return image.Rectangle{}, nil, err
	}
	if ch > oh || cw > ow || (oh == h && ow == w) {
		r := image.Rect(0, 0, w, h)
		return r, func(win *imageio.RGB, at image.Point) (*imageio.RGB, error) {
			if err := covers(win, at, r); err != nil {
				return nil, err
			}
			if at != (image.Point{}) || win.W != w || win.H != h {
				win = crop(win, -at.Y, -at.X, h, w)
			}
			return t.Apply(win, nil)
		}, nil
	}
	top, left := centerCropBox(oh, ow, ch, cw)
	sc, out := scale{in: dims{w, h}, out: dims{ow, oh}}, rect{left, top, cw, ch}
	r := resampleReads(sc, out)
	return r, func(win *imageio.RGB, at image.Point) (*imageio.RGB, error) {
		if err := covers(win, at, r); err != nil {
			return nil, err
		}
		return resample(win, at.Mul(-1), sc, out), nil
	}, nil
}
