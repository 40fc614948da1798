package plot

import (
	"fmt"
	"image/color"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// BinaryCurve is one screening view (referable DR, any DR) of a ROC or PR figure.
type BinaryCurve struct {
	Name    string    // panel title, e.g. "Referable DR (grade ≥ 2)"
	Summary string    // the legend line of the curve, e.g. "AUC 0.912 (95% CI 0.884–0.938)"
	X, Y    []float64 // ROC: FPR, TPR; PR: recall, precision; in the order the curve is drawn
	// BandX, BandLo and BandHi are the 95% bootstrap band: Y between BandLo and BandHi at
	// each BandX (empty: no band).
	BandX, BandLo, BandHi []float64
	// Baseline is the PR figure's chance level, the prevalence of positives (ROC: unused, the
	// chance line is the diagonal).
	Baseline float64
	Points   []MarkedPoint // operating points
}

// MarkedPoint is an operating point marked on a curve.
type MarkedPoint struct {
	Label string // e.g. "Youden", "sens ≥ 0.90"
	X, Y  float64
}

// Figure geometry of ROC, PR and Reliability: 6 in per panel, 6.4 in high, at 120 dpi (720 px
// per panel), square data areas like sklearn's RocCurveDisplay.
const (
	panelWidthIn  = 6
	panelHeightIn = 6.4
	screeningDPI  = 120
)

var (
	// markerColors tell the operating points apart (tab10 after the curve's blue).
	markerColors = []color.RGBA{colRed, colGreen, colPurple, colOrange, hexColor("#8c564b"), hexColor("#e377c2")}
	colBand      = color.NRGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0x48} // colBlue, translucent
)

// ROC writes a PNG at path with one panel per view: the ROC curve (TPR against FPR), its
// bootstrap band, the chance diagonal and the operating points, atomically.
func ROC(path, title string, views []BinaryCurve) error {
	return binaryFigure(path, title, views, "False positive rate (1 − specificity)", "True positive rate (sensitivity)", false)
}

// PR writes a PNG at path with one panel per view: precision against recall, its bootstrap
// band, the prevalence baseline and the operating points, atomically.
func PR(path, title string, views []BinaryCurve) error {
	return binaryFigure(path, title, views, "Recall (sensitivity)", "Precision (PPV)", true)
}

func binaryFigure(path, title string, views []BinaryCurve, xlabel, ylabel string, pr bool) error {
	if err := validateViews(views); err != nil {
		return fmt.Errorf("plot: %s: %w", path, err)
	}
	c := newCanvas(panelWidthIn*float64(len(views)), panelHeightIn, screeningDPI)
	png, err := render(path, c, func(dc draw.Canvas) error {
		body := drawTitle(dc, title)
		row := make([]*gplot.Plot, len(views))
		for i, v := range views {
			row[i] = binaryPanel(v, xlabel, ylabel, pr)
		}
		drawRow(body, row)
		return nil
	})
	if err != nil {
		return err
	}
	return writeAtomic(path, png)
}

func validateViews(views []BinaryCurve) error {
	if len(views) == 0 {
		return fmt.Errorf("no curves to plot")
	}
	for _, v := range views {
		if len(v.X) != len(v.Y) || len(v.X) < 2 {
			return fmt.Errorf("%s: %d x and %d y values (want equal, at least 2)", v.Name, len(v.X), len(v.Y))
		}
		if len(v.BandX) != len(v.BandLo) || len(v.BandX) != len(v.BandHi) {
			return fmt.Errorf("%s: band of %d x, %d low and %d high values", v.Name, len(v.BandX), len(v.BandLo), len(v.BandHi))
		}
		for i := range v.X {
			if !in01(v.X[i]) || !in01(v.Y[i]) {
				return fmt.Errorf("%s: point (%g, %g) outside the unit square", v.Name, v.X[i], v.Y[i])
			}
		}
	}
	return nil
}

func in01(v float64) bool { return v >= 0 && v <= 1 }

// drawTitle writes the figure's title line and returns the canvas below it.
func drawTitle(dc draw.Canvas, title string) draw.Canvas {
	const pad = vg.Length(8)
	top := dc.Max.Y - pad
	w := dc.Max.X - dc.Min.X - 4*pad
	sty := aligned(fitFont(textStyle(14, true, color.Black), title, w, 9), draw.XCenter, draw.YTop)
	if title = truncateToWidth(sty, title, w); title != "" {
		dc.FillText(sty, vg.Point{X: dc.Center().X, Y: top}, title)
		top -= sty.Height(title) + pad
	}
	body := dc
	body.Max.Y = top
	return body
}

// drawRow lays panels out side by side with aligned axes.
func drawRow(body draw.Canvas, row []*gplot.Plot) {
	tiles := draw.Tiles{Rows: 1, Cols: len(row), PadX: vg.Inch * 0.45,
		PadLeft: vg.Inch * 0.1, PadRight: vg.Inch * 0.25, PadBottom: vg.Inch * 0.1, PadTop: vg.Inch * 0.05}
	canvases := gplot.Align([][]*gplot.Plot{row}, tiles, body)
	for i, p := range row {
		p.Draw(canvases[0][i])
	}
}

// unitPanel is an empty panel on [0,1]² with the figures' grid and fonts.
func unitPanel(title, xlabel, ylabel string) *gplot.Plot {
	p := gplot.New()
	p.Title.Text = title
	p.Title.TextStyle = aligned(textStyle(12, true, color.Black), draw.XCenter, draw.YTop)
	p.Title.Padding = vg.Points(4)
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	for _, ax := range []*gplot.Axis{&p.X, &p.Y} {
		ax.Min, ax.Max = 0, 1
		ax.Label.TextStyle = aligned(textStyle(11, false, color.Black), draw.XCenter, draw.YBottom)
		ax.Tick.Label.Font = textStyle(10, false, color.Black).Font
		ax.Tick.Label.Handler = gplot.DefaultTextHandler
		ax.Label.Padding = vg.Points(3)
		ax.Tick.Marker = niceTicks{upTo1: true}
	}
	grid := plotter.NewGrid()
	grid.Vertical = draw.LineStyle{Color: colGrid, Width: vg.Points(0.5)}
	grid.Horizontal = grid.Vertical
	p.Add(grid)
	return p
}

func binaryPanel(v BinaryCurve, xlabel, ylabel string, pr bool) *gplot.Plot {
	p := unitPanel(v.Name, xlabel, ylabel)
	chance := plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}}
	chanceName := "chance"
	if pr {
		chance = plotter.XYs{{X: 0, Y: v.Baseline}, {X: 1, Y: v.Baseline}}
		chanceName = fmt.Sprintf("prevalence %.3f", v.Baseline)
	}
	if l, err := plotter.NewLine(chance); err == nil {
		l.Color, l.Width, l.Dashes = colGrey, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(chanceName, l)
	}
	if len(v.BandX) > 0 {
		poly := make(plotter.XYs, 0, 2*len(v.BandX))
		for i := range v.BandX {
			poly = append(poly, plotter.XY{X: v.BandX[i], Y: v.BandHi[i]})
		}
		for i := len(v.BandX) - 1; i >= 0; i-- {
			poly = append(poly, plotter.XY{X: v.BandX[i], Y: v.BandLo[i]})
		}
		if band, err := plotter.NewPolygon(poly); err == nil {
			band.Color, band.LineStyle.Width = colBand, 0
			p.Add(band)
			p.Legend.Add("95% bootstrap band", band)
		}
	}
	xy := make(plotter.XYs, len(v.X))
	for i := range v.X {
		xy[i] = plotter.XY{X: v.X[i], Y: v.Y[i]}
	}
	if l, err := plotter.NewLine(xy); err == nil {
		l.Color, l.Width = colBlue, vg.Points(2)
		if pr {
			l.StepStyle = plotter.PostStep // sklearn's PrecisionRecallDisplay draws steps
		}
		p.Add(l)
		p.Legend.Add(v.Summary, l)
	}
	for i, pt := range v.Points {
		s, err := plotter.NewScatter(plotter.XYs{{X: pt.X, Y: pt.Y}})
		if err != nil {
			continue
		}
		// later points smaller, so points at the same threshold stay visible
		s.GlyphStyle = draw.GlyphStyle{Color: markerColors[i%len(markerColors)], Radius: vg.Points(max(2.5, 6-1.1*float64(i))), Shape: draw.CircleGlyph{}}
		p.Add(s)
		p.Legend.Add(pt.Label, s)
	}
	// The curves fill the top left (ROC) or top right (PR): the legend goes below them.
	p.Legend.TextStyle = textStyle(9.5, false, color.Black)
	p.Legend.Left = pr
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(6), vg.Points(6)
	if pr {
		p.Legend.XOffs = vg.Points(6)
	}
	return p
}

// ReliabilityBin is one confidence bin of a reliability diagram.
type ReliabilityBin struct {
	Lo, Hi     float64 // the bin (Lo, Hi]
	Count      int
	Accuracy   float64 // fraction correct in the bin (NaN when empty)
	Confidence float64 // mean confidence in the bin (NaN when empty)
}

// ReliabilityPanel is one reliability diagram: a model's (or a temperature's) bins.
type ReliabilityPanel struct {
	Name string // e.g. "Top-label, before temperature scaling"
	ECE  float64
	Bins []ReliabilityBin
}

// Reliability writes a PNG at path with one reliability diagram per panel (accuracy against
// confidence per bin, the mean confidence marked on each bar, each bin's sample count above it),
// atomically.
func Reliability(path, title string, panels []ReliabilityPanel) error {
	if len(panels) == 0 {
		return fmt.Errorf("plot: %s: no panels", path)
	}
	for _, pn := range panels {
		for _, b := range pn.Bins {
			if !(b.Lo < b.Hi) || !in01(b.Lo) || !in01(b.Hi) || b.Count < 0 {
				return fmt.Errorf("plot: %s: %s: bad bin (%g, %g] of %d", path, pn.Name, b.Lo, b.Hi, b.Count)
			}
		}
	}
	c := newCanvas(panelWidthIn*float64(len(panels)), panelHeightIn, screeningDPI)
	png, err := render(path, c, func(dc draw.Canvas) error {
		body := drawTitle(dc, title)
		row := make([]*gplot.Plot, len(panels))
		for i, pn := range panels {
			row[i] = reliabilityPanel(pn)
		}
		drawRow(body, row)
		return nil
	})
	if err != nil {
		return err
	}
	return writeAtomic(path, png)
}

func reliabilityPanel(pn ReliabilityPanel) *gplot.Plot {
	p := unitPanel(pn.Name, "Confidence", "Accuracy")
	diag, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	diag.Color, diag.Width, diag.Dashes = colGrey, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(diag)
	p.Legend.Add("perfect calibration", diag)
	p.Add(&binBars{bins: pn.Bins})
	acc, _ := plotter.NewPolygon(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 0}, {X: 1, Y: 1}})
	acc.Color, acc.LineStyle.Color = colBlue, color.White
	p.Legend.Add(fmt.Sprintf("accuracy (ECE %.4f)", pn.ECE), acc)
	conf, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 0}})
	conf.Color, conf.Width = colRed, vg.Points(2.5)
	p.Legend.Add("mean confidence in the bin", conf)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(6), -vg.Points(4)
	p.Legend.TextStyle = textStyle(9.5, false, color.Black)
	return p
}

// binBars draws each non-empty bin's accuracy bar, its mean confidence (the gap between the two
// is the bin's calibration error) and its count.
type binBars struct{ bins []ReliabilityBin }

// Plot implements gplot.Plotter.
func (b *binBars) Plot(c draw.Canvas, p *gplot.Plot) {
	trX, trY := p.Transforms(&c)
	countSty := aligned(textStyle(8, false, colGrey), draw.XCenter, draw.YBottom)
	for _, bin := range b.bins {
		if bin.Count == 0 || !finite(bin.Accuracy) {
			continue
		}
		x0, x1 := trX(bin.Lo), trX(bin.Hi)
		bar := []vg.Point{{X: x0, Y: trY(0)}, {X: x1, Y: trY(0)}, {X: x1, Y: trY(bin.Accuracy)}, {X: x0, Y: trY(bin.Accuracy)}}
		c.FillPolygon(colBlue, c.ClipPolygonXY(bar))
		c.StrokeLines(draw.LineStyle{Color: color.White, Width: vg.Points(0.8)}, c.ClipLinesXY(append(bar, bar[0]))...)
		if finite(bin.Confidence) { // the bin's mean confidence: a red tick, joined to the bar's top
			yc, ya := trY(bin.Confidence), trY(bin.Accuracy)
			mid := (x0 + x1) / 2
			c.StrokeLine2(draw.LineStyle{Color: colRed, Width: vg.Points(1)}, mid, ya, mid, yc)
			c.StrokeLine2(draw.LineStyle{Color: colRed, Width: vg.Points(2.5)}, x0+vg.Points(1), yc, x1-vg.Points(1), yc)
		}
		top := max(bin.Accuracy, bin.Confidence)
		if !finite(top) {
			top = bin.Accuracy
		}
		c.FillText(countSty, vg.Point{X: (x0 + x1) / 2, Y: trY(top) + vg.Points(2)}, fmt.Sprint(bin.Count))
	}
}
