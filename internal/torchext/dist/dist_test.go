package dist

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/sugarme/gotch/ts"
)

// The multi-rank behaviour (two processes on loopback, faults, parity) is tested in
// trainer/ddp; these tests drive every entry point in one process, as a world of one.

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func newWorldOfOne(t *testing.T) (*Store, *Group) {
	t.Helper()
	t.Setenv("GLOO_SOCKET_IFNAME", "lo")
	s, err := NewTCPStore(StoreOptions{Host: "127.0.0.1", Port: freePort(t), Server: true, World: 1,
		Timeout: 20 * time.Second, WaitWorkers: true})
	if err != nil && strings.Contains(err.Error(), stubMessage) {
		t.Skip(err) // a build on libtorch other than 2.1 (TestStubsOnOtherLibtorch)
	}
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGroup(s, Gloo, 0, 1, 20*time.Second)
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s, g
}

// stubMessage starts the error of every entry point in a build on a libtorch other than 2.1,
// where dist.cpp compiles to stubs (c10d's C++ API changed after 2.1).
const stubMessage = "data-parallel training is available with libtorch 2.1 only; this build links libtorch "

// TestStubsOnOtherLibtorch: on libtorch 2.1 the store starts; on any other every call fails
// with stubMessage and NCCL is not compiled in.
func TestStubsOnOtherLibtorch(t *testing.T) {
	s, err := NewTCPStore(StoreOptions{Host: "127.0.0.1", Port: freePort(t), Server: true, World: 1,
		Timeout: 5 * time.Second})
	if err == nil {
		s.Close()
		return
	}
	if !strings.Contains(err.Error(), stubMessage) {
		t.Fatalf("NewTCPStore: %v", err)
	}
	if NCCLCompiled() {
		t.Error("NCCLCompiled() in a stub build")
	}
}

func TestStore(t *testing.T) {
	s, g := newWorldOfOne(t)
	defer s.Close()
	defer g.Close()
	if err := s.Set("k", []byte("value")); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("empty", nil); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"k": "value", "empty": ""} {
		v, err := s.Get(key)
		if err != nil || string(v) != want {
			t.Errorf("Get(%q) = %q, %v; want %q", key, v, err, want)
		}
	}
	for i, want := range []int64{3, 1} {
		got, err := s.Add("n", []int64{3, -2}[i])
		if err != nil || got != want {
			t.Errorf("Add #%d = %d, %v; want %d", i, got, err, want)
		}
	}
}

func TestStoreErrors(t *testing.T) {
	for _, o := range []StoreOptions{
		{Host: "127.0.0.1", Port: 70000, World: 1},
		{Host: "127.0.0.1", Port: 1234, World: 0},
	} {
		if _, err := NewTCPStore(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	// A client with nobody to connect to gives up after its timeout.
	_, err := NewTCPStore(StoreOptions{Host: "127.0.0.1", Port: freePort(t), World: 2, Timeout: time.Second})
	if err == nil {
		t.Error("a client connected to nothing")
	}
}

func TestGroupWorldOfOne(t *testing.T) {
	s, g := newWorldOfOne(t)
	defer s.Close()
	defer g.Close()
	if g.Rank() != 0 || g.World() != 1 || g.Backend() != Gloo || g.Backend().String() != "gloo" {
		t.Fatalf("group %d/%d %v", g.Rank(), g.World(), g.Backend())
	}
	locked.Run(func() {
		a := ts.MustOfSlice([]float32{1, 2, 3})
		defer a.MustDrop()
		if err := g.AllReduce([]*ts.Tensor{a}, Sum); err != nil {
			t.Fatal(err)
		}
		w, err := g.AllReduceAsync([]*ts.Tensor{a}, Max)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Wait(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if err := w.Wait(0); err == nil {
			t.Error("Wait after Close succeeded")
		}
		if err := g.Broadcast([]*ts.Tensor{a}, 0); err != nil {
			t.Fatal(err)
		}
		if err := g.BroadcastCoalesced([]*ts.Tensor{a}, 1<<20, 0); err != nil {
			t.Fatal(err)
		}
		outs, err := g.AllGather(a)
		if err != nil {
			t.Fatal(err)
		}
		if len(outs) != 1 || fmt.Sprint(outs[0].Float64Values()) != "[1 2 3]" {
			t.Fatalf("AllGather: %v", outs)
		}
		outs[0].MustDrop()
		if err := g.Barrier(); err != nil {
			t.Fatal(err)
		}
		if err := g.VerifyParams([]*ts.Tensor{a}); err != nil {
			t.Fatal(err)
		}
		if err := g.Broadcast([]*ts.Tensor{a}, 3); err == nil {
			t.Error("broadcast from rank 3 of 1 succeeded")
		}
	})
}

// TestReducerWorldOfOne: a reducer over two parameters leaves backward's gradients as they are
// (averaged over one rank), in buckets; AllReduceGrads likewise.
func TestReducerWorldOfOne(t *testing.T) {
	s, g := newWorldOfOne(t)
	defer s.Close()
	defer g.Close()
	locked.Run(func() {
		w := ts.MustOfSlice([]float32{1, 2, 3}).MustSetRequiresGrad(true, true)
		defer w.MustDrop()
		b := ts.MustOfSlice([]float32{0.5}).MustSetRequiresGrad(true, true)
		defer b.MustDrop()
		params := []*ts.Tensor{w, b}
		r, err := g.NewReducer(params, ReducerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if sizes := r.BucketSizes(); fmt.Sprint(sizes) != "[4]" {
			t.Errorf("bucket sizes %v, want one bucket of 4", sizes)
		}
		for step := 1; step <= 2; step++ {
			if _, err := r.PreForward(); err != nil {
				t.Fatal(err)
			}
			y := w.MustMulScalar(ts.FloatScalar(float64(step)), false).MustSum(w.DType(), true).MustAdd(b, true)
			if err := r.PostForward([]*ts.Tensor{y}); err != nil {
				t.Fatal(err)
			}
			if err := y.Backward(); err != nil {
				t.Fatal(err)
			}
			y.MustDrop()
			gw, gb := w.MustGrad(false), b.MustGrad(false)
			if got := fmt.Sprint(gw.Float64Values(), gb.Float64Values()); got != fmt.Sprintf("[%d %d %d] [1]", step, step, step) {
				t.Errorf("step %d: grads %s", step, got)
			}
			gw.MustDrop()
			gb.MustDrop()
			for _, p := range params {
				gr := p.MustGrad(false)
				gr.MustZero_()
				gr.MustDrop()
			}
		}
		if err := g.AllReduceGrads(params, 8); err != nil { // 8 bytes: one bucket per parameter
			t.Fatal(err)
		}
	})
}

func TestNCCLNeedsCUDA(t *testing.T) {
	if NCCLCompiled() {
		t.Skip("CUDA build")
	}
	s, g := newWorldOfOne(t)
	defer s.Close()
	defer g.Close()
	_, err := NewGroup(s, NCCL, 0, 1, time.Second)
	if err == nil || !strings.Contains(err.Error(), "CUDA build") {
		t.Fatalf("NCCL group in a CPU build: %v", err)
	}
	if _, err := NewGroup(s, Gloo, 1, 1, time.Second); err == nil {
		t.Error("rank 1 of 1 accepted")
	}
}
