// Command trainstep times drgrade's training step on synthetic tensors, with no data loading:
// forward in train mode, the script's weighted cross-entropy, the per-step bookkeeping of
// train_one_epoch (argmax for the accuracy, the loss value), backward, Adam with weight
// decay 1e-4, zero_grad. bench/trainstep.py is its PyTorch counterpart; bench/run.sh runs the
// two interleaved (`make bench`, items 1 and 6 of the benchmark issue).
//
// One run: build the model (seeded), one random-normal batch of --batch×3×--size×--size and
// labels i mod 5, --warmup untimed steps, then --steps steps each timed alone. It prints one
// JSON line: the median/min/max step time and, for every step listed in --rss_at, the
// process's resident set size right after that step (RSS drift between two of them is a leak
// check: a fixed set of tensors per step should give a flat RSS).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/vision/models"
)

// ddrCounts are the DDR train class counts (semantics.md), for the script's 1/count weights.
var ddrCounts = []int{4980, 514, 3604, 188, 731}

// result is the JSON line a run prints; trainstep.py prints the same keys.
type result struct {
	Impl    string             `json:"impl"`
	Model   string             `json:"model"`
	Arch    string             `json:"arch"`
	Batch   int                `json:"batch"`
	Size    int                `json:"size"`
	Threads int                `json:"threads"`
	Warmup  int                `json:"warmup"`
	Steps   int                `json:"steps"`
	Median  float64            `json:"ms_per_step_median"`
	Min     float64            `json:"ms_min"`
	Max     float64            `json:"ms_max"`
	RSSMB   map[string]float64 `json:"rss_mb_at_step"`
	Torch   string             `json:"torch"`
}

func main() {
	// As drgrade does: libtorch's CPU buffers are cached (DRGRADE_CPU_CACHE_MB=off for an A/B run).
	if err := torchext.InstallCPUCache(); err != nil {
		fmt.Fprintf(os.Stderr, "trainstep: %v; using the default CPU allocator\n", err)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "trainstep:", err)
		os.Exit(1)
	}
}

func run() error {
	model := flag.String("model", "resnet_small", "zoo model name")
	batch := flag.Int("batch", 32, "images per step")
	size := flag.Int("size", 224, "input side")
	threads := flag.Int("threads", 2, "libtorch intra-op threads (torch.set_num_threads)")
	warmup := flag.Int("warmup", 1, "untimed steps before timing")
	steps := flag.Int("steps", 5, "timed steps")
	rssAt := flag.String("rss_at", "", "comma-separated step numbers (1-based, counting warm-up steps) after which to record RSS")
	seed := flag.Uint64("seed", 1, "seed for the weights and the input")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed steps to this file")
	flag.Parse()
	if *batch < 1 || *steps < 1 || *warmup < 0 || *threads < 1 || *size < 1 {
		return errors.New("want --batch, --steps, --threads, --size >= 1 and --warmup >= 0")
	}
	rssSteps := map[int]bool{}
	if *rssAt != "" {
		for _, f := range strings.Split(*rssAt, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return fmt.Errorf("--rss_at %q: want positive step numbers", *rssAt)
			}
			rssSteps[n] = true
		}
	}
	cfg, err := models.Lookup(*model)
	if err != nil {
		return err
	}

	res := result{Impl: "drgrade", Model: *model, Arch: cfg.Arch, Batch: *batch, Size: *size,
		Threads: *threads, Warmup: *warmup, Steps: *steps, RSSMB: map[string]float64{},
		Torch: torchext.TorchVersion()}
	var times []float64
	var runErr error
	locked.Run(func() {
		runErr = func() error {
			torchext.SetNumThreads(*threads)
			torchext.ManualSeed(*seed)
			m, err := models.New(*model, 5)
			if err != nil {
				return err
			}
			defer m.Close()
			w, err := loss.ClassWeights(ddrCounts, "inverse")
			if err != nil {
				return err
			}
			crit, err := loss.NewCrossEntropy(w)
			if err != nil {
				return err
			}
			defer crit.Close()
			opt, err := trainer.NewAdam(m.StateDict().Parameters(), 2e-4, 1e-4)
			if err != nil {
				return err
			}
			defer opt.Close()
			x, err := ts.Randn([]int64{int64(*batch), 3, int64(*size), int64(*size)}, gotch.Float, gotch.CPU)
			if err != nil {
				return err
			}
			defer x.MustDrop()
			yv := make([]int64, *batch)
			for i := range yv {
				yv[i] = int64(i % 5)
			}
			y, err := models.TensorFrom(yv, []int64{int64(*batch)})
			if err != nil {
				return err
			}
			defer y.MustDrop()
			var accuLoss float32
			correct := 0
			step := func() error {
				pred, err := m.ForwardT(x, true)
				if err != nil {
					return err
				}
				defer pred.MustDrop()
				l, err := crit.Loss(pred, y)
				if err != nil {
					return err
				}
				defer l.MustDrop()
				am, err := pred.Argmax([]int64{1}, false, false)
				if err != nil {
					return err
				}
				for i, p := range am.Int64Values() {
					if p == yv[i] {
						correct++
					}
				}
				am.MustDrop()
				lv, err := l.Float64Value([]int64{}) // as trainOneEpoch: Float64Values leaks a copy
				if err != nil {
					return err
				}
				accuLoss += float32(lv)
				if err := l.Backward(); err != nil {
					return err
				}
				if err := opt.Step(); err != nil {
					return err
				}
				opt.ZeroGrad()
				return nil
			}
			n := 0
			record := func() {
				n++
				if rssSteps[n] {
					res.RSSMB[strconv.Itoa(n)] = rssMB()
				}
			}
			for i := 0; i < *warmup; i++ {
				if err := step(); err != nil {
					return err
				}
				record()
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
			for i := 0; i < *steps; i++ {
				t := time.Now()
				if err := step(); err != nil {
					return err
				}
				times = append(times, float64(time.Since(t).Microseconds())/1000)
				record()
			}
			return nil
		}()
	})
	if runErr != nil {
		return fmt.Errorf("%s: %s", *model, torchext.Message(runErr))
	}
	res.Median, res.Min, res.Max = stats(times)
	return json.NewEncoder(os.Stdout).Encode(res)
}

// rssMB is VmRSS of this process in MiB (/proc/self/statm's resident pages).
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return -1
	}
	pages, _ := strconv.ParseFloat(f[1], 64)
	return pages * float64(os.Getpagesize()) / (1 << 20)
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
