package dataset

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzParseLabels checks that any label file parses without panicking into entries that obey
// the rules (trimmed name, no duplicates, increasing lines) and that writing the entries back
// as `name label` lines parses to the same entries.
func FuzzParseLabels(f *testing.F) {
	for _, seed := range []string{
		"a.jpg 0\nb.jpg 1\n",
		"\ufeffa.jpg\t0\r\nb.jpg 4\r\n\r\n",
		"left eye.jpg 3\nright  eye.png 4\n",
		"a.jpg 1 0\n",
		"bad\n",
		"x.jpg two\n",
		"x.jpg -1\ny.jpg +2\nz.jpg 99999999999999999999\n",
		"a.jpg 0\n./a.jpg 1\n",
		"",
		"\n\n   \n",
		"a.jpg 0\rb.jpg 1\r",
		"\xff\xfe 1\n",
		"name\u00a0with\u00a0nbsp 2\n",
		"a.jpg 1_0\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, probs := ParseLabels(data, "f.txt")
		if len(entries) == 0 && len(probs) == 0 {
			t.Fatal("no entries and no problems")
		}
		last := 0
		names := map[string]bool{}
		for _, e := range entries {
			if e.Line <= last {
				t.Fatalf("lines not increasing: %d after %d", e.Line, last)
			}
			last = e.Line
			if e.Name == "" || strings.TrimSpace(e.Name) != e.Name || !utf8.ValidString(e.Name) || strings.HasPrefix(e.Name, "\ufeff") {
				t.Fatalf("bad name %q", e.Name)
			}
			if names[e.Name] {
				t.Fatalf("duplicate %q accepted", e.Name)
			}
			names[e.Name] = true
			if e.Multi != (strings.IndexFunc(e.Name, unicode.IsSpace) >= 0) {
				t.Fatalf("Multi wrong for %q", e.Name)
			}
		}
		for _, p := range probs {
			if p.File != "f.txt" || p.Msg == "" {
				t.Fatalf("bad problem %+v", p)
			}
		}
		if len(entries) == 0 {
			return
		}
		var b strings.Builder
		for _, e := range entries {
			fmt.Fprintf(&b, "%s %s\n", e.Name, strconv.Itoa(e.Label))
		}
		again, probs2 := ParseLabels([]byte(b.String()), "g.txt")
		if len(probs2) != 0 || len(again) != len(entries) {
			t.Fatalf("round trip: %d entries %v, want %d", len(again), probs2, len(entries))
		}
		for i := range again {
			if again[i].Name != entries[i].Name || again[i].Label != entries[i].Label {
				t.Fatalf("round trip entry %d: %+v, want %+v", i, again[i], entries[i])
			}
		}
	})
}

// FuzzParseCSV checks that any CSV label file parses without panicking into entries that obey
// the rules (trimmed, unique names; rows after the header, in order; problems located), and
// that writing the entries back with encoding/csv parses to the same entries.
func FuzzParseCSV(f *testing.F) {
	for _, seed := range []string{
		"image,level\n10_left,0\n10_right,4\n",
		"id_code,diagnosis\r\n000c1434d8d7,2\r\n",
		"\ufeffImage name,Retinopathy grade,Risk of macular edema ,,\nIDRiD_001,3,2,,\n,,,,\n",
		"image_id;adjudicated_dr_grade\n\"a;b.png\";2.0\nc.png;\n",
		"image,level\na,\"1\"x\nb\n\"c\nd\",3\na,1\n",
		"image,level,diagnosis\na,0,1\n",
		"",
		"image,level\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, probs := Options{}.ParseCSV(data, "f.csv")
		if len(entries) == 0 && len(probs) == 0 {
			t.Fatal("no entries and no problems")
		}
		last := 1
		names := map[string]bool{}
		for _, e := range entries {
			if e.Line <= last {
				t.Fatalf("line %d after %d (the header is line 1)", e.Line, last)
			}
			last = e.Line
			if e.Name == "" || strings.TrimSpace(e.Name) != e.Name || names[e.Name] {
				t.Fatalf("bad or repeated name %q", e.Name)
			}
			names[e.Name] = true
		}
		for _, p := range probs {
			if p.File != "f.csv" || p.Msg == "" || p.Line < 0 || p.Col < 0 {
				t.Fatalf("bad problem %+v", p)
			}
		}
		if len(entries) == 0 {
			return
		}
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		_ = w.Write([]string{"image", "level"})
		for _, e := range entries {
			_ = w.Write([]string{e.Name, strconv.Itoa(e.Label)})
		}
		w.Flush()
		again, probs2 := Options{}.ParseCSV(b.Bytes(), "g.csv")
		if len(probs2) != 0 || len(again) != len(entries) {
			t.Fatalf("round trip: %d entries %v, want %d\n%s", len(again), probs2, len(entries), b.String())
		}
		for i := range again {
			if again[i].Name != entries[i].Name || again[i].Label != entries[i].Label {
				t.Fatalf("round trip entry %d: %+v, want %+v", i, again[i], entries[i])
			}
		}
	})
}
