package dataset

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// imageColumns and labelColumns are the header names (compared case-insensitively, spaces
// trimmed) that the public DR sets use, as downloaded: EyePACS/Kaggle trainLabels.csv
// (image,level), APTOS 2019 train.csv (id_code,diagnosis), IDRiD and Messidor
// ("Image name","Retinopathy grade"), Messidor-2 (image_id,adjudicated_dr_grade), and
// generic names.
var (
	imageColumns = []string{"image", "id_code", "image name", "image_id", "image_name", "filename", "file", "path"}
	labelColumns = []string{"level", "diagnosis", "retinopathy grade", "adjudicated_dr_grade", "dr_grade", "label", "grade"}
)

// ImageExts are the extensions tried, in order, for a CSV image name that is not itself a file
// (EyePACS lists "10_left" for 10_left.jpeg, APTOS "000c1434d8d7" for 000c1434d8d7.png).
var ImageExts = []string{".jpeg", ".jpg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".dcm", ".JPEG", ".JPG", ".PNG", ".TIF"}

// sniffComma picks the delimiter of a CSV file from its header line: the most frequent of
// ',', ';' and tab (',' on a tie), since Messidor exports from Excel often use ';'.
func sniffComma(data []byte) rune {
	head := data
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		head = data[:i]
	}
	best, n := ',', bytes.Count(head, []byte(","))
	for _, c := range []rune{';', '\t'} {
		if k := bytes.Count(head, []byte(string(c))); k > n {
			best, n = c, k
		}
	}
	return best
}

// pickColumn finds the column named want (exact, then case-insensitive) or, when want is
// empty, the one header cell among known; it returns the index or a message.
func pickColumn(header []string, want string, known []string, what, flag string) (int, string) {
	quoted := make([]string, 0, len(header))
	for _, h := range header {
		if strings.TrimSpace(h) != "" {
			quoted = append(quoted, strconv.Quote(strings.TrimSpace(h)))
		}
	}
	cols := strings.Join(quoted, ", ")
	if want != "" {
		for i, h := range header {
			if strings.TrimSpace(h) == want {
				return i, ""
			}
		}
		for i, h := range header {
			if strings.EqualFold(strings.TrimSpace(h), want) {
				return i, ""
			}
		}
		return -1, fmt.Sprintf("%s %q is not a column of the header (columns: %s)", flag, want, cols)
	}
	var hits []int
	for i, h := range header {
		for _, k := range known {
			if strings.EqualFold(strings.TrimSpace(h), k) {
				hits = append(hits, i)
				break
			}
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], ""
	case 0:
		return -1, fmt.Sprintf("no column of the header (%s) is a known %s column (%s): pass %s", cols, what,
			strings.Join(known, ", "), flag)
	}
	return -1, fmt.Sprintf("columns %q and %q both look like the %s column: pass %s", strings.TrimSpace(header[hits[0]]),
		strings.TrimSpace(header[hits[1]]), what, flag)
}

// parseGrade parses a label cell: a decimal integer, or one with only zeros after the point
// ("2.0", as pandas writes an integer column that has a blank cell).
func parseGrade(s string) (int, error) {
	if i := strings.IndexByte(s, '.'); i > 0 && strings.Trim(s[i+1:], "0") == "" {
		s = s[:i]
	}
	return strconv.Atoi(s)
}

// csvRow is one data row of a CSV label file.
type csvRow struct {
	image, label       string
	line, imgCol, lCol int
}

// ParseCSV parses a CSV label file with a header row: the image column and the label column
// are o.ImageCol and o.LabelCol, or found among the known names. Like ParseLabels it returns
// every well-formed entry (Name as written, without an extension added) and every problem,
// located by line and column. Mirrors pandas.read_csv(file)[[image_col, label_col]] with
// int() on the label.
func (o Options) ParseCSV(data []byte, file string) ([]Entry, []Problem) {
	var entries []Entry
	var probs []Problem
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = sniffComma(data)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		msg := fmt.Sprintf("cannot read the header row: %v", err)
		if errors.Is(err, io.EOF) {
			msg = "CSV label file is empty (expected a header row naming the image and label columns)"
		}
		return nil, []Problem{{File: file, Kind: Empty, Msg: msg}}
	}
	imgIdx, msg := pickColumn(header, o.ImageCol, imageColumns, "image", "--image_col")
	if msg != "" {
		probs = append(probs, Problem{File: file, Line: 1, Col: 1, Kind: Malformed, Msg: msg})
	}
	labIdx, msg := pickColumn(header, o.LabelCol, labelColumns, "label", "--label_col")
	if msg != "" {
		probs = append(probs, Problem{File: file, Line: 1, Col: 1, Kind: Malformed, Msg: msg})
	}
	if len(probs) > 0 {
		return nil, probs
	}
	if imgIdx == labIdx {
		return nil, []Problem{{File: file, Line: 1, Col: 1, Kind: Malformed,
			Msg: fmt.Sprintf("the image and the label column are both %q", header[imgIdx])}}
	}
	imgName, labName := strings.TrimSpace(header[imgIdx]), strings.TrimSpace(header[labIdx])
	seen := map[string]int{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				probs = append(probs, Problem{File: file, Line: pe.Line, Col: pe.Column, Kind: Malformed, Msg: pe.Err.Error()})
				continue
			}
			probs = append(probs, Problem{File: file, Kind: Malformed, Msg: err.Error()})
			break
		}
		line, _ := r.FieldPos(0)
		if strings.TrimSpace(strings.Join(rec, "")) == "" {
			continue // a blank line or a row of empty cells (IDRiD's files end in them)
		}
		if need := max(imgIdx, labIdx); len(rec) <= need {
			_, col := r.FieldPos(len(rec) - 1)
			probs = append(probs, Problem{File: file, Line: line, Col: col, Kind: Malformed,
				Msg: fmt.Sprintf("row has %d field(s) but column %q is field %d", len(rec), header[need], need+1)})
			continue
		}
		_, ic := r.FieldPos(imgIdx)
		_, lc := r.FieldPos(labIdx)
		name, lab := strings.TrimSpace(rec[imgIdx]), strings.TrimSpace(rec[labIdx])
		if name == "" {
			probs = append(probs, Problem{File: file, Line: line, Col: ic, Kind: Malformed,
				Msg: fmt.Sprintf("empty image name in column %q", imgName)})
			continue
		}
		label, err := parseGrade(lab)
		if err != nil {
			m := fmt.Sprintf("label %q in column %q is not an integer", lab, labName)
			switch {
			case lab == "":
				m = fmt.Sprintf("image %q has no label in column %q (an ungraded image: leave it out of the file)", name, labName)
			case strings.Contains(err.Error(), "out of range"):
				m = fmt.Sprintf("label %q in column %q is too large", lab, labName)
			}
			probs = append(probs, Problem{File: file, Line: line, Col: lc, Kind: BadLabel, Msg: m})
			continue
		}
		if first, dup := seen[name]; dup {
			probs = append(probs, Problem{File: file, Line: line, Col: ic, Kind: Duplicate,
				Msg: fmt.Sprintf("image %q is listed again (first on line %d)", name, first)})
			continue
		}
		seen[name] = line
		entries = append(entries, Entry{Name: name, Label: label, Line: line})
	}
	if len(entries) == 0 && len(probs) == 0 {
		probs = append(probs, Problem{File: file, Kind: Empty, Msg: "CSV label file has a header but no rows"})
	}
	return entries, probs
}

// resolve finds the file of a CSV image name: name+ext with --image_ext (unless name already
// ends in it), else name itself when it is a file, else name plus the one extension of
// ImageExts that exists. It returns the name relative to dir, or a problem message.
func (o Options) resolve(dir, name string, listing map[string]bool) (string, ProblemKind, string) {
	if ext := o.ImageExt; ext != "" {
		if !strings.HasPrefix(ext, ".") {
			ext = "." + ext
		}
		n := name
		if !strings.HasSuffix(strings.ToLower(name), strings.ToLower(ext)) {
			n = name + ext
		}
		if exists(dir, n, listing) {
			return n, 0, ""
		}
		return "", MissingImage, fmt.Sprintf("image %q is not a file in %s (--image_ext %s)", n, dir, o.ImageExt)
	}
	if exists(dir, name, listing) {
		return name, 0, ""
	}
	var found []string
	for _, ext := range ImageExts {
		if exists(dir, name+ext, listing) {
			found = append(found, name+ext)
		}
	}
	switch len(found) {
	case 1:
		return found[0], 0, ""
	case 0:
		return "", MissingImage, fmt.Sprintf("image %q is not a file in %s, with or without an extension (tried %s)",
			name, dir, strings.Join(ImageExts, " "))
	}
	return "", Malformed, fmt.Sprintf("image %q matches %s in %s: pass --image_ext to pick one", name, strings.Join(found, " and "), dir)
}

// loadCSV reads a CSV label file naming images in src.Dir.
func (o Options) loadCSV(src Source, split string, numClasses int) (*Dataset, error) {
	d := &Dataset{Split: split, Format: FormatCSV, Dir: src.Dir, LabelFile: src.LabelFile, NumClasses: numClasses}
	e := &Error{Split: split}
	if src.LabelFile == "" {
		return nil, &Error{Split: split, Problems: []Problem{{File: src.Dir, Kind: MissingSplit,
			Msg: fmt.Sprintf("label file of the %s split is missing (expected %s)", split, strings.Join(csvLabelNames(split), " or "))}}}
	}
	dirOK := src.Dir != "" && isDir(src.Dir)
	if !dirOK {
		dir := src.Dir
		if dir == "" {
			dir = src.LabelFile
		}
		e.Problems = append(e.Problems, Problem{File: dir, Kind: MissingSplit,
			Msg: fmt.Sprintf("image directory of the %s split is missing (expected %s/ or %s/ beside %s)", split,
				csvImageDirs(split)[0], csvImageDirs(split)[1], src.LabelFile)})
	}
	data, p := readLabelFile(src.LabelFile, split, "a CSV file")
	if p != nil {
		e.Problems = append(e.Problems, *p)
		return nil, e
	}
	entries, probs := o.ParseCSV(data, src.LabelFile)
	e.Problems = append(e.Problems, probs...)
	d.ClassCounts = make([]int, numClasses)
	listing := dirListing(src.Dir)
	seen := map[string]int{}
	var missing []Problem
	for _, en := range entries {
		if p := outOfRange(src.LabelFile, en, numClasses); p != nil {
			e.Problems = append(e.Problems, *p)
			continue
		}
		if !dirOK {
			continue
		}
		name, kind, msg := o.resolve(src.Dir, en.Name, listing)
		if msg != "" {
			p := Problem{File: src.LabelFile, Line: en.Line, Kind: kind, Msg: msg}
			if kind == MissingImage {
				missing = append(missing, p)
			} else {
				e.Problems = append(e.Problems, p)
			}
			continue
		}
		if first, dup := seen[name]; dup {
			e.Problems = append(e.Problems, Problem{File: src.LabelFile, Line: en.Line, Kind: Duplicate,
				Msg: fmt.Sprintf("image %q (%s) is listed again (first on line %d)", en.Name, name, first)})
			continue
		}
		seen[name] = en.Line
		d.add(name, join(src.Dir, name), en.Line, en.Label)
	}
	e.Problems = append(e.Problems, missing...)
	e.Listed = len(entries)
	return finish(d, e)
}
