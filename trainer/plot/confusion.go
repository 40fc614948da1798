package plot

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Figure geometry of ConfusionMatrix: 7×6 in at 150 dpi (1050×900 px).
const (
	cmWidthIn  = 7
	cmHeightIn = 6
	cmDPI      = 150
)

// bluesStops is matplotlib's "Blues" colormap (the sklearn
// ConfusionMatrixDisplay default), sampled at 9 evenly spaced stops.
var bluesStops = []color.RGBA{
	hexColor("#f7fbff"), hexColor("#deebf7"), hexColor("#c6dbef"),
	hexColor("#9ecae1"), hexColor("#6baed6"), hexColor("#4292c6"),
	hexColor("#2171b5"), hexColor("#08519c"), hexColor("#08306b"),
}

// colEmptyRow fills the cells of a class without samples, outside the scale.
var colEmptyRow = hexColor("#e6e6e6")

// blues maps f in [0,1] onto bluesStops by linear interpolation.
func blues(f float64) color.RGBA {
	if !(f > 0) {
		return bluesStops[0]
	}
	if f >= 1 {
		return bluesStops[len(bluesStops)-1]
	}
	x := f * float64(len(bluesStops)-1)
	i := int(x)
	t := x - float64(i)
	a, b := bluesStops[i], bluesStops[i+1]
	mix := func(p, q uint8) uint8 { return uint8(math.Round(float64(p) + t*(float64(q)-float64(p)))) }
	return color.RGBA{R: mix(a.R, b.R), G: mix(a.G, b.G), B: mix(a.B, b.B), A: 255}
}

// textOn returns black or white, whichever contrasts more with the fill.
func textOn(c color.RGBA) color.Color {
	lum := 0.2126*float64(c.R) + 0.7152*float64(c.G) + 0.0722*float64(c.B)
	if lum < 140 {
		return color.White
	}
	return color.Black
}

// ConfusionMatrix writes a PNG heatmap of cm (rows = true label, columns =
// predicted label), coloured by the row-normalised share (recall per class, so
// rare grades are as visible as common ones) with a colour bar. Each cell
// shows the count and its row percentage ("412\n83.1%"); a row without
// samples shows "0\n–". The file is written atomically.
func ConfusionMatrix(path, title string, cm [][]int, classNames []string) error {
	if err := validateCM(cm, classNames); err != nil {
		return fmt.Errorf("plot: confusion matrix %s: %w", path, err)
	}
	c := newCanvas(cmWidthIn, cmHeightIn, cmDPI)
	png, err := render(path, c, func(dc draw.Canvas) error {
		drawCM(dc, title, cm, classNames)
		return nil
	})
	if err != nil {
		return err
	}
	return writeAtomic(path, png)
}

func validateCM(cm [][]int, names []string) error {
	n := len(cm)
	if n == 0 {
		return fmt.Errorf("empty matrix")
	}
	for i, row := range cm {
		if len(row) != n {
			return fmt.Errorf("row %d has %d columns, want %d (square matrix)", i, len(row), n)
		}
		for j, v := range row {
			if v < 0 {
				return fmt.Errorf("negative count %d at row %d column %d", v, i, j)
			}
		}
	}
	if len(names) != n {
		return fmt.Errorf("%d class names for a %d×%d matrix", len(names), n, n)
	}
	return nil
}

func drawCM(dc draw.Canvas, title string, cm [][]int, names []string) {
	n := len(cm)
	const pad = vg.Length(8)
	W := dc.Max.X - dc.Min.X

	// Title.
	top := dc.Max.Y - pad
	titleSty := aligned(fitFont(textStyle(13, true, color.Black), title, W-2*pad, 9), draw.XCenter, draw.YTop)
	title = truncateToWidth(titleSty, title, W-2*pad)
	if title != "" {
		dc.FillText(titleSty, vg.Point{X: dc.Center().X, Y: top}, title)
		top -= titleSty.Height(title) + pad*1.5
	}

	axisSty := textStyle(11, false, color.Black)
	axisH := axisSty.Height("Predicted label")

	// Class-name style: shrink long names so the y names take at most 28%
	// of the width, and truncate beyond that.
	tickSty := textStyle(10, false, color.Black)
	var longest string
	for _, s := range names {
		if tickSty.Width(s) > tickSty.Width(longest) {
			longest = s
		}
	}
	tickSty = fitFont(tickSty, longest, 0.28*W, 7)
	shown := make([]string, n)
	var nameW vg.Length
	for i, s := range names {
		shown[i] = truncateToWidth(tickSty, s, 0.28*W)
		nameW = max(nameW, tickSty.Width(shown[i]))
	}
	nameH := tickSty.FontExtents().Height

	// Colour bar column on the right: gap, bar, tick labels, rotated label.
	barTickSty := textStyle(9, false, color.Black)
	barLabelSty := textStyle(10, false, color.Black)
	const barGap, barW, barTickGap, barLabelGap = vg.Length(14), vg.Length(14), vg.Length(5), vg.Length(6)
	barTickW := barTickSty.Width("100%")
	barRight := barGap + barW + barTickGap + barTickW + barLabelGap + barLabelSty.Height("Ag") + pad
	left := dc.Min.X + pad + axisH + 6 + nameW + 6

	// Matrix size: horizontal predicted names if each fits in 85% of a cell
	// (closer reads as one run of words), else names rotated by 30°.
	var cell, xNameH vg.Length
	var xRot float64
	for _, rot := range []float64{0, math.Pi / 6} {
		xRot, xNameH = rot, 0
		for _, s := range shown {
			h := nameH
			if rot != 0 {
				h = tickSty.Width(s)*vg.Length(math.Sin(rot)) + nameH*vg.Length(math.Cos(rot))
			}
			xNameH = max(xNameH, h)
		}
		bottom := dc.Min.Y + pad + axisH + 6 + xNameH + 6
		cell = min(dc.Max.X-barRight-left, top-bottom) / vg.Length(n)
		fits := true
		for _, s := range shown {
			fits = fits && tickSty.Width(s) <= 0.85*cell
		}
		if fits {
			break
		}
	}
	if cell <= 0 {
		return
	}
	side := cell * vg.Length(n)
	// Centre the matrix and its colour bar in the free width.
	free := dc.Max.X - barRight - left - side
	x0 := left + free/2
	y0 := top - side

	// Cells.
	cellSty := textStyle(11, true, color.Black)
	pctSty := textStyle(10, false, color.Black)
	countW, pctW := vg.Length(0), pctSty.Width("100.0%")
	for _, row := range cm {
		for _, v := range row {
			countW = max(countW, cellSty.Width(strconv.Itoa(v)))
		}
	}
	for cellSty.Font.Size > 5 && (max(countW, pctW) > 0.86*cell ||
		cellSty.FontExtents().Height+pctSty.FontExtents().Height > 0.78*cell) {
		r := (cellSty.Font.Size - 0.5) / cellSty.Font.Size
		cellSty.Font.Size -= 0.5
		pctSty.Font.Size = cellSty.Font.Size * 10 / 11
		countW *= r
		pctW = pctSty.Width("100.0%")
	}
	drawText := cellSty.Font.Size > 5
	lineH := cellSty.FontExtents().Height

	for i, row := range cm {
		sum := 0
		for _, v := range row {
			sum += v
		}
		for j, v := range row {
			r := vg.Rectangle{
				Min: vg.Point{X: x0 + vg.Length(j)*cell, Y: y0 + vg.Length(n-1-i)*cell},
			}
			r.Max = vg.Point{X: r.Min.X + cell, Y: r.Min.Y + cell}
			fill, pct := colEmptyRow, "–"
			if sum > 0 {
				f := float64(v) / float64(sum)
				fill, pct = blues(f), strconv.FormatFloat(100*f, 'f', 1, 64)+"%"
			}
			dc.SetColor(fill)
			dc.Fill(r.Path())
			if !drawText {
				continue
			}
			tc := textOn(fill)
			cs, ps := aligned(cellSty, draw.XCenter, draw.YCenter), aligned(pctSty, draw.XCenter, draw.YCenter)
			cs.Color, ps.Color = tc, tc
			mid := vg.Point{X: (r.Min.X + r.Max.X) / 2, Y: (r.Min.Y + r.Max.Y) / 2}
			dc.FillText(cs, vg.Point{X: mid.X, Y: mid.Y + lineH*0.5}, strconv.Itoa(v))
			dc.FillText(ps, vg.Point{X: mid.X, Y: mid.Y - lineH*0.5}, pct)
		}
	}
	// Thin white grid between cells and a frame around the matrix.
	gridSty := draw.LineStyle{Color: color.White, Width: vg.Points(1)}
	for k := 1; k < n; k++ {
		o := vg.Length(k) * cell
		dc.StrokeLine2(gridSty, x0+o, y0, x0+o, y0+side)
		dc.StrokeLine2(gridSty, x0, y0+o, x0+side, y0+o)
	}
	frame := vg.Rectangle{Min: vg.Point{X: x0, Y: y0}, Max: vg.Point{X: x0 + side, Y: y0 + side}}
	dc.SetLineStyle(draw.LineStyle{Color: colGrey, Width: vg.Points(0.8)})
	dc.Stroke(frame.Path())

	// Class names: true labels on the left, predicted labels below.
	ySty := aligned(tickSty, draw.XRight, draw.YCenter)
	for i, s := range shown {
		dc.FillText(ySty, vg.Point{X: x0 - 6, Y: y0 + side - (vg.Length(i)+0.5)*cell}, s)
	}
	xSty := aligned(tickSty, draw.XCenter, draw.YTop)
	if xRot != 0 {
		xSty = aligned(tickSty, draw.XRight, draw.YCenter)
		xSty.Rotation = xRot
	}
	for j, s := range shown {
		at := vg.Point{X: x0 + (vg.Length(j)+0.5)*cell, Y: y0 - 6}
		if xRot != 0 {
			// Hang the rotated name from its tick: its right end sits just
			// below the matrix, centred on the column.
			at.Y -= nameH / 2 * vg.Length(math.Cos(xRot))
			at.X += nameH / 2 * vg.Length(math.Sin(xRot))
		}
		dc.FillText(xSty, at, s)
	}

	// Axis titles.
	dc.FillText(aligned(axisSty, draw.XCenter, draw.YTop),
		vg.Point{X: x0 + side/2, Y: y0 - 6 - xNameH - 6}, "Predicted label")
	ySty2 := aligned(axisSty, draw.XCenter, draw.YBottom)
	ySty2.Rotation = math.Pi / 2
	dc.FillText(ySty2, vg.Point{X: x0 - 6 - nameW - 6, Y: y0 + side/2}, "True label")

	// Colour bar with 0–100 % ticks.
	bx := x0 + side + barGap
	const slices = 128
	for k := 0; k < slices; k++ {
		ya := y0 + side*vg.Length(k)/slices
		yb := y0 + side*vg.Length(k+1)/slices
		r := vg.Rectangle{Min: vg.Point{X: bx, Y: ya}, Max: vg.Point{X: bx + barW, Y: yb + 0.3}}
		dc.SetColor(blues((float64(k) + 0.5) / slices))
		dc.Fill(r.Path())
	}
	dc.SetLineStyle(draw.LineStyle{Color: colGrey, Width: vg.Points(0.6)})
	dc.Stroke(vg.Rectangle{Min: vg.Point{X: bx, Y: y0}, Max: vg.Point{X: bx + barW, Y: y0 + side}}.Path())
	bts := aligned(barTickSty, draw.XLeft, draw.YCenter)
	tickLine := draw.LineStyle{Color: colGrey, Width: vg.Points(0.6)}
	for _, p := range []int{0, 20, 40, 60, 80, 100} {
		y := y0 + side*vg.Length(p)/100
		dc.StrokeLine2(tickLine, bx+barW, y, bx+barW+3, y)
		dc.FillText(bts, vg.Point{X: bx + barW + barTickGap, Y: y}, strconv.Itoa(p)+"%")
	}
	bls := aligned(barLabelSty, draw.XCenter, draw.YTop)
	bls.Rotation = math.Pi / 2
	// Rotated a quarter turn, YTop makes the label extend right of its anchor.
	dc.FillText(bls, vg.Point{X: bx + barW + barTickGap + barTickW + barLabelGap, Y: y0 + side/2},
		"share of true-label row")
}
