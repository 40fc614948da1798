package imageio

import "fmt"

// RGB is an 8-bit, 3-channel image: Pix holds H rows of W pixels, each R, G, B, row-major
// with no padding (stride 3*W). It is the common currency of vision/transforms.
type RGB struct {
	W, H int
	Pix  []uint8
}

// NewRGB allocates a black w×h image.
func NewRGB(w, h int) *RGB {
	if w < 0 || h < 0 {
		panic(fmt.Sprintf("imageio: negative size %dx%d", w, h))
	}
	return &RGB{W: w, H: h, Pix: make([]uint8, 3*w*h)}
}

// At returns the pixel at (x, y).
func (m *RGB) At(x, y int) (r, g, b uint8) {
	i := 3 * (y*m.W + x)
	return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
}

// Set stores the pixel at (x, y).
func (m *RGB) Set(x, y int, r, g, b uint8) {
	i := 3 * (y*m.W + x)
	m.Pix[i], m.Pix[i+1], m.Pix[i+2] = r, g, b
}

// Clone returns a deep copy.
func (m *RGB) Clone() *RGB {
	return &RGB{W: m.W, H: m.H, Pix: append([]uint8(nil), m.Pix...)}
}
