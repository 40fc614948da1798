package transforms

import (
	"errors"
	"fmt"
	"image"
	"math"

	"github.com/drgrade/drgrade/vision/imageio"
)

// Transform is one image-to-image step of a pipeline. Deterministic steps ignore rng; random
// steps draw from it and fail on a nil rng.
type Transform interface {
	Apply(img *imageio.RGB, rng Rand) (*imageio.RGB, error)
}

// Compose mirrors torchvision.transforms.Compose for image-to-image steps: each step is applied
// to the previous one's output.
type Compose []Transform

// Apply runs the steps in order.
func (c Compose) Apply(img *imageio.RGB, rng Rand) (*imageio.RGB, error) {
	return c.applyFrom(img, rng, 0)
}

// applyFrom runs the steps from index start on.
func (c Compose) applyFrom(img *imageio.RGB, rng Rand, start int) (*imageio.RGB, error) {
	var err error
	for i := start; i < len(c); i++ {
		if img, err = c[i].Apply(img, rng); err != nil {
			return nil, stepError(i, c[i], err)
		}
	}
	return img, nil
}

// stepError names the step of a Compose that failed.
func stepError(i int, t Transform, err error) error {
	return fmt.Errorf("step %d (%T): %w", i, t, err)
}

// ResizeStep mirrors torchvision.transforms.Resize(size) with bilinear interpolation.
type ResizeStep struct{ Size []int }

// Apply resizes img.
func (t ResizeStep) Apply(img *imageio.RGB, _ Rand) (*imageio.RGB, error) { return Resize(img, t.Size) }

// CenterCropStep mirrors torchvision.transforms.CenterCrop(size).
type CenterCropStep struct{ Size []int }

// Apply center-crops img.
func (t CenterCropStep) Apply(img *imageio.RGB, _ Rand) (*imageio.RGB, error) {
	return CenterCrop(img, t.Size)
}

// ResizeCenterCropStep is Compose{ResizeStep{Resize}, CenterCropStep{Crop}} computed in one
// pass: only the resized pixels that survive the crop are resampled, which gives the same bytes
// (each output pixel depends only on its own coefficients) at a fraction of the work.
type ResizeCenterCropStep struct{ Resize, Crop []int }

// Apply resizes and center-crops img.
func (t ResizeCenterCropStep) Apply(img *imageio.RGB, _ Rand) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	oh, ow, err := ResizedOutputSize(img.H, img.W, t.Resize)
	if err != nil {
		return nil, err
	}
	ch, cw, err := cropSize(t.Crop)
	if err != nil {
		return nil, err
	}
	if ch > oh || cw > ow || (oh == img.H && ow == img.W) || img.W == 0 || img.H == 0 {
		r, err := Resize(img, t.Resize)
		if err != nil {
			return nil, err
		}
		return CenterCrop(r, t.Crop)
	}
	top, left := centerCropBox(oh, ow, ch, cw)
	return resample(img, image.Point{}, scale{in: dims{img.W, img.H}, out: dims{ow, oh}}, rect{left, top, cw, ch}), nil
}

// Func adapts a deterministic image function to a Transform.
type Func func(*imageio.RGB) (*imageio.RGB, error)

// Apply calls f.
func (f Func) Apply(img *imageio.RGB, _ Rand) (*imageio.RGB, error) { return f(img) }

var errNilRand = errors.New("transforms: a random transform needs a non-nil Rand")

// CropBox is a crop rectangle in torchvision's (i, j, h, w) order.
type CropBox struct{ Top, Left, Height, Width int }

// RandomResizedCrop mirrors torchvision.transforms.RandomResizedCrop with bilinear
// interpolation.
type RandomResizedCrop struct {
	Size  []int      // output [s] (square) or [h, w]
	Scale [2]float64 // area fraction range, torchvision default (0.08, 1)
	Ratio [2]float64 // aspect ratio range, torchvision default (3/4, 4/3)
}

// NewRandomResizedCrop returns the transform with torchvision's default scale and ratio.
func NewRandomResizedCrop(size int) RandomResizedCrop {
	return RandomResizedCrop{Size: []int{size}, Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3.0 / 4.0, 4.0 / 3.0}}
}

// Params mirrors RandomResizedCrop.get_params for a w×h image: up to 10 tries of an area
// uniform in Scale·area and an aspect ratio log-uniform in Ratio, rounding the sides; the
// first box that fits gets a uniform position. Otherwise the central crop of the whole image
// clamped to the ratio range.
func (t RandomResizedCrop) Params(w, h int, rng Rand) (CropBox, error) {
	if rng == nil {
		return CropBox{}, errNilRand
	}
	if w <= 0 || h <= 0 {
		return CropBox{}, fmt.Errorf("transforms: RandomResizedCrop of an empty %dx%d image", w, h)
	}
	area := float64(h * w)
	logLo, logHi := math.Log(t.Ratio[0]), math.Log(t.Ratio[1])
	for range 10 {
		targetArea := area * uniform(rng, t.Scale[0], t.Scale[1])
		aspect := math.Exp(uniform(rng, logLo, logHi))
		cw := int(math.RoundToEven(math.Sqrt(targetArea * aspect)))
		ch := int(math.RoundToEven(math.Sqrt(targetArea / aspect)))
		if 0 < cw && cw <= w && 0 < ch && ch <= h {
			i := rng.IntN(h - ch + 1)
			j := rng.IntN(w - cw + 1)
			return CropBox{i, j, ch, cw}, nil
		}
	}
	inRatio := float64(w) / float64(h)
	lo, hi := min(t.Ratio[0], t.Ratio[1]), max(t.Ratio[0], t.Ratio[1])
	cw, ch := w, h
	switch {
	case inRatio < lo:
		ch = int(math.RoundToEven(float64(cw) / lo))
	case inRatio > hi:
		cw = int(math.RoundToEven(float64(ch) * hi))
	}
	return CropBox{(h - ch) / 2, (w - cw) / 2, ch, cw}, nil
}

// Apply draws a box and resamples it to Size.
func (t RandomResizedCrop) Apply(img *imageio.RGB, rng Rand) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	b, err := t.Params(img.W, img.H, rng)
	if err != nil {
		return nil, err
	}
	return ResizedCrop(img, b.Top, b.Left, b.Height, b.Width, t.squareSize())
}

// squareSize is torchvision's _setup_size: an int size means a square output.
func (t RandomResizedCrop) squareSize() []int {
	if len(t.Size) == 1 {
		return []int{t.Size[0], t.Size[0]}
	}
	return t.Size
}

// RandomHorizontalFlip mirrors torchvision.transforms.RandomHorizontalFlip.
type RandomHorizontalFlip struct{ P float64 }

// Params reports whether to flip: a uniform draw below P.
func (t RandomHorizontalFlip) Params(rng Rand) (bool, error) {
	if rng == nil {
		return false, errNilRand
	}
	return rng.Float64() < t.P, nil
}

// Apply flips img with probability P.
func (t RandomHorizontalFlip) Apply(img *imageio.RGB, rng Rand) (*imageio.RGB, error) {
	flip, err := t.Params(rng)
	if err != nil {
		return nil, err
	}
	if flip {
		return HorizontalFlip(img)
	}
	return img, nil
}

// RandomRotation mirrors torchvision.transforms.RandomRotation with nearest interpolation,
// expand=False, rotation about the center.
type RandomRotation struct {
	Degrees [2]float64 // angle range; RandomRotation(30) is {-30, 30}
	Fill    [3]uint8
}

// Params draws the angle uniformly from Degrees.
func (t RandomRotation) Params(rng Rand) (float64, error) {
	if rng == nil {
		return 0, errNilRand
	}
	return uniform(rng, t.Degrees[0], t.Degrees[1]), nil
}

// Apply rotates img by a drawn angle.
func (t RandomRotation) Apply(img *imageio.RGB, rng Rand) (*imageio.RGB, error) {
	a, err := t.Params(rng)
	if err != nil {
		return nil, err
	}
	return Rotate(img, a, t.Fill)
}

// JitterRange is one ColorJitter factor range; a disabled range draws nothing.
type JitterRange struct {
	Enabled bool
	Lo, Hi  float64
}

// ColorJitter mirrors torchvision.transforms.ColorJitter.
type ColorJitter struct {
	Brightness, Contrast, Saturation, Hue JitterRange
}

// NewColorJitter mirrors ColorJitter(brightness, contrast, saturation, hue) with scalar
// arguments: factors from [max(0, 1−x), 1+x], hue from [−h, h]; a zero disables a component.
func NewColorJitter(brightness, contrast, saturation, hue float64) (ColorJitter, error) {
	factor := func(name string, x float64) (JitterRange, error) {
		if x < 0 || math.IsNaN(x) {
			return JitterRange{}, fmt.Errorf("transforms: ColorJitter %s %v must be non negative", name, x)
		}
		return JitterRange{Enabled: x != 0, Lo: max(0, 1-x), Hi: 1 + x}, nil
	}
	var j ColorJitter
	var err error
	if j.Brightness, err = factor("brightness", brightness); err != nil {
		return j, err
	}
	if j.Contrast, err = factor("contrast", contrast); err != nil {
		return j, err
	}
	if j.Saturation, err = factor("saturation", saturation); err != nil {
		return j, err
	}
	if hue < 0 || hue > 0.5 || math.IsNaN(hue) {
		return j, fmt.Errorf("transforms: ColorJitter hue %v must be in [0, 0.5]", hue)
	}
	j.Hue = JitterRange{Enabled: hue != 0, Lo: -hue, Hi: hue}
	return j, nil
}

// JitterParams are the drawn parameters of one ColorJitter application.
type JitterParams struct {
	Order [4]int // permutation of 0 brightness, 1 contrast, 2 saturation, 3 hue
	// Factors; a component whose Has flag is false is skipped.
	Brightness, Contrast, Saturation, Hue             float64
	HasBrightness, HasContrast, HasSaturation, HasHue bool
}

// Params mirrors ColorJitter.get_params: a random order of the four adjustments, then each
// enabled factor uniform in its range.
func (t ColorJitter) Params(rng Rand) (JitterParams, error) {
	if rng == nil {
		return JitterParams{}, errNilRand
	}
	var p JitterParams
	perm := rng.Perm(4)
	if len(perm) != 4 {
		return p, fmt.Errorf("transforms: Rand.Perm(4) returned %d values", len(perm))
	}
	copy(p.Order[:], perm)
	draw := func(r JitterRange) (float64, bool) {
		if !r.Enabled {
			return 0, false
		}
		return uniform(rng, r.Lo, r.Hi), true
	}
	p.Brightness, p.HasBrightness = draw(t.Brightness)
	p.Contrast, p.HasContrast = draw(t.Contrast)
	p.Saturation, p.HasSaturation = draw(t.Saturation)
	p.Hue, p.HasHue = draw(t.Hue)
	return p, nil
}

// ApplyJitter applies drawn ColorJitter parameters in their order (ColorJitter.forward). The
// first adjustment writes a new image and the others adjust it in place.
func ApplyJitter(img *imageio.RGB, p JitterParams) (*imageio.RGB, error) {
	var out *imageio.RGB // the copy, once the first adjustment made it
	for _, id := range p.Order {
		var op colorOp
		var f float64
		switch {
		case id == 0 && p.HasBrightness:
			op, f = brightnessOp, p.Brightness
		case id == 1 && p.HasContrast:
			op, f = contrastOp, p.Contrast
		case id == 2 && p.HasSaturation:
			op, f = saturationOp, p.Saturation
		case id == 3 && p.HasHue:
			op, f = hueOp, p.Hue
		default:
			continue
		}
		if err := check(img); err != nil {
			return nil, err
		}
		if err := op.check(f); err != nil {
			return nil, err
		}
		if out == nil {
			out = imageio.NewRGB(img.W, img.H)
		}
		op.kernel(out.Pix, img.Pix, f)
		img = out
	}
	return img, nil
}

// Apply draws parameters and applies them.
func (t ColorJitter) Apply(img *imageio.RGB, rng Rand) (*imageio.RGB, error) {
	p, err := t.Params(rng)
	if err != nil {
		return nil, err
	}
	return ApplyJitter(img, p)
}
