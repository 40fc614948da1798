package dataset

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
)

// GradeNames are the researcher's category names, indexed by label.
var GradeNames = []string{"No DR", "Mild", "Moderate", "Severe", "Proliferative", "Ungradable"}

// GradeName is the name of label c ("class 7" beyond the six grades).
func GradeName(c int) string {
	if c >= 0 && c < len(GradeNames) {
		return GradeNames[c]
	}
	return "class " + strconv.Itoa(c)
}

// KnownSplits are the split names Load understands, in display order.
var KnownSplits = []string{"train", "val", "test"}

// ProblemKind classifies a Problem.
type ProblemKind int

// Problem kinds, in the order they are reported.
const (
	MissingSplit ProblemKind = iota // split directory or label file absent
	Empty                           // label file without entries
	Malformed                       // not `image_name label`
	BadLabel                        // label not an integer
	LabelRange                      // label outside [0, num_classes)
	Duplicate                       // image listed twice
	MissingImage                    // listed image not on disk
	Unreadable                      // image that cannot be decoded (found by CheckImages)
	TooSmall                        // image smaller than MinImageSide (found by CheckImages)
)

var kindNames = [...]string{"missing split part(s)", "empty label file", "malformed line(s)", "label(s) not an integer",
	"label(s) out of range", "duplicate image(s)", "missing image(s)", "unreadable image(s)", "image(s) too small"}

// String names the kind as Error() counts it, e.g. "missing image(s)".
func (k ProblemKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "problem"
}

// Problem is one thing wrong with a data set, located by file, line (0: the whole file) and,
// in CSV files, column (1-based byte offset in the line, as encoding/csv counts; 0: none).
type Problem struct {
	File string
	Line int
	Col  int
	Kind ProblemKind
	Msg  string
}

// String formats the problem as file:line: message (file:line:col: in CSV files; file:
// message for Line 0).
func (p Problem) String() string {
	if p.Line > 0 && p.Col > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
	}
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// less orders problems for reading: whole-file problems first, then line problems by line,
// then the (possibly many) missing or bad images by line.
func (p Problem) less(q Problem) bool {
	rank := func(x Problem) int {
		switch {
		case x.Line == 0:
			return 0
		case x.Kind >= MissingImage:
			return 2
		}
		return 1
	}
	if rank(p) != rank(q) {
		return rank(p) < rank(q)
	}
	return p.Line < q.Line
}

// Error lists every problem found while loading one split.
type Error struct {
	Split    string
	Listed   int // well-formed label-file entries (the denominator of the missing-image count)
	Problems []Problem
}

// maxListed bounds how many problems of one kind Error() spells out; Problems keeps all.
const maxListed = 100

// Error counts the problems by kind and lists them, at most maxListed of each kind.
func (e *Error) Error() string {
	counts := map[ProblemKind]int{}
	for _, p := range e.Problems {
		counts[p.Kind]++
	}
	var parts []string
	for k := MissingSplit; k <= TooSmall; k++ {
		n := counts[k]
		switch {
		case n == 0:
		case k == MissingImage:
			parts = append(parts, fmt.Sprintf("%d of %d listed images missing", n, e.Listed))
		default:
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "dataset: %s split has %d problem(s): %s", e.Split, len(e.Problems), strings.Join(parts, ", "))
	listed := map[ProblemKind]int{}
	for _, p := range e.Problems {
		listed[p.Kind]++
		if listed[p.Kind] <= maxListed {
			b.WriteString("\n  ")
			b.WriteString(p.String())
		} else if listed[p.Kind] == maxListed+1 {
			fmt.Fprintf(&b, "\n  ... and %d more: %s", counts[p.Kind]-maxListed, p.Kind)
		}
	}
	return b.String()
}

// Dataset is one split: the images and labels of data_path/<split>.txt.
type Dataset struct {
	Split       string   // "train", "val" or "test"
	Format      string   // ddr, csv or folder
	Dir         string   // data_path/<split> (csv: the image directory)
	LabelFile   string   // data_path/<split>.txt (csv: the .csv file; folder: the split directory)
	Names       []string // image names as listed (csv: with the extension found; folder: class/file)
	Paths       []string // Dir joined with each name (os.path.join semantics)
	Lines       []int    // the label-file line of each image (1-based; 0 for folder), for messages
	Labels      []int
	NumClasses  int   // the num_classes Load checked labels against
	NumClass    int   // distinct labels present (DR_Grading_Dataset.num_class)
	ClassCounts []int // images per label, length NumClasses
}

// Len is the number of images.
func (d *Dataset) Len() int { return len(d.Paths) }

// FoundMessage is the line the original prints after loading a split.
func (d *Dataset) FoundMessage() string {
	return fmt.Sprintf("%d images were found in the dataset.", len(d.Paths))
}

// CheckNumClasses is the training script's check `if args.num_classes != train_dataset.num_class:
// raise ValueError("dataset has {} classes, but input {}")`, applied (like the original) to
// the training split only, with a message that says what is wrong and what to do.
func (d *Dataset) CheckNumClasses() error {
	if d.NumClass == d.NumClasses {
		return nil
	}
	var empty, present []string
	for c, n := range d.ClassCounts {
		if n == 0 {
			empty = append(empty, fmt.Sprintf("%d (%s)", c, GradeName(c)))
		} else {
			present = append(present, fmt.Sprintf("%d (%s)", c, GradeName(c)))
		}
	}
	return fmt.Errorf("dataset: %s has images of %d classes (%s) but --num_classes is %d, so class(es) %s "+
		"would have no training images. The original script stops here too (\"dataset has %d classes, but input %d\"). "+
		"Add training images of the missing classes, or pass --num_classes %d after relabelling the classes as 0..%d",
		d.LabelFile, d.NumClass, strings.Join(present, ", "), d.NumClasses, strings.Join(empty, ", "),
		d.NumClass, d.NumClasses, d.NumClass, d.NumClass-1)
}

// Splits lists which of train, val and test exist under dataPath (directory and label file).
func Splits(dataPath string) []string {
	var out []string
	for _, s := range KnownSplits {
		if isDir(filepath.Join(dataPath, s)) && isFile(filepath.Join(dataPath, s+".txt")) {
			out = append(out, s)
		}
	}
	return out
}

// Load reads split ("train", "val" or "test") of the data set at dataPath in the DDR layout
// and checks it against numClasses (labels must lie in [0, numClasses)). On any problem it
// returns an *Error listing all of them. Options.Load reads the other formats.
func Load(dataPath, split string, numClasses int) (*Dataset, error) {
	return Options{Format: FormatDDR}.Load(dataPath, split, numClasses)
}

// loadLabelFile reads a DDR label file (src.LabelFile) naming images in src.Dir.
func loadLabelFile(src Source, split string, numClasses int) (*Dataset, error) {
	d := &Dataset{
		Split:      split,
		Format:     FormatDDR,
		Dir:        src.Dir,
		LabelFile:  src.LabelFile,
		NumClasses: numClasses,
	}
	e := &Error{Split: split}
	dirOK := isDir(d.Dir)
	if !dirOK {
		e.Problems = append(e.Problems, Problem{File: d.Dir, Kind: MissingSplit,
			Msg: fmt.Sprintf("image directory of the %s split is missing (expected %s/)", split, d.Dir)})
	}
	data, p := readLabelFile(d.LabelFile, split, "`image_name label` lines in")
	if p != nil {
		e.Problems = append(e.Problems, *p)
		return nil, e
	}
	entries, probs := ParseLabels(data, d.LabelFile)
	e.Problems = append(e.Problems, probs...)
	d.ClassCounts = make([]int, numClasses)
	var missing []Problem
	for _, en := range entries {
		path := join(d.Dir, en.Name)
		if p := outOfRange(d.LabelFile, en, numClasses); p != nil {
			e.Problems = append(e.Problems, *p)
			continue
		}
		if dirOK && !isFile(path) {
			if first := firstField(en.Name); en.Multi && isFile(join(d.Dir, first)) {
				e.Problems = append(e.Problems, Problem{File: d.LabelFile, Line: en.Line, Kind: Malformed,
					Msg: fmt.Sprintf("expected `image_name label` but the line has %d fields: %q exists, %q does not "+
						"(a name may contain spaces only when the whole name exists)", len(strings.Fields(en.Name))+1, first, en.Name)})
			} else {
				missing = append(missing, Problem{File: d.LabelFile, Line: en.Line, Kind: MissingImage,
					Msg: fmt.Sprintf("image %q is not a file in %s", en.Name, d.Dir)})
			}
			continue
		}
		d.add(en.Name, path, en.Line, en.Label)
	}
	e.Problems = append(e.Problems, missing...)
	e.Listed = len(entries)
	return finish(d, e)
}

// readLabelFile reads a split's label file, or says why it cannot (expect: what the file
// should hold, ending in a preposition, e.g. "a CSV file").
func readLabelFile(path, split, expect string) ([]byte, *Problem) {
	data, err := os.ReadFile(path)
	if err == nil {
		return data, nil
	}
	msg := fmt.Sprintf("cannot read the label file of the %s split: %v", split, err)
	if errors.Is(err, fs.ErrNotExist) {
		msg = fmt.Sprintf("label file of the %s split is missing (expected %s %s)", split, expect, path)
	}
	return nil, &Problem{File: path, Kind: MissingSplit, Msg: msg}
}

// outOfRange is the problem of an entry whose label lies outside [0, numClasses), or nil.
func outOfRange(file string, en Entry, numClasses int) *Problem {
	if en.Label >= 0 && en.Label < numClasses {
		return nil
	}
	return &Problem{File: file, Line: en.Line, Kind: LabelRange,
		Msg: fmt.Sprintf("label %d of %q is outside 0..%d (--num_classes %d)", en.Label, en.Name, numClasses-1, numClasses)}
}

// add appends one image.
func (d *Dataset) add(name, path string, line, label int) {
	d.Names = append(d.Names, name)
	d.Paths = append(d.Paths, path)
	d.Lines = append(d.Lines, line)
	d.Labels = append(d.Labels, label)
	d.ClassCounts[label]++
}

// join mirrors os.path.join(dir, name): an absolute name replaces dir.
func join(dir, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}

func firstField(s string) string {
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		return s[:i]
	}
	return s
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
