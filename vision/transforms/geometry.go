package transforms

import (
	"fmt"
	"image"
	"math"
	"strconv"

	"github.com/drgrade/drgrade/vision/imageio"
)

// Crop mirrors torchvision.transforms.functional.crop on a PIL image: PIL's
// Image.crop((left, top, left+width, top+height)), where the parts of the box outside the image
// are black.
func Crop(img *imageio.RGB, top, left, height, width int) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	if height < 0 || width < 0 {
		return nil, fmt.Errorf("transforms: crop size %dx%d is negative", width, height)
	}
	return crop(img, top, left, height, width), nil
}

// crop copies the box, zero-filling what falls outside img (ImagingCrop + ImagingPaste).
func crop(img *imageio.RGB, top, left, height, width int) *imageio.RGB {
	out := imageio.NewRGB(width, height)
	x0, x1 := max(left, 0), min(left+width, img.W)
	if x1 <= x0 {
		return out
	}
	for y := max(top, 0); y < min(top+height, img.H); y++ {
		src := img.Pix[(y*img.W+x0)*3 : (y*img.W+x1)*3]
		copy(out.Pix[((y-top)*width+x0-left)*3:], src)
	}
	return out
}

// cropSize normalises a torchvision crop size argument ([s] or [h, w]) to height, width.
func cropSize(size []int) (int, int, error) {
	switch {
	case len(size) == 1 && size[0] > 0:
		return size[0], size[0], nil
	case len(size) == 2 && size[0] > 0 && size[1] > 0:
		return size[0], size[1], nil
	}
	return 0, 0, fmt.Errorf("transforms: crop size must be [s] or [h, w] with positive values, got %v", size)
}

// centerCropBox is torchvision's center_crop geometry in the coordinates of the unpadded
// image: when the crop is larger than the image it pads (left/top get floor of half the excess,
// with zeros), and the crop offset is int(round((H - ch) / 2.0)) with Python's round-half-even.
func centerCropBox(h, w, ch, cw int) (top, left int) {
	padL, padT := 0, 0
	if cw > w || ch > h {
		if cw > w {
			padL = (cw - w) / 2
			w += (cw-w)/2 + (cw-w+1)/2
		}
		if ch > h {
			padT = (ch - h) / 2
			h += (ch-h)/2 + (ch-h+1)/2
		}
	}
	top = int(math.RoundToEven(float64(h-ch)/2.0)) - padT
	left = int(math.RoundToEven(float64(w-cw)/2.0)) - padL
	return top, left
}

// CenterCrop mirrors torchvision.transforms.functional.center_crop on a PIL image, including
// its zero padding when the crop is larger than the image. size is [s] or [h, w].
func CenterCrop(img *imageio.RGB, size []int) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	ch, cw, err := cropSize(size)
	if err != nil {
		return nil, err
	}
	top, left := centerCropBox(img.H, img.W, ch, cw)
	return crop(img, top, left, ch, cw), nil
}

// ResizedCrop mirrors torchvision.transforms.functional.resized_crop on a PIL image: crop, then
// bilinear (antialiased) resize to size ([s] or [h, w]).
func ResizedCrop(img *imageio.RGB, top, left, height, width int, size []int) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	if height <= 0 || width <= 0 {
		return nil, fmt.Errorf("transforms: resized crop box %dx%d is empty", width, height)
	}
	oh, ow, err := ResizedOutputSize(height, width, size)
	if err != nil {
		return nil, err
	}
	if top >= 0 && left >= 0 && top+height <= img.H && left+width <= img.W {
		// Box inside the image: resample the window in place instead of copying the crop.
		if oh == height && ow == width {
			return crop(img, top, left, height, width), nil
		}
		sc := scale{in: dims{width, height}, out: dims{ow, oh}}
		return resample(img, image.Pt(left, top), sc, sc.whole()), nil
	}
	return Resize(crop(img, top, left, height, width), size)
}

// HorizontalFlip mirrors torchvision.transforms.functional.hflip (PIL FLIP_LEFT_RIGHT).
func HorizontalFlip(img *imageio.RGB) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	out := imageio.NewRGB(img.W, img.H)
	w := img.W
	for y := 0; y < img.H; y++ {
		src := img.Pix[y*w*3 : (y+1)*w*3]
		dst := out.Pix[y*w*3 : (y+1)*w*3]
		for len(src) >= 3 && len(dst) >= 3 {
			n := len(dst) - 3
			dst[n], dst[n+1], dst[n+2] = src[0], src[1], src[2]
			src, dst = src[3:], dst[:n]
		}
	}
	return out, nil
}

// Rotate mirrors torchvision.transforms.functional.rotate on a PIL image with its defaults
// (NEAREST, expand=False, center of the image): PIL's Image.rotate, which takes exact
// transposes for 0/180 degrees (and 90/270 on square images) and otherwise samples the inverse
// affine map with 16.16 fixed-point nearest-neighbour stepping (Geometry.c affine_fixed).
// angle is in degrees, counter-clockwise; pixels from outside the image get fill.
func Rotate(img *imageio.RGB, angle float64, fill [3]uint8) (*imageio.RGB, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	if math.IsNaN(angle) || math.IsInf(angle, 0) {
		return nil, fmt.Errorf("transforms: rotation angle %v is not finite", angle)
	}
	// Python's angle % 360.0 (result takes the sign of the divisor).
	a := math.Mod(angle, 360)
	if a < 0 {
		a += 360
	}
	if a == 360 { // -tiny % 360 rounds up to 360.0 in Python too; Image.rotate then rotates by 0.
		a = 0
	}
	w, h := img.W, img.H
	switch {
	case a == 0:
		return img.Clone(), nil
	case a == 180:
		return transpose(img, rot180), nil
	case a == 90 && w == h:
		return transpose(img, rot90), nil
	case a == 270 && w == h:
		return transpose(img, rot270), nil
	}
	cx, cy := float64(w)/2, float64(h)/2
	pi := math.Pi // a variable, so pi/180 is the rounded double division math.radians uses
	r := -(a * (pi / 180))
	m := [6]float64{round15(math.Cos(r)), round15(math.Sin(r)), 0, round15(-math.Sin(r)), round15(math.Cos(r)), 0}
	// matrix[2], matrix[5] = transform(-cx, -cy, matrix); then += center (Image.rotate).
	m[2] = float64(m[0]*-cx) + float64(m[1]*-cy) + m[2]
	m[5] = float64(m[3]*-cx) + float64(m[4]*-cy) + m[5]
	m[2] += cx
	m[5] += cy
	return affineNearest(img, m, fill), nil
}

// round15 is Python's round(x, 15): correctly rounded to 15 decimals, ties to even.
func round15(x float64) float64 {
	v, err := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 15, 64), 64)
	if err != nil {
		return x
	}
	return v
}

type transposeKind int

const (
	rot90 transposeKind = iota
	rot180
	rot270
)

// transpose mirrors Geometry.c's ImagingRotate90/180/270 (PIL Transpose.ROTATE_*,
// counter-clockwise).
func transpose(img *imageio.RGB, k transposeKind) *imageio.RGB {
	w, h := img.W, img.H
	var out *imageio.RGB
	if k == rot180 {
		out = imageio.NewRGB(w, h)
	} else {
		out = imageio.NewRGB(h, w)
	}
	for y := 0; y < out.H; y++ {
		for x := 0; x < out.W; x++ {
			var sx, sy int
			switch k {
			case rot90:
				sx, sy = w-1-y, x
			case rot180:
				sx, sy = w-1-x, h-1-y
			case rot270:
				sx, sy = y, h-1-x
			}
			s := (sy*w + sx) * 3
			d := (y*out.W + x) * 3
			out.Pix[d], out.Pix[d+1], out.Pix[d+2] = img.Pix[s], img.Pix[s+1], img.Pix[s+2]
		}
	}
	return out
}

// affineNearest mirrors ImagingTransformAffine with the NEAREST filter for an output of the
// input's size: the scale-only shortcut (ImagingScaleAffine), the 16.16 fixed-point walk when
// all corners fit (affine_fixed), and the floating-point walk otherwise. m maps output pixel
// (x, y) to input coordinates as in PIL (a·x + b·y + c, d·x + e·y + f).
func affineNearest(img *imageio.RGB, m [6]float64, fill [3]uint8) *imageio.RGB {
	w, h := img.W, img.H
	out := imageio.NewRGB(w, h)
	if fill != [3]uint8{} {
		for i := 0; i < len(out.Pix); i += 3 {
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = fill[0], fill[1], fill[2]
		}
	}
	if w == 0 || h == 0 {
		return out
	}
	in := img.Pix
	put := func(d, xin, yin int) {
		s := (yin*w + xin) * 3
		out.Pix[d], out.Pix[d+1], out.Pix[d+2] = in[s], in[s+1], in[s+2]
	}
	if m[1] == 0 && m[3] == 0 {
		xo := m[2] + float64(m[0]*0.5)
		yo := m[5] + float64(m[4]*0.5)
		xin := make([]int, w)
		for x := 0; x < w; x++ {
			xin[x] = coord(xo)
			xo += m[0]
		}
		for y := 0; y < h; y++ {
			yi := coord(yo)
			if yi >= 0 && yi < h {
				for x := 0; x < w; x++ {
					if xin[x] >= 0 && xin[x] < w {
						put((y*w+x)*3, xin[x], yi)
					}
				}
			}
			yo += m[4]
		}
		return out
	}
	fits := func(x, y float64) bool {
		return math.Abs(float64(x*m[0])+float64(y*m[1])+m[2]) < 32768 &&
			math.Abs(float64(x*m[3])+float64(y*m[4])+m[5]) < 32768
	}
	fw, fh := float64(w), float64(h)
	if fits(0, 0) && fits(fw, fh) && fits(0, fh) && fits(fw, 0) {
		fix := func(v float64) int32 { return int32(math.Floor(float64(v*65536.0) + 0.5)) }
		a0, a1, a3, a4 := fix(m[0]), fix(m[1]), fix(m[3]), fix(m[4])
		a2 := fix(m[2] + float64(m[0]*0.5) + float64(m[1]*0.5))
		a5 := fix(m[5] + float64(m[3]*0.5) + float64(m[4]*0.5))
		for y := 0; y < h; y++ {
			xx, yy := a2, a5
			for row := out.Pix[y*w*3 : (y+1)*w*3]; len(row) >= 3; row = row[3:] {
				// Both coordinates in the image (unsigned compares also reject negatives).
				if xi, yi := int(xx>>16), int(yy>>16); uint(xi) < uint(w) && uint(yi) < uint(h) {
					s := (yi*w + xi) * 3
					p := in[s : s+3 : s+3]
					row[0], row[1], row[2] = p[0], p[1], p[2]
				}
				xx += a0
				yy += a3
			}
			a2 += a1
			a5 += a4
		}
		return out
	}
	xo := m[2] + float64(m[1]*0.5) + float64(m[0]*0.5)
	yo := m[5] + float64(m[4]*0.5) + float64(m[3]*0.5)
	for y := 0; y < h; y++ {
		xx, yy := xo, yo
		d := y * w * 3
		for x := 0; x < w; x, d = x+1, d+3 {
			if xi := coord(xx); xi >= 0 && xi < w {
				if yi := coord(yy); yi >= 0 && yi < h {
					put(d, xi, yi)
				}
			}
			xx += m[0]
			yy += m[3]
		}
		xo += m[1]
		yo += m[4]
	}
	return out
}

// coord mirrors Geometry.c's COORD: negative coordinates are out of the image.
func coord(v float64) int {
	if v < 0 {
		return -1
	}
	return int(v)
}
