package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/preprocess"
)

// runPrepare is `drgrade prepare`: a resized, optionally preprocessed copy of a data set.
func runPrepare(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("prepare", "--data_path P --out Q [--size 512] [--preprocess crop,graham] [--format jpg|png]", stdout, stderr)
	var o preprocess.PrepareOptions
	fs.StringVar(&o.Source, "data_path", "data/DDR5", "the data set to copy (any --data_format)")
	fs.StringVar(&o.Out, "out", "", "the prepared copy: Q/<split>/, Q/<split>.txt (the DDR layout) and Q/prepare.json")
	fs.IntVar(&o.Size, "size", 512, "resize the shorter side (after --preprocess crop: the square field) to this many pixels")
	pre := fs.String("preprocess", "", preprocessHelp)
	fs.StringVar(&o.Format, "format", "jpg", "jpg or png")
	fs.IntVar(&o.JPEGQuality, "jpeg_quality", 95, "JPEG quality of --format jpg")
	fs.IntVar(&o.Workers, "workers", 0, "images prepared at once (0: one per CPU)")
	numClasses := fs.Int("num_classes", 6, "labels must lie in [0, num_classes)")
	quiet := fs.Bool("quiet", false, "no progress bar (automatic when stderr is not a terminal)")
	th := preprocess.DefaultQuality
	quality := fs.Bool("quality", false, "also grade every source image (as summary --quality) into Q/quality.csv; none is left out for it")
	fs.Float64Var(&th.MinBrightness, "min_brightness", th.MinBrightness, "--quality: a field whose mean grey is below this is dark")
	fs.Float64Var(&th.MinSharpness, "min_sharpness", th.MinSharpness, "--quality: a picture whose variance of the Laplacian is below this is blurry")
	var format dataset.Options
	dataFormatFlags(fs, &format)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	chain, err := preprocess.Parse(*pre)
	if err != nil {
		return usageError{err}
	}
	o.Chain = chain
	if *quality {
		o.Quality = &th
	}
	splits, err := format.Splits(o.Source)
	if err != nil {
		return usageError{err}
	}
	if len(splits) == 0 {
		return noSplits(o.Source, format)
	}
	var sets []*dataset.Dataset
	total := 0
	for _, s := range splits {
		d, err := format.Load(o.Source, s, *numClasses)
		if err != nil {
			return usageError{err}
		}
		sets = append(sets, d)
		total += len(d.Paths)
	}
	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); ok && !*quiet && term.IsTerminal(int(f.Fd())) {
		bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(stderr), progressbar.OptionSetWidth(25),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetDescription("prepare"),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }))
	}
	var done atomic.Int64
	start := time.Now()
	rec, err := preprocess.Prepare(sets, o, func() {
		done.Add(1)
		if bar != nil {
			_ = bar.Add(1)
		}
	})
	if err != nil {
		return usageError{err}
	}
	var per []string
	for _, s := range splits {
		per = append(per, fmt.Sprintf("%s %d", s, rec.Splits[s]))
	}
	fmt.Fprintf(stdout, "prepared %d images in %.1fs into %s (%s; %d kept from an earlier run), %s, preprocess %s, %s\n",
		done.Load(), time.Since(start).Seconds(), o.Out, strings.Join(per, ", "), rec.Reused, rec.Resize, rec.Preprocess, rec.Format)
	if rec.Quality != nil {
		var counts []string
		for _, v := range preprocess.Verdicts {
			counts = append(counts, fmt.Sprintf("%s %d", v, rec.Quality[v]))
		}
		fmt.Fprintf(stdout, "quality of the source images (%s/quality.csv): %s\n", o.Out, strings.Join(counts, ", "))
	}
	if len(rec.Failed) > 0 {
		fmt.Fprintf(stdout, "%d images left out (listed in %s/prepare.json):\n", len(rec.Failed), o.Out)
		for _, f := range rec.Failed {
			fmt.Fprintln(stdout, "  "+f)
		}
	}
	return nil
}
