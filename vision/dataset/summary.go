package dataset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// SplitCounts are the images per class of one row group of the summary.
type SplitCounts struct {
	Name   string // "Train", "Val", "Test" or "Total"
	Counts []int  // per label
}

// Total is the number of images.
func (s SplitCounts) Total() int {
	t := 0
	for _, n := range s.Counts {
		t += n
	}
	return t
}

// Summary is the researcher's data-set summary: per split and in total, the count and
// proportion of every grade (No DR … Ungradable, empty grades included).
type Summary struct {
	Splits []SplitCounts // in display order, without the total
	Total  SplitCounts
}

// NewSummary builds a summary from per-split counts; every split is padded to at least the six
// grades (and to the longest split), and the Total row group is their sum.
func NewSummary(splits ...SplitCounts) *Summary {
	n := len(GradeNames)
	for _, s := range splits {
		n = max(n, len(s.Counts))
	}
	s := &Summary{Total: SplitCounts{Name: "Total", Counts: make([]int, n)}}
	for _, sp := range splits {
		c := make([]int, n)
		copy(c, sp.Counts)
		for i, v := range c {
			s.Total.Counts[i] += v
		}
		s.Splits = append(s.Splits, SplitCounts{Name: sp.Name, Counts: c})
	}
	return s
}

// SummaryOf summarises loaded splits (e.g. train, val and, when present, test).
func SummaryOf(sets ...*Dataset) *Summary {
	var sp []SplitCounts
	for _, d := range sets {
		sp = append(sp, SplitCounts{Name: titleCase(d.Split), Counts: d.ClassCounts})
	}
	return NewSummary(sp...)
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// groups is the row groups in display order, the total last.
func (s *Summary) groups() []SplitCounts {
	return append(append([]SplitCounts(nil), s.Splits...), s.Total)
}

// proportion is count/total as a percentage string with two decimals, like the researcher's
// "49.72%" (0.00% for an empty split).
func proportion(count, total int) string {
	if total == 0 {
		return "0.00%"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(count)/float64(total))
}

// WriteTable writes the summary in the layout of the researcher's table (a pandas DataFrame
// print: an index restarting at 0 for each split, right-aligned columns Dataset, Category,
// Count, Proportion under a "Dataset Summary:" title), followed by the imbalance line.
func (s *Summary) WriteTable(w io.Writer) error {
	// pandas prints object columns with a leading space and integers with a sign column,
	// which is what makes its column widths; reproduce the cells, then let tablewriter align.
	var rows [][]string
	for _, g := range s.groups() {
		total := g.Total()
		for c, n := range g.Counts {
			rows = append(rows, []string{strconv.Itoa(c), " " + g.Name, " " + GradeName(c),
				" " + fmt.Sprintf("% d", n), " " + proportion(n, total)})
		}
	}
	var buf bytes.Buffer
	buf.WriteString("Dataset Summary:\n")
	t := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbolCustom("pandas").WithColumn(" "),
			Settings: tw.Settings{
				Separators: tw.Separators{ShowHeader: tw.Off, ShowFooter: tw.Off, BetweenRows: tw.Off, BetweenColumns: tw.On},
				Lines:      tw.Lines{ShowTop: tw.Off, ShowBottom: tw.Off, ShowHeaderLine: tw.Off, ShowFooterLine: tw.Off},
			},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithTrimSpace(tw.Off),
		tablewriter.WithPadding(tw.PaddingNone),
		tablewriter.WithHeaderAlignment(tw.AlignRight),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{
			PerColumn: []tw.Align{tw.AlignLeft, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight}}),
	)
	t.Header([]string{"", "Dataset", "Category", "Count", "Proportion"})
	if err := t.Bulk(rows); err != nil {
		return err
	}
	if err := t.Render(); err != nil {
		return err
	}
	buf.WriteString(s.ImbalanceLine())
	buf.WriteString("\n")
	_, err := w.Write(buf.Bytes())
	return err
}

// Table is WriteTable into a string.
func (s *Summary) Table() string {
	var b bytes.Buffer
	if err := s.WriteTable(&b); err != nil {
		return "dataset: rendering the summary failed: " + err.Error()
	}
	return b.String()
}

// Imbalance is the ratio of the largest to the smallest non-empty class of one row group.
type Imbalance struct {
	Split    string  `json:"split"`
	Ratio    float64 `json:"ratio"` // 0 when no class has images
	Largest  int     `json:"largest_label"`
	Smallest int     `json:"smallest_label"`
}

// Imbalances gives the imbalance of every split and of the total, in display order.
func (s *Summary) Imbalances() []Imbalance {
	var out []Imbalance
	for _, g := range s.groups() {
		im := Imbalance{Split: g.Name, Largest: -1, Smallest: -1}
		for c, n := range g.Counts {
			if n == 0 {
				continue
			}
			if im.Largest < 0 || n > g.Counts[im.Largest] {
				im.Largest = c
			}
			if im.Smallest < 0 || n < g.Counts[im.Smallest] {
				im.Smallest = c
			}
		}
		if im.Largest >= 0 {
			im.Ratio = float64(g.Counts[im.Largest]) / float64(g.Counts[im.Smallest])
		}
		out = append(out, im)
	}
	return out
}

// ImbalanceLine is one line: largest/smallest non-empty class ratio per split and in total.
func (s *Summary) ImbalanceLine() string {
	var parts []string
	for i, im := range s.Imbalances() {
		if im.Largest < 0 {
			parts = append(parts, im.Split+" (no images)")
			continue
		}
		g := s.groups()[i]
		parts = append(parts, fmt.Sprintf("%s %.2f (%s %d / %s %d)", im.Split, im.Ratio,
			GradeName(im.Largest), g.Counts[im.Largest], GradeName(im.Smallest), g.Counts[im.Smallest]))
	}
	return "Imbalance (largest / smallest non-empty class): " + strings.Join(parts, ", ")
}

type jsonCategory struct {
	Label      int     `json:"label"`
	Category   string  `json:"category"`
	Count      int     `json:"count"`
	Proportion float64 `json:"proportion"` // fraction of the split, 0..1
}

type jsonGroup struct {
	Dataset    string         `json:"dataset"`
	Total      int            `json:"total"`
	Categories []jsonCategory `json:"categories"`
}

// MarshalJSON gives {"datasets": [per split and "Total": counts and proportions], "imbalance": [...]}.
func (s *Summary) MarshalJSON() ([]byte, error) {
	var gs []jsonGroup
	for _, g := range s.groups() {
		total := g.Total()
		jg := jsonGroup{Dataset: g.Name, Total: total, Categories: []jsonCategory{}}
		for c, n := range g.Counts {
			p := 0.0
			if total > 0 {
				p = float64(n) / float64(total)
			}
			jg.Categories = append(jg.Categories, jsonCategory{Label: c, Category: GradeName(c), Count: n, Proportion: p})
		}
		gs = append(gs, jg)
	}
	return json.Marshal(struct {
		Datasets  []jsonGroup `json:"datasets"`
		Imbalance []Imbalance `json:"imbalance"`
	}{gs, s.Imbalances()})
}
