package plot

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"

	xfont "golang.org/x/image/font"
	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/drgrade/drgrade/internal/atomicfile"
)

// textStyle returns a Liberation Sans style; sans-serif reads better than
// gonum's default serif at small sizes on screen.
func textStyle(size vg.Length, bold bool, clr color.Color) text.Style {
	f := font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
	if bold {
		f.Weight = xfont.WeightBold
	}
	return text.Style{
		Color:   clr,
		Font:    f,
		XAlign:  draw.XLeft,
		YAlign:  draw.YBottom,
		Handler: gplot.DefaultTextHandler,
	}
}

// aligned returns sty with the given alignment.
func aligned(sty text.Style, x text.XAlignment, y text.YAlignment) text.Style {
	sty.XAlign, sty.YAlign = x, y
	return sty
}

// hexColor parses "#rrggbb"; only used with constants.
func hexColor(s string) color.RGBA {
	var r, g, b uint8
	fmt.Sscanf(s, "#%02x%02x%02x", &r, &g, &b)
	return color.RGBA{R: r, G: g, B: b, A: 255}
}

// newCanvas returns an image canvas of w×h inches at dpi with a white background.
func newCanvas(wIn, hIn float64, dpi int) *vgimg.Canvas {
	return vgimg.NewWith(
		vgimg.UseWH(vg.Length(wIn)*vg.Inch, vg.Length(hIn)*vg.Inch),
		vgimg.UseDPI(dpi),
		vgimg.UseBackgroundColor(color.White),
	)
}

// render runs draw and encodes the canvas as PNG. gonum panics on a few
// degenerate geometries; render turns such a panic into an error so that a
// plotting problem never takes the training run down with it.
func render(path string, c *vgimg.Canvas, drawFn func(dc draw.Canvas) error) (png []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plot: rendering %s: %v", path, r)
		}
	}()
	if err := drawFn(draw.New(c)); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plot: encoding %s: %w", path, err)
	}
	return buf.Bytes(), nil
}

// writeAtomic writes data to path so that readers never see a partial PNG and an existing
// file is only replaced by a complete one.
func writeAtomic(path string, data []byte) error {
	if path == "" {
		return errors.New("plot: empty output path")
	}
	if err := atomicfile.WriteBytes(path, data); err != nil {
		return fmt.Errorf("plot: writing %s: %w", path, err)
	}
	return nil
}

// finite reports whether v is neither NaN nor ±Inf.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
