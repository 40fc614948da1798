package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/drgrade/drgrade/vision/dataset"
)

// splitRule is recorded in split.json and printed by --help.
const splitRule = "scikit-learn's train_test_split(range(n), test_size=F, stratify=labels, random_state=seed), exactly: " +
	"with --test, the test part first, then --val/(1-test) of the rest, both calls with --seed"

// runSplit is `drgrade split`: divide one labelled set into train/val(/test), stratified and
// seeded, written as a DDR data set so that a run on it is reproducible.
func runSplit(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("split", "--data_path P --out Q [--val 0.2] [--test F] [--seed S] [--split train] [--image_dir D] [--write ddr|csv]", stdout, stderr)
	dataPath := fs.String("data_path", "", "the labelled set: a label file (.csv or .txt; images in --image_dir, else beside it), "+
		"a data set folder (its --split), or a folder of grade folders")
	out := fs.String("out", "", "new folder: train.txt, val.txt (test.txt), train/ val/ (test/) linking to the images, split.json")
	val := fs.Float64("val", 0.2, "fraction of the set held out for val")
	test := fs.Float64("test", 0, "fraction of the set held out for test (0: none)")
	seed := fs.Uint("seed", 1, "seed (numpy RandomState, as sklearn's random_state): the same flags write the same files")
	split := fs.String("split", "train", "which split of a data set folder is divided")
	imageDir := fs.String("image_dir", "", "the images of a label file given as --data_path (default: the file's folder)")
	numClasses := fs.Int("num_classes", 5, "labels must lie in [0, num_classes)")
	layout := fs.String("write", dataset.FormatDDR, "the layout written: ddr (<part>.txt label files) or csv (<part>.csv, image,level)")
	var format dataset.Options
	dataFormatFlags(fs, &format)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case *dataPath == "" || *out == "":
		return usagef("--data_path and --out are required")
	case *seed > 1<<32-1:
		return usagef("--seed must lie in 0..4294967295 (numpy's RandomState), got %d", *seed)
	case !(*val > 0 && *val < 1) || *test < 0 || *test >= 1:
		return usagef("--val must lie in (0, 1) and --test in [0, 1), got %g and %g", *val, *test)
	}
	// --out inside the input folder would, among other things, become a grade folder of it.
	for _, in := range []string{*dataPath, *imageDir} {
		if a, b := absPath(in), absPath(*out); in != "" && (a == b || strings.HasPrefix(b, a+string(filepath.Separator))) {
			return usagef("--out %s is inside the input %s: choose a folder outside it", *out, in)
		}
	}
	d, err := format.LoadSet(*dataPath, *split, *imageDir, *numClasses)
	if err != nil {
		return usageError{err}
	}
	tr, va, te, err := dataset.SplitIndices(d.Labels, *val, *test, uint32(*seed))
	if err != nil {
		return usagef("split of %s: %v", d.LabelFile, err)
	}
	parts := map[string][]int{"train": tr, "val": va}
	if *test > 0 {
		parts["test"] = te
	}
	if *layout != dataset.FormatDDR && *layout != dataset.FormatCSV {
		return usagef("--write %q: want ddr or csv", *layout)
	}
	meta := dataset.SplitFile{Source: absPath(d.LabelFile), Format: d.Format, Layout: *layout, Seed: uint32(*seed), Val: *val, Test: *test, Rule: splitRule}
	if err := dataset.WriteSplit(*out, d, parts, meta); err != nil {
		return usageError{err}
	}
	fmt.Fprintf(stdout, "split %d images of %s (%s) into %s: train %d, val %d", d.Len(), d.LabelFile, d.Format, *out, len(tr), len(va))
	if *test > 0 {
		fmt.Fprintf(stdout, ", test %d", len(te))
	}
	fmt.Fprintln(stdout)
	return nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}
