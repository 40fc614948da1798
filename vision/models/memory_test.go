package models

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/torchext"
)

// rssBytes reads this process's resident set size from /proc/self/statm.
func rssNow(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm:", err)
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// TestNewCloseFreesMemory: building and closing a model returns its memory. gotch's in-place
// ops (used by every initialiser and RequiresGrad_) leaked the old C handle, keeping each
// parameter alive after Drop; setup-libtorch.sh patches its generated ops.
func TestNewCloseFreesMemory(t *testing.T) {
	onLockedThread(t, func() {
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
		before := rssNow(t)
		for i := 0; i < 8; i++ {
			build()
		}
		// Eight leaked models would add ~680 MB. glibc keeps some freed memory for reuse (its
		// mmap threshold adapts), measured at 7–89 MB here: allow 256 MB.
		grew := rssNow(t) - before
		t.Logf("RSS grew by %d MB over 8 New+Close of resnet_small", grew>>20)
		if grew > 256<<20 {
			t.Fatalf("RSS grew by %d MB over 8 New+Close of resnet_small: parameters are not freed", grew>>20)
		}
	})
}

// TestEvalForwardsKeepRSSFlat: repeated eval forwards of resnet (resnet50) keep RSS within 3%
// after warm-up and the count of live gotch tensors flat: every intermediate is freed.
func TestEvalForwardsKeepRSSFlat(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 30
	}
	onLockedThread(t, func() {
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
		rss0, live0 := rssNow(t), len(ts.ExistingTensors)
		for i := 0; i < n; i++ {
			forward()
		}
		rss1, live1 := rssNow(t), len(ts.ExistingTensors)
		t.Logf("%d forwards: RSS %d → %d MB, live tensors %d → %d", n, rss0>>20, rss1>>20, live0, live1)
		if live1 != live0 {
			t.Errorf("live tensors %d → %d: a forward leaks tensors", live0, live1)
		}
		if float64(rss1) > 1.03*float64(rss0) {
			t.Errorf("RSS grew %.1f%% over %d forwards (bound 3%%)", 100*(float64(rss1)/float64(rss0)-1), n)
		}
	})
}
