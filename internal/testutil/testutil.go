// Package testutil holds the helpers several packages' tests share: the process's resident set
// size and its memory in use, re-running a memory test in a child with a fixed glibc mmap
// threshold, and a small tmpfs for disk-full tests. It is imported by _test.go files only.
package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/drgrade/drgrade/internal/torchext"
)

// RSS is this process's resident set size in bytes, from /proc/self/statm (the test is skipped
// where there is none).
func RSS(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm:", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		t.Fatalf("/proc/self/statm: %q", b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatalf("/proc/self/statm: %q: %v", b, err)
	}
	return pages * int64(os.Getpagesize())
}

// Memory is a reading of the process's memory in use, for tests that bound its growth.
type Memory struct {
	RSS       int64 // resident set, /proc/self/statm
	GoHeapRSS int64 // resident pages of the mappings that hold Go's heap, /proc/self/smaps
	GoLive    int64 // bytes of Go objects the last collection marked live
}

// InUse is RSS with Go's heap counted by its live bytes instead of its resident pages: what
// leaks (C buffers, tensors, Go objects kept reachable) grows it; allocator slack does not.
func (m Memory) InUse() int64 { return m.RSS - m.GoHeapRSS + m.GoLive }

func (m Memory) String() string {
	return fmt.Sprintf("%.1f MB in use (RSS %.1f MB, of which Go's heap %.1f MB for %.1f MB live)",
		mb(m.InUse()), mb(m.RSS), mb(m.GoHeapRSS), mb(m.GoLive))
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// ReadMemory settles both allocators and reads Memory. Settling is a full collection that
// returns Go's free pages (debug.FreeOSMemory), a wait for the finalizers it queued (what they
// free is garbage only then: gotch's Scalars), glibc's malloc_trim over every arena, and a
// second collection. Go's heap is then counted by its live bytes because its resident pages
// are not: measured under load on 2 cores (Go 1.26), the mapping holding Go's heap kept between
// -2.9 and +3.4 MB more resident from one reading to the next while its live bytes moved by
// 12 KB and the rest of the process by +0.2-0.3%; debug.FreeOSMemory left up to 6 MB of free
// heap pages unreturned. Linux only (the test is skipped elsewhere).
func ReadMemory(t testing.TB) Memory {
	t.Helper()
	debug.FreeOSMemory()
	waitFinalizers(time.Second)
	torchext.MallocTrim()
	debug.FreeOSMemory()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	if live[0].Value.Kind() != metrics.KindUint64 {
		t.Fatal("runtime/metrics has no /gc/heap/live:bytes")
	}
	return Memory{RSS: RSS(t), GoHeapRSS: goHeapRSS(t), GoLive: int64(live[0].Value.Uint64())}
}

// heapProbe keeps objects on Go's heap whose addresses locate the mappings that hold it: a
// small object, and a large one that gets a span of its own.
var heapProbe = struct {
	small *[64]byte
	large *[1 << 20]byte
}{new([64]byte), new([1 << 20]byte)}

// goHeapRSS sums the resident size of the mappings in /proc/self/smaps that hold Go's heap:
// those containing heapProbe's objects or a goroutine's stack (stacks live in heap spans).
func goHeapRSS(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	var onStack byte
	addrs := []uintptr{uintptr(unsafe.Pointer(heapProbe.small)), uintptr(unsafe.Pointer(heapProbe.large)), uintptr(unsafe.Pointer(&onStack))}
	var sum int64
	holds := false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(f[0], "-"); ok && !strings.HasSuffix(f[0], ":") {
			a, err1 := strconv.ParseUint(lo, 16, 64)
			z, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				holds = false
				for _, p := range addrs {
					holds = holds || (uint64(p) >= a && uint64(p) < z)
				}
				continue
			}
		}
		if holds && f[0] == "Rss:" && len(f) >= 2 {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("/proc/self/smaps: %q: %v", line, err)
			}
			sum += kb << 10
		}
	}
	if sum == 0 {
		t.Fatal("/proc/self/smaps: no mapping holds Go's heap")
	}
	return sum
}

// waitFinalizers waits, at most d, until the finalizers queued so far have run.
func waitFinalizers(d time.Duration) {
	s := []metrics.Sample{{Name: "/gc/finalizers/queued:finalizers"}, {Name: "/gc/finalizers/executed:finalizers"}}
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		metrics.Read(s)
		if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Uint64() >= s[0].Value.Uint64() {
			return
		}
	}
}

// InMemoryTestParent re-runs the test named name (a subtest's t.Name() too) in a child process
// with glibc's mmap threshold fixed (GLIBC_TUNABLES) and reports true in the parent, which must
// then return. With glibc's default dynamic threshold, freed tensor buffers of a few hundred KB
// stay in the heap and RSS wanders by several percent between iterations of a loop whose live
// tensor count is constant (measured: +3.5% over 200 resnet50 forwards, CI 2026-11-30); with a
// fixed threshold they go back to the system at once and RSS tracks live memory.
func InMemoryTestParent(t *testing.T, name string) bool {
	t.Helper()
	if os.Getenv("DRGRADE_MEMTEST_CHILD") != "" {
		return false
	}
	// Each element of a subtest's name (t.Name(): "TestX/sub") is anchored on its own.
	run := "^" + strings.Join(strings.Split(name, "/"), "$/^") + "$"
	cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.v", "-test.count=1", "-test.timeout=40m")
	if testing.Short() {
		cmd.Args = append(cmd.Args, "-test.short")
	}
	cmd.Env = append(os.Environ(), "DRGRADE_MEMTEST_CHILD=1", "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536")
	out, err := cmd.CombinedOutput()
	t.Logf("child process:\n%s", out)
	if err != nil {
		t.Fatalf("child process: %v", err)
	}
	return true
}

// MountTmpfs mounts a tmpfs of size (e.g. "16m") on a new folder, or skips the test where that
// is not permitted (not root, no mount(8), a container without CAP_SYS_ADMIN).
func MountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// FinalizersQueued is how many objects with a finalizer (runtime.SetFinalizer) the collector
// has found unreachable so far. gotch sets one on every tensor and clears it in Drop, so a
// tensor counts here only if it was forgotten and left to the collector; gotch's Scalars count
// too, all of them (their Drop is a no-op, only the finalizer frees them).
func FinalizersQueued() uint64 {
	s := []metrics.Sample{{Name: "/gc/finalizers/queued:finalizers"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
