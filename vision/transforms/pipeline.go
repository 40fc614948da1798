package transforms

import (
	"fmt"

	"github.com/drgrade/drgrade/vision/imageio"
)

// Config parameterises the train and validation pipelines so models with other input sizes
// reuse them. DefaultConfig holds the reference scripts' values.
type Config struct {
	CropSize   int        // network input side (224): RandomResizedCrop / CenterCrop size
	ResizeSize int        // validation shorter side before the center crop (256)
	Mean, Std  [3]float32 // Normalize constants (ImageNet)

	Scale   [2]float64 // RandomResizedCrop area range (0.08, 1)
	Ratio   [2]float64 // RandomResizedCrop aspect range (3/4, 4/3)
	FlipP   float64    // RandomHorizontalFlip probability (0.5)
	Degrees float64    // RandomRotation(Degrees): angle in [-Degrees, Degrees] (30)
	// ColorJitter(brightness, contrast, saturation, hue) (0.2 each).
	Brightness, Contrast, Saturation, Hue float64
}

// DefaultConfig returns the configuration of train_imbalance.py's data_transforms.
func DefaultConfig() Config {
	return Config{
		CropSize: 224, ResizeSize: 256, Mean: ImageNetMean, Std: ImageNetStd,
		Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3.0 / 4.0, 4.0 / 3.0},
		FlipP: 0.5, Degrees: 30,
		Brightness: 0.2, Contrast: 0.2, Saturation: 0.2, Hue: 0.2,
	}
}

// Pipeline is an image-to-image Compose followed by the fused ToTensor + Normalize, then the
// tensor steps (RandomErasing), as torchvision's train recipe orders them.
type Pipeline struct {
	Steps  Compose
	Mean   [3]float32
	Std    [3]float32
	Tensor []TensorTransform // after Normalize, in order
	lut    *NormalizeLUT
}

// NewPipeline builds a pipeline from explicit steps and Normalize constants.
func NewPipeline(steps Compose, mean, std [3]float32) (*Pipeline, error) {
	lut, err := NewNormalizeLUT(mean, std)
	if err != nil {
		return nil, err
	}
	return &Pipeline{Steps: steps, Mean: mean, Std: std, lut: lut}, nil
}

func (c Config) validate() error {
	if c.CropSize <= 0 || c.ResizeSize <= 0 {
		return fmt.Errorf("transforms: crop size %d and resize size %d must be positive", c.CropSize, c.ResizeSize)
	}
	if !(c.Scale[0] > 0 && c.Scale[0] <= c.Scale[1]) || !(c.Ratio[0] > 0 && c.Ratio[0] <= c.Ratio[1]) {
		return fmt.Errorf("transforms: scale %v and ratio %v must be positive (min, max) ranges", c.Scale, c.Ratio)
	}
	if c.Degrees < 0 {
		return fmt.Errorf("transforms: rotation degrees %v must be non negative", c.Degrees)
	}
	return nil
}

// TrainPipeline mirrors the reference training transform: RandomResizedCrop(crop),
// RandomHorizontalFlip(p), RandomRotation(degrees), ColorJitter(b, c, s, h), ToTensor,
// Normalize(mean, std).
func TrainPipeline(cfg Config) (*Pipeline, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	jitter, err := NewColorJitter(cfg.Brightness, cfg.Contrast, cfg.Saturation, cfg.Hue)
	if err != nil {
		return nil, err
	}
	steps := Compose{
		RandomResizedCrop{Size: []int{cfg.CropSize}, Scale: cfg.Scale, Ratio: cfg.Ratio},
		RandomHorizontalFlip{P: cfg.FlipP},
		RandomRotation{Degrees: [2]float64{-cfg.Degrees, cfg.Degrees}},
		jitter,
	}
	return NewPipeline(steps, cfg.Mean, cfg.Std)
}

// ValPipeline mirrors the reference validation transform: Resize(resize), CenterCrop(crop),
// ToTensor, Normalize(mean, std); the resize and crop run fused (ResizeCenterCropStep).
func ValPipeline(cfg Config) (*Pipeline, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	steps := Compose{ResizeCenterCropStep{Resize: []int{cfg.ResizeSize}, Crop: []int{cfg.CropSize}}}
	return NewPipeline(steps, cfg.Mean, cfg.Std)
}

// Sample is one pipeline output: the normalised CHW tensor and the image before ToTensor (for
// viewing and debugging).
type Sample struct {
	CHW     []float32 // 3·H·W values, channel-major
	C, H, W int
	RGB     *imageio.RGB
}

// Run applies the steps, then ToTensor + Normalize into dst (reused when large enough, so a
// loader can write straight into its batch buffer).
func (p *Pipeline) Run(img *imageio.RGB, rng Rand, dst []float32) (Sample, error) {
	out, err := p.Steps.Apply(img, rng)
	if err != nil {
		return Sample{}, err
	}
	return p.finish(out, rng, dst)
}

// finish is ToTensor + Normalize of the image steps' output, then the tensor steps.
func (p *Pipeline) finish(out *imageio.RGB, rng Rand, dst []float32) (Sample, error) {
	s, err := p.tensor(out, dst)
	if err != nil {
		return Sample{}, err
	}
	for i, t := range p.Tensor {
		if err := t.ApplyCHW(s.CHW, s.C, s.H, s.W, rng); err != nil {
			return Sample{}, fmt.Errorf("tensor step %d (%T): %w", i, t, err)
		}
	}
	return s, nil
}

// tensor is the fused ToTensor + Normalize of the steps' output.
func (p *Pipeline) tensor(out *imageio.RGB, dst []float32) (Sample, error) {
	var err error
	lut := p.lut
	if lut == nil { // a Pipeline built as a literal
		if lut, err = NewNormalizeLUT(p.Mean, p.Std); err != nil {
			return Sample{}, err
		}
	}
	chw, err := ToTensorNormalize(dst, out, lut)
	if err != nil {
		return Sample{}, err
	}
	return Sample{CHW: chw, C: 3, H: out.H, W: out.W, RGB: out}, nil
}

// RGB applies only the image steps: the pre-Normalize picture.
func (p *Pipeline) RGB(img *imageio.RGB, rng Rand) (*imageio.RGB, error) {
	return p.Steps.Apply(img, rng)
}
