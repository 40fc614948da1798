package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/drgrade/drgrade/internal/atomicfile"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/preprocess"
)

// qualityFlags are summary --quality's options.
type qualityFlags struct {
	on      bool
	th      preprocess.QualityThresholds
	out     string
	worst   int
	thumb   int
	workers int
}

func addQualityFlags(fs interface {
	BoolVar(*bool, string, bool, string)
	Float64Var(*float64, string, float64, string)
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
}, q *qualityFlags) {
	q.th = preprocess.DefaultQuality
	fs.BoolVar(&q.on, "quality", false, "also grade every image's quality: field of view found, mean brightness of the field, sharpness (variance of the Laplacian); verdict good, dark, blurry, no-field or unreadable")
	fs.Float64Var(&q.th.MinBrightness, "min_brightness", q.th.MinBrightness, "--quality: a field whose mean grey is below this is dark")
	fs.Float64Var(&q.th.MinSharpness, "min_sharpness", q.th.MinSharpness, "--quality: a picture whose variance of the Laplacian is below this is blurry (depends on resolution: docs/preprocessing.md)")
	fs.StringVar(&q.out, "quality_out", "", "--quality: write quality.csv (every image) and quality_worst.png (a contact sheet of the worst) here")
	fs.IntVar(&q.worst, "worst", 12, "--quality: images listed in the table and drawn on the contact sheet, worst first")
	fs.IntVar(&q.workers, "workers", 0, "--quality: images measured at once (0: one per CPU)")
}

// summaryQuality is summary --quality: measure every image of sets, print the verdict counts
// and the worst images, and write the CSV and contact sheet to --quality_out.
func summaryQuality(sets []*dataset.Dataset, q qualityFlags, stdout, stderr io.Writer) error {
	if q.worst < 1 {
		return usagef("--worst must be at least 1, got %d", q.worst)
	}
	var rows []preprocess.QualityRow
	for _, d := range sets {
		for i, p := range d.Paths {
			rows = append(rows, preprocess.QualityRow{Path: p, Group: d.Split, Label: d.Labels[i]})
		}
	}
	preprocess.MeasureFiles(rows, q.th, q.workers, nil)
	count := map[string]int{}
	for _, r := range rows {
		count[r.Verdict]++
	}
	fmt.Fprintf(stdout, "\nImage quality (%d images; dark: field mean grey < %g, blurry: variance of the Laplacian < %g):\n", len(rows), q.th.MinBrightness, q.th.MinSharpness)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "verdict\timages\t%\t")
	for _, v := range preprocess.Verdicts {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t\n", v, count[v], 100*float64(count[v])/float64(max(len(rows), 1)))
	}
	tw.Flush()
	worst := preprocess.Worst(rows)
	fmt.Fprintf(stdout, "\nWorst %d:\n", min(q.worst, len(worst)))
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "verdict\tbrightness\tsharpness\tsplit\timage")
	for _, r := range worst[:min(q.worst, len(worst))] {
		if r.Err != nil {
			fmt.Fprintf(tw, "%s\t-\t-\t%s\t%s (%v)\n", r.Verdict, r.Group, r.Path, r.Err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.2f\t%s\t%s\n", r.Verdict, r.Brightness, r.Sharpness, r.Group, r.Path)
	}
	tw.Flush()
	if q.out == "" {
		return nil
	}
	if err := os.MkdirAll(q.out, 0o755); err != nil {
		return usageError{fmt.Errorf("--quality_out: %w", err)}
	}
	csvPath := filepath.Join(q.out, "quality.csv")
	if err := atomicfile.Write(csvPath, func(w io.Writer) error { return preprocess.WriteQualityCSV(w, rows) }); err != nil {
		return err
	}
	sheet, err := preprocess.ContactSheet(worst, q.worst, 160)
	if err != nil {
		return err
	}
	pngPath := filepath.Join(q.out, "quality_worst.png")
	if err := writePNG(pngPath, sheet); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %s and %s\n", csvPath, pngPath)
	return nil
}
