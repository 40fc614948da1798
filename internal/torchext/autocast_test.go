package torchext

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// TestAutocastCPUMatmulIsBF16 proves the package links against libtorch and that CPU
// autocast changes what libtorch computes: an fp32 matmul yields bf16 inside the region and
// fp32 again after it, and the previous state is restored, including when nested.
func TestAutocastCPUMatmulIsBF16(t *testing.T) {
	locked.Run(func() {
		a, err := ts.Ones([]int64{4, 8}, gotch.Float, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		defer a.MustDrop()
		b, err := ts.Ones([]int64{8, 3}, gotch.Float, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		defer b.MustDrop()

		matmulDType := func() gotch.DType {
			c, err := a.Matmul(b, false)
			if err != nil {
				t.Fatal(err)
			}
			defer c.MustDrop()
			return c.DType()
		}

		if Enabled(CPU) {
			t.Fatal("autocast enabled before any region")
		}
		if got := matmulDType(); got != gotch.Float {
			t.Fatalf("outside autocast: dtype %v, want float", got)
		}
		exit, err := Autocast(CPU, BFloat16)
		if err != nil {
			t.Fatal(err)
		}
		if !Enabled(CPU) || DType(CPU) != BFloat16 {
			t.Fatalf("inside region: enabled=%v dtype=%d", Enabled(CPU), DType(CPU))
		}
		if got := matmulDType(); got != gotch.BFloat16 {
			t.Fatalf("inside autocast: dtype %v, want bfloat16", got)
		}
		inner, err := Autocast(CPU, BFloat16)
		if err != nil {
			t.Fatal(err)
		}
		inner()
		if !Enabled(CPU) {
			t.Fatal("leaving the inner region turned autocast off for the outer one")
		}
		exit()
		if Enabled(CPU) {
			t.Fatal("autocast still enabled after the region")
		}
		if got := matmulDType(); got != gotch.Float {
			t.Fatalf("after autocast: dtype %v, want float", got)
		}
	})
}

// TestAutocastIsThreadLocal shows why the trainer locks its goroutine to one OS thread:
// enabling autocast on one thread leaves another thread's state alone.
func TestAutocastIsThreadLocal(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		exit, _ := Autocast(CPU, BFloat16)
		close(entered)
		<-release
		exit()
	}()
	<-entered
	locked.Run(func() {
		if Enabled(CPU) {
			t.Error("autocast leaked into another OS thread")
		}
	})
	close(release)
}

func TestAutocastRejectsBadDType(t *testing.T) {
	for _, tc := range []struct {
		d     Device
		dtype int
	}{{CPU, Float}, {CUDA, Float}, {Device(7), BFloat16}} {
		if _, err := Autocast(tc.d, tc.dtype); err == nil {
			t.Errorf("Autocast(%d, %d): no error", tc.d, tc.dtype)
		}
	}
}

// TestTorchVersion: the headers compiled against are the libtorch setup-libtorch.sh detected
// (2.1.x by default; gotch v0.9.1 is generated for it), and the library loaded at run time is
// the same release from the same directory.
func TestTorchVersion(t *testing.T) {
	want := "2.1"
	if env, err := os.ReadFile(filepath.Join("..", "..", "third_party", "libtorch.env")); err == nil {
		for _, l := range strings.Split(string(env), "\n") {
			if v, ok := strings.CutPrefix(l, "LIBTORCH_VERSION="); ok && v != "" {
				want = v
			}
		}
	}
	v := TorchVersion()
	if !strings.HasPrefix(v, want) {
		t.Fatalf("TorchVersion() = %q, want %s (third_party/libtorch.env)", v, want)
	}
	rv, _, dir := TorchRuntime()
	if rv != "" && !strings.HasPrefix(rv, v) {
		t.Errorf("the libtorch loaded at run time is %q, the headers %q", rv, v)
	}
	if dir == "" {
		t.Errorf("TorchRuntime: no directory for libtorch_cpu.so")
	}
}

func TestThreadsAndSeed(t *testing.T) {
	prev := NumThreads()
	defer SetNumThreads(prev)
	SetNumThreads(1)
	if got := NumThreads(); got != 1 {
		t.Fatalf("NumThreads() = %d after SetNumThreads(1)", got)
	}
	draw := func() []float64 {
		x := ts.MustRandn([]int64{5}, gotch.Float, gotch.CPU)
		defer x.MustDrop()
		return x.Float64Values()
	}
	ManualSeed(7)
	a := draw()
	ManualSeed(7)
	b := draw()
	c := draw()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different draws: %v vs %v", a, b)
		}
	}
	if a[0] == c[0] && a[1] == c[1] {
		t.Fatalf("the generator did not advance: %v vs %v", b, c)
	}
}

func TestNoGradRestores(t *testing.T) {
	locked.Run(func() {
		if !GradEnabled() {
			t.Fatal("grad mode off at start")
		}
		restore := NoGrad()
		if GradEnabled() {
			t.Fatal("NoGrad left grad mode on")
		}
		inner := NoGrad()
		inner()
		if GradEnabled() {
			t.Fatal("a nested NoGrad turned grad mode back on")
		}
		restore()
		if !GradEnabled() {
			t.Fatal("grad mode not restored")
		}
	})
}

func TestMessage(t *testing.T) {
	err := errors.New("Libtorch API Error: element 0 of tensors does not require grad\nException raised from run_backward at x.cpp:105\nframe #0: ...\n\ngoroutine 7 [running]:\nmain.f()")
	if got := Message(err); got != "element 0 of tensors does not require grad" {
		t.Fatalf("Message = %q", got)
	}
}
