package dataset

import (
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/summary*.golden")

// researcher is the researcher's data set (semantics.md, reference conversation).
func researcher() *Summary {
	return NewSummary(
		SplitCounts{Name: "Train", Counts: []int{4980, 514, 3604, 188, 731, 0}},
		SplitCounts{Name: "Val", Counts: []int{1286, 116, 873, 48, 182, 0}},
	)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (regenerate with go test ./vision/dataset -run Summary -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestSummaryTableGolden(t *testing.T) {
	got := researcher().Table()
	golden(t, "summary.golden", []byte(got))
	// The researcher's own table, as printed in the reference conversation: our rendering of
	// the same counts must reproduce it line for line.
	reference := []string{
		"  Dataset       Category  Count Proportion",
		"0   Train          No DR   4980     49.72%",
		"1   Train           Mild    514      5.13%",
		"2   Train       Moderate   3604     35.98%",
		"3   Train         Severe    188      1.88%",
		"4   Train  Proliferative    731      7.30%",
		"5   Train     Ungradable      0      0.00%",
		"0     Val          No DR   1286     51.34%",
		"1     Val           Mild    116      4.63%",
		"2     Val       Moderate    873     34.85%",
		"3     Val         Severe     48      1.92%",
		"4     Val  Proliferative    182      7.27%",
		"5     Val     Ungradable      0      0.00%",
		"0   Total          No DR   6266     50.04%",
		"1   Total           Mild    630      5.03%",
		"2   Total       Moderate   4477     35.75%",
		"3   Total         Severe    236      1.88%",
		"4   Total  Proliferative    913      7.29%",
		"5   Total     Ungradable      0      0.00%",
	}
	lines := strings.Split(got, "\n")
	if lines[0] != "Dataset Summary:" {
		t.Errorf("title %q", lines[0])
	}
	for i, want := range reference {
		if i+1 >= len(lines) || lines[i+1] != want {
			t.Errorf("line %d = %q, want %q", i+1, lines[min(i+1, len(lines)-1)], want)
		}
	}
	wantImb := "Imbalance (largest / smallest non-empty class): Train 26.49 (No DR 4980 / Severe 188), " +
		"Val 26.79 (No DR 1286 / Severe 48), Total 26.55 (No DR 6266 / Severe 236)"
	if lines[len(reference)+1] != wantImb {
		t.Errorf("imbalance line %q, want %q", lines[len(reference)+1], wantImb)
	}
}

func TestSummaryWithTestSplitAndMoreClasses(t *testing.T) {
	s := NewSummary(
		SplitCounts{Name: "Train", Counts: []int{2, 1}},
		SplitCounts{Name: "Val", Counts: []int{0, 0, 1, 0, 0, 0, 0, 3}},
		SplitCounts{Name: "Test", Counts: []int{}},
	)
	got := s.Table()
	golden(t, "summary_test_split.golden", []byte(got))
	for _, want := range []string{"7   Train        class 7     0      0.00%", "7     Val        class 7     3     75.00%",
		"0    Test          No DR     0      0.00%", "Test (no images)", "Train 2.00 (No DR 2 / Mild 1)", "Val 3.00 (class 7 3 / Moderate 1)"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

func TestSummaryJSON(t *testing.T) {
	b, err := json.MarshalIndent(researcher(), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.json.golden", append(b, '\n'))
	var v struct {
		Datasets []struct {
			Dataset    string
			Total      int
			Categories []struct {
				Label      int
				Category   string
				Count      int
				Proportion float64
			}
		}
		Imbalance []Imbalance
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Datasets) != 3 || v.Datasets[2].Dataset != "Total" || v.Datasets[2].Total != 12522 {
		t.Fatalf("datasets %+v", v.Datasets)
	}
	c := v.Datasets[0].Categories[0]
	if c.Category != "No DR" || c.Count != 4980 || math.Abs(c.Proportion-4980.0/10017) > 1e-15 {
		t.Errorf("train No DR %+v", c)
	}
	if len(v.Imbalance) != 3 || v.Imbalance[0].Largest != 0 || v.Imbalance[0].Smallest != 3 {
		t.Errorf("imbalance %+v", v.Imbalance)
	}
}

func TestSummaryOfLoadedSplits(t *testing.T) {
	root := layout(t, map[string]string{
		"train.txt": "a.jpg 0\nb.jpg 0\nc.jpg 2\n", "train/a.jpg": "", "train/b.jpg": "", "train/c.jpg": "",
		"val.txt": "d.jpg 1\n", "val/d.jpg": "",
	})
	var sets []*Dataset
	for _, sp := range Splits(root) {
		d, err := Load(root, sp, 5)
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, d)
	}
	s := SummaryOf(sets...)
	if len(s.Splits) != 2 || s.Splits[0].Name != "Train" || s.Splits[1].Name != "Val" {
		t.Fatalf("splits %+v", s.Splits)
	}
	want := []int{2, 1, 1, 0, 0, 0}
	for i, n := range want {
		if s.Total.Counts[i] != n {
			t.Errorf("total counts %v, want %v", s.Total.Counts, want)
			break
		}
	}
	if !strings.Contains(s.Table(), "0   Train          No DR     2     66.67%") {
		t.Errorf("table:\n%s", s.Table())
	}
}
