package loader

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/transforms"
)

// makeSet writes n small PNGs with labels i%classes (plus corrupt files for the names in bad)
// and loads the split.
func makeSet(t *testing.T, n, classes int, bad map[int]bool) *dataset.Dataset {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "train")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var labels strings.Builder
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("img%03d.png", i)
		path := filepath.Join(dir, name)
		if bad[i] {
			if err := os.WriteFile(path, []byte("not a png"), 0o644); err != nil {
				t.Fatal(err)
			}
		} else {
			img := image.NewNRGBA(image.Rect(0, 0, 40+i%7, 30+i%5))
			for y := 0; y < img.Bounds().Dy(); y++ {
				for x := 0; x < img.Bounds().Dx(); x++ {
					img.Set(x, y, color.NRGBA{uint8(i * 9), uint8(x * 6), uint8(y * 8), 255})
				}
			}
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
		fmt.Fprintf(&labels, "%s %d\n", name, i%classes)
	}
	if err := os.WriteFile(filepath.Join(root, "train.txt"), []byte(labels.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := dataset.Load(root, "train", classes)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func trainPipe(t *testing.T) *transforms.Pipeline {
	cfg := transforms.DefaultConfig()
	cfg.CropSize, cfg.ResizeSize = 16, 18
	p, err := transforms.TrainPipeline(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// collect runs one epoch and returns copies of its batches.
func collect(t *testing.T, l *Loader, epoch int) []Batch {
	t.Helper()
	it := l.Epoch(epoch)
	defer it.Close()
	var out []Batch
	for {
		b, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			return out
		}
		c := Batch{Images: append([]float32(nil), b.Images...), N: b.N, H: b.H, W: b.W,
			Labels: append([]int64(nil), b.Labels...), Index: append([]int(nil), b.Index...)}
		b.Release()
		out = append(out, c)
	}
}

func equalBatches(a, b []Batch) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d vs %d batches", len(a), len(b))
	}
	for i := range a {
		if fmt.Sprint(a[i].Index) != fmt.Sprint(b[i].Index) || fmt.Sprint(a[i].Labels) != fmt.Sprint(b[i].Labels) {
			return fmt.Errorf("batch %d: indices %v vs %v", i, a[i].Index, b[i].Index)
		}
		for j := range a[i].Images {
			if a[i].Images[j] != b[i].Images[j] {
				return fmt.Errorf("batch %d: value %d differs", i, j)
			}
		}
	}
	return nil
}

// TestDeterministicAcrossWorkers: the same seed gives identical batches whatever the number
// of workers, because augmentation depends only on (seed, epoch, index).
func TestDeterministicAcrossWorkers(t *testing.T) {
	ds := makeSet(t, 37, 5, nil)
	pipe := trainPipe(t)
	var ref []Batch
	for _, workers := range []int{1, 2, 8} {
		l, err := New(ds, pipe, 16, Options{BatchSize: 8, Workers: workers, Shuffle: true, Seed: 42})
		if err != nil {
			t.Fatal(err)
		}
		got := collect(t, l, 3)
		if ref == nil {
			ref = got
			continue
		}
		if err := equalBatches(ref, got); err != nil {
			t.Errorf("1 worker vs %d workers: %v", workers, err)
		}
	}
	// The synchronous path (batch size 1 → no workers, the script's rule) agrees too.
	l, _ := New(ds, pipe, 16, Options{BatchSize: 1, Shuffle: true, Seed: 42})
	if l.Workers() != 0 {
		t.Fatalf("batch size 1: %d workers, the script uses 0", l.Workers())
	}
	one := collect(t, l, 3)
	if len(one) != 37 || fmt.Sprint(one[0].Index) != fmt.Sprint(ref[0].Index[:1]) {
		t.Errorf("synchronous loader disagrees: first index %v, want %v", one[0].Index, ref[0].Index[:1])
	}
	for i := range one[0].Images {
		if one[0].Images[i] != ref[0].Images[i] {
			t.Fatal("synchronous loader's first sample differs from the workers'")
		}
	}
}

func TestEpochsShuffleAndPartialBatch(t *testing.T) {
	ds := makeSet(t, 21, 3, nil)
	pipe := trainPipe(t)
	l, err := New(ds, pipe, 16, Options{BatchSize: 8, Workers: 2, Shuffle: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 3 {
		t.Fatalf("Len() = %d, want 3 (21 images, batch 8, last partial kept)", l.Len())
	}
	e0, e1 := collect(t, l, 0), collect(t, l, 1)
	if sizes := []int{e0[0].N, e0[1].N, e0[2].N}; fmt.Sprint(sizes) != "[8 8 5]" {
		t.Errorf("batch sizes %v, want [8 8 5]", sizes)
	}
	if len(e0[0].Images) != 8*3*16*16 {
		t.Errorf("batch 0 holds %d values, want N·3·16·16", len(e0[0].Images))
	}
	seen := map[int]bool{}
	for _, b := range e0 {
		for _, i := range b.Index {
			seen[i] = true
		}
	}
	if len(seen) != 21 {
		t.Errorf("epoch 0 visited %d distinct images, want all 21", len(seen))
	}
	if fmt.Sprint(e0[0].Index) == fmt.Sprint(e1[0].Index) {
		t.Error("epochs 0 and 1 have the same order: shuffle is not per epoch")
	}
	seq, _ := New(ds, pipe, 16, Options{BatchSize: 8, Workers: 2})
	if got := collect(t, seq, 5)[0].Index; fmt.Sprint(got) != "[0 1 2 3 4 5 6 7]" {
		t.Errorf("unshuffled order %v", got)
	}
}

func TestWeightedSampler(t *testing.T) {
	// 100 images of 4 classes, made unequal: class 3 keeps 5 images, class 0 gets 45.
	ds := makeSet(t, 100, 4, nil)
	for i := range ds.Labels {
		if ds.Labels[i] == 3 && i%20 != 3 {
			ds.Labels[i] = 0
		}
	}
	pipe := trainPipe(t)
	l, err := New(ds, pipe, 16, Options{BatchSize: 10, Sampler: "weighted", Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[int]int{}
	total := 0
	for e := 0; e < 40; e++ {
		order := l.Order(e)
		if len(order) != 100 {
			t.Fatalf("epoch length %d, want the data set's 100", len(order))
		}
		for _, i := range order {
			counts[ds.Labels[i]]++
			total++
		}
	}
	// Each class should get ~1/4 of the draws (4000 draws: 3 sigma ≈ 0.02).
	for c := 0; c < 4; c++ {
		if f := float64(counts[c]) / float64(total); f < 0.22 || f > 0.28 {
			t.Errorf("class %d drawn %.3f of the time, want ≈ 0.25", c, f)
		}
	}
	if _, err := New(ds, pipe, 16, Options{BatchSize: 1, Sampler: "balanced"}); err == nil {
		t.Error("unknown sampler accepted")
	}
}

func TestBadImages(t *testing.T) {
	ds := makeSet(t, 10, 2, map[int]bool{3: true, 7: true})
	pipe := trainPipe(t)
	l, _ := New(ds, pipe, 16, Options{BatchSize: 4, Workers: 2})
	it := l.Epoch(0)
	var err error
	for err == nil {
		var b *Batch
		if b, err = it.Next(); b == nil && err == nil {
			break
		} else if b != nil {
			b.Release()
		}
	}
	it.Close()
	if err == nil || !strings.Contains(err.Error(), "img003.png") {
		t.Errorf("error %v does not name the corrupt image", err)
	}

	skip, _ := New(ds, pipe, 16, Options{BatchSize: 4, Workers: 2, SkipBad: true})
	it = skip.Epoch(0)
	defer it.Close()
	var skipped, loaded int
	for {
		b, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			break
		}
		skipped += len(b.Skipped)
		loaded += b.N
		if len(b.Images) != b.N*3*16*16 || len(b.Labels) != b.N {
			t.Errorf("batch with %d samples holds %d values and %d labels", b.N, len(b.Images), len(b.Labels))
		}
		b.Release()
	}
	if skipped != 2 || loaded != 8 {
		t.Errorf("skipped %d, loaded %d; want 2 and 8", skipped, loaded)
	}
}

// TestNoGoroutineLeak: stopping after one batch leaves no goroutine behind.
func TestNoGoroutineLeak(t *testing.T) {
	ds := makeSet(t, 40, 2, nil)
	pipe := trainPipe(t)
	l, _ := New(ds, pipe, 16, Options{BatchSize: 2, Workers: 4, Shuffle: true})
	before := runtime.NumGoroutine()
	for i := 0; i < 5; i++ {
		it := l.Epoch(i)
		b, err := it.Next()
		if err != nil || b == nil {
			t.Fatal(err)
		}
		b.Release()
		it.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestDefaultWorkers(t *testing.T) {
	for _, tc := range []struct{ batch, want int }{
		{1, 0}, {2, min(runtime.NumCPU(), 2)}, {32, min(runtime.NumCPU(), 8)},
	} {
		if got := DefaultWorkers(tc.batch); got != tc.want {
			t.Errorf("DefaultWorkers(%d) = %d, want %d", tc.batch, got, tc.want)
		}
	}
}

// TestLoaderMatchesFullDecode: batches from a set of JPEGs of every subsampling (decoded only
// around each first step's window), a 4:1:1 JPEG, a grey one and a PNG (decoded whole) equal,
// bit for bit, the pipeline's Run on each image's full decode with the sample's Rand, for the
// train and val pipelines, synchronously and with workers.
func TestLoaderMatchesFullDecode(t *testing.T) {
	src, err := filepath.Glob("../imageio/testdata/region/*.jpg")
	if err != nil || len(src) < 10 {
		t.Fatalf("region corpus: %d files (%v)", len(src), err)
	}
	src = append(src, "../imageio/testdata/images/images/gray_q85_130x70.jpg",
		"../imageio/testdata/images/images/rgb_97x61.png", "../imageio/testdata/images/images/fundus_2000x1300_q75.jpg")
	root := t.TempDir()
	var labels strings.Builder
	for _, s := range src {
		for _, split := range []string{"train", "val"} {
			b, err := os.ReadFile(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(root, split), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, split, filepath.Base(s)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(&labels, "%s 0\n", filepath.Base(s))
	}
	for _, split := range []string{"train", "val"} {
		if err := os.WriteFile(filepath.Join(root, split+".txt"), []byte(labels.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		ds, err := dataset.Load(root, split, 1)
		if err != nil {
			t.Fatal(err)
		}
		cfg := transforms.DefaultConfig()
		pipe, err := transforms.TrainPipeline(cfg)
		if split == "val" {
			pipe, err = transforms.ValPipeline(cfg)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{0, 2} {
			l, err := New(ds, pipe, cfg.CropSize, Options{BatchSize: 4, Workers: workers, Shuffle: true, Seed: 9})
			if err != nil {
				t.Fatal(err)
			}
			if workers == 0 {
				l.opts.Workers = 0 // New turns 0 into the default; load on the consumer's goroutine
			}
			per := 3 * cfg.CropSize * cfg.CropSize
			for epoch := range 2 {
				compared := 0
				for bi, b := range collect(t, l, epoch) {
					compared += b.N
					for k, idx := range b.Index {
						img, err := imageio.Decode(ds.Paths[idx])
						if err != nil {
							t.Fatal(err)
						}
						want, err := pipe.Run(img, l.SampleRand(epoch, idx), nil)
						if err != nil {
							t.Fatal(err)
						}
						got := b.Images[k*per : (k+1)*per]
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(want.CHW[i]) {
								t.Fatalf("%s workers %d epoch %d batch %d: %s value %d differs from the full decode's", split, workers, epoch, bi, ds.Paths[idx], i)
							}
						}
					}
				}
				if compared != len(src) {
					t.Fatalf("%s workers %d epoch %d: %d samples, want %d", split, workers, epoch, compared, len(src))
				}
			}
		}
	}
}
