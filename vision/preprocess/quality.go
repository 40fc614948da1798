package preprocess

import (
	"image"

	"github.com/drgrade/drgrade/vision/imageio"
)

// Verdicts of the image-quality gate, worst first.
const (
	VerdictNoField = "no-field"
	VerdictDark    = "dark"
	VerdictBlurry  = "blurry"
	VerdictGood    = "good"
)

// QualityThresholds are the gate's limits (drgrade summary --quality's flags).
type QualityThresholds struct {
	Threshold     uint8   // crop's bright-pixel threshold (FindField)
	MinBrightness float64 // mean grey of the field below this: dark
	MinSharpness  float64 // variance of the Laplacian below this: blurry
}

// DefaultQuality: skimage's retina.jpg (a good 1411×1411 photo) measures brightness 116.9 and
// sharpness 8.80; darkened to 30% it reads 26.7, blurred with σ = 2 px 1.83 (testdata/
// preprocess_gen.py's numbers, OpenCV 4.11).
var DefaultQuality = QualityThresholds{Threshold: DefaultThreshold, MinBrightness: 40, MinSharpness: 5}

// Quality is one image's measurements and verdict.
type Quality struct {
	Field      bool
	Box        image.Rectangle // the field's box (when Field)
	Brightness float64         // mean grey (OpenCV's RGB2GRAY) of the field's bright pixels
	Sharpness  float64         // variance of the Laplacian of the grey picture
	Verdict    string
}

// Measure grades one picture: no-field (FindField fails), else dark (Brightness below
// MinBrightness), else blurry (Sharpness below MinSharpness), else good. Sharpness depends on
// the resolution (the same photo resized to 512 px reads about 8× higher): compare pictures of
// similar size, or set MinSharpness per data set.
func Measure(img *imageio.RGB, th QualityThresholds) Quality {
	gray := Gray(img)
	q := Quality{Sharpness: LaplacianVar(gray, img.W, img.H)}
	f, ok := FindField(img, th.Threshold)
	if ok {
		q.Field, q.Box = true, f.Box
		sum, n := 0.0, 0
		for y := f.Box.Min.Y; y < f.Box.Max.Y; y++ {
			for x := f.Box.Min.X; x < f.Box.Max.X; x++ {
				i := y*img.W + x
				if max(img.Pix[3*i], img.Pix[3*i+1]) > th.Threshold {
					sum += float64(gray[i])
					n++
				}
			}
		}
		q.Brightness = sum / float64(max(n, 1))
	}
	switch {
	case !q.Field:
		q.Verdict = VerdictNoField
	case q.Brightness < th.MinBrightness:
		q.Verdict = VerdictDark
	case q.Sharpness < th.MinSharpness:
		q.Verdict = VerdictBlurry
	default:
		q.Verdict = VerdictGood
	}
	return q
}

// Gray mirrors cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) on 8-bit pixels: OpenCV's fixed-point
// 0.299 R + 0.587 G + 0.114 B with 15 fraction bits, rounded (equal to OpenCV 4.11 on all 2²⁴
// colours; the 14-bit constants of older OpenCV differ on 43864 of them).
func Gray(img *imageio.RGB) []uint8 {
	g := make([]uint8, img.W*img.H)
	for i := range g {
		r, gg, b := uint32(img.Pix[3*i]), uint32(img.Pix[3*i+1]), uint32(img.Pix[3*i+2])
		g[i] = uint8((r*9798 + gg*19235 + b*3735 + 1<<14) >> 15)
	}
	return g
}

// LaplacianVar mirrors cv2.Laplacian(gray, cv2.CV_64F).var(): the 4-neighbour Laplacian
// (ksize 1, BORDER_REFLECT_101) and its population variance (two passes, as NumPy).
func LaplacianVar(gray []uint8, w, h int) float64 {
	if w == 0 || h == 0 {
		return 0
	}
	lap := make([]float64, w*h)
	sum := 0.0
	for y := 0; y < h; y++ {
		up, down := reflect101(y-1, h), reflect101(y+1, h)
		for x := 0; x < w; x++ {
			left, right := reflect101(x-1, w), reflect101(x+1, w)
			v := int(gray[up*w+x]) + int(gray[down*w+x]) + int(gray[y*w+left]) + int(gray[y*w+right]) - 4*int(gray[y*w+x])
			lap[y*w+x] = float64(v)
			sum += float64(v)
		}
	}
	mean := sum / float64(w*h)
	ss := 0.0
	for _, v := range lap {
		ss += (v - mean) * (v - mean)
	}
	return ss / float64(w*h)
}
