package preprocess

import (
	"math"
	"runtime"
	"sync"

	"github.com/drgrade/drgrade/vision/imageio"
)

// Radius is Ben Graham's estimate of the field's radius (his scaleRadius): half the number of
// pixels of the middle row whose R+G+B exceeds a tenth of the row's mean.
func Radius(img *imageio.RGB) float64 {
	if img.W == 0 || img.H == 0 {
		return 0
	}
	row := img.Pix[3*(img.H/2)*img.W : 3*(img.H/2+1)*img.W]
	sums := make([]int, img.W)
	total := 0
	for x := range sums {
		sums[x] = int(row[3*x]) + int(row[3*x+1]) + int(row[3*x+2])
		total += sums[x]
	}
	mean := float64(total) / float64(img.W)
	n := 0
	for _, s := range sums {
		if float64(s) > mean/10 {
			n++
		}
	}
	return float64(n) / 2
}

// Graham is Ben Graham's preprocessing from his winning Kaggle Diabetic Retinopathy Detection
// solution (2015, "competitionreport.pdf" and its scaleRadius script): subtract the local
// average colour, out = 4·I − 4·GaussianBlur(I, σ = r/30) + 128 (cv2.addWeighted(a, 4,
// blur, −4, 128)), then set everything outside a circle of 90% of the radius r to 128 (his
// boundary-effect mask, cv2.circle(…, int(scale*0.9))). r is Radius; the circle is centred on
// the picture, so crop first for an off-centre field. The blur runs in floating point (OpenCV's
// float32 GaussianBlur, BORDER_REFLECT_101, ksize = round(8σ+1)|1): his script blurred the
// uint8 image, whose rounding the ×4 would amplify to 4 levels.
func Graham(img *imageio.RGB) (*imageio.RGB, error) {
	r := Radius(img)
	if r < 1 {
		return nil, ErrNoField
	}
	blur := gaussianBlur(img, r/30)
	out := imageio.NewRGB(img.W, img.H)
	cx, cy, rr := float64(img.W-1)/2, float64(img.H-1)/2, 0.9*r
	for y := 0; y < img.H; y++ {
		dy := float64(y) - cy
		for x := 0; x < img.W; x++ {
			dx := float64(x) - cx
			i := 3 * (y*img.W + x)
			if dx*dx+dy*dy > rr*rr {
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = 128, 128, 128
				continue
			}
			for c := 0; c < 3; c++ {
				v := math.RoundToEven(4*float64(img.Pix[i+c]) - 4*blur[i+c] + 128)
				out.Pix[i+c] = uint8(min(max(v, 0), 255))
			}
		}
	}
	return out, nil
}

// gaussianKernel mirrors cv2.getGaussianKernel(n, sigma) for sigma > 0.
func gaussianKernel(n int, sigma float64) []float64 {
	k := make([]float64, n)
	sum := 0.0
	for i := range k {
		x := float64(i) - float64(n-1)*0.5
		k[i] = math.Exp(-0.5 / (sigma * sigma) * x * x)
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	return k
}

// reflect101 mirrors cv::borderInterpolate(p, n, BORDER_REFLECT_101) (gfedcb|abcdefgh|gfedcba).
func reflect101(p, n int) int {
	if n == 1 {
		return 0
	}
	for p < 0 || p >= n {
		if p < 0 {
			p = -p
		} else {
			p = 2*(n-1) - p
		}
	}
	return p
}

// gaussianBlur mirrors cv2.GaussianBlur(img.astype(float32), (0, 0), sigma) (separable,
// BORDER_REFLECT_101, ksize = round(8σ+1)|1), in float64. Both passes run down the columns
// (the second on the transposed image), whose inner loop is a contiguous multiply-add; the
// rows are split across the CPUs. OpenCV filters the rows first: the order changes only the
// last bits.
func gaussianBlur(img *imageio.RGB, sigma float64) []float64 {
	n := int(math.RoundToEven(sigma*8+1)) | 1
	k := gaussianKernel(n, sigma)
	w, h := img.W, img.H
	src := make([]float64, 3*w*h)
	for i, v := range img.Pix {
		src[i] = float64(v)
	}
	a := blurColumns(src, h, 3*w, k)
	t := transpose3(a, w, h)
	b := blurColumns(t, w, 3*h, k)
	return transpose3(b, h, w)
}

// blurColumns filters each column of a rows×rowLen matrix with the symmetric kernel k
// (BORDER_REFLECT_101 at the first and last rows).
func blurColumns(src []float64, rows, rowLen int, k []float64) []float64 {
	n := len(k)
	half := n / 2
	dst := make([]float64, len(src))
	row := func(r int) []float64 {
		r = reflect101(r, rows)
		return src[r*rowLen : (r+1)*rowLen]
	}
	parallel(rows, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			acc := dst[y*rowLen : (y+1)*rowLen]
			mid := row(y)[:len(acc)]
			kc := k[half]
			for i, v := range mid {
				acc[i] = kc * v
			}
			for t := 0; t < half; t++ {
				kv := k[t]
				a, b := row(y - half + t)[:len(acc)], row(y + half - t)[:len(acc)]
				for i := range acc {
					acc[i] += kv * (a[i] + b[i])
				}
			}
		}
	})
	return dst
}

// transpose3 transposes an h×w image of 3 interleaved channels into w×h.
func transpose3(src []float64, w, h int) []float64 {
	dst := make([]float64, len(src))
	parallel(w, func(x0, x1 int) {
		for x := x0; x < x1; x++ {
			for y := 0; y < h; y++ {
				copy(dst[3*(x*h+y):3*(x*h+y)+3], src[3*(y*w+x):3*(y*w+x)+3])
			}
		}
	})
	return dst
}

// parallel runs f over [0, n) in contiguous chunks, one per CPU.
func parallel(n int, f func(lo, hi int)) {
	p := min(runtime.GOMAXPROCS(0), n)
	if p <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < p; i++ {
		lo, hi := i*n/p, (i+1)*n/p
		wg.Add(1)
		go func() { defer wg.Done(); f(lo, hi) }()
	}
	wg.Wait()
}
