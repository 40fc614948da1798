// Command datapipe times drgrade's data pipeline (vision/loader over vision/dataset with the
// vision/transforms train or val pipeline, JPEGs decoded by vision/imageio) for one data set
// split and prints {images, seconds, images_per_s} as JSON. bench/datapipe.py is its PyTorch
// counterpart; bench/run_data.sh runs the two interleaved and prints the comparison.
//
// One run: a warm-up (the first batch of a separate iterator, so the process, the page cache
// and the allocator are warm), then --epochs full epochs timed from the iterator's creation to
// its last batch, the consumer releasing each batch as soon as it arrives.
//
// With --make DIR it writes a benchmark data set instead (see makeSet).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/synth"
	"github.com/drgrade/drgrade/vision/transforms"
)

// result is the JSON line a run prints; datapipe.py prints the same keys.
type result struct {
	Images     int     `json:"images"`
	Seconds    float64 `json:"seconds"`
	ImagesPerS float64 `json:"images_per_s"`
	Impl       string  `json:"impl"`
	Pipeline   string  `json:"pipeline"`
	Workers    int     `json:"workers"`
	Batch      int     `json:"batch"`
	Decoder    string  `json:"jpeg_decoder"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "datapipe:", err)
		os.Exit(1)
	}
}

func run() error {
	data := flag.String("data", "", "data set root (DDR layout: <split>/ and <split>.txt)")
	pipeline := flag.String("pipeline", "train", "train or val (the transform pipeline; the split of the same name is read)")
	workers := flag.Int("workers", 0, "loader workers (0: the script's min(cpus, batch, 8))")
	batch := flag.Int("batch", 32, "batch size")
	epochs := flag.Int("epochs", 1, "timed epochs")
	seed := flag.Uint64("seed", 0, "loader seed (shuffle order and augmentation)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed epochs to this file")
	mk := flag.String("make", "", "write a benchmark data set into this directory instead of timing")
	n := flag.Int("n", 128, "--make: number of images")
	width := flag.Int("width", 2048, "--make: image width")
	height := flag.Int("height", 1536, "--make: image height")
	flag.Parse()

	if *mk != "" {
		return makeSet(*mk, *n, *width, *height)
	}
	if *data == "" {
		return errors.New("--data is required")
	}
	if *epochs < 1 {
		return fmt.Errorf("--epochs must be at least 1, got %d", *epochs)
	}
	cfg := transforms.DefaultConfig()
	var pipe *transforms.Pipeline
	var err error
	switch *pipeline {
	case "train":
		pipe, err = transforms.TrainPipeline(cfg)
	case "val":
		pipe, err = transforms.ValPipeline(cfg)
	default:
		return fmt.Errorf("--pipeline %q: want train or val", *pipeline)
	}
	if err != nil {
		return err
	}
	ds, err := dataset.Load(*data, *pipeline, 5)
	if err != nil {
		return err
	}
	l, err := loader.New(ds, pipe, cfg.CropSize, loader.Options{
		BatchSize: *batch, Workers: *workers, Shuffle: *pipeline == "train", Seed: *seed,
	})
	if err != nil {
		return err
	}

	// Warm-up: one batch of its own iterator, closed before the clock starts.
	it := l.Epoch(-1)
	b, err := it.Next()
	if err != nil {
		it.Close()
		return err
	}
	b.Release()
	it.Close()

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	images := 0
	start := time.Now()
	for e := 0; e < *epochs; e++ {
		it := l.Epoch(e)
		for {
			b, err := it.Next()
			if err != nil {
				it.Close()
				return err
			}
			if b == nil {
				break
			}
			images += b.N
			b.Release()
		}
		it.Close()
	}
	secs := time.Since(start).Seconds()
	return json.NewEncoder(os.Stdout).Encode(result{
		Images: images, Seconds: secs, ImagesPerS: float64(images) / secs,
		Impl: "drgrade", Pipeline: *pipeline, Workers: l.Workers(), Batch: *batch,
		Decoder: string(imageio.DefaultJPEGDecoder()),
	})
}

// makeSet writes n synthetic fundus JPEGs of width×height (quality 90, 4:2:0: Go's encoder
// always subsamples chroma 2×2) into dir/train/ with labels in dir/train.txt, and makes the
// val split the same files (hard links, or copies across devices) so both pipelines time the
// same images. Each image is synth.Render at max(width, height), centre-cropped, as a fundus
// camera frame cuts the top and bottom of the disc. It writes into a temporary directory
// renamed into place at the end, so an interrupted run never leaves a partial set behind.
func makeSet(dir string, n, width, height int) error {
	if n < 1 || width < synth.MinSize || height < synth.MinSize {
		return fmt.Errorf("--make: want n >= 1 and sides >= %d, got n=%d %dx%d", synth.MinSize, n, width, height)
	}
	if _, err := os.Stat(filepath.Join(dir, "val.txt")); err == nil {
		return fmt.Errorf("--make: %s already holds a data set", dir)
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	for _, s := range []string{"train", "val"} {
		if err := os.MkdirAll(filepath.Join(tmp, s), 0o755); err != nil {
			return err
		}
	}
	side := max(width, height)
	names := make([]string, n)
	jobs := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				names[i] = fmt.Sprintf("bench_%05d.jpg", i)
				errs <- writeJPEG(filepath.Join(tmp, "train", names[i]), i%synth.NumGrades, side, width, height, uint64(i))
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	var labels strings.Builder
	for i, name := range names {
		fmt.Fprintf(&labels, "%s %d\n", name, i%synth.NumGrades)
		src, dst := filepath.Join(tmp, "train", name), filepath.Join(tmp, "val", name)
		if err := os.Link(src, dst); err != nil {
			b, err := os.ReadFile(src)
			if err != nil {
				return err
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				return err
			}
		}
	}
	for _, s := range []string{"train.txt", "val.txt"} {
		if err := os.WriteFile(filepath.Join(tmp, s), []byte(labels.String()), 0o644); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// writeJPEG renders one side×side image and writes its centred width×height part.
func writeJPEG(path string, grade, side, width, height int, seed uint64) error {
	m, err := synth.Render(grade, side, synth.ImageSeed(0xbe9c, int(seed)))
	if err != nil {
		return err
	}
	x0, y0 := (side-width)/2, (side-height)/2
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for y := 0; y < height; y++ {
		src := m.Pix[((y0+y)*m.W+x0)*3:]
		dst := img.Pix[y*img.Stride:]
		for x := 0; x < width; x++ {
			dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = src[3*x], src[3*x+1], src[3*x+2], 255
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 90}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
