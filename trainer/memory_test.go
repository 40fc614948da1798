package trainer

import (
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drgrade/drgrade/internal/testutil"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer/schedule"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/transforms"
)

// loaderGoroutines counts the goroutines running code of the loader package (goleak's idea,
// without the module: every goroutine's stack, filtered by the package's import path).
func loaderGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "drgrade/vision/loader.") {
			n++
		}
	}
	return n
}

// TestTrainStepsKeepMemoryFlat: 1000 training steps of shufflenet_small through the real
// epoch loop (loader with a worker, train pipeline, weighted cross-entropy, backward, Adam, the
// warmup and cosine schedule) keep RSS within 2% of its value after 100 warm-up steps, the
// count of live gotch tensors exactly flat, no tensor left to a finalizer, and no loader
// goroutine behind. In a child process with a fixed mmap threshold (inMemoryTestParent). The
// collector stays on (the loader's garbage, ~1 MB a step, would otherwise pile up to GBs), so
// a forgotten tensor would be freed by its finalizer and the live count alone could miss it:
// the finalizers queued over the loop must be exactly the gotch Scalars it created. Each
// reading is testutil.ReadMemory, after full collections (every unreachable object's finalizer
// queued) with both allocators' free memory handed back: RSS with Go's heap counted by its live
// bytes, so that what it bounds is memory in use, not the Go heap's resident slack.
func TestTrainStepsKeepMemoryFlat(t *testing.T) {
	if testutil.InMemoryTestParent(t, "TestTrainStepsKeepMemoryFlat") {
		return
	}
	steps, warm := 1000, 100
	if testing.Short() {
		steps, warm = 200, 50
	}
	cfg := tinyConfig(t, t.TempDir())
	locked.Run(func() {
		torchext.SetNumThreads(1)
		torchext.ManualSeed(1)
		m, err := models.New(cfg.Model, cfg.NumClasses)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		tcfg := TransformConfig(m.Config(), cfg.ImgSize, cfg.Transforms)
		pipe, err := transforms.TrainPipeline(tcfg)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := dataset.Load(cfg.DataPath, "train", cfg.NumClasses)
		if err != nil {
			t.Fatal(err)
		}
		dl, err := loader.New(ds, pipe, tcfg.CropSize, loader.Options{BatchSize: cfg.BatchSize, Workers: 1, Shuffle: true, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		w, err := loss.ClassWeights(ds.ClassCounts, "inverse")
		if err != nil {
			t.Fatal(err)
		}
		crit, err := loss.NewCrossEntropy(w)
		if err != nil {
			t.Fatal(err)
		}
		defer crit.Close()
		opt, err := NewAdam(m.StateDict().Parameters(), cfg.LR, 1e-4)
		if err != nil {
			t.Fatal(err)
		}
		defer opt.Close()
		scaler, err := NewGradScaler(false)
		if err != nil {
			t.Fatal(err)
		}
		defer scaler.Close()
		per := dl.Len()
		epochs, warmEpochs := (steps+per-1)/per, (warm+per-1)/per
		sched, err := schedule.NewScript(schedule.Config{LR: cfg.LR, LRF: cfg.LRF, Epochs: epochs, LoaderLen: per, Warmup: true})
		if err != nil {
			t.Fatal(err)
		}
		goroutines0, loader0 := runtime.NumGoroutine(), loaderGoroutines()
		epoch := func(e int) {
			if _, err := TrainOneEpoch(EpochArgs{Model: m, Optimizer: opt, DataLoader: dl, Epoch: e, LRMethod: sched, Criterion: crit, Scaler: scaler, Progress: NewProgress(io.Discard, per, true)}); err != nil {
				t.Fatal(err)
			}
			if err := sched.EndEpoch(); err != nil {
				t.Fatal(err)
			}
		}
		for e := 0; e < warmEpochs; e++ {
			epoch(e)
		}
		mem0 := testutil.ReadMemory(t)
		live0, fin0, sc0, c0 := len(ts.ExistingTensors), testutil.FinalizersQueued(), atomic.LoadInt64(&ts.ScalarCount), torchext.MallocInUse()
		for e := warmEpochs; e < epochs; e++ {
			epoch(e)
		}
		mem1 := testutil.ReadMemory(t)
		live1, fin1, sc1, c1 := len(ts.ExistingTensors), testutil.FinalizersQueued(), atomic.LoadInt64(&ts.ScalarCount), torchext.MallocInUse()
		scalars, finalized := sc1-sc0, int64(fin1-fin0)
		grew := float64(mem1.InUse())/float64(mem0.InUse()) - 1
		t.Logf("%d steps (%d epochs of %d), measured after step %d: %v → %v (%+.2f%%), live tensors %d → %d, finalizers queued %d for %d gotch Scalars made, C heap in use %d → %d KB",
			epochs*per, epochs, per, warmEpochs*per, mem0, mem1, 100*grew, live0, live1, finalized, scalars, c0>>10, c1>>10)
		if live1 != live0 {
			t.Errorf("live tensors %d → %d over %d training steps: a step leaks tensors", live0, live1, (epochs-warmEpochs)*per)
		}
		if finalized != scalars {
			t.Errorf("%d objects were left to their finalizer over %d training steps, %d more than the gotch Scalars made: tensors are freed by the collector, not by the step (gotch's Float64Values leaks its Double copy, for one)",
				finalized, (epochs-warmEpochs)*per, finalized-scalars)
		}
		// Memory in use within 2% after warm-up: RSS measured +0.32% over the 900 steps (159.8 →
		// 160.4 MB, the allocator's slack); a step leaking one 4 KB page would add 3.6 MB, 2.3%.
		if grew > 0.02 {
			t.Errorf("memory in use grew %.2f%% over %d training steps (bound 2%%)", 100*grew, (epochs-warmEpochs)*per)
		}
		// Every epoch's iterator was closed: its feeder and workers have exited (Close waits).
		if g, l := runtime.NumGoroutine(), loaderGoroutines(); g > goroutines0 || l > loader0 {
			t.Errorf("goroutines %d → %d, in the loader %d → %d: the loader left goroutines behind", goroutines0, g, loader0, l)
		}
	})
}

// TestRunKeepsMemoryFlat is TestTrainStepsKeepMemoryFlat for a whole Run: each epoch's
// training, evaluation, metrics, DDR.txt, metrics.json/csv, TensorBoard events, curves.png,
// the best checkpoint with its confusion_matrix.png, and last.pth. From the end of epoch 4 to
// the end of the last, live tensors stay exactly level, nothing is left to a finalizer but
// gotch's Scalars, and memory in use (testutil.ReadMemory) stays within 2%. In a child process with a fixed mmap threshold.
func TestRunKeepsMemoryFlat(t *testing.T) {
	if testutil.InMemoryTestParent(t, "TestRunKeepsMemoryFlat") {
		return
	}
	cfg := tinyConfig(t, t.TempDir())
	cfg.Epochs, cfg.NumWorkers = 14, 1
	if testing.Short() {
		cfg.Epochs = 8
	}
	const warm = 4
	type reading struct {
		live    int
		fin, sc int64
		mem     testutil.Memory
		cHeap   int64
	}
	var at []reading
	cfg.afterEpoch = func(epoch int) {
		if epoch+1 != warm && epoch+1 != cfg.Epochs {
			return
		}
		mem := testutil.ReadMemory(t)
		at = append(at, reading{len(ts.ExistingTensors), int64(testutil.FinalizersQueued()), atomic.LoadInt64(&ts.ScalarCount),
			mem, torchext.MallocInUse()})
	}
	goroutines0 := runtime.NumGoroutine()
	if _, err := Run(cfg, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	if len(at) != 2 {
		t.Fatalf("%d readings, want 2", len(at))
	}
	r0, r1 := at[0], at[1]
	grew := float64(r1.mem.InUse())/float64(r0.mem.InUse()) - 1
	t.Logf("epochs %d → %d: %v → %v (%+.2f%%), live tensors %d → %d, finalizers queued %d for %d gotch Scalars made, C heap %d → %d KB",
		warm, cfg.Epochs, r0.mem, r1.mem, 100*grew, r0.live, r1.live, r1.fin-r0.fin, r1.sc-r0.sc, r0.cHeap>>10, r1.cHeap>>10)
	if r1.live != r0.live {
		t.Errorf("live tensors %d → %d over %d epochs: an epoch leaks tensors", r0.live, r1.live, cfg.Epochs-warm)
	}
	if r1.fin-r0.fin != r1.sc-r0.sc {
		t.Errorf("%d objects left to their finalizer over %d epochs, %d more than the gotch Scalars made", r1.fin-r0.fin, cfg.Epochs-warm, (r1.fin-r0.fin)-(r1.sc-r0.sc))
	}
	if grew > 0.02 {
		t.Errorf("memory in use grew %.2f%% over %d epochs (bound 2%%, as the train-step test)", 100*grew, cfg.Epochs-warm)
	}
	// goleak's rule: a goroutine that outlives the run for a second is left behind (the runtime's
	// finalizer goroutine counts while it runs a finalizer, and thousands are queued here).
	g := runtime.NumGoroutine()
	for wait := time.Now().Add(time.Second); g > goroutines0 && time.Now().Before(wait); g = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	if g > goroutines0 {
		t.Errorf("goroutines %d → %d: the run left goroutines behind", goroutines0, g)
	}
}
