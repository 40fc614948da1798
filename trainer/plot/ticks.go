package plot

import (
	"math"
	"strconv"

	gplot "gonum.org/v1/plot"
)

// Axis tickers: whole epochs, 1-2-5 steps, scientific notation for learning rates.

// epochTicks puts major ticks on whole epochs with a 1-2-5 step so at most
// about 10 labels appear, and minor ticks on every epoch when that is not
// too dense.
type epochTicks struct{}

// Ticks implements gplot.Ticker.
func (epochTicks) Ticks(lo, hi float64) []gplot.Tick {
	span := hi - lo
	step := 1.0
search:
	for mag := 1.0; mag < 1e15; mag *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if span/(m*mag) <= 10 {
				step = m * mag
				break search
			}
		}
	}
	var ticks []gplot.Tick
	if step > 1 && span > 80 {
		for v := math.Ceil(lo/step) * step; v <= hi; v += step {
			ticks = append(ticks, gplot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
		}
		return ticks
	}
	for v := math.Ceil(lo); v <= hi; v++ {
		if math.Mod(v, step) == 0 {
			ticks = append(ticks, gplot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
		} else {
			ticks = append(ticks, gplot.Tick{Value: v})
		}
	}
	return ticks
}

// niceTicks puts about 5 labelled ticks on a 1-2-2.5-5 step; gonum's
// default often labels only 2 or 3 values on a short panel. With upTo1, no
// tick is placed above 1 (scores cannot exceed it; the axis may, to leave
// room for the legend).
type niceTicks struct{ upTo1 bool }

// Ticks implements gplot.Ticker.
func (nt niceTicks) Ticks(lo, hi float64) []gplot.Tick {
	span := hi - lo
	if !(span > 0) || !finite(span) {
		return []gplot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	// The step whose tick count is closest to 5; ties go to the finer step.
	count := func(step float64) int {
		return int(math.Floor(hi/step+1e-9) - math.Ceil(lo/step-1e-9) + 1)
	}
	step, bestDiff := span, math.MaxInt
	base := math.Pow(10, math.Floor(math.Log10(span/10)))
	for _, mag := range []float64{base, base * 10, base * 100} {
		for _, m := range []float64{1, 2, 2.5, 5} {
			if d := abs(count(m*mag) - 5); d < bestDiff {
				step, bestDiff = m*mag, d
			}
		}
	}
	prec := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	if s := step / math.Pow(10, math.Floor(math.Log10(step)+1e-9)); math.Abs(s-2.5) < 1e-9 {
		prec++
	}
	var ticks []gplot.Tick
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+1e-9*span && len(ticks) < 50; k++ {
		v := k * step
		if nt.upTo1 && v > 1+1e-9 {
			break
		}
		if math.Abs(v) < 1e-9*span {
			v = 0
		}
		ticks = append(ticks, gplot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', prec, 64)})
	}
	return ticks
}

// sciTicks labels niceTicks' positions in scientific notation
// ("2.5e-04"), with the fewest mantissa digits that keep every label exact.
type sciTicks struct{}

// Ticks implements gplot.Ticker.
func (sciTicks) Ticks(lo, hi float64) []gplot.Tick {
	ticks := niceTicks{}.Ticks(lo, hi)
	for prec := 0; prec <= 4; prec++ {
		seen := map[string]bool{}
		ok := true
		out := make([]gplot.Tick, len(ticks))
		for i, t := range ticks {
			out[i] = t
			if t.IsMinor() {
				continue
			}
			lbl := sciLabel(t.Value, prec, hi-lo)
			back, _ := strconv.ParseFloat(lbl, 64)
			// A label must read back as its tick (7.5e-04, not 8e-04).
			if seen[lbl] || math.Abs(back-t.Value) > 1e-6*(hi-lo) {
				ok = false
				break
			}
			seen[lbl] = true
			out[i].Label = lbl
		}
		if ok || prec == 4 {
			return out
		}
	}
	return ticks
}

// sciLabel formats v as "1.5e-04" ("0" for a value that is zero relative to span).
func sciLabel(v float64, prec int, span float64) string {
	if math.Abs(v) <= 1e-9*math.Abs(span) || v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'e', prec, 64)
}
