package transforms

import (
	"fmt"

	"github.com/drgrade/drgrade/vision/imageio"
)

// ImageNetMean and ImageNetStd are the Normalize constants of the reference scripts.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// ToTensor mirrors torchvision.transforms.functional.to_tensor for an RGB PIL image: a CHW
// float32 slice of length 3·H·W holding v/255 (a float32 division, as torch's .div(255)).
func ToTensor(img *imageio.RGB) ([]float32, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	var lut [3][256]float32
	for c := range lut {
		for v := range lut[c] {
			lut[c][v] = float32(v) / 255
		}
	}
	return chwFromLUT(make([]float32, len(img.Pix)), img, &lut), nil
}

// Normalize mirrors torchvision.transforms.functional.normalize on a CHW float32 tensor:
// (x − mean[c]) / std[c], each step in float32 as torch's sub_/div_ do. It returns a new slice.
func Normalize(chw []float32, mean, std [3]float32) ([]float32, error) {
	if len(chw)%3 != 0 {
		return nil, fmt.Errorf("transforms: a CHW RGB tensor needs a length divisible by 3, got %d", len(chw))
	}
	if err := checkStd(std); err != nil {
		return nil, err
	}
	n := len(chw) / 3
	out := make([]float32, len(chw))
	for c := 0; c < 3; c++ {
		m, s := mean[c], std[c]
		src, dst := chw[c*n:(c+1)*n], out[c*n:(c+1)*n]
		for i, v := range src {
			dst[i] = float32(v-m) / s
		}
	}
	return out, nil
}

func checkStd(std [3]float32) error {
	for _, s := range std {
		if s == 0 {
			return fmt.Errorf("transforms: std %v has a zero, leading to division by zero", std)
		}
	}
	return nil
}

// NormalizeLUT is ToTensor followed by Normalize, tabulated: every uint8 value of every channel
// maps to exactly the float32 the two torch steps produce, so the fused conversion is one look-up
// per value.
type NormalizeLUT [3][256]float32

// NewNormalizeLUT tabulates ((v/255) − mean[c]) / std[c] in float32, step by step.
func NewNormalizeLUT(mean, std [3]float32) (*NormalizeLUT, error) {
	if err := checkStd(std); err != nil {
		return nil, err
	}
	var lut NormalizeLUT
	for c := range lut {
		for v := range lut[c] {
			x := float32(v) / 255
			lut[c][v] = float32(x-mean[c]) / std[c]
		}
	}
	return &lut, nil
}

// ToTensorNormalize is the fused ToTensor + Normalize: it writes the CHW tensor of img into dst
// (reused when its capacity suffices, so a loader can fill a batch in place) and returns it.
func ToTensorNormalize(dst []float32, img *imageio.RGB, lut *NormalizeLUT) ([]float32, error) {
	if err := check(img); err != nil {
		return nil, err
	}
	if lut == nil {
		return nil, fmt.Errorf("transforms: nil NormalizeLUT")
	}
	if cap(dst) < len(img.Pix) {
		dst = make([]float32, len(img.Pix))
	}
	return chwFromLUT(dst[:len(img.Pix)], img, (*[3][256]float32)(lut)), nil
}

// chwFromLUT de-interleaves HWC uint8 into CHW float32 through per-channel tables.
func chwFromLUT(dst []float32, img *imageio.RGB, lut *[3][256]float32) []float32 {
	n := img.W * img.H
	r, g, b := dst[:n], dst[n:2*n], dst[2*n:3*n]
	lr, lg, lb := &lut[0], &lut[1], &lut[2]
	p := img.Pix[:3*n]
	for i := range r {
		q := p[3*i : 3*i+3]
		r[i], g[i], b[i] = lr[q[0]], lg[q[1]], lb[q[2]]
	}
	return dst
}
