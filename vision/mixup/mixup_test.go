package mixup

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/vision/transforms"
)

type goldenCase struct {
	Name      string  `json:"name"`
	Lam       float64 `json:"lam"`
	CutMix    bool    `json:"cutmix"`
	Centre    []int   `json:"centre"`
	Smoothing float64 `json:"smoothing"`
	Loss      float64 `json:"loss"`
}

func readNpy(t *testing.T, dir, name string) *npy.Array {
	t.Helper()
	a, err := npy.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestParityMixup: given timm's draws (λ, mixup or CutMix, the box centre), Apply and Targets
// give timm's Mixup.__call__ outputs exactly: the mixed batch (float32 mul_/add_, or the pasted
// box) and the soft targets with label smoothing folded in, λ corrected to the box.
func TestParityMixup(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/mixup", "testdata/mixup_gen.py")
	x := readNpy(t, dir, "x.npy")
	y := readNpy(t, dir, "y.npy")
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	var cases []goldenCase
	pyoracle.ReadJSON(t, dir, "cases.json", &cases)
	for _, gc := range cases {
		t.Run(gc.Name, func(t *testing.T) {
			p := Params{Lam: gc.Lam}
			if gc.CutMix {
				p = Box(h, w, gc.Lam, gc.Centre[0], gc.Centre[1])
			}
			imgs := append([]float32(nil), x.F32...)
			if err := Apply(imgs, n, c, h, w, p); err != nil {
				t.Fatal(err)
			}
			want := readNpy(t, dir, gc.Name+"_x.npy").F32
			changed := 0
			for i := range imgs {
				if imgs[i] != want[i] {
					t.Fatalf("value %d: %v, timm %v", i, imgs[i], want[i])
				}
				if imgs[i] != x.F32[i] {
					changed++
				}
			}
			if (changed == 0) != (gc.Lam == 1) {
				t.Errorf("%d values changed at λ %v", changed, gc.Lam)
			}
			tg, err := Targets(y.I64, 5, p.Lam, gc.Smoothing)
			if err != nil {
				t.Fatal(err)
			}
			wantT := readNpy(t, dir, gc.Name+"_t.npy").F32
			for i := range tg {
				if tg[i] != wantT[i] {
					t.Fatalf("target %d: %v, timm %v (λ %v)", i, tg[i], wantT[i], p.Lam)
				}
			}
		})
	}
}

// TestDraw: the probability of mixing, the mixup/CutMix switch and Beta(α, α)'s mean behave as
// timm's _params_per_batch, and every CutMix box lies inside the image with λ its area share.
func TestDraw(t *testing.T) {
	rng := transforms.NewRand(7, 1)
	const trials = 4000
	for _, c := range []struct {
		name                string
		cfg                 Config
		mixFrac, cutFrac    float64 // expected share of mixed batches, and of those CutMix
		lamMean, lamMeanTol float64
	}{
		{"off", Config{Prob: 1, NumClasses: 5}, 0, 0, 1, 0},
		{"never", Config{MixupAlpha: 0.2, Prob: 0, NumClasses: 5}, 0, 0, 1, 0},
		{"mixup", Config{MixupAlpha: 0.4, Prob: 1, NumClasses: 5}, 1, 0, 0.5, 0.03},
		{"cutmix", Config{CutmixAlpha: 1, Prob: 0.5, NumClasses: 5}, 0.5, 1, -1, 0},
		{"both", Config{MixupAlpha: 0.8, CutmixAlpha: 1, Prob: 1, SwitchProb: 0.25, NumClasses: 5}, 1, 0.25, -1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			mixed, cut := 0, 0
			var lamSum float64
			for range trials {
				p := c.cfg.Draw(rng, 24, 30)
				lamSum += p.Lam
				if p.Lam != 1 || p.CutMix {
					mixed++
				}
				if p.CutMix {
					cut++
					if p.YL < 0 || p.XL < 0 || p.YH > 24 || p.XH > 30 || p.YL > p.YH || p.XL > p.XH {
						t.Fatalf("box %+v outside 24×30", p)
					}
					if want := 1 - float64((p.YH-p.YL)*(p.XH-p.XL))/(24*30); p.Lam != want {
						t.Fatalf("λ %v is not the box's share %v", p.Lam, want)
					}
				}
			}
			if f := float64(mixed) / trials; math.Abs(f-c.mixFrac) > 0.04 {
				t.Errorf("mixed %.3f of batches, want %.2f", f, c.mixFrac)
			}
			if mixed > 0 {
				if f := float64(cut) / float64(mixed); math.Abs(f-c.cutFrac) > 0.04 {
					t.Errorf("CutMix %.3f of mixed batches, want %.2f", f, c.cutFrac)
				}
			}
			if c.lamMean >= 0 {
				if m := lamSum / trials; math.Abs(m-c.lamMean) > c.lamMeanTol+1e-12 {
					t.Errorf("mean λ %.3f, want %.2f", m, c.lamMean)
				}
			}
		})
	}
	if err := (Config{MixupAlpha: -1, NumClasses: 5}).Validate(); err == nil {
		t.Error("a negative alpha validated")
	}
	if err := Apply(make([]float32, 10), 2, 1, 2, 2, Params{Lam: 0.5}); err == nil {
		t.Error("a wrong buffer size: no error")
	}
	if err := Apply(make([]float32, 12), 3, 1, 2, 2, Params{Lam: 0.5}); err == nil {
		t.Error("an odd batch: no error (timm asserts an even one)")
	}
	if _, err := Targets([]int64{7}, 5, 1, 0); err == nil {
		t.Error("label 7 of 5 classes: no error")
	}
}
