package transforms

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/vision/imageio"
)

// autoAugmentGolden is testdata/autoaugment_gen.py's output: committed, or live with make parity.
func autoAugmentGolden(t *testing.T) string {
	return pyoracle.Golden(t, "testdata/autoaugment", "testdata/autoaugment_gen.py")
}

// npyRGB reads an HWC uint8 .npy (or the index-th image of an [N, H, W, 3] one).
func npyRGB(t *testing.T, path string, index int) *imageio.RGB {
	t.Helper()
	a, err := npy.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := a.Shape
	if len(s) == 4 {
		s = s[1:]
	}
	if len(s) != 3 || s[2] != 3 {
		t.Fatalf("%s: shape %v is not HWC RGB", path, a.Shape)
	}
	img := imageio.NewRGB(s[1], s[0])
	off := index * len(img.Pix)
	for i := range img.Pix {
		img.Pix[i] = uint8(a.I64[off+i])
	}
	return img
}

// TestParityAutoAugmentOps: every op of the augmentation space, both signs where it has one,
// equal to torchvision's _apply_op on the PIL image byte for byte.
func TestParityAutoAugmentOps(t *testing.T) {
	dir := autoAugmentGolden(t)
	in := npyRGB(t, filepath.Join(dir, "input.npy"), 0)
	var cases []struct {
		Op        string  `json:"op"`
		Magnitude float64 `json:"magnitude"`
	}
	pyoracle.ReadJSON(t, dir, "cases.json", &cases)
	if len(cases) < len(augOps) {
		t.Fatalf("%d cases for %d ops", len(cases), len(augOps))
	}
	seen := map[AugOp]bool{}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%02d_%s_%g", i, c.Op, c.Magnitude), func(t *testing.T) {
			want := npyRGB(t, filepath.Join(dir, "outputs.npy"), i)
			got, err := ApplyAugOp(in, AugOp(c.Op), c.Magnitude)
			if err != nil {
				t.Fatal(err)
			}
			seen[AugOp(c.Op)] = true
			if got.W != want.W || got.H != want.H {
				t.Fatalf("size %dx%d, want %dx%d", got.W, got.H, want.W, want.H)
			}
			diff, first := 0, -1
			for k := range got.Pix {
				if got.Pix[k] != want.Pix[k] {
					if first < 0 {
						first = k
					}
					diff++
				}
			}
			if diff > 0 {
				p := first / 3
				t.Errorf("%d of %d values differ; first at (x %d, y %d) channel %d: %d, torchvision %d",
					diff, len(got.Pix), p%got.W, p/got.W, first%3, got.Pix[first], want.Pix[first])
			}
			if c.Op != string(OpIdentity) && equalRGB(got, in) && !(c.Op == string(OpPosterize) && c.Magnitude == 8) &&
				!(c.Op == string(OpSolarize) && c.Magnitude == 255) {
				t.Errorf("the op left the image unchanged: the case tests nothing")
			}
		})
	}
	for _, op := range augOps {
		if !seen[op] {
			t.Errorf("op %s has no case", op)
		}
	}
}

func equalRGB(a, b *imageio.RGB) bool {
	if a.W != b.W || a.H != b.H {
		return false
	}
	for i := range a.Pix {
		if a.Pix[i] != b.Pix[i] {
			return false
		}
	}
	return true
}

// TestParityAugmentSpaces: the policies' magnitude tables (float32 linspace, the posterize bits)
// and op order equal torchvision's for the input's size.
func TestParityAugmentSpaces(t *testing.T) {
	dir := autoAugmentGolden(t)
	in := npyRGB(t, filepath.Join(dir, "input.npy"), 0)
	type entry struct {
		Magnitudes []float64 `json:"magnitudes"`
		Signed     bool      `json:"signed"`
	}
	var want struct {
		Trivial map[string]entry `json:"trivialaugment"`
		Rand    map[string]entry `json:"randaugment"`
		Order   []string         `json:"order"`
	}
	pyoracle.ReadJSON(t, dir, "spaces.json", &want)
	if len(want.Order) != len(augOps) {
		t.Fatalf("torchvision has %d ops, drgrade %d", len(want.Order), len(augOps))
	}
	for i, op := range augOps {
		if string(op) != want.Order[i] {
			t.Errorf("op %d: %s, torchvision %s", i, op, want.Order[i])
		}
	}
	for _, sp := range []struct {
		name string
		got  func(AugOp) []float64
		want map[string]entry
	}{
		{"TrivialAugmentWide", func(op AugOp) []float64 { return trivialMagnitudes(op, 31) }, want.Trivial},
		{"RandAugment", func(op AugOp) []float64 { return randMagnitudes(op, 31, in.H, in.W) }, want.Rand},
	} {
		for _, op := range augOps {
			w := sp.want[string(op)]
			g := sp.got(op)
			if signedOp(op) != w.Signed {
				t.Errorf("%s %s: signed %v, torchvision %v", sp.name, op, signedOp(op), w.Signed)
			}
			if len(g) != len(w.Magnitudes) {
				t.Errorf("%s %s: %d magnitudes, torchvision %d", sp.name, op, len(g), len(w.Magnitudes))
				continue
			}
			for k := range g {
				if g[k] != w.Magnitudes[k] { // float32 values: exact
					t.Errorf("%s %s[%d] = %v, torchvision %v", sp.name, op, k, g[k], w.Magnitudes[k])
				}
			}
		}
	}
}

// TestParityErase: Erase on the normalised tensor equals torchvision's F.erase.
func TestParityErase(t *testing.T) {
	dir := autoAugmentGolden(t)
	in := npyRGB(t, filepath.Join(dir, "input.npy"), 0)
	want, err := npy.ReadFile(filepath.Join(dir, "erase.npy"))
	if err != nil {
		t.Fatal(err)
	}
	chw, err := ToTensor(in)
	if err != nil {
		t.Fatal(err)
	}
	if chw, err = Normalize(chw, ImageNetMean, ImageNetStd); err != nil {
		t.Fatal(err)
	}
	if err := Erase(chw, 3, in.H, in.W, 3, 5, 7, 9, 0); err != nil {
		t.Fatal(err)
	}
	zeros := 0
	for i, v := range chw {
		if math.Abs(float64(v-want.F32[i])) > 1e-6 { // ToTensor/Normalize in float32: measured equal
			t.Fatalf("value %d: %v, torchvision %v", i, v, want.F32[i])
		}
		if v == 0 {
			zeros++
		}
	}
	if zeros != 3*7*9 {
		t.Errorf("%d zeros, want the 3×7×9 erased", zeros)
	}
}

// seqRand replays IntN answers and Float64 values in order.
type seqRand struct {
	ints   []int
	floats []float64
	nInts  []int // the n of each IntN call, recorded
}

func (r *seqRand) IntN(n int) int {
	r.nInts = append(r.nInts, n)
	v := r.ints[0]
	r.ints = r.ints[1:]
	return v
}

func (r *seqRand) Float64() float64 {
	v := r.floats[0]
	r.floats = r.floats[1:]
	return v
}

func (r *seqRand) Perm(n int) []int { panic("unused") }

// TestAutoAugmentPolicies: the policies draw as torchvision does (op index over 14, then the
// bin over 31 for TrivialAugmentWide or the fixed bin for RandAugment, then the sign for signed
// ops) and apply that op at that magnitude.
func TestAutoAugmentPolicies(t *testing.T) {
	img := imageio.NewRGB(23, 19)
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7 % 251)
	}
	cases := []struct {
		name   string
		tr     Transform
		ints   []int
		nInts  []int
		ops    []AugOp
		mags   []float64
		unused bool
	}{
		{"trivial rotate bin 7 negative", TrivialAugmentWide{}, []int{5, 7, 1}, []int{14, 31, 2},
			[]AugOp{OpRotate}, []float64{-trivialMagnitudes(OpRotate, 31)[7]}, false},
		{"trivial posterize bin 30 (no sign)", TrivialAugmentWide{}, []int{10, 30}, []int{14, 31},
			[]AugOp{OpPosterize}, []float64{2}, false},
		{"trivial equalize (no bin, no sign)", TrivialAugmentWide{}, []int{13}, []int{14},
			[]AugOp{OpEqualize}, []float64{0}, false},
		{"randaugment 2 ops at bin 9", RandAugment{NumOps: 2, Magnitude: 9}, []int{3, 0, 11}, []int{14, 2, 14},
			[]AugOp{OpTranslateX, OpSolarize}, []float64{randMagnitudes(OpTranslateX, 31, img.H, img.W)[9], randMagnitudes(OpSolarize, 31, img.H, img.W)[9]}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := &seqRand{ints: append([]int(nil), c.ints...)}
			got, err := c.tr.Apply(img, rng)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(rng.nInts) != fmt.Sprint(c.nInts) {
				t.Errorf("IntN calls with n = %v, want %v", rng.nInts, c.nInts)
			}
			want := img
			for k, op := range c.ops {
				if want, err = ApplyAugOp(want, op, c.mags[k]); err != nil {
					t.Fatal(err)
				}
			}
			if !equalRGB(got, want) {
				t.Errorf("the policy's output is not %v at %v", c.ops, c.mags)
			}
		})
	}
	if _, err := (RandAugment{NumOps: 2, Magnitude: 31}).Apply(img, &seqRand{}); err == nil {
		t.Error("RandAugment magnitude 31 of 31 bins: no error")
	}
	if _, err := ApplyAugOp(img, "Invert", 0); err == nil {
		t.Error("an unknown op: no error")
	}
	if _, err := Posterize(img, 0); err == nil {
		t.Error("posterize 0 bits: no error")
	}
}

// TestRandomErasing: the rectangle fits, its area and aspect stay in range, P is honoured, and
// a pipeline's tensor step runs after Normalize in Run and RunSource alike.
func TestRandomErasing(t *testing.T) {
	re, err := NewRandomErasing(1)
	if err != nil {
		t.Fatal(err)
	}
	rng := NewRand(1, 2)
	const h, w = 40, 60
	for range 500 {
		i, j, eh, ew, ok := re.Params(h, w, rng)
		if !ok {
			continue
		}
		if i < 0 || j < 0 || eh < 1 || ew < 1 || i+eh > h || j+ew > w {
			t.Fatalf("rectangle (%d, %d) %dx%d outside %dx%d", i, j, eh, ew, h, w)
		}
		a := float64(eh*ew) / (h * w)
		if a < 0.005 || a > 0.5 {
			t.Fatalf("area fraction %v far outside [0.02, 0.33]", a)
		}
	}
	chw := make([]float32, 3*h*w)
	for i := range chw {
		chw[i] = 1
	}
	never := RandomErasing{P: 0, Scale: re.Scale, Ratio: re.Ratio}
	if err := never.ApplyCHW(chw, 3, h, w, rng); err != nil {
		t.Fatal(err)
	}
	for _, v := range chw {
		if v != 1 {
			t.Fatal("P 0 erased")
		}
	}
	if err := (RandomErasing{P: 2}).ApplyCHW(chw, 3, h, w, rng); err == nil {
		t.Error("P 2: no error")
	}
	if err := Erase(chw, 3, h, w, 35, 0, 10, 10, 0); err == nil {
		t.Error("a rectangle past the bottom: no error")
	}

	img := imageio.NewRGB(w, h)
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	p, err := NewPipeline(Compose{RandomHorizontalFlip{P: 1}}, ImageNetMean, ImageNetStd)
	if err != nil {
		t.Fatal(err)
	}
	p.Tensor = []TensorTransform{RandomErasing{P: 1, Scale: [2]float64{0.2, 0.2}, Ratio: [2]float64{1, 1}, Value: -7}}
	p2 := p.Append(RandomHorizontalFlip{P: 1})
	for _, pp := range []*Pipeline{p, p2} {
		s, err := pp.Run(img, NewRand(3, 4), nil)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, v := range s.CHW {
			if v == -7 {
				n++
			}
		}
		// sqrt(0.2·2400) = 21.9 → 22×22 per channel
		if n != 3*22*22 {
			t.Errorf("%d erased values, want 3·22·22", n)
		}
	}
}
