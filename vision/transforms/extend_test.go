package transforms_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/synth"
	"github.com/drgrade/drgrade/vision/transforms"
)

// invert is the colour inversion of torchvision's F.invert on a PIL image (255 − v).
func invert(img *imageio.RGB) (*imageio.RGB, error) {
	out := img.Clone()
	for i, v := range out.Pix {
		out.Pix[i] = 255 - v
	}
	return out, nil
}

// randomInvert is a toy custom augmentation, torchvision's RandomInvert(p): it draws from the
// Rand it is given, like the built-in random transforms.
func randomInvert(p float64) transforms.RandFunc {
	return func(img *imageio.RGB, rng transforms.Rand) (*imageio.RGB, error) {
		if rng.Float64() < p {
			return invert(img)
		}
		return img, nil
	}
}

// fixedRand returns the same draw every time.
type fixedRand float64

func (f fixedRand) Float64() float64 { return float64(f) }
func (fixedRand) IntN(int) int       { return 0 }
func (fixedRand) Perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

func gradient(w, h int) *imageio.RGB {
	img := imageio.NewRGB(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, uint8(x*255/(w-1)), uint8(y*255/(h-1)), uint8((x+y)%256))
		}
	}
	return img
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCustomTransformInPipeline: a custom random transform appended to the validation pipeline
// runs after Resize + CenterCrop and before ToTensor + Normalize, draws from the pipeline's
// Rand, and leaves the pipeline it extends unchanged.
func TestCustomTransformInPipeline(t *testing.T) {
	cfg := transforms.DefaultConfig()
	cfg.CropSize, cfg.ResizeSize = 32, 36
	val, err := transforms.ValPipeline(cfg)
	if err != nil {
		t.Fatal(err)
	}
	custom := val.Append(randomInvert(0.5))
	if len(val.Steps) != 1 || len(custom.Steps) != 2 {
		t.Fatalf("Append changed the original (%d steps) or lost a step (%d)", len(val.Steps), len(custom.Steps))
	}
	img := gradient(48, 40)

	// What the step must produce: invert the cropped picture, then ToTensor + Normalize.
	cropped, err := val.RGB(img, nil)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := invert(cropped)
	if err != nil {
		t.Fatal(err)
	}
	norm := func(m *imageio.RGB) []float32 {
		chw, err := transforms.ToTensor(m)
		if err != nil {
			t.Fatal(err)
		}
		if chw, err = transforms.Normalize(chw, cfg.Mean, cfg.Std); err != nil {
			t.Fatal(err)
		}
		return chw
	}
	for _, tc := range []struct {
		draw float64
		want []float32
	}{
		{0.25, norm(inv)},     // below p: inverted
		{0.75, norm(cropped)}, // above p: unchanged
	} {
		s, err := custom.Run(img, fixedRand(tc.draw), nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.H != 32 || s.W != 32 || !equal(s.CHW, tc.want) {
			t.Errorf("draw %v: the pipeline with the custom step gave another tensor (%dx%d)", tc.draw, s.W, s.H)
		}
	}
	if _, err := custom.Run(img, nil, nil); err == nil {
		t.Error("a RandFunc ran without a Rand")
	}
	if _, err := val.Append(transforms.Func(func(*imageio.RGB) (*imageio.RGB, error) {
		return nil, errors.New("toy failure")
	})).Run(img, nil, nil); err == nil {
		t.Error("a failing custom step did not fail the pipeline")
	}
}

// TestCustomTransformThroughLoader: the loader applies a custom step to every sample it
// delivers, so `drgrade train`-style loops need no change to use one.
func TestCustomTransformThroughLoader(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if _, err := synth.Generate(data, synth.Options{N: 10, Size: 48, Seed: 5, Workers: 1}, nil); err != nil {
		t.Fatal(err)
	}
	ds, err := dataset.Load(data, "train", 5)
	if err != nil {
		t.Fatal(err)
	}
	cfg := transforms.DefaultConfig()
	cfg.CropSize, cfg.ResizeSize = 32, 36
	val, err := transforms.ValPipeline(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := loader.New(ds, val.Append(transforms.Func(invert)), 32, loader.Options{BatchSize: 4, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	it := l.Epoch(0)
	defer it.Close()
	seen := 0
	for {
		b, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			break
		}
		per := 3 * b.H * b.W
		for i, idx := range b.Index {
			img, err := imageio.Decode(ds.Paths[idx])
			if err != nil {
				t.Fatal(err)
			}
			cropped, err := val.RGB(img, nil)
			if err != nil {
				t.Fatal(err)
			}
			inv, _ := invert(cropped)
			want, err := transforms.ToTensor(inv)
			if err != nil {
				t.Fatal(err)
			}
			if want, err = transforms.Normalize(want, cfg.Mean, cfg.Std); err != nil {
				t.Fatal(err)
			}
			if !equal(b.Images[i*per:(i+1)*per], want) {
				t.Errorf("sample %d (%s) is not the inverted crop", idx, ds.Names[idx])
			}
			seen++
		}
		b.Release()
	}
	if seen != ds.Len() {
		t.Errorf("the loader delivered %d samples of %d", seen, ds.Len())
	}
}
