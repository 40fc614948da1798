package calibrate

import (
	"math"
	"testing"

	"github.com/drgrade/drgrade/internal/pyoracle"
)

// tolTemperature bounds |T_Go − T_PyTorch|: the bound. Both reach the minimum of the
// same float64 function (Go: Newton on d NLL / d(1/T) to float64's resolution; PyTorch: LBFGS
// on log T until its gradient is below 1e-14), so the measured difference (logged) is far
// smaller.
const tolTemperature = 1e-4

// tolNLL bounds |NLL_Go(T) − F.cross_entropy(logits/T)| at the same T, both in float64: only
// the order of the sums differs.
const tolNLL = 1e-12

type goldenCase struct {
	Name           string
	NumClasses     int         `json:"num_classes"`
	Logits         [][]float32 `json:"logits"`
	Labels         []int       `json:"labels"`
	Temperature    float64     `json:"temperature"`
	Grad           float64     `json:"grad"`
	NLLBefore      float64     `json:"nll_before"`
	NLLAfter       float64     `json:"nll_after"`
	NLLCurve       [][2]float64
	GuoTemperature float64 `json:"guo_temperature"`
}

// TestParityTemperature: FitTemperature against PyTorch's LBFGS fit run to convergence
// (testdata/temperature_gen.py) on over-, under- and well-calibrated logits, imbalanced
// labels, two and ten classes, large logits and row offsets, and seven samples: T within
// 1e-4, the NLL at PyTorch's T and on the curve within 1e-12, and Go's minimum no higher than
// PyTorch's.
func TestParityTemperature(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/temperature", "testdata/temperature_gen.py")
	var cases []goldenCase
	pyoracle.ReadJSON(t, dir, "cases.json", &cases)
	if len(cases) < 8 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	maxT, maxNLL, maxGuo := 0.0, 0.0, 0.0
	for _, g := range cases {
		t.Run(g.Name, func(t *testing.T) {
			fit, err := FitTemperature(g.Logits, g.Labels)
			if err != nil {
				t.Fatal(err)
			}
			d := math.Abs(fit.Temperature - g.Temperature)
			maxT = math.Max(maxT, d)
			maxGuo = math.Max(maxGuo, math.Abs(g.GuoTemperature-g.Temperature))
			if !(d <= tolTemperature) {
				t.Errorf("T = %.12g, PyTorch LBFGS %.12g (|diff| %.3g > %g)", fit.Temperature, g.Temperature, d, tolTemperature)
			}
			nllCheck := func(what string, got, want float64) {
				t.Helper()
				d := math.Abs(got - want)
				maxNLL = math.Max(maxNLL, d)
				if !(d <= tolNLL) {
					t.Errorf("%s: NLL %.17g, PyTorch %.17g (|diff| %.3g > %g)", what, got, want, d, tolNLL)
				}
			}
			nllCheck("before (T = 1)", fit.NLLBefore, g.NLLBefore)
			at, err := NLL(g.Logits, g.Labels, g.Temperature)
			if err != nil {
				t.Fatal(err)
			}
			nllCheck("at PyTorch's T", at, g.NLLAfter)
			for _, p := range g.NLLCurve {
				v, err := NLL(g.Logits, g.Labels, p[0])
				if err != nil {
					t.Fatal(err)
				}
				nllCheck("curve", v, p[1])
			}
			// Go's T is a minimum at least as low as PyTorch's (to rounding).
			if fit.NLLAfter > g.NLLAfter+tolNLL {
				t.Errorf("NLL at Go's T %.17g above PyTorch's minimum %.17g", fit.NLLAfter, g.NLLAfter)
			}
			if fit.NLLAfter > fit.NLLBefore {
				t.Errorf("NLL after %.17g above before %.17g", fit.NLLAfter, fit.NLLBefore)
			}
		})
	}
	t.Logf("%d cases: max |T_Go − T_PyTorch| = %.3g, max |NLL_Go − NLL_PyTorch| = %.3g; Guo et al.'s LBFGS(lr=0.01, max_iter=50) ends up to %.3g from the minimum",
		len(cases), maxT, maxNLL, maxGuo)
}
