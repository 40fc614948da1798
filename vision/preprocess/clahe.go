package preprocess

import (
	"fmt"
	"math"

	"github.com/drgrade/drgrade/vision/imageio"
)

// CLAHE defaults: OpenCV's createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)) as the DR pipelines
// call it (OpenCV's own default clip limit is 40).
const (
	DefaultClipLimit = 2.0
	DefaultTiles     = 8
)

// sRGB (D65) to XYZ, OpenCV's cvtColor constants, and the D65 white point.
var (
	rgb2xyz = [3][3]float64{
		{0.412453, 0.357580, 0.180423},
		{0.212671, 0.715160, 0.072169},
		{0.019334, 0.119193, 0.950227},
	}
	xyz2rgb      = inverse3(rgb2xyz)
	whiteX       = 0.950456
	whiteZ       = 1.088754
	labEpsilon   = 0.008856
	labKappa     = 903.3
	labLinearMul = 7.787
)

func inverse3(m [3][3]float64) [3][3]float64 {
	var inv [3][3]float64
	det := m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) - m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) + m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			a, b := m[(j+1)%3], m[(j+2)%3]
			inv[i][j] = (a[(i+1)%3]*b[(i+2)%3] - a[(i+2)%3]*b[(i+1)%3]) / det
		}
	}
	return inv
}

func labF(t float64) float64 {
	if t > labEpsilon {
		return math.Cbrt(t)
	}
	return labLinearMul*t + 16.0/116
}

func labFInv(f float64) float64 {
	if f3 := f * f * f; f3 > labEpsilon {
		return f3
	}
	return (f - 16.0/116) / labLinearMul
}

// CLAHE equalises the lightness: the picture to CIE Lab (D65; L scaled to 0..255 and rounded,
// as OpenCV's 8-bit Lab), OpenCV's CLAHE on L (claheL), back to RGB with a and b untouched (kept
// in floating point). The Lab conversions follow the CIE formulas with OpenCV's constants, as
// the NumPy reference does.
func CLAHE(img *imageio.RGB, clipLimit float64, tiles int) (*imageio.RGB, error) {
	if clipLimit < 0 || tiles < 1 {
		return nil, fmt.Errorf("CLAHE clip limit %g and tiles %d: want clip ≥ 0 and tiles ≥ 1", clipLimit, tiles)
	}
	var lin [256]float64 // sRGB decoding of each 8-bit value
	for i := range lin {
		c := float64(i) / 255
		if c <= 0.04045 {
			lin[i] = c / 12.92
		} else {
			lin[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	n := img.W * img.H
	L8 := make([]uint8, n)
	ab := make([]float64, 2*n)
	parallel(img.H, func(y0, y1 int) {
		for i := y0 * img.W; i < y1*img.W; i++ {
			r, g, b := lin[img.Pix[3*i]], lin[img.Pix[3*i+1]], lin[img.Pix[3*i+2]]
			var xyz [3]float64
			for k := range xyz {
				xyz[k] = r*rgb2xyz[k][0] + g*rgb2xyz[k][1] + b*rgb2xyz[k][2]
			}
			fx, fy, fz := labF(xyz[0]/whiteX), labF(xyz[1]), labF(xyz[2]/whiteZ)
			L := 116*fy - 16
			if xyz[1] <= labEpsilon {
				L = labKappa * xyz[1]
			}
			L8[i] = uint8(min(max(math.RoundToEven(L*255/100), 0), 255))
			ab[2*i], ab[2*i+1] = 500*(fx-fy), 200*(fy-fz)
		}
	})
	L8 = claheL(L8, img.W, img.H, clipLimit, tiles)
	out := imageio.NewRGB(img.W, img.H)
	parallel(img.H, func(y0, y1 int) {
		for i := y0 * img.W; i < y1*img.W; i++ {
			L := float64(L8[i]) * 100 / 255
			fy := (L + 16) / 116
			xyz := [3]float64{labFInv(fy+ab[2*i]/500) * whiteX, labFInv(fy), labFInv(fy-ab[2*i+1]/200) * whiteZ}
			for k := 0; k < 3; k++ {
				v := xyz[0]*xyz2rgb[k][0] + xyz[1]*xyz2rgb[k][1] + xyz[2]*xyz2rgb[k][2]
				v = min(max(v, 0), 1)
				if v <= 0.0031308 {
					v *= 12.92
				} else {
					v = 1.055*math.Pow(v, 1/2.4) - 0.055
				}
				out.Pix[3*i+k] = uint8(min(max(math.RoundToEven(v*255), 0), 255))
			}
		}
	})
	return out, nil
}

// claheL mirrors OpenCV's CLAHE_Impl::apply on an 8-bit plane (imgproc/src/clahe.cpp): the
// plane padded (BORDER_REFLECT_101) to a multiple of the tile grid, per tile a histogram clipped
// at int(clipLimit·tileArea/256) with the excess redistributed evenly and the remainder one by
// one, its cumulative sum scaled by 255/tileArea (float32) as the tile's LUT, and per pixel the
// bilinear blend (float32) of the four nearest tiles' LUTs.
func claheL(src []uint8, w, h int, clipLimit float64, tiles int) []uint8 {
	const histSize = 256
	ext, ew, eh := src, w, h
	if w%tiles != 0 || h%tiles != 0 { // OpenCV pads both sides then, by a whole grid where even
		ew, eh = w+tiles-w%tiles, h+tiles-h%tiles
		ext = make([]uint8, ew*eh)
		for y := 0; y < eh; y++ {
			sy := reflect101(y, h)
			for x := 0; x < ew; x++ {
				ext[y*ew+x] = src[sy*w+reflect101(x, w)]
			}
		}
	}
	tw, th := ew/tiles, eh/tiles
	area := tw * th
	lutScale := float32(histSize-1) / float32(area)
	clip := 0
	if clipLimit > 0 {
		clip = max(int(clipLimit*float64(area)/histSize), 1)
	}
	lut := make([]uint8, tiles*tiles*histSize)
	for t := 0; t < tiles*tiles; t++ {
		tx, ty := t%tiles, t/tiles
		var hist [histSize]int
		for y := ty * th; y < (ty+1)*th; y++ {
			for _, v := range ext[y*ew+tx*tw : y*ew+(tx+1)*tw] {
				hist[v]++
			}
		}
		if clip > 0 {
			clipped := 0
			for i := range hist {
				if hist[i] > clip {
					clipped += hist[i] - clip
					hist[i] = clip
				}
			}
			batch := clipped / histSize
			residual := clipped - batch*histSize
			for i := range hist {
				hist[i] += batch
			}
			if residual != 0 {
				step := max(histSize/residual, 1)
				for i := 0; i < histSize && residual > 0; i, residual = i+step, residual-1 {
					hist[i]++
				}
			}
		}
		sum := 0
		for i := range hist {
			sum += hist[i]
			lut[t*histSize+i] = satU8(float32(sum) * lutScale)
		}
	}
	out := make([]uint8, w*h)
	invTW, invTH := 1/float32(tw), 1/float32(th)
	ind1, ind2 := make([]int, w), make([]int, w)
	xa, xa1 := make([]float32, w), make([]float32, w)
	for x := 0; x < w; x++ {
		txf := float32(x)*invTW - 0.5
		tx1 := int(math.Floor(float64(txf)))
		tx2 := tx1 + 1
		xa[x] = txf - float32(tx1)
		xa1[x] = 1 - xa[x]
		ind1[x], ind2[x] = max(tx1, 0)*histSize, min(tx2, tiles-1)*histSize
	}
	parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			tyf := float32(y)*invTH - 0.5
			ty1 := int(math.Floor(float64(tyf)))
			ty2 := ty1 + 1
			ya := tyf - float32(ty1)
			ya1 := 1 - ya
			p1 := lut[max(ty1, 0)*tiles*histSize:]
			p2 := lut[min(ty2, tiles-1)*tiles*histSize:]
			for x := 0; x < w; x++ {
				v := int(src[y*w+x])
				a := float32(p1[ind1[x]+v])*xa1[x] + float32(p1[ind2[x]+v])*xa[x]
				b := float32(p2[ind1[x]+v])*xa1[x] + float32(p2[ind2[x]+v])*xa[x]
				out[y*w+x] = satU8(a*ya1 + b*ya)
			}
		}
	})
	return out
}

// satU8 mirrors cv::saturate_cast<uchar>(float): round half to even (cvRound), then clamp.
func satU8(v float32) uint8 {
	r := math.RoundToEven(float64(v))
	return uint8(min(max(r, 0), 255))
}
