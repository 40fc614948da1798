package transforms

import (
	"fmt"
	"math"
)

// TensorTransform is a step on the normalised CHW tensor, after ToTensor + Normalize (as
// torchvision's RandomErasing, which takes a tensor). It changes chw in place.
type TensorTransform interface {
	ApplyCHW(chw []float32, c, h, w int, rng Rand) error
}

// Erase mirrors torchvision.transforms.functional.erase with a constant value: the h×w
// rectangle at (i, j) of every channel set to v.
func Erase(chw []float32, c, h, w, i, j, eh, ew int, v float32) error {
	if len(chw) != c*h*w {
		return fmt.Errorf("transforms: erase: %d values for a %d×%d×%d tensor", len(chw), c, h, w)
	}
	if i < 0 || j < 0 || eh < 0 || ew < 0 || i+eh > h || j+ew > w {
		return fmt.Errorf("transforms: erase: rectangle (%d, %d) %d×%d outside a %d×%d image", i, j, eh, ew, h, w)
	}
	for ch := range c {
		for y := i; y < i+eh; y++ {
			row := chw[(ch*h+y)*w+j : (ch*h+y)*w+j+ew]
			for x := range row {
				row[x] = v
			}
		}
	}
	return nil
}

// RandomErasing mirrors torchvision.transforms.RandomErasing (v1, value a constant) on the
// normalised tensor: with probability P a rectangle whose area is a uniform fraction of the
// image in Scale and whose aspect ratio is log-uniform in Ratio is set to Value; of 10 tries the
// first that fits is taken, and none that fits leaves the image unchanged.
type RandomErasing struct {
	P     float64    // 0.5 in torchvision
	Scale [2]float64 // (0.02, 0.33)
	Ratio [2]float64 // (0.3, 3.3)
	Value float32    // 0
}

// NewRandomErasing is RandomErasing(p) with torchvision's other defaults.
func NewRandomErasing(p float64) (RandomErasing, error) {
	t := RandomErasing{P: p, Scale: [2]float64{0.02, 0.33}, Ratio: [2]float64{0.3, 3.3}}
	return t, t.validate()
}

func (t RandomErasing) validate() error {
	if !(t.P >= 0 && t.P <= 1) {
		return fmt.Errorf("transforms: random erasing probability %v must be in [0, 1]", t.P)
	}
	if !(t.Scale[0] >= 0 && t.Scale[0] <= t.Scale[1] && t.Scale[1] <= 1) {
		return fmt.Errorf("transforms: random erasing scale %v must be a range in [0, 1]", t.Scale)
	}
	if !(t.Ratio[0] > 0 && t.Ratio[0] <= t.Ratio[1]) {
		return fmt.Errorf("transforms: random erasing ratio %v must be a positive range", t.Ratio)
	}
	return nil
}

// Params mirrors RandomErasing.get_params: the rectangle (i, j, h, w) to erase, ok false when
// no try fits.
func (t RandomErasing) Params(h, w int, rng Rand) (i, j, eh, ew int, ok bool) {
	area := float64(h * w)
	lo, hi := math.Log(t.Ratio[0]), math.Log(t.Ratio[1])
	for range 10 {
		eraseArea := area * uniform(rng, t.Scale[0], t.Scale[1])
		aspect := math.Exp(uniform(rng, lo, hi))
		eh = int(math.RoundToEven(math.Sqrt(eraseArea * aspect))) // Python's round
		ew = int(math.RoundToEven(math.Sqrt(eraseArea / aspect)))
		if !(eh < h && ew < w) {
			continue
		}
		i = rng.IntN(h - eh + 1)
		j = rng.IntN(w - ew + 1)
		return i, j, eh, ew, true
	}
	return 0, 0, 0, 0, false
}

// ApplyCHW erases one rectangle with probability P.
func (t RandomErasing) ApplyCHW(chw []float32, c, h, w int, rng Rand) error {
	if rng == nil {
		return fmt.Errorf("transforms: RandomErasing needs a random source")
	}
	if err := t.validate(); err != nil {
		return err
	}
	if rng.Float64() >= t.P { // torch.rand(1) < p erases
		return nil
	}
	i, j, eh, ew, ok := t.Params(h, w, rng)
	if !ok {
		return nil
	}
	return Erase(chw, c, h, w, i, j, eh, ew, t.Value)
}
