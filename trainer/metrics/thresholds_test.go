package metrics

import (
	"slices"
	"sort"
	"testing"

	"github.com/drgrade/drgrade/internal/pyoracle"
)

// TestParityThresholds: ApplyThresholds cuts as pd.cut (right-closed: a value on a threshold
// goes below it), and OptimizeThresholds reaches at least the quadratic kappa of the APTOS
// recipe's scipy Nelder–Mead optimum (where scipy's thresholds ascend, which pd.cut needs) and
// of the default thresholds, with ascending thresholds, on three synthetic regression outputs.
func TestParityThresholds(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/thresholds", "testdata/thresholds_gen.py")
	var g struct {
		Cases []struct {
			Name         string
			X            []float64
			Labels       []int
			KappaDefault float64   `json:"kappa_default"`
			KappaScipy   float64   `json:"kappa_scipy"`
			Scipy        []float64 `json:"scipy_thresholds"`
		}
		Probe    []float64 `json:"cut_probe"`
		Fixed    []float64 `json:"cut_fixed"`
		Expected []int     `json:"cut_expected"`
	}
	pyoracle.ReadJSON(t, dir, "cases.json", &g)
	if got := ApplyThresholds(g.Probe, g.Fixed); !slices.Equal(got, g.Expected) {
		t.Errorf("cut %v by %v: %v, pd.cut %v", g.Probe, g.Fixed, got, g.Expected)
	}
	for _, c := range g.Cases {
		thr, k, err := OptimizeThresholds(c.X, c.Labels, 5)
		if err != nil {
			t.Fatal(err)
		}
		if !sort.Float64sAreSorted(thr) {
			t.Errorf("%s: thresholds %v do not ascend", c.Name, thr)
		}
		check, _ := QuadraticKappa(c.Labels, ApplyThresholds(c.X, thr), 5, AllLabels)
		if check != k {
			t.Errorf("%s: reported kappa %v, the thresholds give %v", c.Name, k, check)
		}
		if k < c.KappaDefault {
			t.Errorf("%s: kappa %v below the default thresholds' %v", c.Name, k, c.KappaDefault)
		}
		if sort.Float64sAreSorted(c.Scipy) && k < c.KappaScipy-1e-12 {
			t.Errorf("%s: kappa %v below scipy's Nelder-Mead %v", c.Name, k, c.KappaScipy)
		}
		t.Logf("%s: kappa %.4f (default %.4f, scipy %.4f) at %v", c.Name, k, c.KappaDefault, c.KappaScipy, thr)
	}
	if _, _, err := OptimizeThresholds([]float64{1}, []int{1, 2}, 5); err == nil {
		t.Error("mismatched lengths: no error")
	}
}
