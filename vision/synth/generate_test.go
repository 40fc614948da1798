package synth

import (
	"bufio"
	"bytes"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func seedProps() [NumGrades]float64 {
	var p [NumGrades]float64
	for g, c := range SeedCounts {
		p[g] = float64(c)
	}
	return p
}

func TestSplitCounts(t *testing.T) {
	uniform := [NumGrades]float64{1, 1, 1, 1, 1}
	for _, c := range []struct {
		name  string
		n     int
		props [NumGrades]float64
	}{
		{"seed-5", 5, seedProps()}, {"seed-15", 15, seedProps()}, {"seed-50", 50, seedProps()},
		{"seed-60", 60, seedProps()}, {"seed-1200", 1200, seedProps()}, {"seed-10017", 10017, seedProps()},
		{"uniform-7", 7, uniform}, {"uniform-50", 50, uniform}, {"uniform-1200", 1200, uniform},
	} {
		t.Run(c.name, func(t *testing.T) {
			train, val := splitCounts(c.n, c.props, 0.2)
			var sum, psum, nval float64
			for g := range c.props {
				sum += float64(train[g] + val[g])
				psum += c.props[g]
				nval += float64(val[g])
				if c.n >= 5 && train[g] < 1 {
					t.Errorf("class %d has no train image", g)
				}
				if c.n >= 15 && (train[g] < 2 || val[g] < 1) {
					t.Errorf("class %d: %d train, %d val", g, train[g], val[g])
				}
			}
			if int(sum) != c.n {
				t.Fatalf("counts sum to %v, want %d", sum, c.n)
			}
			// Largest remainder keeps each class within one image of its exact share, except a
			// class topped up to the 3-image minimum (n >= 15) and the largest class, which
			// donates those images (at most 3 to each of the other 4 classes).
			largest := 0
			for g := range c.props {
				if c.props[g] > c.props[largest] {
					largest = g
				}
			}
			for g := range c.props {
				exact := float64(c.n) * c.props[g] / psum
				got := float64(train[g] + val[g])
				switch {
				case c.n < 50: // tiny sets: the minimums dominate (15 images = 3 per class)
				case exact < 2.5:
					if got != 3 {
						t.Errorf("class %d: %v images, want the minimum 3", g, got)
					}
				case g == largest:
					if got > exact+1 || got < exact-12 {
						t.Errorf("largest class %d: %v images, exact share %.2f", g, got, exact)
					}
				default:
					if math.Abs(got-exact) >= 1 {
						t.Errorf("class %d: %v images, exact share %.2f", g, got, exact)
					}
				}
			}
			// Per-class rounding moves each val share by at most 0.6 images (0.5 from rounding,
			// 0.6 where a 2-image class is clamped to 1 val image), so 3 over 5 classes.
			if c.n >= 15 && math.Abs(nval-0.2*float64(c.n)) > 3 {
				t.Errorf("%v val images of %d", nval, c.n)
			}
		})
	}
	// The researcher's own table reproduces itself: with n = its total, the class totals are
	// exactly its counts.
	train, val := splitCounts(10017, seedProps(), 0.2)
	for g := range SeedCounts {
		if train[g]+val[g] != SeedCounts[g] {
			t.Errorf("class %d: %d, want %d", g, train[g]+val[g], SeedCounts[g])
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
		ok   bool
	}{
		{"defaults", Options{}, true},
		{"negative n", Options{N: -1}, false},
		{"tiny size", Options{Size: 8}, false},
		{"val 1", Options{ValFraction: 1}, false},
		{"val negative", Options{ValFraction: -0.1}, false},
		{"bad proportions", Options{Proportions: "ddr"}, false},
		{"uniform", Options{Proportions: "uniform"}, true},
		{"negative workers", Options{Workers: -2}, false},
	} {
		o, err := c.o.withDefaults()
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v", c.name, err)
		}
		if c.name == "defaults" && (o.N != 1200 || o.Size != 512 || o.Proportions != "seed" || o.ValFraction != 0.2) {
			t.Errorf("defaults: %+v", o)
		}
	}
	if _, err := Generate(t.TempDir(), Options{N: -3}, nil); err == nil {
		t.Error("Generate with n = -3: no error")
	}
}

// readLabels parses a label file strictly: "name label" lines, label an int in 0..4.
func readLabels(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Split(sc.Text(), " ")
		if len(fields) != 2 {
			t.Fatalf("%s:%d: %q is not 'name label'", path, line, sc.Text())
		}
		g, err := strconv.Atoi(fields[1])
		if err != nil || g < 0 || g >= NumGrades {
			t.Fatalf("%s:%d: bad label %q", path, line, fields[1])
		}
		if _, dup := out[fields[0]]; dup {
			t.Fatalf("%s:%d: duplicate %s", path, line, fields[0])
		}
		out[fields[0]] = g
	}
	return out
}

func TestGenerate(t *testing.T) {
	root := t.TempDir()
	opt := Options{N: 60, Size: 48, Seed: 3, Workers: 3}
	var calls []int
	res, err := Generate(filepath.Join(root, "a"), opt, func(done, total int) {
		if total != 60 {
			t.Errorf("progress total %d", total)
		}
		calls = append(calls, done)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 60 || calls[0] != 1 || calls[59] != 60 {
		t.Errorf("progress calls: %v", calls)
	}
	if res.Total() != 60 {
		t.Errorf("Total() = %d", res.Total())
	}
	dir := filepath.Join(root, "a")
	names := map[string]bool{}
	for _, split := range []string{"train", "val"} {
		labels := readLabels(t, filepath.Join(dir, split+".txt"))
		var counts [NumGrades]int
		for name, g := range labels {
			counts[g]++
			if names[name] {
				t.Errorf("%s in both splits", name)
			}
			names[name] = true
			if !strings.HasPrefix(name, "synth_") || !strings.HasSuffix(name, ".jpg") {
				t.Errorf("odd name %s", name)
			}
			f, err := os.Open(filepath.Join(dir, split, name))
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := jpeg.DecodeConfig(f)
			f.Close()
			if err != nil || cfg.Width != 48 || cfg.Height != 48 {
				t.Errorf("%s: %v, %dx%d", name, err, cfg.Width, cfg.Height)
			}
		}
		want := res.Train
		if split == "val" {
			want = res.Val
		}
		if counts != want {
			t.Errorf("%s: label counts %v, Result says %v", split, counts, want)
		}
		for g, c := range counts {
			if c < 1 {
				t.Errorf("%s: no image of grade %d", split, g)
			}
		}
		ents, _ := os.ReadDir(filepath.Join(dir, split))
		if len(ents) != len(labels) {
			t.Errorf("%s/: %d files, %d labels", split, len(ents), len(labels))
		}
	}
	if len(names) != 60 {
		t.Errorf("%d distinct images", len(names))
	}

	// Determinism: another directory, another worker count, byte-identical files.
	opt.Workers = 1
	if _, err := Generate(filepath.Join(root, "b"), opt, nil); err != nil {
		t.Fatal(err)
	}
	compareTrees(t, dir, filepath.Join(root, "b"))
	// A different seed gives different images.
	opt.Seed = 4
	if _, err := Generate(filepath.Join(root, "c"), opt, nil); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "train.txt"))
	c, _ := os.ReadFile(filepath.Join(root, "c", "train.txt"))
	if bytes.Equal(a, c) {
		t.Error("seeds 3 and 4 gave the same train.txt")
	}
}

// compareTrees fails unless both directories hold the same files with the same bytes.
func compareTrees(t *testing.T, a, b string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		x, _ := os.ReadFile(p)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs", rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var m int
	filepath.WalkDir(b, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			m++
		}
		return nil
	})
	if n != m || n == 0 {
		t.Errorf("%d files vs %d", n, m)
	}
}

func TestGenerateRefusesToOverwrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ds")
	opt := Options{N: 20, Size: 40, Seed: 1}
	if _, err := Generate(dir, opt, nil); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "train", "stale.jpg")
	keep := filepath.Join(dir, "NOTES.md")
	for _, p := range []string{stale, keep} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Generate(dir, opt, nil)
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Generate: err = %v, want a refusal naming %s", err, dir)
	}
	opt.Overwrite = true
	opt.N = 10
	res, err := Generate(dir, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale image survived overwrite: %v", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("overwrite removed a file it does not own: %v", err)
	}
	got := len(readLabels(t, filepath.Join(dir, "train.txt"))) + len(readLabels(t, filepath.Join(dir, "val.txt")))
	if got != 10 || res.Total() != 10 {
		t.Errorf("after overwrite: %d labels, Result total %d", got, res.Total())
	}
	// An empty existing directory is fine without Overwrite.
	empty := t.TempDir()
	if _, err := Generate(empty, Options{N: 5, Size: 40}, nil); err != nil {
		t.Errorf("empty dir: %v", err)
	}
}

func TestPlanProportions(t *testing.T) {
	items, res := plan(Options{N: 1200, Seed: 1, Proportions: "seed", ValFraction: 0.2})
	var counts [NumGrades]int
	nval := 0
	for _, it := range items {
		counts[it.grade]++
		if it.val {
			nval++
		}
	}
	for g := range counts {
		if counts[g] != res.Train[g]+res.Val[g] {
			t.Errorf("grade %d: %d planned, Result %d+%d", g, counts[g], res.Train[g], res.Val[g])
		}
	}
	// 1200·4980/10017 = 596.6 No DR, 1200·188/10017 = 22.5 Severe.
	if counts[0] < 596 || counts[0] > 597 || counts[3] < 22 || counts[3] > 23 {
		t.Errorf("seed proportions: %v", counts)
	}
	if nval < 235 || nval > 245 {
		t.Errorf("%d val images of 1200", nval)
	}
	// Shuffled: the first 50 images are not all one grade.
	first := map[int]bool{}
	for _, it := range items[:50] {
		first[it.grade] = true
	}
	if len(first) < 3 {
		t.Errorf("first 50 images cover grades %v", first)
	}
	items, _ = plan(Options{N: 1000, Seed: 1, Proportions: "uniform", ValFraction: 0.2})
	counts = [NumGrades]int{}
	for _, it := range items {
		counts[it.grade]++
	}
	if counts != [NumGrades]int{200, 200, 200, 200, 200} {
		t.Errorf("uniform 1000: %v", counts)
	}
}
