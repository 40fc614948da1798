package synth

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// SeedCounts is the researcher's DDR train split (No DR, Mild, Moderate, Severe, Proliferative);
// Proportions "seed" draws classes in these proportions.
var SeedCounts = [NumGrades]int{4980, 514, 3604, 188, 731}

// JPEGQuality is the quality the images are written with.
const JPEGQuality = 90

// Options configure Generate. Zero values select the defaults noted on each field.
type Options struct {
	N           int     // number of images in total (default 1200)
	Size        int     // image side in pixels (default 512)
	Seed        uint64  // data set seed; the same options give byte-identical files
	Proportions string  // "seed" (default: SeedCounts) or "uniform" (equal classes)
	ValFraction float64 // fraction of each class put in val (default 0.2)
	Overwrite   bool    // replace train/, val/, train.txt, val.txt of an existing data set
	Workers     int     // rendering goroutines (default: GOMAXPROCS)
}

// Result reports what Generate wrote.
type Result struct {
	Dir        string
	Train, Val [NumGrades]int // images per grade in each split
}

// Total is the number of images written.
func (r *Result) Total() int {
	n := 0
	for g := 0; g < NumGrades; g++ {
		n += r.Train[g] + r.Val[g]
	}
	return n
}

// withDefaults fills zero fields and validates the rest.
func (o Options) withDefaults() (Options, error) {
	if o.N == 0 {
		o.N = 1200
	}
	if o.Size == 0 {
		o.Size = 512
	}
	if o.Proportions == "" {
		o.Proportions = "seed"
	}
	if o.ValFraction == 0 {
		o.ValFraction = 0.2
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case o.N < 1 || o.N > 10_000_000:
		return o, fmt.Errorf("synth: n = %d, want 1..10000000", o.N)
	case o.Size < MinSize || o.Size > MaxSize:
		return o, fmt.Errorf("synth: size = %d, want %d..%d", o.Size, MinSize, MaxSize)
	case !(o.ValFraction > 0 && o.ValFraction < 1):
		return o, fmt.Errorf("synth: val fraction = %v, want 0 < f < 1", o.ValFraction)
	case o.Proportions != "seed" && o.Proportions != "uniform":
		return o, fmt.Errorf("synth: proportions %q, want seed or uniform", o.Proportions)
	case o.Workers < 1:
		return o, fmt.Errorf("synth: workers = %d, want >= 1", o.Workers)
	}
	return o, nil
}

// ImageSeed is the render seed of image index in a data set with the given seed (SplitMix64
// finaliser over both, so neighbouring indices get unrelated streams).
func ImageSeed(seed uint64, index int) uint64 {
	return mix64(mix64(seed^0x5eed) ^ uint64(index))
}

func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// splitCounts decides how many images of each grade go to train and val: class totals by the
// largest-remainder method, then topped up from the biggest class so that, when n allows
// (n >= 15), every class has >= 2 train and >= 1 val images (n >= 5: every class in train), then
// a per-class val share of round(total·valFrac) clamped to keep both sides non-empty.
func splitCounts(n int, props [NumGrades]float64, valFrac float64) (train, val [NumGrades]int) {
	var sum float64
	for _, p := range props {
		sum += p
	}
	var tot [NumGrades]int
	var rem [NumGrades]float64
	used := 0
	for g, p := range props {
		x := float64(n) * p / sum
		tot[g] = int(math.Floor(x))
		rem[g] = x - float64(tot[g])
		used += tot[g]
	}
	for ; used < n; used++ {
		best := 0
		for g := 1; g < NumGrades; g++ {
			if rem[g] > rem[best] {
				best = g
			}
		}
		tot[best]++
		rem[best] = -1
	}
	minTot := min(3, n/NumGrades)
	for g := range tot {
		for tot[g] < minTot {
			big := 0
			for h := 1; h < NumGrades; h++ {
				if tot[h] > tot[big] {
					big = h
				}
			}
			tot[big]--
			tot[g]++
		}
	}
	for g, c := range tot {
		v := int(math.Round(float64(c) * valFrac))
		if c >= 2 {
			v = max(1, min(v, c-1))
		}
		if c >= 3 {
			v = min(v, c-2)
		}
		if c < 2 {
			v = 0
		}
		train[g], val[g] = c-v, v
	}
	return train, val
}

// item is one planned image.
type item struct {
	grade int
	val   bool
}

// plan lists every image of the data set in index order: the per-class split from splitCounts,
// shuffled with the data set seed so grades and splits interleave.
func plan(o Options) ([]item, Result) {
	var props [NumGrades]float64
	for g := range props {
		props[g] = 1
		if o.Proportions == "seed" {
			props[g] = float64(SeedCounts[g])
		}
	}
	var res Result
	res.Train, res.Val = splitCounts(o.N, props, o.ValFraction)
	items := make([]item, 0, o.N)
	for g := 0; g < NumGrades; g++ {
		for k := 0; k < res.Train[g]; k++ {
			items = append(items, item{grade: g})
		}
		for k := 0; k < res.Val[g]; k++ {
			items = append(items, item{grade: g, val: true})
		}
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x706c616e)) // "plan"
	r.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	return items, res
}

// ImageName is the file name of image index.
func ImageName(index int) string { return fmt.Sprintf("synth_%06d.jpg", index) }

// Generate writes a DDR-layout synthetic data set into outDir: outDir/train/*.jpg,
// outDir/val/*.jpg and the label files outDir/train.txt, outDir/val.txt ("name label" lines in
// index order). It refuses a non-empty outDir unless opt.Overwrite, which removes only the four
// entries above before writing. Images are rendered by opt.Workers goroutines; progress (may be
// nil) is called after each image, never concurrently.
func Generate(outDir string, opt Options, progress func(done, total int)) (*Result, error) {
	o, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := prepareDir(outDir, o.Overwrite); err != nil {
		return nil, err
	}
	items, res := plan(o)
	res.Dir = outDir
	for _, sub := range []string{"train", "val"} {
		if err := os.MkdirAll(filepath.Join(outDir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("synth: %w", err)
		}
	}

	jobs := make(chan int)
	done := make(chan error)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for i := range jobs {
				err := writeImage(&buf, outDir, i, items[i], o)
				select {
				case done <- err:
				case <-stop:
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range items {
			select {
			case jobs <- i:
			case <-stop:
				return
			}
		}
	}()
	var firstErr error
	for n := 1; n <= len(items); n++ {
		if err := <-done; err != nil {
			firstErr = err
			break
		}
		if progress != nil {
			progress(n, len(items))
		}
	}
	close(stop)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}

	var train, val strings.Builder
	for i, it := range items {
		line := fmt.Sprintf("%s %d\n", ImageName(i), it.grade)
		if it.val {
			val.WriteString(line)
		} else {
			train.WriteString(line)
		}
	}
	for name, text := range map[string]string{"train.txt": train.String(), "val.txt": val.String()} {
		if err := os.WriteFile(filepath.Join(outDir, name), []byte(text), 0o644); err != nil {
			return nil, fmt.Errorf("synth: %w", err)
		}
	}
	return &res, nil
}

// writeImage renders, encodes and writes image i.
func writeImage(buf *bytes.Buffer, outDir string, i int, it item, o Options) error {
	m, err := Render(it.grade, o.Size, ImageSeed(o.Seed, i))
	if err != nil {
		return err
	}
	buf.Reset()
	if err := jpeg.Encode(buf, toRGBA(m), &jpeg.Options{Quality: JPEGQuality}); err != nil {
		return fmt.Errorf("synth: encoding image %d: %w", i, err)
	}
	sub := "train"
	if it.val {
		sub = "val"
	}
	path := filepath.Join(outDir, sub, ImageName(i))
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}

// datasetEntries are the paths Generate owns inside its output directory.
var datasetEntries = []string{"train", "val", "train.txt", "val.txt"}

// prepareDir refuses a non-empty outDir unless overwrite, in which case it removes the data
// set entries (and nothing else) so no stale image survives a smaller regeneration.
func prepareDir(outDir string, overwrite bool) error {
	ents, err := os.ReadDir(outDir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("synth: output %s: %w", outDir, err)
	}
	if len(ents) == 0 {
		return nil
	}
	if !overwrite {
		return fmt.Errorf("synth: output directory %s exists and is not empty; refusing to overwrite it", outDir)
	}
	for _, e := range datasetEntries {
		if err := os.RemoveAll(filepath.Join(outDir, e)); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	return nil
}
