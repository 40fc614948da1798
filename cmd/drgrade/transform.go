package main

import (
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"

	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/preprocess"
	"github.com/drgrade/drgrade/vision/transforms"
)

// runTransform is `drgrade transform`: one image through the train or val pipeline (the
// CHW float32 tensor after Normalize as .npy, and the picture before Normalize as PNG), or a
// grid of augmented samples of a data set, to see what training sees.
func runTransform(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("transform", "--pipeline train|val --seed S --in IMG --out X.npy [--png X.png]\n       drgrade transform --grid N --data_path P --out grid.png", stdout, stderr)
	pipeline := fs.String("pipeline", "val", "train or val")
	seed := fs.Uint64("seed", 1, "seed of the random transforms")
	in := fs.String("in", "", "input image")
	out := fs.String("out", "", "output: .npy (CHW float32 after Normalize), or the grid's .png")
	pngOut := fs.String("png", "", "also write the transformed image before Normalize as PNG (with --preprocess: without and with the chain, side by side)")
	pre := fs.String("preprocess", "", preprocessHelp)
	imgSize := fs.Int("img_size", 224, "crop size; the val resize keeps the 256/224 ratio")
	grid := fs.Int("grid", 0, "draw this many augmented samples of --data_path's train split into --out")
	dataPath := fs.String("data_path", "", "data set for --grid")
	var format dataset.Options
	dataFormatFlags(fs, &format)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return usagef("--out is required")
	}
	if *imgSize < 8 {
		return usagef("--img_size must be at least 8, got %d", *imgSize)
	}
	cfg := transforms.DefaultConfig()
	cfg.CropSize = *imgSize
	cfg.ResizeSize = int(math.Round(float64(*imgSize) * 256 / 224))
	var pipe *transforms.Pipeline
	var err error
	switch *pipeline {
	case "train":
		pipe, err = transforms.TrainPipeline(cfg)
	case "val":
		pipe, err = transforms.ValPipeline(cfg)
	default:
		return usagef("--pipeline %q: want train or val", *pipeline)
	}
	if err != nil {
		return err
	}
	chain, err := preprocess.Parse(*pre)
	if err != nil {
		return usageError{err}
	}
	plain := *pipe
	chain.Prepend(pipe)
	if *grid > 0 {
		if *dataPath == "" {
			return usagef("--grid needs --data_path")
		}
		return transformGrid(pipe, format, *dataPath, *grid, *seed, *imgSize, *out, stdout)
	}
	if *in == "" {
		return usagef("--in is required (or --grid N --data_path P)")
	}
	img, err := imageio.Decode(*in)
	if err != nil {
		return usageError{err}
	}
	s, err := pipe.Run(img, transforms.NewRand(*seed, 0), nil)
	if err != nil {
		if errors.Is(err, preprocess.ErrNoField) {
			return usageError{fmt.Errorf("%s: %w", *in, err)}
		}
		return err
	}
	if err := npy.WriteFile(*out, s.CHW, []int{s.C, s.H, s.W}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: float32 [%d, %d, %d] after Normalize\n", *out, s.C, s.H, s.W)
	if *pngOut != "" {
		pic := s.RGB
		if !chain.Empty() {
			before, err := plain.RGB(img, transforms.NewRand(*seed, 0))
			if err != nil {
				return err
			}
			pic = sideBySide(before, s.RGB)
		}
		if err := writePNG(*pngOut, pic); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (before Normalize)\n", *pngOut)
	}
	return nil
}

// transformGrid draws n augmented training samples (one per image, cycling) in a square grid.
func transformGrid(pipe *transforms.Pipeline, format dataset.Options, dataPath string, n int, seed uint64, size int, out string, stdout io.Writer) error {
	ds, err := format.Load(dataPath, "train", 6)
	if err != nil {
		return usageError{err}
	}
	dl, err := loader.New(ds, pipe, size, loader.Options{BatchSize: 1, Shuffle: true, Seed: seed})
	if err != nil {
		return err
	}
	order := dl.Order(0)
	cols := int(math.Ceil(math.Sqrt(float64(n))))
	rows := (n + cols - 1) / cols
	const gap = 4
	canvas := imageio.NewRGB(cols*(size+gap)+gap, rows*(size+gap)+gap)
	for k := 0; k < n; k++ {
		idx := order[k%len(order)]
		img, err := imageio.Decode(ds.Paths[idx])
		if err != nil {
			return err
		}
		pic, err := pipe.RGB(img, dl.SampleRand(0, idx))
		if err != nil {
			return err
		}
		ox, oy := gap+(k%cols)*(size+gap), gap+(k/cols)*(size+gap)
		for y := 0; y < pic.H && y < size; y++ {
			for x := 0; x < pic.W && x < size; x++ {
				r, g, b := pic.At(x, y)
				canvas.Set(ox+x, oy+y, r, g, b)
			}
		}
	}
	if err := writePNG(out, canvas); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d augmented training samples of %s\n", out, n, dataPath)
	return nil
}

func writePNG(path string, m *imageio.RGB) error {
	img := image.NewNRGBA(image.Rect(0, 0, m.W, m.H))
	for i := 0; i < m.W*m.H; i++ {
		img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] = m.Pix[3*i], m.Pix[3*i+1], m.Pix[3*i+2], 255
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// preprocessHelp is the --preprocess flag's help (train, eval, predict, transform).
const preprocessHelp = "fundus preprocessing before the transforms, a comma-separated chain of crop (to the circular field of view, padded square), graham (Ben Graham's local-average subtraction) and clahe (CLAHE on Lab lightness); empty: none, the script's (docs/preprocessing.md)"

// sideBySide puts a and b next to each other with a 4-pixel white gap.
func sideBySide(a, b *imageio.RGB) *imageio.RGB {
	const gap = 4
	out := imageio.NewRGB(a.W+gap+b.W, max(a.H, b.H))
	for i := range out.Pix {
		out.Pix[i] = 255
	}
	for y := 0; y < a.H; y++ {
		copy(out.Pix[3*y*out.W:], a.Pix[3*y*a.W:3*(y+1)*a.W])
	}
	for y := 0; y < b.H; y++ {
		copy(out.Pix[3*(y*out.W+a.W+gap):], b.Pix[3*y*b.W:3*(y+1)*b.W])
	}
	return out
}
