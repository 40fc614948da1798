package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Data-set formats (--data_format).
const (
	FormatAuto   = ""       // detect from the files under data_path
	FormatDDR    = "ddr"    // <split>/ + <split>.txt with `image_name label` lines (the researcher's)
	FormatCSV    = "csv"    // <split>.csv or <split>Labels.csv + <split>/ or <split>_images/ (EyePACS, APTOS, IDRiD, Messidor)
	FormatFolder = "folder" // <split>/<class>/<image> (torchvision.datasets.ImageFolder)
)

// Formats lists the --data_format values.
var Formats = []string{FormatDDR, FormatCSV, FormatFolder}

// Options says how a data set is stored: its --data_format and, for CSV label files, which
// columns hold the image and the label and which extension the image names lack. The zero
// value auto-detects everything, and reads a DDR data set exactly as Load does.
type Options struct {
	Format   string // "", "ddr", "csv" or "folder"
	ImageCol string // CSV column of the image name ("": detected from the header)
	LabelCol string // CSV column of the grade ("": detected from the header)
	ImageExt string // extension appended to CSV image names that lack it, e.g. ".jpeg" ("": detected per image)
}

// Source is where one split's labels and images are.
type Source struct {
	Format    string // ddr, csv or folder
	LabelFile string // the .txt or .csv label file; for folder, the split directory
	Dir       string // the image directory (for folder, the directory of the class folders)
}

// csvLabelNames are the label-file names tried for a split in the CSV layout, in order:
// <split>.csv (APTOS's train.csv) and <split>Labels.csv (EyePACS's trainLabels.csv).
func csvLabelNames(split string) []string { return []string{split + ".csv", split + "Labels.csv"} }

// csvImageDirs are the image directories tried for a split in the CSV layout: <split>/
// (EyePACS's train/) and <split>_images/ (APTOS's train_images/).
func csvImageDirs(split string) []string { return []string{split, split + "_images"} }

// candidates lists, for one split, every format whose files are present under dataPath, with
// the source each would read.
func candidates(dataPath, split string) []Source {
	var out []Source
	dir := filepath.Join(dataPath, split)
	txt := filepath.Join(dataPath, split+".txt")
	if isDir(dir) && isFile(txt) {
		out = append(out, Source{Format: FormatDDR, LabelFile: txt, Dir: dir})
	}
	csvFile := ""
	for _, n := range csvLabelNames(split) {
		if p := filepath.Join(dataPath, n); isFile(p) {
			csvFile = p
			break
		}
	}
	if csvFile != "" {
		for _, d := range csvImageDirs(split) {
			if p := filepath.Join(dataPath, d); isDir(p) {
				out = append(out, Source{Format: FormatCSV, LabelFile: csvFile, Dir: p})
				break
			}
		}
	}
	if !isFile(txt) && csvFile == "" && len(classDirs(dir)) > 0 {
		out = append(out, Source{Format: FormatFolder, LabelFile: dir, Dir: dir})
	}
	return out
}

// DetectFormat is the --data_format of the data set at dataPath: o.Format when set, else the
// one format whose files are present for any of train, val and test. It is an error when the
// files of more than one format are present. When none is, it answers ddr, so that a data set
// with missing parts gets Load's messages.
func (o Options) DetectFormat(dataPath string) (string, error) {
	switch o.Format {
	case FormatDDR, FormatCSV, FormatFolder:
		return o.Format, nil
	case FormatAuto:
	default:
		return "", fmt.Errorf("dataset: --data_format %q: want one of %s", o.Format, strings.Join(Formats, ", "))
	}
	found := map[string][]string{} // format → files that show it
	for _, s := range KnownSplits {
		for _, c := range candidates(dataPath, s) {
			found[c.Format] = append(found[c.Format], c.LabelFile)
		}
	}
	if len(found) > 1 {
		var parts []string
		for _, f := range Formats {
			if files, ok := found[f]; ok {
				parts = append(parts, fmt.Sprintf("%s (%s)", f, strings.Join(files, ", ")))
			}
		}
		return "", fmt.Errorf("dataset: %s holds the files of more than one data format: %s; pass --data_format %s",
			dataPath, strings.Join(parts, " and "), strings.Join(Formats, "|"))
	}
	for f := range found {
		return f, nil
	}
	return FormatDDR, nil
}

// Locate finds split's label file and image directory in format (detected when o.Format is
// empty). For csv it is an error when both image directories exist.
func (o Options) Locate(dataPath, split string) (Source, error) {
	format, err := o.DetectFormat(dataPath)
	if err != nil {
		return Source{}, err
	}
	dir := filepath.Join(dataPath, split)
	switch format {
	case FormatFolder:
		return Source{Format: format, LabelFile: dir, Dir: dir}, nil
	case FormatCSV:
		src := Source{Format: format}
		var files []string
		for _, n := range csvLabelNames(split) {
			if p := filepath.Join(dataPath, n); isFile(p) {
				files = append(files, p)
			}
		}
		if len(files) > 1 {
			return src, fmt.Errorf("dataset: the %s split has two label files, %s and %s: keep one", split, files[0], files[1])
		}
		if len(files) == 1 {
			src.LabelFile = files[0]
		}
		var dirs []string
		for _, d := range csvImageDirs(split) {
			if p := filepath.Join(dataPath, d); isDir(p) {
				dirs = append(dirs, p)
			}
		}
		if len(dirs) > 1 {
			return src, fmt.Errorf("dataset: the %s split has two image directories, %s and %s: keep one", split, dirs[0], dirs[1])
		}
		if len(dirs) == 1 {
			src.Dir = dirs[0]
		}
		return src, nil
	}
	return Source{Format: FormatDDR, LabelFile: filepath.Join(dataPath, split+".txt"), Dir: dir}, nil
}

// Splits lists which of train, val and test are present under dataPath in its format.
func (o Options) Splits(dataPath string) ([]string, error) {
	format, err := o.DetectFormat(dataPath)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range KnownSplits {
		for _, c := range candidates(dataPath, s) {
			if c.Format == format {
				out = append(out, s)
				break
			}
		}
	}
	return out, nil
}

// Load reads split of the data set at dataPath in o's format; for ddr it is the package's Load.
func (o Options) Load(dataPath, split string, numClasses int) (*Dataset, error) {
	src, err := o.Locate(dataPath, split)
	if err != nil {
		return nil, err
	}
	return o.LoadSource(src, split, numClasses)
}

// LoadSource reads one labelled set from src (any label file and image directory, e.g. the
// single set `drgrade split` divides), checking labels against numClasses like Load.
func (o Options) LoadSource(src Source, split string, numClasses int) (*Dataset, error) {
	if numClasses < 1 {
		return nil, fmt.Errorf("dataset: --num_classes must be at least 1, got %d", numClasses)
	}
	switch src.Format {
	case FormatCSV:
		return o.loadCSV(src, split, numClasses)
	case FormatFolder:
		return loadFolder(src, split, numClasses)
	}
	return loadLabelFile(src, split, numClasses)
}

// finish sorts the problems and returns them as an *Error, or counts the distinct labels.
func finish(d *Dataset, e *Error) (*Dataset, error) {
	if len(e.Problems) > 0 {
		sort.SliceStable(e.Problems, func(i, j int) bool { return e.Problems[i].less(e.Problems[j]) })
		return nil, e
	}
	for _, n := range d.ClassCounts {
		if n > 0 {
			d.NumClass++
		}
	}
	return d, nil
}

// dirListing is the set of names in dir (nil when it cannot be read): looking an image up in
// it costs no system call, which matters for 35,126 EyePACS names tried with several extensions.
func dirListing(dir string) map[string]bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	m := make(map[string]bool, len(ents))
	for _, e := range ents {
		m[e.Name()] = true
	}
	return m
}

// exists reports whether name (relative to dir) is a regular file, using the listing for
// plain names.
func exists(dir, name string, listing map[string]bool) bool {
	if listing != nil && !strings.ContainsAny(name, `/\`) && !filepath.IsAbs(name) {
		if !listing[name] {
			return false
		}
	}
	return isFile(join(dir, name))
}

// LoadSet reads one labelled set for `drgrade split`: path is a label file (.csv: csv, else
// ddr; images in imageDir, or beside the file when imageDir is empty), a data set folder
// (its split, in its format), or an ImageFolder root (grade folders directly under path).
func (o Options) LoadSet(path, split, imageDir string, numClasses int) (*Dataset, error) {
	if isFile(path) {
		src := Source{Format: o.Format, LabelFile: path, Dir: imageDir}
		if src.Format == FormatAuto {
			src.Format = FormatDDR
			if strings.EqualFold(filepath.Ext(path), ".csv") {
				src.Format = FormatCSV
			}
		}
		if src.Format == FormatFolder {
			return nil, fmt.Errorf("dataset: %s is a file, but --data_format folder reads a folder of grade folders", path)
		}
		if src.Dir == "" {
			src.Dir = filepath.Dir(path)
		}
		return o.LoadSource(src, split, numClasses)
	}
	if !isDir(path) {
		return nil, fmt.Errorf("dataset: %s is neither a label file nor a folder", path)
	}
	splits, err := o.Splits(path)
	if err != nil {
		return nil, err
	}
	for _, s := range splits {
		if s == split {
			return o.Load(path, split, numClasses)
		}
	}
	if (o.Format == FormatAuto || o.Format == FormatFolder) && len(splits) == 0 && len(classDirs(path)) > 0 {
		return o.LoadSource(Source{Format: FormatFolder, LabelFile: path, Dir: path}, split, numClasses)
	}
	return nil, fmt.Errorf("dataset: %s has no %s split (found: %s) and is not a folder of grade folders; "+
		"pass a label file (.csv or .txt) with --image_dir, or --split", path, split, strings.Join(splits, ", "))
}
