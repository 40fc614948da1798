// Package report writes drgrade's evaluation report: one self-contained HTML file (styles and
// pictures inline, no network) that a screening team can open, file and mail. The package
// knows sections, tables and pictures, not metrics: the caller (drgrade eval) decides what
// goes in.
package report

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"

	"github.com/drgrade/drgrade/internal/atomicfile"
)

// Data is a whole report.
type Data struct {
	Title    string
	Subtitle string // e.g. the model, checkpoint and split
	Sections []Section
	Footer   string
}

// Section is one titled part of the report; each of its parts may be empty.
type Section struct {
	ID      string // the anchor of the table of contents
	Title   string
	Intro   string // a paragraph before the content: how to read it
	Stats   []Stat
	Tables  []Table
	Figures []Figure
	Tiles   []Tile
}

// Stat is a headline number.
type Stat struct{ Name, Value, Note string }

// Table is a table of text cells; NumericFrom is the first right-aligned column.
type Table struct {
	Caption     string
	Header      []string
	Rows        [][]string
	NumericFrom int
}

// Figure is a PNG picture with a caption.
type Figure struct {
	Caption, Alt string
	PNG          []byte
}

// Tile is a gallery entry: one or more pictures of the same image side by side.
type Tile struct {
	Caption string
	Images  []Figure
}

//go:embed report.html.tmpl
var pageTemplate string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"png": func(b []byte) template.URL {
		return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))
	},
	"numeric": func(t Table, col int) bool { return t.NumericFrom > 0 && col >= t.NumericFrom },
}).Parse(pageTemplate))

// pngMagic starts every PNG file.
var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// Render returns the report's HTML. Every picture must be a PNG: a report that says a figure
// is there and shows a broken image is worse than an error.
func Render(d Data) ([]byte, error) {
	if d.Title == "" {
		return nil, errors.New("report: no title")
	}
	check := func(where string, f Figure) error {
		if !bytes.HasPrefix(f.PNG, pngMagic) {
			return fmt.Errorf("report: %s: %q is not a PNG (%d bytes)", where, f.Caption+f.Alt, len(f.PNG))
		}
		return nil
	}
	for _, s := range d.Sections {
		for _, f := range s.Figures {
			if err := check(s.Title, f); err != nil {
				return nil, err
			}
		}
		for _, t := range s.Tiles {
			for _, f := range t.Images {
				if err := check(s.Title, f); err != nil {
					return nil, err
				}
			}
		}
		for _, t := range s.Tables {
			for i, r := range t.Rows {
				if len(r) != len(t.Header) {
					return nil, fmt.Errorf("report: %s: table %q row %d has %d cells for %d columns", s.Title, t.Caption, i+1, len(r), len(t.Header))
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return buf.Bytes(), nil
}

// Write renders d to path atomically: an existing report is replaced only by a complete one.
func Write(path string, d Data) error {
	b, err := Render(d)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(path, b); err != nil {
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	return nil
}
