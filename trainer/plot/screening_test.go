package plot

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// synthView is a plausible binary view: a smooth ROC (or PR) curve with a band ±spread and two
// operating points.
func synthView(name string, pr bool, spread float64) BinaryCurve {
	v := BinaryCurve{Name: name, Summary: "AUC 0.912 (95% CI 0.884–0.938)", Baseline: 0.31}
	for i := 0; i <= 50; i++ {
		x := float64(i) / 50
		y := math.Pow(x, 0.18) // concave, above the diagonal
		if pr {
			y = 1 - 0.69*math.Pow(x, 3) // precision falls as recall rises
		}
		v.X, v.Y = append(v.X, x), append(v.Y, y)
		v.BandX = append(v.BandX, x)
		v.BandLo = append(v.BandLo, math.Max(0, y-spread))
		v.BandHi = append(v.BandHi, math.Min(1, y+spread))
	}
	v.Points = []MarkedPoint{{Label: "Youden", X: 0.12, Y: math.Pow(0.12, 0.18)}, {Label: "sens ≥ 0.95", X: 0.42, Y: 0.95}}
	if pr {
		v.Summary = "AP 0.874 (95% CI 0.842–0.901)"
		v.Points = []MarkedPoint{{Label: "Youden", X: 0.82, Y: 0.62}, {Label: "sens ≥ 0.95", X: 0.95, Y: 0.41}}
	}
	return v
}

// synthBins is an over-confident model's reliability: accuracy below confidence.
func synthBins() []ReliabilityBin {
	var bins []ReliabilityBin
	for i := 0; i < 15; i++ {
		lo, hi := float64(i)/15, float64(i+1)/15
		b := ReliabilityBin{Lo: lo, Hi: hi, Accuracy: math.NaN(), Confidence: math.NaN()}
		if i >= 3 {
			b.Count = 40 * i
			b.Confidence = (lo + hi) / 2
			b.Accuracy = b.Confidence * 0.85
		}
		bins = append(bins, b)
	}
	return bins
}

func TestScreeningFigures(t *testing.T) {
	views := []BinaryCurve{synthView("Referable DR (grade ≥ 2)", false, 0.04), synthView("Any DR (grade ≥ 1)", false, 0.06)}
	prViews := []BinaryCurve{synthView("Referable DR (grade ≥ 2)", true, 0.05), synthView("Any DR (grade ≥ 1)", true, 0.07)}
	outside := synthView("bad", false, 0)
	outside.Y[3] = 1.2
	short := synthView("bad", false, 0)
	short.BandLo = short.BandLo[1:]
	rel := []ReliabilityPanel{{Name: "Top-label, T = 1", ECE: 0.0712, Bins: synthBins()}, {Name: "Top-label, T = 1.43", ECE: 0.0123, Bins: synthBins()}}
	badBin := []ReliabilityPanel{{Name: "bad", Bins: []ReliabilityBin{{Lo: 0.5, Hi: 0.4, Count: 3}}}}
	for _, c := range []struct {
		name    string
		draw    func(path string) error
		panels  int
		wantErr string // substring; "" = must succeed
	}{
		{"roc", func(p string) error { return ROC(p, "resnet on data/synth (val, 240 images)", views) }, 2, ""},
		{"pr", func(p string) error { return PR(p, "resnet on data/synth (val, 240 images)", prViews) }, 2, ""},
		{"roc one view", func(p string) error { return ROC(p, "", views[:1]) }, 1, ""},
		{"reliability", func(p string) error { return Reliability(p, "Calibration on val", rel) }, 2, ""},
		{"no views", func(p string) error { return ROC(p, "t", nil) }, 0, "no curves"},
		{"point outside", func(p string) error { return ROC(p, "t", []BinaryCurve{outside}) }, 0, "outside the unit square"},
		{"ragged band", func(p string) error { return PR(p, "t", []BinaryCurve{short}) }, 0, "band of"},
		{"bad bin", func(p string) error { return Reliability(p, "t", badBin) }, 0, "bad bin"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "fig.png")
			err := c.draw(path)
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
			img, ncol := decodePNG(t, path)
			if b := img.Bounds(); b.Dx() != c.panels*panelWidthIn*screeningDPI || b.Dy() != int(panelHeightIn*screeningDPI) {
				t.Errorf("size %v, want %d panels of %dx%d", b.Size(), c.panels, panelWidthIn*screeningDPI, int(panelHeightIn*screeningDPI))
			}
			if ncol < minColours {
				t.Errorf("only %d distinct colours: figure looks blank", ncol)
			}
			// Every panel draws its curve (or bars) in blue and marks in red.
			if n := countNear(img, colBlue, 8); n < 400*c.panels {
				t.Errorf("%d blue pixels, want a visible curve or bars in each of %d panels", n, c.panels)
			}
			if n := countNear(img, colRed, 8); n < 30*c.panels {
				t.Errorf("%d red pixels: operating points or gaps missing", n)
			}
			if *samplesDir != "" {
				b, _ := os.ReadFile(path)
				if err := os.WriteFile(filepath.Join(*samplesDir, strings.ReplaceAll(c.name, " ", "_")+".png"), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
