package preprocess

import (
	"image"

	"github.com/drgrade/drgrade/vision/imageio"
)

// DefaultThreshold: a pixel is bright when max(R, G) exceeds it. The dark border of a camera
// JPEG stays at a few levels (at most 2 in the corners of skimage's retina.jpg).
const DefaultThreshold = 15

// minFieldArea: the largest bright region must cover this fraction of the picture.
const minFieldArea = 0.10

// Field is the circular field of view: the bounding box of the largest bright region.
type Field struct {
	Box  image.Rectangle
	Area int // pixels of the region
}

// FindField finds the field of view: the largest 8-connected region of pixels with
// max(R, G) > threshold (mirrors cv2.connectedComponentsWithStats(mask, connectivity=8)),
// accepted when it covers 10% of the picture and leaves the four corners of its box dark (a
// corner square of a tenth of the box's shorter side less than half covered), as a circle
// does and a photo of a scene does not.
func FindField(img *imageio.RGB, threshold uint8) (Field, bool) {
	w, h := img.W, img.H
	if w == 0 || h == 0 {
		return Field{}, false
	}
	lab := make([]int32, w*h) // 0: dark; else region id + 1
	for i := range lab {
		r, g := img.Pix[3*i], img.Pix[3*i+1]
		if max(r, g) > threshold {
			lab[i] = -1
		}
	}
	var (
		best, bestArea int32
		bestBox        image.Rectangle
		stack          []int32
		next           int32 = 1
	)
	for start := range lab {
		if lab[start] != -1 {
			continue
		}
		id := next
		next++
		lab[start] = id
		stack = append(stack[:0], int32(start))
		var area int32
		box := image.Rect(start%w, start/w, start%w+1, start/w+1)
		for len(stack) > 0 {
			p := int(stack[len(stack)-1])
			stack = stack[:len(stack)-1]
			area++
			x, y := p%w, p/w
			box = box.Union(image.Rect(x, y, x+1, y+1))
			for dy := -1; dy <= 1; dy++ {
				yy := y + dy
				if yy < 0 || yy >= h {
					continue
				}
				for dx := -1; dx <= 1; dx++ {
					xx := x + dx
					if xx < 0 || xx >= w {
						continue
					}
					if q := yy*w + xx; lab[q] == -1 {
						lab[q] = id
						stack = append(stack, int32(q))
					}
				}
			}
		}
		if area > bestArea { // the first of equal areas, as numpy's argmax
			best, bestArea, bestBox = id, area, box
		}
	}
	if best == 0 || float64(bestArea) < minFieldArea*float64(w*h) {
		return Field{}, false
	}
	b := bestBox
	c := max(1, min(b.Dx(), b.Dy())/10)
	for _, corner := range []image.Point{{b.Min.X, b.Min.Y}, {b.Max.X - c, b.Min.Y}, {b.Min.X, b.Max.Y - c}, {b.Max.X - c, b.Max.Y - c}} {
		n := 0
		for y := corner.Y; y < corner.Y+c; y++ {
			for x := corner.X; x < corner.X+c; x++ {
				if lab[y*w+x] == best {
					n++
				}
			}
		}
		if 2*n >= c*c {
			return Field{}, false
		}
	}
	return Field{Box: b, Area: int(bestArea)}, true
}

// Crop cuts the picture to its field of view (FindField) and pads it with black to a square,
// the field centred (the extra row or column, if odd, at the bottom or right).
func Crop(img *imageio.RGB, threshold uint8) (*imageio.RGB, error) {
	f, ok := FindField(img, threshold)
	if !ok {
		return nil, ErrNoField
	}
	b := f.Box
	s := max(b.Dx(), b.Dy())
	out := imageio.NewRGB(s, s)
	oy, ox := (s-b.Dy())/2, (s-b.Dx())/2
	for y := 0; y < b.Dy(); y++ {
		src := img.Pix[3*((b.Min.Y+y)*img.W+b.Min.X) : 3*((b.Min.Y+y)*img.W+b.Max.X)]
		copy(out.Pix[3*((oy+y)*s+ox):], src)
	}
	return out, nil
}
