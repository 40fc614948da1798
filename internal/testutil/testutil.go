// Package testutil holds the helpers several packages' tests share: the process's resident set
// size, re-running a memory test in a child with a fixed glibc mmap threshold, and a small tmpfs
// for disk-full tests. It is imported by _test.go files only.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
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
