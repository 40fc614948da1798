// Command forward times one eval-mode forward pass of a drgrade zoo model (vision/models) on
// libtorch and prints {model, arch, ms_per_forward_median, ms_min, ms_max} as JSON.
// bench/forward.py is its PyTorch counterpart; bench/run_forward.sh runs the two interleaved
// and prints the comparison.
//
// One run: build the model (freshly initialised weights, seeded), one random-normal input batch
// of --batch×3×--size×--size, --warmup untimed forwards, then --iters forwards each timed
// alone (the clock stops after the logits are dropped). Everything runs on one goroutine
// locked to its OS thread, under no-grad, with --threads intra-op threads, as drgrade's
// evaluation does.
//
// With --list it prints "name arch input_size" for every registered model instead.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"sync/atomic"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/vision/models"
)

// result is the JSON line a run prints; forward.py prints the same keys.
type result struct {
	Model    string  `json:"model"`
	Arch     string  `json:"arch"`
	Median   float64 `json:"ms_per_forward_median"`
	Min      float64 `json:"ms_min"`
	Max      float64 `json:"ms_max"`
	Impl     string  `json:"impl"`
	Batch    int     `json:"batch"`
	Size     int     `json:"size"`
	Threads  int     `json:"threads"`
	Iters    int     `json:"iters"`
	Warmup   int     `json:"warmup"`
	Torch    string  `json:"torch"`
	BuildSec float64 `json:"build_s"`
	// Tensors is how many gotch tensor handles one forward creates (and drops): the number of
	// libtorch calls that each pay cgo and gotch's per-tensor bookkeeping.
	Tensors int64 `json:"tensors_per_forward"`
}

func main() {
	// As drgrade does: libtorch's CPU buffers are cached (DRGRADE_CPU_CACHE_MB=off for an A/B run).
	if err := torchext.InstallCPUCache(); err != nil {
		fmt.Fprintf(os.Stderr, "forward: %v; using the default CPU allocator\n", err)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "forward:", err)
		os.Exit(1)
	}
}

func run() error {
	model := flag.String("model", "resnet", "zoo model name (see --list)")
	batch := flag.Int("batch", 1, "images per forward")
	size := flag.Int("size", 0, "input side (0: the model's InputSize)")
	threads := flag.Int("threads", 2, "libtorch intra-op threads")
	iters := flag.Int("iters", 10, "timed forwards")
	warmup := flag.Int("warmup", 2, "untimed forwards before timing")
	numClasses := flag.Int("num_classes", 5, "outputs of the model's head")
	seed := flag.Uint64("seed", 1, "seed for the weights and the input")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed forwards to this file")
	list := flag.Bool("list", false, "print \"name arch input_size\" for every registered model and exit")
	flag.Parse()

	if *list {
		for _, n := range models.Names() {
			cfg, err := models.Lookup(n)
			if err != nil {
				return err
			}
			fmt.Printf("%s %s %d\n", n, cfg.Arch, cfg.InputSize)
		}
		return nil
	}
	if *batch < 1 || *iters < 1 || *warmup < 0 || *threads < 1 || *size < 0 {
		return errors.New("want --batch, --iters, --threads >= 1 and --warmup, --size >= 0")
	}
	cfg, err := models.Lookup(*model)
	if err != nil {
		return err
	}
	if *size == 0 {
		*size = cfg.InputSize
	}

	var times []float64
	var buildSec float64
	var tensors int64
	var runErr error
	locked.Run(func() {
		runErr = func() error {
			torchext.SetNumThreads(*threads)
			torchext.ManualSeed(*seed)
			t0 := time.Now()
			m, err := models.New(*model, *numClasses)
			if err != nil {
				return err
			}
			defer m.Close()
			buildSec = time.Since(t0).Seconds()
			defer torchext.NoGrad()()
			x, err := ts.Randn([]int64{int64(*batch), 3, int64(*size), int64(*size)}, gotch.Float, gotch.CPU)
			if err != nil {
				return err
			}
			defer x.MustDrop()
			forward := func() error {
				y, err := m.ForwardT(x, false)
				if err != nil {
					return err
				}
				y.MustDrop()
				return nil
			}
			for i := 0; i < *warmup; i++ {
				if err := forward(); err != nil {
					return err
				}
			}
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
			created := atomic.LoadInt64(&ts.TensorCount)
			defer func() { tensors = (atomic.LoadInt64(&ts.TensorCount) - created) / int64(*iters) }()
			for i := 0; i < *iters; i++ {
				t := time.Now()
				if err := forward(); err != nil {
					return err
				}
				times = append(times, float64(time.Since(t).Microseconds())/1000)
			}
			return nil
		}()
	})
	if runErr != nil {
		return fmt.Errorf("%s: %s", *model, torchext.Message(runErr))
	}
	med, lo, hi := stats(times)
	return json.NewEncoder(os.Stdout).Encode(result{
		Model: *model, Arch: cfg.Arch, Median: med, Min: lo, Max: hi,
		Impl: "drgrade", Batch: *batch, Size: *size, Threads: *threads, Iters: *iters,
		Warmup: *warmup, Torch: torchext.TorchVersion(), BuildSec: buildSec, Tensors: tensors,
	})
}

// stats returns the median (the mean of the middle two for an even count, as Python's
// statistics.median), the minimum and the maximum of v.
func stats(v []float64) (med, lo, hi float64) {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}
