package plot

import (
	"fmt"
	"image/color"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// CurvePoint is one epoch of a training run.
type CurvePoint struct {
	Epoch                       int     // 1-based
	TrainLoss, TrainAcc, ValAcc float64 // accuracies in [0,1]
	Kappa, MacroF1, LR          float64 // Kappa may be NaN (undefined): leave a gap, don't crash
}

// Figure geometry of Curves: 10×7 in at 120 dpi (1200×840 px), the size of a
// matplotlib figure(figsize=(10, 7)) saved at a screen-friendly resolution.
const (
	curvesWidthIn  = 10
	curvesHeightIn = 7
	curvesDPI      = 120
)

// Series colours: the first entries of matplotlib's tab10 cycle, so the
// figure reads like the ones produced by the PyTorch scripts.
var (
	colBlue   = hexColor("#1f77b4")
	colOrange = hexColor("#ff7f0e")
	colGreen  = hexColor("#2ca02c")
	colPurple = hexColor("#9467bd")
	colRed    = hexColor("#d62728")
	colGrid   = hexColor("#e4e4e4")
	colGrey   = hexColor("#555555")
)

// bestLineStyle is the dashed vertical marker of the best epoch.
var bestLineStyle = draw.LineStyle{
	Color:  colRed,
	Width:  vg.Points(1.2),
	Dashes: []vg.Length{vg.Points(5), vg.Points(3)},
}

// Curves writes a PNG at path: a 2×2 grid of panels against epoch — (1) train
// loss, (2) train and val accuracy, (3) val quadratic weighted kappa and val
// macro-F1, (4) learning rate with scientific tick labels — under the title
// line title. A bestEpoch > 0 is marked by a dashed vertical line in every
// panel. Non-finite values are drawn as gaps. The file is written atomically.
func Curves(path, title string, pts []CurvePoint, bestEpoch int) error {
	if err := validateCurves(pts, bestEpoch); err != nil {
		return fmt.Errorf("plot: curves %s: %w", path, err)
	}
	c := newCanvas(curvesWidthIn, curvesHeightIn, curvesDPI)
	png, err := render(path, c, func(dc draw.Canvas) error {
		drawCurves(dc, title, pts, bestEpoch)
		return nil
	})
	if err != nil {
		return err
	}
	return writeAtomic(path, png)
}

// validateCurves rejects inputs that would make a misleading figure.
func validateCurves(pts []CurvePoint, bestEpoch int) error {
	if len(pts) == 0 {
		return fmt.Errorf("no epochs to plot")
	}
	for i, p := range pts {
		if p.Epoch < 1 {
			return fmt.Errorf("point %d: epoch %d is not 1-based", i, p.Epoch)
		}
		if i > 0 && p.Epoch <= pts[i-1].Epoch {
			return fmt.Errorf("point %d: epoch %d does not increase (previous %d)", i, p.Epoch, pts[i-1].Epoch)
		}
		for _, a := range []struct {
			name string
			v    float64
		}{{"train accuracy", p.TrainAcc}, {"val accuracy", p.ValAcc}, {"macro-F1", p.MacroF1}} {
			if finite(a.v) && (a.v < 0 || a.v > 1) {
				return fmt.Errorf("epoch %d: %s %g outside [0,1]", p.Epoch, a.name, a.v)
			}
		}
		if finite(p.Kappa) && (p.Kappa < -1 || p.Kappa > 1) {
			return fmt.Errorf("epoch %d: kappa %g outside [-1,1]", p.Epoch, p.Kappa)
		}
		if finite(p.LR) && p.LR < 0 {
			return fmt.Errorf("epoch %d: negative learning rate %g", p.Epoch, p.LR)
		}
	}
	if bestEpoch > 0 && (bestEpoch < pts[0].Epoch || bestEpoch > pts[len(pts)-1].Epoch) {
		return fmt.Errorf("best epoch %d outside the plotted epochs %d..%d", bestEpoch, pts[0].Epoch, pts[len(pts)-1].Epoch)
	}
	return nil
}

// drawCurves lays out the title band and the four aligned panels.
func drawCurves(dc draw.Canvas, title string, pts []CurvePoint, best int) {
	const pad = vg.Length(6)
	top := dc.Max.Y - pad

	// Title line, shrunk (then truncated) to fit the figure width.
	titleSty := aligned(fitFont(textStyle(15, true, color.Black), title, dc.Max.X-dc.Min.X-4*pad, 10), draw.XCenter, draw.YTop)
	title = truncateToWidth(titleSty, title, dc.Max.X-dc.Min.X-4*pad)
	if title != "" {
		dc.FillText(titleSty, vg.Point{X: dc.Center().X, Y: top}, title)
		top -= titleSty.Height(title) + pad/2
	}
	// Key of the best-epoch marker: a dashed sample and its meaning.
	if best > 0 {
		keySty := aligned(textStyle(10.5, false, colGrey), draw.XLeft, draw.YCenter)
		key := fmt.Sprintf("best epoch %d", best)
		sample := vg.Length(28)
		w := sample + pad + keySty.Width(key)
		x0 := dc.Center().X - w/2
		y := top - keySty.Height(key)/2
		dc.StrokeLine2(bestLineStyle, x0, y, x0+sample, y)
		dc.FillText(keySty, vg.Point{X: x0 + sample + pad, Y: y}, key)
		top -= keySty.Height(key) + pad/2
	}
	body := dc
	body.Max.Y = top

	n := len(pts)
	ep := make([]float64, n)
	col := func(f func(CurvePoint) float64) []float64 {
		v := make([]float64, n)
		for i, p := range pts {
			v[i] = f(p)
		}
		return v
	}
	for i, p := range pts {
		ep[i] = float64(p.Epoch)
	}
	glyphR := markerRadius(n)
	mk := func(name string, y []float64, clr color.Color, g draw.GlyphDrawer) *seriesPlotter {
		return &seriesPlotter{name: name, x: ep, y: y, color: clr, glyph: g, radius: glyphR}
	}

	kappaName := "val QW kappa"
	for _, p := range pts {
		if !finite(p.Kappa) {
			kappaName = "val QW kappa (gap = NaN)"
			break
		}
	}
	panels := [][]*gplot.Plot{
		{
			newPanel("Training loss", "loss", ep, best, rangeLoss,
				mk("train loss", col(func(p CurvePoint) float64 { return p.TrainLoss }), colBlue, draw.CircleGlyph{})),
			newPanel("Accuracy", "accuracy", ep, best, rangeScore,
				mk("train", col(func(p CurvePoint) float64 { return p.TrainAcc }), colBlue, draw.CircleGlyph{}),
				mk("val", col(func(p CurvePoint) float64 { return p.ValAcc }), colOrange, draw.PyramidGlyph{})),
		},
		{
			newPanel("Validation kappa and macro-F1", "score", ep, best, rangeScore,
				mk(kappaName, col(func(p CurvePoint) float64 { return p.Kappa }), colGreen, draw.CircleGlyph{}),
				mk("val macro-F1", col(func(p CurvePoint) float64 { return p.MacroF1 }), colPurple, draw.BoxGlyph{})),
			newPanel("Learning rate", "learning rate", ep, best, rangeLR,
				mk("lr", col(func(p CurvePoint) float64 { return p.LR }), colBlue, draw.CircleGlyph{})),
		},
	}
	tiles := draw.Tiles{
		Rows: 2, Cols: 2,
		PadX: vg.Inch * 0.45, PadY: vg.Inch * 0.3,
		PadLeft: vg.Inch * 0.1, PadRight: vg.Inch * 0.2, PadBottom: vg.Inch * 0.1, PadTop: vg.Inch * 0.05,
	}
	canvases := gplot.Align(panels, tiles, body)
	for j, row := range panels {
		for i, p := range row {
			p.Draw(canvases[j][i])
		}
	}
}

// markerRadius shrinks markers as epochs get dense so lines stay visible.
func markerRadius(n int) vg.Length {
	switch {
	case n <= 20:
		return vg.Points(3)
	case n <= 60:
		return vg.Points(2.2)
	case n <= 150:
		return vg.Points(1.5)
	default:
		return vg.Points(1)
	}
}

// rangeKind selects how a panel's y range is derived from its data.
type rangeKind int

const (
	rangeLoss  rangeKind = iota // data-driven, floored at 0 for non-negative data
	rangeScore                  // like rangeLoss with a minimum span, for [0,1] or [-1,1] scores
	rangeLR                     // from 0, scientific tick labels
)

// newPanel builds one panel; the legend is added only when it has 2 series.
func newPanel(title, ylabel string, epochs []float64, best int, kind rangeKind, ss ...*seriesPlotter) *gplot.Plot {
	p := gplot.New()
	p.Title.Text = title
	p.Title.TextStyle = aligned(textStyle(12, true, color.Black), draw.XCenter, draw.YTop)
	p.Title.Padding = vg.Points(4)
	for _, ax := range []*gplot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle = aligned(textStyle(11, false, color.Black), draw.XCenter, draw.YBottom)
		ax.Tick.Label.Font = textStyle(10, false, color.Black).Font
		ax.Tick.Label.Handler = gplot.DefaultTextHandler
		ax.Label.Padding = vg.Points(3)
	}
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = ylabel

	lo, hi := epochs[0], epochs[len(epochs)-1]
	if lo == hi { // one epoch: a unit-wide axis with a single tick
		lo, hi = lo-0.5, hi+0.5
	}
	p.X.Min, p.X.Max = lo, hi
	p.X.Tick.Marker = epochTicks{}
	p.Y.Tick.Marker = niceTicks{}

	var all []float64
	for _, s := range ss {
		all = append(all, s.y...)
	}
	switch kind {
	case rangeLR:
		p.Y.Min, p.Y.Max = 0, 1
		if mx, ok := maxFinite(all); ok && mx > 0 {
			p.Y.Max = mx * 1.06
		}
		p.Y.Tick.Marker = sciTicks{}
	case rangeScore:
		p.Y.Min, p.Y.Max = dataRange(all, 0.05, len(ss) > 1)
		p.Y.Tick.Marker = niceTicks{upTo1: true}
	default:
		p.Y.Min, p.Y.Max = dataRange(all, 0, false)
	}

	grid := plotter.NewGrid()
	grid.Vertical = draw.LineStyle{Color: colGrid, Width: vg.Points(0.5)}
	grid.Horizontal = grid.Vertical
	p.Add(grid)
	if best > 0 {
		p.Add(bestLine{epoch: float64(best)})
	}
	for _, s := range ss {
		p.Add(s)
	}
	if !anyFinite(all) {
		p.Add(note{text: "no finite values"})
	}
	if len(ss) > 1 {
		p.Add(&legendBox{series: ss, best: best})
	}
	return p
}

// dataRange returns a padded y range of the finite values in v. minSpan
// keeps a nearly flat curve from being blown up into noise; headroom leaves
// space at the top for a legend.
func dataRange(v []float64, minSpan float64, headroom bool) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		if finite(x) {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	if lo > hi { // nothing finite
		return 0, 1
	}
	nonNeg := lo >= 0
	span := hi - lo
	if m := math.Max(minSpan, 0.1*math.Max(math.Abs(hi), math.Abs(lo))); span < m {
		if m == 0 {
			m = 1
		}
		mid := (lo + hi) / 2
		lo, hi, span = mid-m/2, mid+m/2, m
	}
	lo -= 0.06 * span
	hi += 0.06 * span
	if headroom {
		hi += 0.3 * span
	}
	if nonNeg && lo < 0 {
		lo = 0
	}
	return lo, hi
}

func maxFinite(v []float64) (float64, bool) {
	m, ok := math.Inf(-1), false
	for _, x := range v {
		if finite(x) && x > m {
			m, ok = x, true
		}
	}
	return m, ok
}

func anyFinite(v []float64) bool {
	_, ok := maxFinite(v)
	return ok
}

// seriesPlotter draws one metric: markers at finite points and line segments
// between consecutive finite points, so a NaN leaves a visible gap.
type seriesPlotter struct {
	name   string
	x, y   []float64
	color  color.Color
	glyph  draw.GlyphDrawer
	radius vg.Length
}

func (s *seriesPlotter) lineStyle() draw.LineStyle {
	return draw.LineStyle{Color: s.color, Width: vg.Points(1.6)}
}

func (s *seriesPlotter) glyphStyle() draw.GlyphStyle {
	return draw.GlyphStyle{Color: s.color, Radius: s.radius, Shape: s.glyph}
}

// Plot implements gplot.Plotter.
func (s *seriesPlotter) Plot(c draw.Canvas, p *gplot.Plot) {
	trX, trY := p.Transforms(&c)
	var lines [][]vg.Point
	var cur []vg.Point
	for i := range s.x {
		if !finite(s.y[i]) {
			if len(cur) > 1 {
				lines = append(lines, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, vg.Point{X: trX(s.x[i]), Y: trY(s.y[i])})
	}
	if len(cur) > 1 {
		lines = append(lines, cur)
	}
	if len(lines) > 0 {
		c.StrokeLines(s.lineStyle(), lines...)
	}
	gs := s.glyphStyle()
	for i := range s.x {
		if finite(s.y[i]) {
			c.DrawGlyph(gs, vg.Point{X: trX(s.x[i]), Y: trY(s.y[i])})
		}
	}
}

// points returns the canvas positions of the series, sampled along segments,
// for the legend's placement.
func (s *seriesPlotter) points(trX, trY func(float64) vg.Length) []vg.Point {
	var out []vg.Point
	for i := range s.x {
		if !finite(s.y[i]) {
			continue
		}
		p := vg.Point{X: trX(s.x[i]), Y: trY(s.y[i])}
		out = append(out, p)
		if i+1 < len(s.x) && finite(s.y[i+1]) {
			q := vg.Point{X: trX(s.x[i+1]), Y: trY(s.y[i+1])}
			for k := 1; k < 12; k++ {
				f := vg.Length(k) / 12
				out = append(out, vg.Point{X: p.X + f*(q.X-p.X), Y: p.Y + f*(q.Y-p.Y)})
			}
		}
	}
	return out
}

// bestLine is the dashed vertical line at the best epoch, spanning the panel.
type bestLine struct{ epoch float64 }

// Plot implements gplot.Plotter.
func (b bestLine) Plot(c draw.Canvas, p *gplot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(b.epoch)
	c.StrokeLine2(bestLineStyle, x, c.Min.Y, x, c.Max.Y)
}

// note writes a centred message in an otherwise empty panel.
type note struct{ text string }

// Plot implements gplot.Plotter.
func (n note) Plot(c draw.Canvas, _ *gplot.Plot) {
	sty := aligned(textStyle(11, false, colGrey), draw.XCenter, draw.YCenter)
	c.FillText(sty, c.Center(), n.text)
}
