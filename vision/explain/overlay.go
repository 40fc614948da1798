package explain

import (
	"fmt"
	"image"
	"image/png"
	"os"

	"github.com/drgrade/drgrade/vision/imageio"
)

// Overlay is grad-cam's show_cam_on_image(img / 255, cam, use_rgb=True): the heatmap coloured
// by OpenCV's COLORMAP_JET (of uint8(255·cam)), blended half and half with the image, divided
// by the blend's maximum and truncated to uint8, all in float32 as NumPy does. img is the
// picture the model saw (the val-transformed image before Normalize); cam must have its size.
func Overlay(img *imageio.RGB, cam Map) (*image.NRGBA, error) {
	if img.W != cam.W || img.H != cam.H {
		return nil, fmt.Errorf("explain: overlay of a %d×%d heatmap on a %d×%d image", cam.W, cam.H, img.W, img.H)
	}
	n := img.W * img.H
	blend := make([]float32, 3*n)
	var hi float32
	for i := 0; i < n; i++ {
		v := 255 * cam.Data[i]
		idx := 0 // np.uint8 truncates
		if v >= 255 {
			idx = 255
		} else if v > 0 {
			idx = int(v)
		}
		for c := 0; c < 3; c++ {
			heat := float32(jet[idx][c]) / 255
			b := 0.5*heat + 0.5*(float32(img.Pix[3*i+c])/255)
			blend[3*i+c] = b
			hi = max(hi, b)
		}
	}
	out := image.NewNRGBA(image.Rect(0, 0, img.W, img.H))
	for i := 0; i < n; i++ {
		for c := 0; c < 3; c++ {
			v := 255 * (blend[3*i+c] / hi)
			out.Pix[4*i+c] = uint8(min(max(v, 0), 255))
		}
		out.Pix[4*i+3] = 255
	}
	return out, nil
}

// Denormalize turns a normalised CHW tensor's values (3·h·w, after ToTensor and Normalize with
// mean and std, as a loader's batch holds them) back into the picture: v·std + mean, clipped to
// [0, 1] and rounded to uint8, which recovers the transformed image's pixels exactly.
func Denormalize(chw []float32, h, w int, mean, std [3]float32) (*imageio.RGB, error) {
	if len(chw) != 3*h*w {
		return nil, fmt.Errorf("explain: %d values for a 3×%d×%d image", len(chw), h, w)
	}
	img := imageio.NewRGB(w, h)
	for c := 0; c < 3; c++ {
		for i := 0; i < h*w; i++ {
			v := float64(chw[c*h*w+i])*float64(std[c]) + float64(mean[c])
			img.Pix[3*i+c] = uint8(min(max(v*255+0.5, 0), 255))
		}
	}
	return img, nil
}

// WritePNG writes img to path as PNG.
func WritePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// jet is OpenCV's COLORMAP_JET as RGB: cv2.applyColorMap(i, COLORMAP_JET)[..., ::-1] for
// i = 0..255 (testdata/jet.npy checks it against cv2).
var jet = func() (lut [256][3]uint8) {
	for i := range lut {
		for c, k := range [3]int{3, 2, 1} { // red, green, blue
			lut[i][c] = jetChannel(i, k)
		}
	}
	// OpenCV interpolates a tabulated float32 base map (colormap.cpp's Jet) that rounds
	// 255·blue(159/255) = 1.5 just below 1.5.
	lut[159][2] = 1
	return lut
}()

// jetChannel is 255·clip(1.5 − |4·i/255 − k|, 0, 1), the Jet base map OpenCV samples at
// i/255 (k = 3, 2, 1 for red, green, blue), rounded half to even as cv::saturate_cast does.
// In halves: 2·255·(1.5 − |4i/255 − k|) = 765 − |8i − 510k|.
func jetChannel(i, k int) uint8 {
	twice := 765 - abs(8*i-510*k)
	twice = min(max(twice, 0), 510)
	q, r := twice/2, twice%2
	if r == 1 && q%2 == 1 {
		q++
	}
	return uint8(q)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
