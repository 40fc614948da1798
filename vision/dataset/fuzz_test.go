package dataset

import (
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
