package transforms

import (
	"bytes"
	"image"
	"math"
	"testing"

	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/vision/imageio"
)

// TestParityRandomResizedCropStats compares the moments of RandomResizedCrop.Params with those
// of torchvision's get_params over 20000 torch draws per image shape (distribution parity: the
// random streams differ, the distributions must not).
func TestParityRandomResizedCropStats(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/transforms", "testdata/transforms_gen.py", goldenArgs()...)
	var ref []struct {
		Width, Height, N int
		Mean, Std        [4]float64
		FullFrac         float64 `json:"full_frac"`
	}
	pyoracle.ReadJSON(t, dir, "rrc_stats.json", &ref)
	if len(ref) == 0 {
		t.Fatal("no reference statistics")
	}
	rrc := NewRandomResizedCrop(224)
	for k, r := range ref {
		rng := NewRand(uint64(100+k), 7)
		var sum, sum2 [4]float64
		full := 0
		for range r.N {
			b, err := rrc.Params(r.Width, r.Height, rng)
			if err != nil {
				t.Fatal(err)
			}
			if b.Top < 0 || b.Left < 0 || b.Height <= 0 || b.Width <= 0 || b.Top+b.Height > r.Height || b.Left+b.Width > r.Width {
				t.Fatalf("%dx%d: box %+v outside the image", r.Width, r.Height, b)
			}
			v := [4]float64{float64(b.Top), float64(b.Left), float64(b.Height), float64(b.Width)}
			for i := range v {
				sum[i] += v[i]
				sum2[i] += v[i] * v[i]
			}
			if b.Height == r.Height && b.Width == r.Width {
				full++
			}
		}
		n := float64(r.N)
		for i, name := range []string{"top", "left", "height", "width"} {
			mean := sum[i] / n
			sd := math.Sqrt(math.Max(0, sum2[i]/n-mean*mean))
			// Means: 5 standard errors of the difference of two independent sample means.
			tolMean := 5*math.Sqrt((sd*sd+r.Std[i]*r.Std[i])/n) + 1e-9
			if math.Abs(mean-r.Mean[i]) > tolMean {
				t.Errorf("%dx%d %s mean: Go %.3f, torch %.3f (tol %.3f)", r.Width, r.Height, name, mean, r.Mean[i], tolMean)
			}
			// Standard deviations: the standard error of a sample std over 20000 draws of these
			// bounded variables is about 1%; allow 5% plus half a pixel of rounding.
			if math.Abs(sd-r.Std[i]) > 0.05*r.Std[i]+0.5 {
				t.Errorf("%dx%d %s std: Go %.3f, torch %.3f", r.Width, r.Height, name, sd, r.Std[i])
			}
		}
		// Fraction of whole-image boxes: 5 binomial standard errors of the difference.
		frac := float64(full) / n
		p := (frac + r.FullFrac) / 2
		if tol := 5*math.Sqrt(2*p*(1-p)/n) + 1e-3; math.Abs(frac-r.FullFrac) > tol {
			t.Errorf("%dx%d whole-image fraction: Go %.4f, torch %.4f", r.Width, r.Height, frac, r.FullFrac)
		}
	}
}

func TestRandomResizedCropFallback(t *testing.T) {
	// Scale ranges no box can satisfy force the central fallback on every draw.
	tests := []struct {
		name string
		w, h int
		want CropBox
	}{
		{"wide clamps to max ratio", 1000, 100, CropBox{Top: 0, Left: 433, Height: 100, Width: 133}},
		{"tall clamps to min ratio", 30, 400, CropBox{Top: 180, Left: 0, Height: 40, Width: 30}},
		{"in range keeps whole image", 120, 100, CropBox{Top: 0, Left: 0, Height: 100, Width: 120}},
	}
	rrc := RandomResizedCrop{Size: []int{8}, Scale: [2]float64{50, 60}, Ratio: [2]float64{3.0 / 4, 4.0 / 3}}
	for _, tc := range tests {
		got, err := rrc.Params(tc.w, tc.h, NewRand(1, 1))
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestRandomFormsReplay checks that each random transform applies exactly the parameters its
// Params method draws, so the functional forms can replay them.
func TestRandomFormsReplay(t *testing.T) {
	img := synthImage(317, 251, 5)
	jitter, err := NewColorJitter(0.2, 0.2, 0.2, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		tr     Transform
		replay func(rng Rand) (*imageio.RGB, error)
	}{
		{"RandomResizedCrop", NewRandomResizedCrop(64), func(rng Rand) (*imageio.RGB, error) {
			b, err := NewRandomResizedCrop(64).Params(img.W, img.H, rng)
			if err != nil {
				return nil, err
			}
			return ResizedCrop(img, b.Top, b.Left, b.Height, b.Width, []int{64, 64})
		}},
		{"RandomHorizontalFlip", RandomHorizontalFlip{P: 0.5}, func(rng Rand) (*imageio.RGB, error) {
			flip, err := RandomHorizontalFlip{P: 0.5}.Params(rng)
			if err != nil || !flip {
				return img.Clone(), err
			}
			return HorizontalFlip(img)
		}},
		{"RandomRotation", RandomRotation{Degrees: [2]float64{-30, 30}}, func(rng Rand) (*imageio.RGB, error) {
			a, err := RandomRotation{Degrees: [2]float64{-30, 30}}.Params(rng)
			if err != nil {
				return nil, err
			}
			return Rotate(img, a, [3]uint8{})
		}},
		{"ColorJitter", jitter, func(rng Rand) (*imageio.RGB, error) {
			p, err := jitter.Params(rng)
			if err != nil {
				return nil, err
			}
			return ApplyJitter(img, p)
		}},
	}
	for _, tc := range tests {
		for seed := uint64(0); seed < 6; seed++ {
			got, err := tc.tr.Apply(img, NewRand(seed, 3))
			if err != nil {
				t.Fatal(err)
			}
			want, err := tc.replay(NewRand(seed, 3))
			if err != nil {
				t.Fatal(err)
			}
			if got.W != want.W || got.H != want.H || !bytes.Equal(got.Pix, want.Pix) {
				t.Errorf("%s seed %d: Apply differs from the replayed parameters", tc.name, seed)
			}
		}
		if _, err := tc.tr.Apply(img, nil); err == nil {
			t.Errorf("%s: nil Rand accepted", tc.name)
		}
	}
}

func TestRandomParamRanges(t *testing.T) {
	rng := NewRand(42, 42)
	const n = 20000
	jitter, _ := NewColorJitter(0.2, 0.2, 0.2, 0.2)
	flips := 0
	var posCount [4][4]int
	for range n {
		p, err := jitter.Params(rng)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []float64{p.Brightness, p.Contrast, p.Saturation} {
			if f < 0.8 || f > 1.2 {
				t.Fatalf("factor %v outside [0.8, 1.2]", f)
			}
		}
		if p.Hue < -0.2 || p.Hue > 0.2 || !(p.HasBrightness && p.HasContrast && p.HasSaturation && p.HasHue) {
			t.Fatalf("bad jitter params %+v", p)
		}
		for pos, id := range p.Order {
			posCount[id][pos]++
		}
		a, _ := RandomRotation{Degrees: [2]float64{-30, 30}}.Params(rng)
		if a < -30 || a > 30 {
			t.Fatalf("angle %v outside [-30, 30]", a)
		}
		if f, _ := (RandomHorizontalFlip{P: 0.5}).Params(rng); f {
			flips++
		}
	}
	// Binomial counts: 5 standard deviations around the expected value.
	if sd := math.Sqrt(n * 0.25); math.Abs(float64(flips)-n/2) > 5*sd {
		t.Errorf("flipped %d of %d", flips, n)
	}
	for id := range posCount {
		for pos, c := range posCount[id] {
			if sd := math.Sqrt(n * 0.25 * 0.75); math.Abs(float64(c)-n/4) > 5*sd {
				t.Errorf("adjustment %d at position %d in %d of %d orders", id, pos, c, n)
			}
		}
	}
	off, _ := NewColorJitter(0, 0, 0, 0)
	p, _ := off.Params(rng)
	if p.HasBrightness || p.HasContrast || p.HasSaturation || p.HasHue {
		t.Errorf("zero ColorJitter draws factors: %+v", p)
	}
}

// TestPipelinesMatchFunctional checks the composed (and fused) pipelines against the plain
// functional steps followed by the unfused ToTensor and Normalize, bit for bit.
func TestPipelinesMatchFunctional(t *testing.T) {
	cfg := DefaultConfig()
	train, err := TrainPipeline(cfg)
	if err != nil {
		t.Fatal(err)
	}
	val, err := ValPipeline(cfg)
	if err != nil {
		t.Fatal(err)
	}
	jitter, _ := NewColorJitter(cfg.Brightness, cfg.Contrast, cfg.Saturation, cfg.Hue)
	sizes := [][2]int{{640, 480}, {480, 640}, {300, 1000}, {257, 256}, {100, 80}, {230, 90}, {1, 1}}
	for i, sz := range sizes {
		img := synthImage(sz[0], sz[1], uint64(i))
		// Validation: fused ResizeCenterCropStep vs Resize then CenterCrop.
		r, err := Resize(img, []int{cfg.ResizeSize})
		if err != nil {
			t.Fatal(err)
		}
		wantVal, err := CenterCrop(r, []int{cfg.CropSize})
		if err != nil {
			t.Fatal(err)
		}
		gotVal, err := val.Run(img, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		checkSample(t, sz, "val", gotVal, wantVal, cfg)

		// Training: replay the parameters the pipeline's steps draw, in the same order.
		seed := uint64(10 + i)
		rng := NewRand(seed, 9)
		b, _ := NewRandomResizedCrop(cfg.CropSize).Params(img.W, img.H, rng)
		flip, _ := RandomHorizontalFlip{P: cfg.FlipP}.Params(rng)
		angle, _ := RandomRotation{Degrees: [2]float64{-cfg.Degrees, cfg.Degrees}}.Params(rng)
		jp, _ := jitter.Params(rng)
		want, err := ResizedCrop(img, b.Top, b.Left, b.Height, b.Width, []int{cfg.CropSize, cfg.CropSize})
		if err == nil && flip {
			want, err = HorizontalFlip(want)
		}
		if err == nil {
			want, err = Rotate(want, angle, [3]uint8{})
		}
		if err == nil {
			want, err = ApplyJitter(want, jp)
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := train.Run(img, NewRand(seed, 9), make([]float32, 7))
		if err != nil {
			t.Fatal(err)
		}
		checkSample(t, sz, "train", got, want, cfg)
	}
}

func checkSample(t *testing.T, sz [2]int, name string, got Sample, want *imageio.RGB, cfg Config) {
	t.Helper()
	if got.RGB.W != want.W || got.RGB.H != want.H || !bytes.Equal(got.RGB.Pix, want.Pix) {
		t.Errorf("%v %s: pipeline image differs from the functional steps", sz, name)
		return
	}
	tensor, err := ToTensor(want)
	if err != nil {
		t.Fatal(err)
	}
	norm, err := Normalize(tensor, cfg.Mean, cfg.Std)
	if err != nil {
		t.Fatal(err)
	}
	if got.C != 3 || got.H != want.H || got.W != want.W || len(got.CHW) != len(norm) {
		t.Fatalf("%v %s: tensor shape %d×%d×%d (%d values)", sz, name, got.C, got.H, got.W, len(got.CHW))
	}
	for i := range norm {
		if math.Float32bits(norm[i]) != math.Float32bits(got.CHW[i]) {
			t.Fatalf("%v %s: fused tensor[%d] = %v, ToTensor+Normalize gives %v", sz, name, i, got.CHW[i], norm[i])
		}
	}
}

// TestResampleWindows checks that resampling an output window equals cropping the full resize,
// in both pass orders, for up- and downscaling.
func TestResampleWindows(t *testing.T) {
	img := synthImage(97, 211, 3)
	tests := []struct{ outW, outH int }{
		{40, 50},   // both down, horizontal first
		{90, 30},   // height shrinks much more: vertical first
		{200, 300}, // both up
		{20, 400},  // down / up
		{97, 60},   // vertical only
		{150, 211}, // horizontal only
	}
	for _, tc := range tests {
		sc := scale{in: dims{img.W, img.H}, out: dims{tc.outW, tc.outH}}
		full := resample(img, image.Point{}, sc, sc.whole())
		for _, win := range []rect{sc.whole(), {3, 5, tc.outW / 2, tc.outH / 3}, {tc.outW - 1, tc.outH - 1, 1, 1}} {
			got := resample(img, image.Point{}, sc, win)
			want := crop(full, win.y, win.x, win.h, win.w)
			if !bytes.Equal(got.Pix, want.Pix) {
				t.Errorf("%dx%d window %v differs from the cropped full resize", tc.outW, tc.outH, win)
			}
		}
		// A source window must equal resizing the copied crop.
		sub := crop(img, 7, 11, 150, 60)
		subSc := scale{in: dims{sub.W, sub.H}, out: sc.out}
		want := resample(sub, image.Point{}, subSc, subSc.whole())
		got := resample(img, image.Pt(11, 7), subSc, subSc.whole())
		if !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("%dx%d: resampling a source window differs from resampling its copy", tc.outW, tc.outH)
		}
	}
}

func TestFunctionalErrors(t *testing.T) {
	img := synthImage(10, 8, 1)
	bad := &imageio.RGB{W: 4, H: 4, Pix: make([]uint8, 5)}
	tests := []struct {
		name string
		call func() error
	}{
		{"nil image", func() error { _, err := Resize(nil, []int{4}); return err }},
		{"malformed image", func() error { _, err := HorizontalFlip(bad); return err }},
		{"resize size empty", func() error { _, err := Resize(img, nil); return err }},
		{"resize size zero", func() error { _, err := Resize(img, []int{0}); return err }},
		{"resize size three", func() error { _, err := Resize(img, []int{1, 2, 3}); return err }},
		{"center crop size", func() error { _, err := CenterCrop(img, []int{-1}); return err }},
		{"crop negative", func() error { _, err := Crop(img, 0, 0, -1, 2); return err }},
		{"resized crop empty", func() error { _, err := ResizedCrop(img, 0, 0, 0, 3, []int{4}); return err }},
		{"rotate NaN", func() error { _, err := Rotate(img, math.NaN(), [3]uint8{}); return err }},
		{"brightness negative", func() error { _, err := AdjustBrightness(img, -1); return err }},
		{"contrast NaN", func() error { _, err := AdjustContrast(img, math.NaN()); return err }},
		{"saturation Inf", func() error { _, err := AdjustSaturation(img, math.Inf(1)); return err }},
		{"hue out of range", func() error { _, err := AdjustHue(img, 0.6); return err }},
		{"normalize zero std", func() error { _, err := Normalize(make([]float32, 3), [3]float32{}, [3]float32{1, 0, 1}); return err }},
		{"normalize length", func() error { _, err := Normalize(make([]float32, 4), [3]float32{}, [3]float32{1, 1, 1}); return err }},
		{"jitter hue", func() error { _, err := NewColorJitter(0, 0, 0, 0.7); return err }},
		{"pipeline config", func() error { _, err := ValPipeline(Config{}); return err }},
	}
	for _, tc := range tests {
		if tc.call() == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestFunctionalsDoNotModifyInput(t *testing.T) {
	img := synthImage(33, 21, 2)
	orig := img.Clone()
	steps := []func() (*imageio.RGB, error){
		func() (*imageio.RGB, error) { return Resize(img, []int{10}) },
		func() (*imageio.RGB, error) { return CenterCrop(img, []int{40}) },
		func() (*imageio.RGB, error) { return ResizedCrop(img, 2, 3, 10, 12, []int{5}) },
		func() (*imageio.RGB, error) { return HorizontalFlip(img) },
		func() (*imageio.RGB, error) { return Rotate(img, 33, [3]uint8{1, 2, 3}) },
		func() (*imageio.RGB, error) { return AdjustBrightness(img, 1.3) },
		func() (*imageio.RGB, error) { return AdjustContrast(img, 0.7) },
		func() (*imageio.RGB, error) { return AdjustSaturation(img, 1.5) },
		func() (*imageio.RGB, error) { return AdjustHue(img, -0.3) },
	}
	for i, f := range steps {
		out, err := f()
		if err != nil {
			t.Fatal(err)
		}
		if &out.Pix[0] == &img.Pix[0] {
			t.Errorf("step %d returned memory shared with its input", i)
		}
		if !bytes.Equal(img.Pix, orig.Pix) {
			t.Fatalf("step %d modified its input", i)
		}
	}
}

func TestRotateFill(t *testing.T) {
	img := synthImage(20, 20, 4)
	out, err := Rotate(img, 45, [3]uint8{9, 8, 7})
	if err != nil {
		t.Fatal(err)
	}
	// The corners come from outside the rotated image: they carry the fill colour.
	for _, xy := range [][2]int{{0, 0}, {19, 0}, {0, 19}, {19, 19}} {
		if r, g, b := out.At(xy[0], xy[1]); r != 9 || g != 8 || b != 7 {
			t.Errorf("corner %v = %d,%d,%d, want the fill 9,8,7", xy, r, g, b)
		}
	}
}

// TestBlendTableMatchesBlendValue guards the tabulated blend against the direct Blend.c formula
// for every pair of 8-bit inputs.
func TestBlendTableMatchesBlendValue(t *testing.T) {
	for _, alpha := range []float32{0, 0.5, 0.8, 0.99999994, 1, 1.2, 2.7} {
		bt := newBlendTable(alpha)
		lut := blendConstLUT(77, alpha)
		for a := 0; a < 256; a++ {
			for b := 0; b < 256; b++ {
				if got, want := bt.at(uint8(a), uint8(b)), blendValue(uint8(a), uint8(b), alpha); got != want {
					t.Fatalf("alpha %v: table(%d, %d) = %d, Blend gives %d", alpha, a, b, got, want)
				}
			}
			if lut[a] != blendValue(77, uint8(a), alpha) {
				t.Fatalf("alpha %v: constant LUT differs at %d", alpha, a)
			}
		}
	}
}
