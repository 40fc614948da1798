// Package preprocess holds the fundus-photo preprocessing the DR-grading community applies
// before training (opt-in with --preprocess; the researcher's script does none): crop to the
// circular field of view, Ben Graham's local-average subtraction, and CLAHE on the lightness.
// Each works on decoded 8-bit RGB (imageio.RGB), before the script's transforms, and equals its
// Python reference (testdata/preprocess_gen.py: OpenCV 4.11 and NumPy) within 1/255 per value.
// No libtorch.
package preprocess

import (
	"errors"
	"fmt"
	"strings"

	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/transforms"
)

// ErrNoField: no circular field of view was found (a photo that is not a fundus photograph, or
// a black or overexposed one). Callers add the file name.
var ErrNoField = errors.New("no circular field of view found")

// The steps of a --preprocess chain.
const (
	StepCrop   = "crop"
	StepGraham = "graham"
	StepCLAHE  = "clahe"
)

// Steps lists the step names in the order the docs present them.
var Steps = []string{StepCrop, StepGraham, StepCLAHE}

// Chain is a parsed --preprocess value. It is a transforms.Transform, so it can head a
// transforms.Pipeline (it is not Windowed: the loader decodes the whole image for it).
type Chain struct {
	Steps     []string
	ClipLimit float64 // clahe's clip limit (OpenCV's createCLAHE clipLimit; 2.0)
	Threshold uint8   // crop: bright when max(R, G) > Threshold (15)
}

// Parse reads a comma-separated chain ("crop,graham"); "" and "none" are the empty chain.
func Parse(s string) (Chain, error) {
	c := Chain{ClipLimit: DefaultClipLimit, Threshold: DefaultThreshold}
	if s = strings.TrimSpace(s); s == "" || s == "none" {
		return c, nil
	}
	seen := map[string]bool{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		switch p {
		case StepCrop, StepGraham, StepCLAHE:
		default:
			return Chain{}, fmt.Errorf("--preprocess %q: unknown step %q (want a comma-separated list of %s)", s, p, strings.Join(Steps, ", "))
		}
		if seen[p] {
			return Chain{}, fmt.Errorf("--preprocess %q: step %q twice", s, p)
		}
		seen[p] = true
		c.Steps = append(c.Steps, p)
	}
	return c, nil
}

// Empty reports whether the chain does nothing (the script's behaviour).
func (c Chain) Empty() bool { return len(c.Steps) == 0 }

// String is the chain as --preprocess takes it ("none" when empty).
func (c Chain) String() string {
	if c.Empty() {
		return "none"
	}
	return strings.Join(c.Steps, ",")
}

// Describe is the run header's line.
func (c Chain) Describe() string {
	if c.Empty() {
		return "Preprocess: none (the script's)"
	}
	return fmt.Sprintf("Preprocess: %s (crop threshold %d, CLAHE clip limit %g, tiles 8×8)", c, c.Threshold, c.ClipLimit)
}

// Run applies the steps in order.
func (c Chain) Run(img *imageio.RGB) (*imageio.RGB, error) {
	var err error
	for _, s := range c.Steps {
		switch s {
		case StepCrop:
			img, err = Crop(img, c.Threshold)
		case StepGraham:
			img, err = Graham(img)
		case StepCLAHE:
			img, err = CLAHE(img, c.ClipLimit, DefaultTiles)
		default:
			err = fmt.Errorf("preprocess: unknown step %q", s)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
	}
	return img, nil
}

// Prepend puts the chain before the pipeline's steps (nothing when the chain is empty).
func (c Chain) Prepend(p *transforms.Pipeline) {
	if !c.Empty() {
		p.Steps = append(transforms.Compose{c}, p.Steps...)
	}
}

// Apply is Run as a transforms.Transform (the random source is unused).
func (c Chain) Apply(img *imageio.RGB, _ transforms.Rand) (*imageio.RGB, error) { return c.Run(img) }

// Crops reports whether the chain has the crop step (the one that can refuse an image).
func (c Chain) Crops() bool {
	for _, s := range c.Steps {
		if s == StepCrop {
			return true
		}
	}
	return false
}

// CheckFields decodes every file and runs crop's field search (FindField) on workers
// goroutines, returning an error naming each file where crop finds no field of view, in
// path order. Files that do not decode are left to the decode check. Nil unless the chain crops.
func (c Chain) CheckFields(paths []string, workers int) []error {
	if !c.Crops() {
		return nil
	}
	rows := make([]QualityRow, len(paths))
	for i, p := range paths {
		rows[i].Path = p
	}
	MeasureFiles(rows, QualityThresholds{Threshold: c.Threshold}, workers, nil)
	var bad []error
	for _, r := range rows {
		if r.Err == nil && !r.Field {
			bad = append(bad, fmt.Errorf("%s: crop: %w", r.Path, ErrNoField))
		}
	}
	return bad
}
