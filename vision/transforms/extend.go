package transforms

import "github.com/drgrade/drgrade/vision/imageio"

// RandFunc adapts a random image function to a Transform. It must draw every random choice
// from rng, the per-sample source the loader seeds from (seed, epoch, index), so that a custom
// augmentation is as reproducible as the built-in ones; Apply refuses a nil rng.
type RandFunc func(img *imageio.RGB, rng Rand) (*imageio.RGB, error)

// Apply calls f with rng.
func (f RandFunc) Apply(img *imageio.RGB, rng Rand) (*imageio.RGB, error) {
	if rng == nil {
		return nil, errNilRand
	}
	return f(img, rng)
}

// Append returns a new Pipeline whose image steps are p's followed by steps, still closed by
// ToTensor + Normalize: the place a custom transform takes in a Compose that ends in
// ToTensor(), Normalize(...). p itself is not changed, so a pipeline already handed to a
// loader can be extended safely.
func (p *Pipeline) Append(steps ...Transform) *Pipeline {
	all := make(Compose, 0, len(p.Steps)+len(steps))
	all = append(append(all, p.Steps...), steps...)
	return &Pipeline{Steps: all, Mean: p.Mean, Std: p.Std, Tensor: p.Tensor, lut: p.lut}
}
