package plot

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// samplesDir, when set, makes TestRenderSamples write review figures there
// (go test ./trainer/plot/ -run RenderSamples -samples /tmp/plots).
var samplesDir = flag.String("samples", "", "directory to write sample figures for visual review")

// synthCurves is a plausible run: linear LR warmup for warm epochs then
// cosine decay to ~0, falling loss, rising accuracies, and an undefined
// kappa in the first epoch when nanFirst is set.
func synthCurves(n, warm int, nanFirst bool) []CurvePoint {
	const base = 3e-4
	pts := make([]CurvePoint, n)
	for i := range pts {
		e := i + 1
		lr := base * float64(e) / float64(warm)
		if e > warm {
			lr = base * 0.5 * (1 + math.Cos(math.Pi*float64(e-warm)/float64(n-warm+1)))
		}
		t := float64(e) / float64(n)
		wiggle := 0.02 * math.Sin(float64(e)*1.7)
		pts[i] = CurvePoint{
			Epoch:     e,
			TrainLoss: 1.4*math.Exp(-3*t) + 0.15 + wiggle,
			TrainAcc:  math.Min(0.99, 0.45+0.5*(1-math.Exp(-4*t))+wiggle/2),
			ValAcc:    0.42 + 0.35*(1-math.Exp(-3*t)) - wiggle,
			Kappa:     0.2 + 0.6*(1-math.Exp(-3*t)) + wiggle,
			MacroF1:   0.25 + 0.4*(1-math.Exp(-3*t)) - wiggle,
			LR:        lr,
		}
	}
	if nanFirst {
		pts[0].Kappa = math.NaN()
	}
	return pts
}

// edgeCurves has NaN kappa everywhere, a diverged (NaN, +Inf) loss and a
// constant LR: everything that must render as gaps or flat lines.
func edgeCurves() []CurvePoint {
	pts := synthCurves(5, 1, false)
	for i := range pts {
		pts[i].Kappa = math.NaN()
		pts[i].LR = 1e-3
	}
	pts[3].TrainLoss = math.NaN()
	pts[4].TrainLoss = math.Inf(1)
	return pts
}

var (
	names5 = []string{"No DR", "Mild", "Moderate", "Severe", "Proliferative"}
	names6 = []string{"No DR", "Mild", "Moderate", "Severe", "Proliferative", "Ungradable"}
	cm5    = [][]int{
		{12412, 310, 180, 5, 2},
		{402, 1210, 340, 12, 3},
		{520, 430, 6873, 301, 88},
		{3, 8, 240, 512, 97},
		{1, 2, 101, 66, 832},
	}
	cm6 = [][]int{
		{41203, 1310, 880, 15, 9, 412},
		{1402, 5210, 1340, 42, 13, 120},
		{1520, 1430, 26873, 1301, 288, 310},
		{13, 28, 1240, 2512, 497, 41},
		{11, 12, 601, 466, 3832, 60},
		{0, 0, 0, 0, 0, 0},
	}
)

func TestRenderSamples(t *testing.T) {
	if *samplesDir == "" {
		t.Skip("set -samples DIR to write review figures")
	}
	dir := *samplesDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		pts  []CurvePoint
		best int
	}{
		{"curves_1", synthCurves(1, 1, true), 1},
		{"curves_3", synthCurves(3, 1, true), 3},
		{"curves_30", synthCurves(30, 3, true), 22},
		{"curves_200", synthCurves(200, 5, false), 150},
		{"curves_edge", edgeCurves(), 0},
	} {
		title := "resnet50 on data/ddr — best epoch 7 (kappa 0.812)"
		if c.name == "curves_edge" {
			title = strings.Repeat("a very long title that keeps going ", 6)
		}
		if err := Curves(filepath.Join(dir, c.name+".png"), title, c.pts, c.best); err != nil {
			t.Fatal(err)
		}
	}
	if err := ConfusionMatrix(filepath.Join(dir, "cm_5.png"), "resnet50 on data/ddr — validation, epoch 7", cm5, names5); err != nil {
		t.Fatal(err)
	}
	long := []string{"No apparent retinopathy", "Mild NPDR", "Moderate NPDR", "Severe non-proliferative DR", "Proliferative", "Ungradable"}
	if err := ConfusionMatrix(filepath.Join(dir, "cm_6long.png"), "long names", cm6, long); err != nil {
		t.Fatal(err)
	}
	big := make([][]int, 12)
	bigNames := make([]string, 12)
	for i := range big {
		big[i] = make([]int, 12)
		for j := range big[i] {
			big[i][j] = (i*7 + j*13) % 50
		}
		big[i][i] = 99999
		bigNames[i] = "class " + string(rune('A'+i))
	}
	if err := ConfusionMatrix(filepath.Join(dir, "cm_12.png"), "12 classes", big, bigNames); err != nil {
		t.Fatal(err)
	}
	if err := ConfusionMatrix(filepath.Join(dir, "cm_1.png"), "", [][]int{{0}}, []string{"only"}); err != nil {
		t.Fatal(err)
	}
	if err := ConfusionMatrix(filepath.Join(dir, "cm_6.png"), "resnet50 on data/ddr — validation, epoch 7", cm6, names6); err != nil {
		t.Fatal(err)
	}
}
