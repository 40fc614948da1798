package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/synth"
)

// runSummary is `drgrade summary`: the researcher's class table for a data set.
func runSummary(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("summary", "--data_path P [--num_classes N] [--json] [--quality [--quality_out DIR]]", stdout, stderr)
	dataPath := fs.String("data_path", "data/DDR5", "data set folder with train/, val/ (and test/) and their .txt label files")
	numClasses := fs.Int("num_classes", 6, "labels must lie in [0, num_classes) (6: the DDR grades including Ungradable)")
	asJSON := fs.Bool("json", false, "print JSON instead of the table")
	var format dataset.Options
	dataFormatFlags(fs, &format)
	var quality qualityFlags
	addQualityFlags(fs, &quality)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *asJSON && quality.on {
		return usagef("--quality prints a table: use --quality_out for its CSV, without --json")
	}
	splits, err := format.Splits(*dataPath)
	if err != nil {
		return usageError{err}
	}
	if len(splits) == 0 {
		return noSplits(*dataPath, format)
	}
	var sets []*dataset.Dataset
	for _, s := range splits {
		d, err := format.Load(*dataPath, s, *numClasses)
		if err != nil {
			return usageError{err}
		}
		sets = append(sets, d)
	}
	sum := dataset.SummaryOf(sets...)
	if *asJSON {
		b, err := json.MarshalIndent(sum, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	if err := sum.WriteTable(stdout); err != nil || !quality.on {
		return err
	}
	return summaryQuality(sets, quality, stdout, stderr)
}

// runSynth is `drgrade synth`: a synthetic fundus data set in the DDR layout.
func runSynth(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("synth", "--out P [--n 1200] [--size 512] [--seed 1] [--proportions seed|uniform]", stdout, stderr)
	out := fs.String("out", "data/synth", "output folder (train/, val/, train.txt, val.txt)")
	n := fs.Int("n", 1200, "number of images")
	size := fs.Int("size", 512, "image side in pixels")
	seed := fs.Uint64("seed", 1, "seed: the same flags give byte-identical files")
	props := fs.String("proportions", "seed", "class proportions: seed (the researcher's DDR table) or uniform")
	valFrac := fs.Float64("val_fraction", 0.2, "fraction of each class put in val")
	overwrite := fs.Bool("overwrite", false, "replace an existing data set in --out")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	res, err := synth.Generate(*out, synth.Options{N: *n, Size: *size, Seed: *seed, Proportions: *props,
		ValFraction: *valFrac, Overwrite: *overwrite}, nil)
	if err != nil {
		return usageError{err}
	}
	fmt.Fprintf(stdout, "wrote %d synthetic fundus images to %s (train %v, val %v per grade)\n", res.Total(), res.Dir, res.Train, res.Val)
	return nil
}
