package torchext

import (
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

func TestCPUCacheLimit(t *testing.T) {
	const gib = uint64(1) << 30
	for _, c := range []struct {
		v       string
		want    uint64
		wantErr bool
	}{
		{"", 6 * gib, false}, // a quarter of 24 GiB
		{"off", 0, false},
		{"OFF", 0, false},
		{"0", 0, false},
		{" 512 ", 512 << 20, false},
		{"2048", 2 * gib, false},
		{"-1", 0, true},
		{"1.5", 0, true},
		{"lots", 0, true},
	} {
		got, err := cpuCacheLimit(c.v, 24*gib)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("cpuCacheLimit(%q) = %d, %v; want %d, error %v", c.v, got, err, c.want, c.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), CPUCacheEnv) {
			t.Errorf("cpuCacheLimit(%q): error %q does not name %s", c.v, err, CPUCacheEnv)
		}
	}
}

// TestCPUCacheReusesBlocks: a freed buffer of 1 MiB or more is kept and handed back for the
// next request of the same size, and a reused (dirty) block still gives the values ops promise.
func TestCPUCacheReusesBlocks(t *testing.T) {
	if os.Getenv(CPUCacheEnv) != "" {
		t.Skipf("%s is set", CPUCacheEnv)
	}
	if err := InstallCPUCache(); err != nil {
		t.Fatal(err)
	}
	locked.Run(func() {
		s0 := CPUCache()
		if !s0.Installed || s0.LimitBytes == 0 {
			t.Fatalf("caching CPU allocator not installed: %+v", s0)
		}
		shape := []int64{1, 3, 301, 307} // 1.06 MiB of float32, an unusual size
		a := ts.MustOnes(shape, gotch.Float, gotch.CPU)
		a.MustDrop()
		s1 := CPUCache()
		if s1.CachedBytes < s0.CachedBytes+4*301*307*3 {
			t.Fatalf("freeing a 1 MiB tensor: cached %d → %d bytes, want it kept", s0.CachedBytes, s1.CachedBytes)
		}
		z := ts.MustZeros(shape, gotch.Float, gotch.CPU) // gets the block of ones back
		defer z.MustDrop()
		s2 := CPUCache()
		if s2.Hits != s1.Hits+1 || s2.CachedBytes >= s1.CachedBytes {
			t.Fatalf("same-size request after a free: hits %d → %d, cached %d → %d; want a hit", s1.Hits, s2.Hits, s1.CachedBytes, s2.CachedBytes)
		}
		sum, err := z.Sum(gotch.Double, false)
		if err != nil {
			t.Fatal(err)
		}
		defer sum.MustDrop()
		if v, _ := sum.Float64Value([]int64{}); v != 0 {
			t.Fatalf("zeros on a reused block sums to %v", v)
		}
		ReleaseCPUCache()
		if c := CPUCache().CachedBytes; c != 0 {
			t.Fatalf("after ReleaseCPUCache %d bytes are still cached", c)
		}
	})
}

// TestCPUCacheBestFit: a request takes the smallest cached block of its size or larger, up to
// twice its size, and the block goes back to the cache under its own size: a server's forwards
// at batch sizes 1..max_batch reuse the largest batch's buffers instead of each keeping its own.
func TestCPUCacheBestFit(t *testing.T) {
	if os.Getenv(CPUCacheEnv) != "" {
		t.Skipf("%s is set", CPUCacheEnv)
	}
	if err := InstallCPUCache(); err != nil {
		t.Fatal(err)
	}
	const kib = 1 << 10
	locked.Run(func() {
		ReleaseCPUCache()
		held := map[int64]*ts.Tensor{}
		alloc := func(k int64) func() {
			return func() { held[k] = ts.MustOnes([]int64{k * kib / 4}, gotch.Float, gotch.CPU) }
		}
		free := func(k int64) func() { return func() { held[k].MustDrop(); delete(held, k) } }
		alloc(2048)()
		alloc(1200)()
		free(2048)()
		free(1200)() // cached: one 2048 KiB and one 1200 KiB block
		for _, step := range []struct {
			what      string
			do        func()
			hits      uint64 // new cache hits
			cachedKiB int64  // change of the cached bytes
		}{
			{"1100 KiB takes the smallest block that fits (1200, not 2048)", alloc(1100), 1, -1200},
			{"1500 KiB takes the 2048 KiB block (under twice its size)", alloc(1500), 1, -2048},
			{"freeing the 1100 KiB tensor caches its 1200 KiB block", free(1100), 0, 1200},
			{"500 KiB does not take the 1200 KiB block (over twice its size)", alloc(500), 0, 0},
			{"freeing the 1500 KiB tensor caches its 2048 KiB block", free(1500), 0, 2048},
		} {
			before := CPUCache()
			step.do()
			after := CPUCache()
			if hits, d := after.Hits-before.Hits, int64(after.CachedBytes)-int64(before.CachedBytes); hits != step.hits || d != step.cachedKiB*kib {
				t.Errorf("%s: %d hits, cached bytes %+d KiB; want %d hits, %+d KiB", step.what, hits, d/kib, step.hits, step.cachedKiB)
			}
		}
		for _, x := range held {
			x.MustDrop()
		}
		ReleaseCPUCache()
	})
}

// TestCPUCacheMidSize: buffers between 16 and 128 KiB are cached too. glibc would serve them
// from its heap and trim the heap's top whenever more than 128 KiB of it lies free, so such
// buffers were faulted in again and again: densenet201's forward at batch 1 took ~2000 page
// faults per forward before, ~9 after (`perf stat -e page-faults bench/forward`, BENCHMARKS.md).
func TestCPUCacheMidSize(t *testing.T) {
	if os.Getenv(CPUCacheEnv) != "" {
		t.Skipf("%s is set", CPUCacheEnv)
	}
	if err := InstallCPUCache(); err != nil {
		t.Fatal(err)
	}
	locked.Run(func() {
		for _, kib := range []int64{16, 100, 127} {
			shape := []int64{kib << 10 / 4}
			turn := func() {
				a := ts.MustOnes(shape, gotch.Float, gotch.CPU)
				b := ts.MustOnes(shape, gotch.Float, gotch.CPU)
				a.MustDrop()
				b.MustDrop()
			}
			turn()
			before := CPUCache()
			const turns = 50
			for i := 0; i < turns; i++ {
				turn()
			}
			if hits := CPUCache().Hits - before.Hits; hits != 2*turns {
				t.Errorf("%d turns of two %d KiB tensors: %d cache hits, want %d", turns, kib, hits, 2*turns)
			}
		}
		small := ts.MustOnes([]int64{(16<<10)/4 - 1}, gotch.Float, gotch.CPU) // under 16 KiB: glibc's
		before := CPUCache()
		small.MustDrop()
		if after := CPUCache(); after.CachedBytes != before.CachedBytes {
			t.Errorf("a block under 16 KiB was cached: %d → %d bytes", before.CachedBytes, after.CachedBytes)
		}
	})
}

// TestInstallCPUCache: the caching allocator is there only once InstallCPUCache is called
// (making tensors before does not install it), the call is idempotent, DRGRADE_CPU_CACHE_MB=off
// leaves c10's own allocator in place, and a bad value is returned as an error naming the
// variable, with c10's allocator left in place. Each case runs in a child process of its own,
// since the allocator, once installed, stays for the life of the process.
func TestInstallCPUCache(t *testing.T) {
	if mode := os.Getenv("TX_CPU_CACHE_CHILD"); mode != "" {
		installCPUCacheChild(t, mode)
		return
	}
	for _, c := range []struct{ mode, env string }{
		{"default", ""},
		{"off", "off"},
		{"bad", "lots"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestInstallCPUCache$", "-test.count=1", "-test.v")
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, CPUCacheEnv+"=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "TX_CPU_CACHE_CHILD="+c.mode)
		if c.env != "" {
			cmd.Env = append(cmd.Env, CPUCacheEnv+"="+c.env)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s child: %v\n%s", c.mode, err, out)
		} else if !strings.Contains(string(out), "--- PASS: TestInstallCPUCache") {
			t.Errorf("%s child ran no test:\n%s", c.mode, out)
		}
	}
}

// installCPUCacheChild is TestInstallCPUCache's child for mode (default, off or bad).
func installCPUCacheChild(t *testing.T, mode string) {
	locked.Run(func() {
		x := ts.MustOnes([]int64{1 << 20}, gotch.Float, gotch.CPU) // 4 MiB, made before the call
		if CPUCache().Installed {
			t.Fatal("caching allocator installed before InstallCPUCache")
		}
		err := InstallCPUCache()
		x.MustDrop() // made by c10's allocator: freed by it, not cached
		s := CPUCache()
		switch mode {
		case "default":
			if err != nil || !s.Installed || s.LimitBytes == 0 {
				t.Fatalf("InstallCPUCache() = %v; stats %+v, want it installed with a limit", err, s)
			}
			if s.CachedBytes != 0 {
				t.Errorf("a tensor made before InstallCPUCache was cached when freed: %d bytes", s.CachedBytes)
			}
		case "off":
			if err != nil || s.Installed {
				t.Fatalf("%s=off: InstallCPUCache() = %v, installed %v; want nil and c10's allocator", CPUCacheEnv, err, s.Installed)
			}
		case "bad":
			if err == nil || !strings.Contains(err.Error(), CPUCacheEnv) || s.Installed {
				t.Fatalf("%s=lots: InstallCPUCache() = %v, installed %v; want an error naming %s and c10's allocator", CPUCacheEnv, err, s.Installed, CPUCacheEnv)
			}
		}
		if again := InstallCPUCache(); again != err || CPUCache().Installed != s.Installed {
			t.Fatalf("second InstallCPUCache() = %v, installed %v; want the first's %v, %v", again, CPUCache().Installed, err, s.Installed)
		}
	})
}

func TestFromSlice(t *testing.T) {
	locked.Run(func() {
		for _, c := range []struct {
			name  string
			data  any
			shape []int64
			kind  gotch.DType
		}{
			{"float32 2x3", []float32{1, -2, 3.5, 4, 5, 6e-30}, []int64{2, 3}, gotch.Float},
			{"float64 3", []float64{1e300, -2, 0.1}, []int64{3}, gotch.Double},
			{"int64 2x2x1", []int64{1 << 40, -7, 0, 3}, []int64{2, 2, 1}, gotch.Int64},
			{"0-dim", []int64{42}, []int64{}, gotch.Int64},
			{"empty", []float32{}, []int64{0, 3}, gotch.Float},
		} {
			x, err := FromSlice(c.data, c.shape)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if x.DType() != c.kind || !reflect.DeepEqual(x.MustSize(), c.shape) {
				t.Errorf("%s: dtype %v shape %v, want %v %v", c.name, x.DType(), x.MustSize(), c.kind, c.shape)
			}
			var got any
			switch c.kind {
			case gotch.Float:
				got = x.Vals()
			case gotch.Double:
				got = x.Vals()
			case gotch.Int64:
				got = x.Vals()
			}
			if !reflect.DeepEqual(got, c.data) {
				t.Errorf("%s: values %v, want %v", c.name, got, c.data)
			}
			x.MustDrop()
		}
		for _, c := range []struct {
			name  string
			data  any
			shape []int64
			want  string
		}{
			{"too few", []float32{1, 2}, []int64{3}, "needs 12 bytes, got 8"},
			{"too many", []int64{1, 2, 3}, []int64{2}, "needs 16 bytes, got 24"},
			{"int32", []int32{1}, []int64{1}, "unsupported data type []int32"},
		} {
			x, err := FromSlice(c.data, c.shape)
			if err == nil {
				x.MustDrop()
				t.Errorf("%s: no error", c.name)
			} else if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: error %q, want it to contain %q", c.name, err, c.want)
			}
		}
	})
}
