package synth

import (
	"fmt"
	"image"
	"image/png"
	"os"

	"github.com/drgrade/drgrade/vision/imageio"
)

// gridGap is the dark gutter between grid tiles, in pixels.
const gridGap = 4

// Grid renders a preview: one row per grade (0 at the top), perGrade columns; column j shows
// the same eye (seed ImageSeed(seed, j)) at every grade, so only the lesions change down a
// column.
func Grid(tile, perGrade int, seed uint64) (*imageio.RGB, error) {
	if perGrade < 1 || perGrade > 64 {
		return nil, fmt.Errorf("synth: grid columns %d out of range 1..64", perGrade)
	}
	if tile < MinSize || tile > 2048 {
		return nil, fmt.Errorf("synth: grid tile %d out of range %d..2048", tile, MinSize)
	}
	W := perGrade*tile + (perGrade+1)*gridGap
	H := NumGrades*tile + (NumGrades+1)*gridGap
	out := imageio.NewRGB(W, H)
	for i := range out.Pix {
		out.Pix[i] = 40
	}
	for g := 0; g < NumGrades; g++ {
		for j := 0; j < perGrade; j++ {
			m, err := Render(g, tile, ImageSeed(seed, j))
			if err != nil {
				return nil, err
			}
			x0, y0 := gridGap+j*(tile+gridGap), gridGap+g*(tile+gridGap)
			for y := 0; y < tile; y++ {
				copy(out.Pix[3*((y0+y)*W+x0):3*((y0+y)*W+x0+tile)], m.Pix[3*y*tile:3*(y+1)*tile])
			}
		}
	}
	return out, nil
}

// WriteGridPNG writes Grid(tile, perGrade, seed) as a PNG file at path.
func WriteGridPNG(path string, tile, perGrade int, seed uint64) error {
	m, err := Grid(tile, perGrade, seed)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := png.Encode(f, toRGBA(m)); err != nil {
		f.Close()
		return fmt.Errorf("synth: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("synth: writing %s: %w", path, err)
	}
	return nil
}

// toRGBA converts to the standard library's opaque RGBA for the image encoders.
func toRGBA(m *imageio.RGB) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for i, j := 0, 0; i < len(m.Pix); i, j = i+3, j+4 {
		out.Pix[j], out.Pix[j+1], out.Pix[j+2], out.Pix[j+3] = m.Pix[i], m.Pix[i+1], m.Pix[i+2], 255
	}
	return out
}
