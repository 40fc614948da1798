package models

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
)

// TestTruncNormalBounds: cnnTruncNormal (nn.init.trunc_normal_) keeps every value in [a, b]
// and, for bounds at ±0.5σ, has the truncated normal's standard deviation
// σ·sqrt(1 − 2·0.5·φ(0.5)/(2Φ(0.5)−1)) ≈ 0.2839σ.
func TestTruncNormalBounds(t *testing.T) {
	locked.Run(func() {
		x, err := ts.Empty([]int64{100000}, gotch.Float, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		defer x.MustDrop()
		if err := cnnTruncNormal(1, 2, 0, 2)(x); err != nil {
			t.Fatal(err)
		}
		v := x.Float64Values()
		var sum, sq float64
		for _, f := range v {
			if f < 0 || f > 2 {
				t.Fatalf("value %v outside [0, 2]", f)
			}
			sum += f
			sq += f * f
		}
		n := float64(len(v))
		mean := sum / n
		std := math.Sqrt(sq/n - mean*mean)
		phi := math.Exp(-0.125) / math.Sqrt(2*math.Pi)
		want := 2 * math.Sqrt(1-2*0.5*phi/math.Erf(0.5/math.Sqrt2))
		t.Logf("mean %.4f (|Δ| %.2g), std %.4f (relative Δ %.2g)", mean, math.Abs(mean-1), std, math.Abs(std-want)/want)
		// float64 sums of float32 draws, so the error is sampling error: the standard error of
		// 1e5 draws is 0.0018 for the mean (σ_trunc/√n = 0.568/316) and 0.15% for the std.
		// Measured worst over 20 runs: |Δmean| 0.0057, relative Δstd 0.0038. 0.02 is over 10
		// standard errors, so the test does not flake, while a wrong σ, or clipping instead of
		// redrawing (std 0.86, not 0.57), fails.
		if math.Abs(mean-1) > 0.02 || math.Abs(std-want) > 0.02*want {
			t.Errorf("mean %.4f std %.4f, want 1 and %.4f", mean, std, want)
		}
	})
}

// TestMakeDivisible pins mbMakeDivisible to torchvision's _make_divisible on the values
// MobileNetV3's squeeze-excitation uses (expanded // 4) and edge cases; the expected values
// were printed by torchvision.models._utils._make_divisible(v, 8).
func TestMakeDivisible(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want int64
	}{
		{4, 8}, {18, 24}, {22, 24}, {24, 24}, {30, 32}, {36, 40}, {60, 64}, {72, 72}, {120, 120},
		{144, 144}, {168, 168}, {240, 240}, {11, 16}, {3, 8},
	} {
		if got := mbMakeDivisible(c.v, 8); got != c.want {
			t.Errorf("_make_divisible(%v, 8) = %d, want %d", c.v, got, c.want)
		}
	}
}
