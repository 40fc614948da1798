package plot

import (
	"strings"

	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
)

// Fitting labels into the room a panel has.

// fitFont shrinks sty's font until txt fits in width, down to minSize points.
func fitFont(sty text.Style, txt string, width, minSize vg.Length) text.Style {
	for sty.Font.Size > minSize && sty.Width(txt) > width {
		sty.Font.Size -= 0.5
	}
	return sty
}

// truncateToWidth cuts txt with an ellipsis so it fits in width.
func truncateToWidth(sty text.Style, txt string, width vg.Length) string {
	if sty.Width(txt) <= width {
		return txt
	}
	r := []rune(txt)
	for len(r) > 0 && sty.Width(string(r)+"…") > width {
		r = r[:len(r)-1]
	}
	return strings.TrimSpace(string(r)) + "…"
}
