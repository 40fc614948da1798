package ddp_test

import (
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/testutil"
	"github.com/drgrade/drgrade/trainer/ddp"
)

// TestPerStepCollectivesLeakNothing: the collectives a data-parallel run makes every step
// (AnyTrue for the stop poll, SumFloat64s for the epoch's loss, GatherInt64s for the
// predictions) free every tensor they make; none is left to a finalizer. gotch's
// Float64Values leaked a Double copy per call, one per training step in a DDP run.
func TestPerStepCollectivesLeakNothing(t *testing.T) {
	env := ddp.Env{Rank: 0, World: 1, LocalRank: 0, LocalWorld: 1, MasterAddr: "127.0.0.1", MasterPort: freePort(t)}
	locked.Run(func() {
		p, err := ddp.Init(env, ddp.Options{Backend: "gloo", Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		round := func() {
			if _, err := p.AnyTrue(false); err != nil {
				t.Fatal(err)
			}
			if s, err := p.SumFloat64s(1.5, 2); err != nil || s[0] != 1.5 || s[1] != 2 {
				t.Fatalf("SumFloat64s = %v, %v", s, err)
			}
			if g, err := p.GatherInt64s([]int64{3, 4}); err != nil || len(g) != 1 || g[0][1] != 4 {
				t.Fatalf("GatherInt64s = %v, %v", g, err)
			}
		}
		for i := 0; i < 20; i++ {
			round()
		}
		debug.FreeOSMemory()
		live0, fin0, sc0 := len(ts.ExistingTensors), testutil.FinalizersQueued(), atomic.LoadInt64(&ts.ScalarCount)
		const n = 300
		for i := 0; i < n; i++ {
			round()
		}
		debug.FreeOSMemory()
		live1, fin1, sc1 := len(ts.ExistingTensors), testutil.FinalizersQueued(), atomic.LoadInt64(&ts.ScalarCount)
		t.Logf("%d rounds: live tensors %d → %d, finalizers queued %d for %d gotch Scalars made", n, live0, live1, fin1-fin0, sc1-sc0)
		if live1 != live0 {
			t.Errorf("live tensors %d → %d over %d rounds", live0, live1, n)
		}
		if int64(fin1-fin0) != sc1-sc0 {
			t.Errorf("%d objects left to their finalizer over %d rounds, %d gotch Scalars made: the collectives leak tensors", fin1-fin0, n, sc1-sc0)
		}
	})
}
