package plot

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// decodePNG reads path and returns the image and its number of distinct colours.
func decodePNG(t *testing.T, path string) (image.Image, int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s does not decode as PNG: %v", path, err)
	}
	seen := map[color.RGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			seen[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)] = true
		}
	}
	return img, len(seen)
}

// countNear counts pixels within tol (per channel) of want.
func countNear(img image.Image, want color.RGBA, tol int) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			if abs(int(c.R)-int(want.R)) <= tol && abs(int(c.G)-int(want.G)) <= tol && abs(int(c.B)-int(want.B)) <= tol {
				n++
			}
		}
	}
	return n
}

// onlyFiles fails unless dir holds exactly the named entries (no temp files).
func onlyFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("directory holds %q, want %q", got, want)
	}
}

// minColours is the "not blank" threshold: an anti-aliased figure with text
// and several series has hundreds of distinct colours, a blank or
// single-colour canvas has a handful.
const minColours = 200

func TestCurves(t *testing.T) {
	nanAll := synthCurves(4, 1, false)
	for i := range nanAll {
		nanAll[i].Kappa = math.NaN()
	}
	decreasing := synthCurves(3, 1, false)
	decreasing[2].Epoch = 2
	badAcc := synthCurves(3, 1, false)
	badAcc[1].ValAcc = 1.5
	badLR := synthCurves(3, 1, false)
	badLR[0].LR = -1e-4
	badKappa := synthCurves(3, 1, false)
	badKappa[0].Kappa = 2
	zeroEpoch := synthCurves(2, 1, false)
	zeroEpoch[0].Epoch = 0

	for _, c := range []struct {
		name    string
		pts     []CurvePoint
		best    int
		wantErr string // substring of the error; "" = must succeed
	}{
		{"1 epoch NaN kappa", synthCurves(1, 1, true), 1, ""},
		{"3 epochs", synthCurves(3, 1, true), 2, ""},
		{"30 epochs NaN first kappa", synthCurves(30, 3, true), 22, ""},
		{"all kappa NaN, no best", nanAll, 0, ""},
		{"diverged loss", edgeCurves(), 5, ""},
		{"empty", nil, 0, "no epochs"},
		{"epoch not 1-based", zeroEpoch, 0, "1-based"},
		{"epochs not increasing", decreasing, 0, "does not increase"},
		{"accuracy above 1", badAcc, 0, "outside [0,1]"},
		{"negative lr", badLR, 0, "negative learning rate"},
		{"kappa above 1", badKappa, 0, "kappa"},
		{"best epoch beyond run", synthCurves(3, 1, false), 4, "best epoch 4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "curves.png")
			err := Curves(path, "resnet50 on data/ddr — best epoch 7 (kappa 0.812)", c.pts, c.best)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want one naming %s and containing %q", err, path, c.wantErr)
				}
				onlyFiles(t, dir)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			onlyFiles(t, dir, "curves.png")
			img, ncol := decodePNG(t, path)
			if b := img.Bounds(); b.Dx() != curvesWidthIn*curvesDPI || b.Dy() != curvesHeightIn*curvesDPI {
				t.Errorf("size %v, want %dx%d", b.Size(), curvesWidthIn*curvesDPI, curvesHeightIn*curvesDPI)
			}
			if ncol < minColours {
				t.Errorf("only %d distinct colours: figure looks blank", ncol)
			}
			// The series are drawn in their colours; the dashed best-epoch
			// line (the only red) appears exactly when bestEpoch > 0.
			if n := countNear(img, colBlue, 8); n < 100 {
				t.Errorf("%d train-series pixels, want a visible curve", n)
			}
			red := countNear(img, colRed, 8)
			if c.best > 0 && red < 100 {
				t.Errorf("best epoch %d: only %d red pixels", c.best, red)
			}
			if c.best == 0 && red != 0 {
				t.Errorf("no best epoch but %d red pixels", red)
			}
		})
	}
}

func TestConfusionMatrix(t *testing.T) {
	big := make([][]int, 12)
	bigNames := make([]string, 12)
	for i := range big {
		big[i] = make([]int, 12)
		big[i][i] = 99999
		bigNames[i] = "class " + strconv.Itoa(i)
	}
	for _, c := range []struct {
		name    string
		cm      [][]int
		names   []string
		wantErr string
	}{
		{"5 classes", cm5, names5, ""},
		{"6 classes with an empty row", cm6, names6, ""},
		{"1 class", [][]int{{7}}, []string{"all"}, ""},
		{"12 classes, 5-digit counts", big, bigNames, ""},
		{"empty", nil, nil, "empty matrix"},
		{"ragged", [][]int{{1, 2}, {3}}, []string{"a", "b"}, "row 1 has 1 columns"},
		{"not square", [][]int{{1, 2, 3}, {4, 5, 6}}, []string{"a", "b"}, "square"},
		{"names mismatch", [][]int{{1, 2}, {3, 4}}, []string{"a"}, "1 class names"},
		{"negative count", [][]int{{1, 2}, {-3, 4}}, []string{"a", "b"}, "negative count -3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "cm.png")
			err := ConfusionMatrix(path, "validation — epoch 7", c.cm, c.names)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want one naming %s and containing %q", err, path, c.wantErr)
				}
				onlyFiles(t, dir)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			onlyFiles(t, dir, "cm.png")
			img, ncol := decodePNG(t, path)
			if b := img.Bounds(); b.Dx() != cmWidthIn*cmDPI || b.Dy() != cmHeightIn*cmDPI {
				t.Errorf("size %v, want %dx%d", b.Size(), cmWidthIn*cmDPI, cmHeightIn*cmDPI)
			}
			if ncol < minColours {
				t.Errorf("only %d distinct colours: figure looks blank", ncol)
			}
			// Cells without samples get the neutral fill, and only then.
			empty := false
			for _, row := range c.cm {
				s := 0
				for _, v := range row {
					s += v
				}
				empty = empty || s == 0
			}
			grey := countNear(img, colEmptyRow, 1)
			if empty != (grey > 1000) {
				t.Errorf("empty row %v but %d neutral-grey pixels", empty, grey)
			}
		})
	}
}

func TestAtomicWrite(t *testing.T) {
	pts := synthCurves(3, 1, false)
	t.Run("missing directory is named", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "no", "such", "dir", "c.png")
		err := Curves(path, "t", pts, 0)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v, want one naming %s", err, path)
		}
	})
	t.Run("path is a directory", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "taken")
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		err := ConfusionMatrix(path, "t", cm5, names5)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v, want one naming %s", err, path)
		}
		onlyFiles(t, dir, "taken") // the temp file is cleaned up
	})
	t.Run("failed call keeps the old file", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "c.png")
		if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Curves(path, "t", nil, 0); err == nil {
			t.Fatal("want an error for empty pts")
		}
		if err := ConfusionMatrix(path, "t", [][]int{{1}}, nil); err == nil {
			t.Fatal("want an error for missing class names")
		}
		if b, _ := os.ReadFile(path); string(b) != "old" {
			t.Errorf("file content %q, want the old file untouched", b)
		}
		onlyFiles(t, dir, "c.png")
	})
	t.Run("success replaces the file, readable by others", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "c.png")
		if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Curves(path, "t", pts, 2); err != nil {
			t.Fatal(err)
		}
		decodePNG(t, path)
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("mode %v, want 0644", st.Mode().Perm())
		}
		onlyFiles(t, dir, "c.png")
	})
}

func TestEpochTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi    float64
		wantFirst string
		maxMajors int
	}{
		{0.5, 1.5, "1", 1},
		{1, 3, "1", 3},
		{1, 30, "5", 10},
		{1, 200, "20", 10},
		{1, 5000, "500", 10},
	} {
		var majors []string
		for _, tk := range (epochTicks{}).Ticks(c.lo, c.hi) {
			if tk.Value != math.Trunc(tk.Value) || tk.Value < c.lo || tk.Value > c.hi {
				t.Errorf("[%g,%g]: tick %g is not a whole epoch in range", c.lo, c.hi, tk.Value)
			}
			if !tk.IsMinor() {
				majors = append(majors, tk.Label)
			}
		}
		if len(majors) == 0 || majors[0] != c.wantFirst || len(majors) > c.maxMajors {
			t.Errorf("[%g,%g]: labels %v, want first %q and at most %d", c.lo, c.hi, majors, c.wantFirst, c.maxMajors)
		}
	}
}

func TestSciTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   string
	}{
		{0, 3.18e-4, "0 1e-04 2e-04 3e-04"},
		{0, 1.06e-3, "0 2.5e-04 5.0e-04 7.5e-04 1.0e-03"},
		{0, 1, "0 2.5e-01 5.0e-01 7.5e-01 1.0e+00"},
	} {
		var got []string
		for _, tk := range (sciTicks{}).Ticks(c.lo, c.hi) {
			got = append(got, tk.Label)
			if v, err := strconv.ParseFloat(tk.Label, 64); err != nil || math.Abs(v-tk.Value) > 1e-12 {
				t.Errorf("label %q does not read back as %g", tk.Label, tk.Value)
			}
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("[%g,%g]: %q, want %q", c.lo, c.hi, strings.Join(got, " "), c.want)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		upTo1  bool
		want   string
	}{
		{0.24, 0.92, false, "0.3 0.4 0.5 0.6 0.7 0.8 0.9"},
		{0.43, 1.12, true, "0.5 0.6 0.7 0.8 0.9 1.0"},
		{0.43, 1.12, false, "0.5 0.6 0.7 0.8 0.9 1.0 1.1"},
		{0.1, 1.6, false, "0.25 0.50 0.75 1.00 1.25 1.50"},
		{-0.3, 0.9, false, "-0.25 0.00 0.25 0.50 0.75"},
		{0.226, 0.253, false, "0.230 0.235 0.240 0.245 0.250"},
	} {
		var got []string
		for _, tk := range (niceTicks{upTo1: c.upTo1}).Ticks(c.lo, c.hi) {
			got = append(got, tk.Label)
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("[%g,%g]: %q, want %q", c.lo, c.hi, strings.Join(got, " "), c.want)
		}
	}
}

func TestDataRange(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		name     string
		v        []float64
		minSpan  float64
		headroom bool
		lo, hi   float64
	}{
		{"nothing finite", []float64{nan, math.Inf(1)}, 0, false, 0, 1},
		{"gap ignored", []float64{0.5, nan, 1.5}, 0, false, 0.44, 1.56},
		{"non-negative floored at 0", []float64{0.01, 2}, 0, false, 0, 2.1194},
		{"flat value widened", []float64{0.8, 0.8}, 0.05, false, 0.8 - 0.04 - 0.0048, 0.8 + 0.04 + 0.0048},
		{"headroom for legend", []float64{0, 1}, 0, true, 0, 1.36},
		{"negative kappa kept", []float64{-0.5, 0.5}, 0, false, -0.56, 0.56},
	} {
		lo, hi := dataRange(c.v, c.minSpan, c.headroom)
		if math.Abs(lo-c.lo) > 1e-9 || math.Abs(hi-c.hi) > 1e-9 {
			t.Errorf("%s: [%g,%g], want [%g,%g]", c.name, lo, hi, c.lo, c.hi)
		}
	}
}

func TestCellTextContrast(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want color.Color
	}{
		{0, color.Black}, {0.3, color.Black}, {0.7, color.White}, {1, color.White}, {math.NaN(), color.Black},
	} {
		if got := textOn(blues(c.f)); got != c.want {
			t.Errorf("share %g: text %v on fill %v, want %v", c.f, got, blues(c.f), c.want)
		}
	}
}
