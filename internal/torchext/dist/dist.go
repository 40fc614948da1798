package dist

/*
#cgo CXXFLAGS: -std=c++17 -O2 -Wno-deprecated-declarations -Wno-invalid-offsetof
#cgo CXXFLAGS: -I${SRCDIR}/../../../third_party -I${SRCDIR}/../../../third_party/libtorch/include
#cgo CXXFLAGS: -I${SRCDIR}/../../../third_party/libtorch/include/torch/csrc/api/include
// CUDA builds only (NCCL): the nvidia wheels' headers, linked there by setup-libtorch.sh.
#cgo CXXFLAGS: -I${SRCDIR}/../../../third_party/cuda/include
#cgo LDFLAGS: -L${SRCDIR}/../../../third_party/libtorch/lib -ltorch_cpu -lc10 -lstdc++
#include <stdlib.h>
#include "dist.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/sugarme/gotch/ts"
)

// cerr turns a message returned by dist.cpp into an error (and frees it).
func cerr(msg *C.char) error {
	if msg == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(msg))
	s := C.GoString(msg)
	if i := strings.Index(s, "\nException raised from"); i >= 0 {
		s = s[:i]
	}
	return errors.New(strings.TrimSpace(s))
}

// tensorArray copies the torch::Tensor* of tensors into C memory the caller frees. The
// pointers are C memory (gotch's ctensors), so storing them there keeps cgo's pointer rules.
func tensorArray(tensors []*ts.Tensor) (*unsafe.Pointer, func()) {
	n := max(len(tensors), 1)
	arr := C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof(uintptr(0))))
	s := unsafe.Slice((*unsafe.Pointer)(arr), n)
	for i, t := range tensors {
		s[i] = t.Ctensor()
	}
	return (*unsafe.Pointer)(arr), func() { C.free(arr) }
}

func ms(d time.Duration) C.int64_t { return C.int64_t(d / time.Millisecond) }

// StoreOptions configure a TCPStore (c10d::TCPStoreOptions).
type StoreOptions struct {
	Host   string // MASTER_ADDR
	Port   int    // MASTER_PORT
	Server bool   // this process hosts the store (rank 0, unless torchrun's agent does)
	World  int    // number of ranks that will connect
	// Timeout bounds connecting and every blocking get/wait (torch's default is 30 minutes).
	Timeout time.Duration
	// WaitWorkers makes the server wait until World clients connected.
	WaitWorkers bool
	// Prefix puts every key under a c10d::PrefixStore (torchrun's "/worker/attempt_N").
	Prefix string
}

// Store is a c10d key-value store shared by the ranks (c10d::TCPStore).
type Store struct{ p C.dx_store }

// NewTCPStore starts (Server) or connects to a c10d::TCPStore. A port already in use on the
// server is an error that says so ("Address already in use").
func NewTCPStore(o StoreOptions) (*Store, error) {
	if o.Port < 0 || o.Port > 65535 {
		return nil, fmt.Errorf("port must be within 0..65535, got %d", o.Port)
	}
	if o.World < 1 {
		return nil, fmt.Errorf("world size must be at least 1, got %d", o.World)
	}
	host := C.CString(o.Host)
	defer C.free(unsafe.Pointer(host))
	prefix := C.CString(o.Prefix)
	defer C.free(unsafe.Pointer(prefix))
	var p C.dx_store
	if err := cerr(C.dx_store_new(host, C.int(o.Port), C.bool(o.Server), C.int(o.World), ms(o.Timeout),
		C.bool(o.WaitWorkers), prefix, &p)); err != nil {
		return nil, err
	}
	return &Store{p: p}, nil
}

// Set stores value under key.
func (s *Store) Set(key string, value []byte) error {
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	var data unsafe.Pointer
	if len(value) > 0 {
		data = C.CBytes(value)
		defer C.free(data)
	}
	return cerr(C.dx_store_set(s.p, k, data, C.int64_t(len(value))))
}

// Get waits for key (up to the store's timeout) and returns its value.
func (s *Store) Get(key string) ([]byte, error) {
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	var out unsafe.Pointer
	var n C.int64_t
	if err := cerr(C.dx_store_get(s.p, k, &out, &n)); err != nil {
		return nil, err
	}
	defer C.free(out)
	return C.GoBytes(out, C.int(n)), nil
}

// Add adds delta to the counter under key and returns the new value.
func (s *Store) Add(key string, delta int64) (int64, error) {
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	var out C.int64_t
	err := cerr(C.dx_store_add(s.p, k, C.int64_t(delta), &out))
	return int64(out), err
}

// Close drops this handle; a group made from the store keeps its own reference.
func (s *Store) Close() {
	if s != nil && s.p != nil {
		C.dx_store_free(s.p)
		s.p = nil
	}
}

// Backend selects the c10d process group implementation.
type Backend int

// The backends: Gloo on CPU tensors, NCCL on CUDA tensors (CUDA builds only).
const (
	Gloo Backend = 0
	NCCL Backend = 1
)

// String is the backend's torch.distributed name.
func (b Backend) String() string {
	if b == NCCL {
		return "nccl"
	}
	return "gloo"
}

// NCCLCompiled reports whether this build has c10d::ProcessGroupNCCL.
func NCCLCompiled() bool { return bool(C.dx_nccl_compiled()) }

// ReduceOp is a c10d::ReduceOp (Gloo has no AVG: sum and divide).
type ReduceOp int

// The reduce operations (c10d::ReduceOp::RedOpType).
const (
	Sum     ReduceOp = 0
	Product ReduceOp = 2
	Min     ReduceOp = 3
	Max     ReduceOp = 4
)

// Group is an initialised process group (what torch.distributed.init_process_group makes):
// a c10d::ProcessGroup with one backend. Collectives must be called in the same order on
// every rank; a rank that died or stopped answering makes them fail after the timeout given
// to NewGroup (a dead peer's closed connection usually fails them at once).
type Group struct {
	p           C.dx_group
	rank, world int
	backend     Backend
}

// NewGroup joins the group through store; it returns when all world ranks joined (or fails
// after timeout). The store keys are laid out as init_process_group lays them out.
func NewGroup(store *Store, backend Backend, rank, world int, timeout time.Duration) (*Group, error) {
	if rank < 0 || rank >= world {
		return nil, fmt.Errorf("rank %d is outside the world of %d", rank, world)
	}
	var p C.dx_group
	if err := cerr(C.dx_group_new(store.p, C.int(backend), C.int(rank), C.int(world), ms(timeout), &p)); err != nil {
		return nil, err
	}
	return &Group{p: p, rank: rank, world: world, backend: backend}, nil
}

// Rank is this process's rank.
func (g *Group) Rank() int { return g.rank }

// World is the number of ranks.
func (g *Group) World() int { return g.world }

// Backend is the group's backend.
func (g *Group) Backend() Backend { return g.backend }

// Close tears the group down (it waits for queued collectives, which the timeout bounds).
func (g *Group) Close() {
	if g != nil && g.p != nil {
		C.dx_group_free(g.p)
		g.p = nil
	}
}

// Work is an asynchronous collective in flight.
type Work struct{ p C.dx_work }

// Wait blocks until the collective finished (bounded by the group's timeout, and by timeout
// when it is positive) and returns its error.
func (w *Work) Wait(timeout time.Duration) error {
	if w.p == nil {
		return errors.New("dist: Wait on a closed Work")
	}
	return cerr(C.dx_work_wait(w.p, ms(timeout)))
}

// Close releases the handle (the collective itself runs on).
func (w *Work) Close() {
	if w.p != nil {
		C.dx_work_free(w.p)
		w.p = nil
	}
}

// AllReduce reduces tensors in place over all ranks (dist.all_reduce); all are borrowed.
func (g *Group) AllReduce(tensors []*ts.Tensor, op ReduceOp) error {
	arr, free := tensorArray(tensors)
	defer free()
	return cerr(C.dx_allreduce(g.p, arr, C.int(len(tensors)), C.int(op), nil))
}

// AllReduceAsync starts AllReduce and returns its Work (dist.all_reduce(async_op=True)).
// The tensors must stay alive until Wait returns.
func (g *Group) AllReduceAsync(tensors []*ts.Tensor, op ReduceOp) (*Work, error) {
	arr, free := tensorArray(tensors)
	defer free()
	var w C.dx_work
	if err := cerr(C.dx_allreduce(g.p, arr, C.int(len(tensors)), C.int(op), &w)); err != nil {
		return nil, err
	}
	return &Work{p: w}, nil
}

// Broadcast copies root's tensors into everyone's in place (dist.broadcast).
func (g *Group) Broadcast(tensors []*ts.Tensor, root int) error {
	arr, free := tensorArray(tensors)
	defer free()
	return cerr(C.dx_broadcast(g.p, arr, C.int(len(tensors)), C.int(root), nil))
}

// BroadcastCoalesced broadcasts root's tensors packed into buffers of at most bufferBytes, as
// DistributedDataParallel does with the module state at construction (c10d::broadcast_coalesced,
// without recording it for autograd).
func (g *Group) BroadcastCoalesced(tensors []*ts.Tensor, bufferBytes int64, root int) error {
	if len(tensors) == 0 {
		return nil
	}
	arr, free := tensorArray(tensors)
	defer free()
	return cerr(C.dx_broadcast_coalesced(g.p, arr, C.int(len(tensors)), C.int64_t(bufferBytes), C.int(root)))
}

// AllGather returns every rank's copy of in (same shape and dtype on every rank), indexed by
// rank (dist.all_gather); the caller owns the returned tensors.
func (g *Group) AllGather(in *ts.Tensor) ([]*ts.Tensor, error) {
	outs := C.malloc(C.size_t(g.world) * C.size_t(unsafe.Sizeof(uintptr(0))))
	defer C.free(outs)
	if err := cerr(C.dx_allgather(g.p, in.Ctensor(), (*unsafe.Pointer)(outs), C.int(g.world))); err != nil {
		return nil, err
	}
	res := make([]*ts.Tensor, g.world)
	for i, p := range unsafe.Slice((*unsafe.Pointer)(outs), g.world) {
		res[i] = ts.FromCtensor(p)
	}
	return res, nil
}

// SumAcrossRanks returns x summed over every rank as a new tensor the caller owns, recorded
// for autograd: its backward sums the incoming gradient over the ranks
// (torch.distributed.nn.functional.all_reduce(x, SUM)). Every rank must call it in the same
// order, in forward and so in backward. x is borrowed.
func (g *Group) SumAcrossRanks(x *ts.Tensor) (*ts.Tensor, error) {
	var out unsafe.Pointer
	if err := cerr(C.dx_allreduce_sum_autograd(g.p, x.Ctensor(), &out)); err != nil {
		return nil, err
	}
	return ts.FromCtensor(out), nil
}

// Barrier returns when every rank reached it (dist.barrier).
func (g *Group) Barrier() error { return cerr(C.dx_barrier(g.p)) }

// VerifyParams checks that every rank holds parameters of the same number, shapes and dtypes
// (c10d::verify_params_across_processes, which DDP's constructor runs).
func (g *Group) VerifyParams(params []*ts.Tensor) error {
	arr, free := tensorArray(params)
	defer free()
	return cerr(C.dx_verify_params(g.p, arr, C.int(len(params))))
}

// AllReduceGrads averages the gradients of params over the group after backward: packed into
// flat buckets of at most bucketBytes per dtype, scaled by 1/world and summed, one all-reduce
// per bucket with all buckets in flight at once. Every parameter must have a gradient.
func (g *Group) AllReduceGrads(params []*ts.Tensor, bucketBytes int64) error {
	if len(params) == 0 {
		return nil
	}
	arr, free := tensorArray(params)
	defer free()
	return cerr(C.dx_allreduce_grads(g.p, arr, C.int(len(params)), C.int64_t(bucketBytes)))
}

// ReducerOptions are DistributedDataParallel's bucketing arguments.
type ReducerOptions struct {
	BucketBytes      int64 // bucket_cap_mb (25 MiB)
	FirstBucketBytes int64 // dist._DEFAULT_FIRST_BUCKET_BYTES (1 MiB)
	FindUnused       bool  // find_unused_parameters
}

// Reducer is c10d::Reducer, the engine of DistributedDataParallel: autograd hooks on the
// parameters copy each gradient into its bucket as backward produces it and start the bucket's
// all-reduce as soon as the bucket is full, overlapping communication with the rest of backward;
// at the end of backward the averaged gradients are in the parameters' .grad.
type Reducer struct {
	p      C.dx_reducer
	params []*ts.Tensor
}

// NewReducer builds the reducer over params (borrowed; they must outlive it).
func (g *Group) NewReducer(params []*ts.Tensor, o ReducerOptions) (*Reducer, error) {
	if len(params) == 0 {
		return nil, errors.New("dist: a reducer needs parameters")
	}
	if o.BucketBytes <= 0 {
		o.BucketBytes = 25 << 20
	}
	if o.FirstBucketBytes <= 0 {
		o.FirstBucketBytes = 1 << 20
	}
	arr, free := tensorArray(params)
	defer free()
	var r C.dx_reducer
	if err := cerr(C.dx_reducer_new(g.p, arr, C.int(len(params)), C.int64_t(o.BucketBytes),
		C.int64_t(o.FirstBucketBytes), C.bool(o.FindUnused), &r)); err != nil {
		return nil, err
	}
	return &Reducer{p: r, params: params}, nil
}

// PreForward is DDP's _pre_forward for a training step (grad enabled): prepare_for_forward,
// then the one-time bucket rebuild in the order gradients arrived in the first backward.
// It reports whether the buckets were rebuilt.
func (r *Reducer) PreForward() (rebuilt bool, err error) {
	var b C.bool
	err = cerr(C.dx_reducer_pre_forward(r.p, &b))
	return bool(b), err
}

// PostForward is DDP's _post_forward: prepare_for_backward(outputs). outputs only matter with
// FindUnused (the graph is searched for parameters that took no part).
func (r *Reducer) PostForward(outputs []*ts.Tensor) error {
	arr, free := tensorArray(outputs)
	defer free()
	return cerr(C.dx_reducer_post_forward(r.p, arr, C.int(len(outputs))))
}

// BucketSizes returns the number of elements of each bucket, in reduction order.
func (r *Reducer) BucketSizes() []int64 {
	buf := make([]C.int64_t, 256)
	n := int(C.dx_reducer_buckets(r.p, &buf[0], C.int(len(buf))))
	if n < 0 {
		return nil
	}
	out := make([]int64, min(n, len(buf)))
	for i := range out {
		out[i] = int64(buf[i])
	}
	return out
}

// Close removes the reducer's autograd hooks and frees it.
func (r *Reducer) Close() {
	if r != nil && r.p != nil {
		C.dx_reducer_free(r.p)
		r.p = nil
	}
}
