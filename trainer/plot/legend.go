package plot

import (
	"image/color"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The legend box placed where it hides the fewest points.

// legendBox is a framed legend placed in the corner of the data area that
// covers the fewest data points (matplotlib's loc="best", simplified).
type legendBox struct {
	series []*seriesPlotter
	best   int
}

// Plot implements gplot.Plotter.
func (l *legendBox) Plot(c draw.Canvas, p *gplot.Plot) {
	sty := aligned(textStyle(10, false, color.Black), draw.XLeft, draw.YCenter)
	const pad, thumb, inset = vg.Length(5), vg.Length(24), vg.Length(4)
	rowH := sty.FontExtents().Height * 1.3
	var tw vg.Length
	for _, s := range l.series {
		tw = max(tw, sty.Width(s.name))
	}
	w := 3*pad + thumb + tw
	h := 2*pad + rowH*vg.Length(len(l.series))

	trX, trY := p.Transforms(&c)
	var pts []vg.Point
	for _, s := range l.series {
		pts = append(pts, s.points(trX, trY)...)
	}
	var bestPts []vg.Point
	if l.best > 0 {
		x := trX(float64(l.best))
		for k := 0; k <= 20; k++ {
			bestPts = append(bestPts, vg.Point{X: x, Y: c.Min.Y + vg.Length(k)/20*(c.Max.Y-c.Min.Y)})
		}
	}
	// Candidate corners in order of preference; ties keep the earlier one.
	cands := []vg.Point{
		{X: c.Max.X - inset - w, Y: c.Max.Y - inset - h}, // top right
		{X: c.Min.X + inset, Y: c.Max.Y - inset - h},     // top left
		{X: c.Max.X - inset - w, Y: c.Min.Y + inset},     // bottom right
		{X: c.Min.X + inset, Y: c.Min.Y + inset},         // bottom left
	}
	bestScore, at := math.Inf(1), cands[0]
	for _, o := range cands {
		// A margin keeps curves from grazing the frame.
		r := vg.Rectangle{Min: vg.Point{X: o.X - 8, Y: o.Y - 8}, Max: vg.Point{X: o.X + w + 8, Y: o.Y + h + 8}}
		score := 0.0
		for _, q := range pts {
			if inRect(r, q) {
				score += 10
			}
		}
		for _, q := range bestPts {
			if inRect(r, q) {
				score++
			}
		}
		if score < bestScore {
			bestScore, at = score, o
		}
	}
	box := vg.Rectangle{Min: at, Max: vg.Point{X: at.X + w, Y: at.Y + h}}
	c.SetColor(color.NRGBA{R: 255, G: 255, B: 255, A: 230})
	c.Fill(box.Path())
	c.SetLineStyle(draw.LineStyle{Color: hexColor("#bbbbbb"), Width: vg.Points(0.6)})
	c.Stroke(box.Path())
	y := box.Max.Y - pad - rowH/2
	for _, s := range l.series {
		x0 := box.Min.X + pad
		c.StrokeLine2(s.lineStyle(), x0, y, x0+thumb, y)
		c.DrawGlyphNoClip(s.glyphStyle(), vg.Point{X: x0 + thumb/2, Y: y})
		c.FillText(sty, vg.Point{X: x0 + thumb + pad, Y: y}, s.name)
		y -= rowH
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func inRect(r vg.Rectangle, p vg.Point) bool {
	return p.X >= r.Min.X && p.X <= r.Max.X && p.Y >= r.Min.Y && p.Y <= r.Max.Y
}
