package torchext

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// TestGotchScalarKeptAlive: the gotch copy keeps an op's Scalar argument alive through the C
// call (setup-libtorch.sh). gotch v0.9.1 read other.cscalar and let the Scalar's finalizer free
// it while AddScalar_ used it, so with collections running alongside, an inline
// ts.IntScalar(1) was read as garbage (BatchNorm's num_batches_tracked += 1 failed "INTERNAL
// ASSERT FAILED" or added the wrong amount).
func TestGotchScalarKeptAlive(t *testing.T) {
	const n = 20000
	locked.Run(func() {
		x, err := ts.Zeros([]int64{1}, gotch.Int64, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		defer x.MustDrop()
		var stop atomic.Bool
		done := make(chan struct{})
		go func() { // collections (and so finalizers) all the time
			defer close(done)
			for !stop.Load() {
				runtime.GC()
			}
		}()
		var opErr error
		for i := 0; i < n && opErr == nil; i++ {
			_ = make([]byte, 1<<10) // some garbage so the scalar's block is reused
			opErr = x.AddScalar_(ts.IntScalar(1))
		}
		stop.Store(true)
		<-done
		if opErr != nil {
			t.Fatalf("AddScalar_(IntScalar(1)) with collections running: %v", Message(opErr))
		}
		got := x.Int64Values()[0]
		if got != n {
			t.Fatalf("%d additions of 1 gave %d", n, got)
		}
	})
}

// TestGotchCopyKeepsArgumentsAlive: the race above is rare (the thread must lose its core
// between reading the handle and the C call using it), so also check the patched source: every
// generated op keeps its receiver and its Scalar and Tensor arguments alive until it returns.
func TestGotchCopyKeepsArgumentsAlive(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "third_party", "gotch", "ts", "tensor-generated.go"))
	if err != nil {
		t.Fatalf("the gotch copy of setup-libtorch.sh: %v", err)
	}
	for _, c := range []struct{ head, want string }{
		{"func(ts *Tensor) AddScalar_(other *Scalar)(err error) {", "defer runtime.KeepAlive(ts)\n  defer runtime.KeepAlive(other)\n"},
		{"func(ts *Tensor) MulScalar(other *Scalar, del bool)(retVal *Tensor, err error) {", "defer runtime.KeepAlive(ts)\n  defer runtime.KeepAlive(other)\n"},
		{"func Full(size []int64, fillValue *Scalar, ", "defer runtime.KeepAlive(fillValue)\n"},
		{"func(ts *Tensor) Matmul(other *Tensor, del bool)(retVal *Tensor, err error) {", "defer runtime.KeepAlive(ts)\n  defer runtime.KeepAlive(other)\n"},
	} {
		i := strings.Index(string(src), c.head)
		if i < 0 {
			t.Errorf("%s: not found", c.head)
			continue
		}
		body := string(src[i:])
		body = body[strings.Index(body, "\n")+1:]
		if !strings.HasPrefix(strings.TrimLeft(body, " "), c.want) {
			t.Errorf("%s does not start with %q:\n%.200s", c.head, c.want, body)
		}
	}
}
