package models

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"

	"github.com/drgrade/drgrade/internal/testutil"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
)

// TestNewCloseFreesMemory: building and closing a model returns its memory. gotch's in-place
// ops (used by every initialiser and RequiresGrad_) leaked the old C handle, keeping each
// parameter alive after Drop; setup-libtorch.sh patches its generated ops.
func TestNewCloseFreesMemory(t *testing.T) {
	locked.Run(func() {
		build := func() {
			m, err := New("resnet_small", 5) // 21.3M parameters: 85 MB of float32
			if err != nil {
				t.Fatal(err)
			}
			m.Close()
		}
		for i := 0; i < 3; i++ { // warm-up: the allocator keeps some freed memory for reuse
			build()
		}
		before := testutil.RSS(t)
		for i := 0; i < 8; i++ {
			build()
		}
		// Eight leaked models would add ~680 MB. glibc keeps some freed memory for reuse (its
		// mmap threshold adapts), measured at 7–89 MB here: allow 256 MB.
		grew := testutil.RSS(t) - before
		t.Logf("RSS grew by %d MB over 8 New+Close of resnet_small", grew>>20)
		if grew > 256<<20 {
			t.Fatalf("RSS grew by %d MB over 8 New+Close of resnet_small: parameters are not freed", grew>>20)
		}
	})
}

// TestEvalForwardsKeepRSSFlat: repeated eval forwards of resnet (resnet50) keep RSS within 3%
// after warm-up and the count of live gotch tensors flat: every intermediate is freed.
// It runs in a child process (inMemoryTestParent) with Go's collector off during the loop,
// so no finalizer can quietly free a forgotten handle: the live-tensor count is exact. Each
// RSS reading follows debug.FreeOSMemory, so Go's own garbage (the wrappers of dropped
// tensors) is not counted as growth.
func TestEvalForwardsKeepRSSFlat(t *testing.T) {
	if testutil.InMemoryTestParent(t, "TestEvalForwardsKeepRSSFlat") {
		return
	}
	n := 200
	if v, err := strconv.Atoi(os.Getenv("DRGRADE_MEMTEST_N")); err == nil {
		n = v
	}
	if testing.Short() {
		n = 30
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	locked.Run(func() {
		m, err := New("resnet", 5)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		defer torchext.NoGrad()()
		x := ts.MustRandn([]int64{8, 3, 224, 224}, gotch.Float, gotch.CPU)
		defer x.MustDrop()
		forward := func() {
			y, err := m.ForwardT(x, false)
			if err != nil {
				t.Fatal(err)
			}
			y.MustDrop()
		}
		for i := 0; i < 5; i++ {
			forward()
		}
		live0, c0 := len(ts.ExistingTensors), torchext.MallocInUse()
		debug.FreeOSMemory()
		rss0 := testutil.RSS(t)
		for i := 0; i < n; i++ {
			forward()
		}
		live1, c1 := len(ts.ExistingTensors), torchext.MallocInUse()
		debug.FreeOSMemory()
		rss1 := testutil.RSS(t)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		t.Logf("%d forwards: RSS %d → %d MB, live tensors %d → %d, C heap in use %d → %d KB, Go sys %d MB", n, rss0>>20, rss1>>20, live0, live1, c0>>10, c1>>10, ms.Sys>>20)
		if live1 != live0 {
			t.Errorf("live tensors %d → %d: a forward leaks tensors", live0, live1)
		}
		if float64(rss1) > 1.03*float64(rss0) {
			t.Errorf("RSS grew %.1f%% over %d forwards (bound 3%%)", 100*(float64(rss1)/float64(rss0)-1), n)
		}
	})
}
