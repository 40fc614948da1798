package dataset

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Entry is one parsed label-file line.
type Entry struct {
	Name  string // image name, relative to the split directory; may contain spaces
	Label int
	Line  int  // 1-based line number in the label file
	Multi bool // the name has whitespace inside (the line had more than two fields)
}

// ParseLabels parses the content of a label file (see the package doc for the rules).
// file is used only to prefix problems. It returns every well-formed entry and every
// problem found; the entries of bad lines are left out. Mirrors the parsing loop of
// DR_Grading_Dataset.__init__ (`image_name, label = line.strip().split()`; `int(label)`).
func ParseLabels(data []byte, file string) ([]Entry, []Problem) {
	var entries []Entry
	var probs []Problem
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	seen := map[string]int{} // cleaned name → first line
	for i, raw := range strings.Split(text, "\n") {
		lineNo := i + 1
		bad := func(kind ProblemKind, format string, args ...any) {
			probs = append(probs, Problem{File: file, Line: lineNo, Kind: kind, Msg: fmt.Sprintf(format, args...)})
		}
		if !utf8.ValidString(raw) {
			bad(Malformed, "line is not valid UTF-8 text")
			continue
		}
		// Byte-order marks at the start of a line (a file joined with `cat`), mixed with
		// spaces, are dropped like the file's own: otherwise a name could start with one, and
		// `name label` written back as the first line would lose it.
		line := strings.TrimSpace(strings.TrimLeftFunc(raw, func(r rune) bool { return r == '\ufeff' || unicode.IsSpace(r) }))
		if line == "" {
			continue
		}
		cut := strings.LastIndexFunc(line, unicode.IsSpace)
		if cut < 0 {
			bad(Malformed, "expected `image_name label`, found a single field %q", line)
			continue
		}
		_, size := utf8.DecodeRuneInString(line[cut:])
		labelText := line[cut+size:]
		name := strings.TrimRightFunc(line[:cut], unicode.IsSpace)
		label, err := strconv.Atoi(labelText)
		if err != nil {
			if strings.Contains(err.Error(), "out of range") {
				bad(BadLabel, "label %q is too large", labelText)
			} else {
				bad(BadLabel, "label %q is not an integer (expected `image_name label` with the label last)", labelText)
			}
			continue
		}
		key := filepath.Clean(name)
		if first, dup := seen[key]; dup {
			bad(Duplicate, "image %q is listed again (first on line %d)", name, first)
			continue
		}
		seen[key] = lineNo
		entries = append(entries, Entry{
			Name:  name,
			Label: label,
			Line:  lineNo,
			Multi: strings.IndexFunc(name, unicode.IsSpace) >= 0,
		})
	}
	if len(entries) == 0 && len(probs) == 0 {
		probs = append(probs, Problem{File: file, Kind: Empty, Msg: "label file has no `image_name label` lines"})
	}
	return entries, probs
}
