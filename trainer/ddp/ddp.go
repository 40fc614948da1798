package ddp

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/internal/torchext/dist"
)

// DefaultTimeout is torch.distributed's default_pg_timeout: how long a rendezvous or a
// collective waits for a rank that does not answer before failing.
const DefaultTimeout = 30 * time.Minute

// broadcastBucketBytes is DistributedDataParallel's broadcast_bucket_size (250 MiB), the
// buffer size for syncing the module state from rank 0.
const broadcastBucketBytes = 250 << 20

// Options configure Init.
type Options struct {
	Backend string        // "gloo" (CPU, the default) or "nccl" (CUDA builds)
	Timeout time.Duration // rendezvous and collective timeout (0: DefaultTimeout)
}

// Process is this process's membership of the training world: torch.distributed's default
// process group, made by Init and ended by Close.
type Process struct {
	env     Env
	store   *dist.Store
	group   *dist.Group
	timeout time.Duration
}

// Init joins the world env describes, as torch.distributed.init_process_group(backend,
// init_method="env://") does: rank 0 hosts a TCPStore at MASTER_ADDR:MASTER_PORT (unless
// torchrun's agent hosts it) and waits for every rank to connect, then the process group
// connects every pair of ranks. A rank that does not show up within the timeout, or a port
// already in use, is an error that says so.
func Init(env Env, o Options) (*Process, error) {
	if err := env.Validate(); err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	backend := dist.Gloo
	switch o.Backend {
	case "", "gloo":
	case "nccl":
		backend = dist.NCCL
	default:
		return nil, fmt.Errorf("distributed backend %q: want gloo or nccl", o.Backend)
	}
	so := dist.StoreOptions{Host: env.MasterAddr, Port: env.MasterPort, World: env.World, Timeout: o.Timeout,
		Server: env.Rank == 0 && !env.AgentStore, WaitWorkers: true}
	if env.AgentStore {
		so.Prefix = fmt.Sprintf("/worker/attempt_%d", env.RestartCount)
		so.WaitWorkers = false
	}
	store, err := dist.NewTCPStore(so)
	if err != nil {
		return nil, rendezvousError(env, o.Timeout, err)
	}
	group, err := dist.NewGroup(store, backend, env.Rank, env.World, o.Timeout)
	if err != nil {
		store.Close()
		return nil, rendezvousError(env, o.Timeout, fmt.Errorf("creating the %s process group: %w", backend, err))
	}
	return &Process{env: env, store: store, group: group, timeout: o.Timeout}, nil
}

// rendezvousError explains a failed TCPStore start or connection.
func rendezvousError(env Env, timeout time.Duration, err error) error {
	msg := err.Error()
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(msg, "Address already in use") || strings.Contains(msg, "errno: 98"):
		return fmt.Errorf("rank %d: cannot host the rendezvous at %s:%d: the port is already in use "+
			"(another run? choose another with MASTER_PORT or --master_port): %w", env.Rank, env.MasterAddr, env.MasterPort, err)
	case strings.Contains(lower, "timed out") || strings.Contains(lower, "timeout"):
		return fmt.Errorf("rank %d: rendezvous at %s:%d: not all %d ranks arrived within %s: %w",
			env.Rank, env.MasterAddr, env.MasterPort, env.World, timeout, err)
	}
	return fmt.Errorf("rank %d: rendezvous at %s:%d: %w", env.Rank, env.MasterAddr, env.MasterPort, err)
}

// Env is the environment the process was started with.
func (p *Process) Env() Env { return p.env }

// Rank is this process's global rank.
func (p *Process) Rank() int { return p.env.Rank }

// World is the number of processes.
func (p *Process) World() int { return p.env.World }

// IsMain reports rank 0: the one process that prints, logs and saves checkpoints.
func (p *Process) IsMain() bool { return p == nil || p.env.Rank == 0 }

// Group is the underlying c10d process group.
func (p *Process) Group() *dist.Group { return p.group }

// Close leaves the world (torch.distributed.destroy_process_group).
func (p *Process) Close() {
	if p == nil {
		return
	}
	p.group.Close()
	p.store.Close()
}

// collective wraps a failed collective with what the user needs to know.
func (p *Process) collective(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("rank %d of %d: %s failed (another rank exited, crashed or stopped answering for %s): %w",
		p.env.Rank, p.env.World, what, p.timeout, err)
}

// Explain adds the rank, and for a communication failure its likely cause, to the error of a
// step that ran collectives inside libtorch (backward, whose reducer hooks all-reduce).
func (p *Process) Explain(what string, err error) error {
	if err == nil {
		return nil
	}
	msg := strings.ToLower(err.Error())
	if strings.Contains(msg, "gloo") || strings.Contains(msg, "connection closed") || strings.Contains(msg, "timed out") ||
		strings.Contains(msg, "nccl") {
		return p.collective(what, err)
	}
	return fmt.Errorf("rank %d of %d: %s: %w", p.env.Rank, p.env.World, what, err)
}

// Barrier waits for every rank (torch.distributed.barrier).
func (p *Process) Barrier() error { return p.collective("barrier", p.group.Barrier()) }

// BroadcastState copies rank 0's tensors into every rank's, in buckets, without recording
// for autograd: DistributedDataParallel's _sync_module_states.
func (p *Process) BroadcastState(tensors []*ts.Tensor) error {
	return p.collective("broadcasting rank 0's state", p.group.BroadcastCoalesced(tensors, broadcastBucketBytes, 0))
}

// AllReduceGrads averages the gradients of params over all ranks after backward, in flat
// buckets of at most bucketBytes (0: DDP's 25 MiB), every bucket's all-reduce in flight at once.
func (p *Process) AllReduceGrads(params []*ts.Tensor, bucketBytes int64) error {
	if bucketBytes <= 0 {
		bucketBytes = 25 << 20
	}
	return p.collective("all-reduce of gradients", p.group.AllReduceGrads(params, bucketBytes))
}

// SumFloat64s returns the element-wise sum of vals over all ranks (every rank passes the same
// number of values), computed in float64.
func (p *Process) SumFloat64s(vals ...float64) ([]float64, error) {
	t, err := ts.OfSlice(vals)
	if err != nil {
		return nil, err
	}
	defer t.MustDrop()
	if err := p.collective("summing metrics", p.group.AllReduce([]*ts.Tensor{t}, dist.Sum)); err != nil {
		return nil, err
	}
	out := make([]float64, len(vals))
	// torchext.CopyTo, not gotch's Float64Values, which leaks a Double copy per call.
	return out, torchext.CopyTo(t, out)
}

// AnyTrue reports whether local is true on any rank: ranks agree on stopping (after a signal
// reached some of them) before the next step, so none waits in a collective for one that left.
func (p *Process) AnyTrue(local bool) (bool, error) {
	v := 0.0
	if local {
		v = 1
	}
	t, err := ts.OfSlice([]float64{v})
	if err != nil {
		return false, err
	}
	defer t.MustDrop()
	if err := p.collective("agreeing on stopping", p.group.AllReduce([]*ts.Tensor{t}, dist.Max)); err != nil {
		return false, err
	}
	out := make([]float64, 1)
	if err := torchext.CopyTo(t, out); err != nil { // once per step: no leaking Float64Values
		return false, err
	}
	return out[0] > 0, nil
}

// GatherInt64s returns every rank's vals, indexed by rank; lengths may differ between ranks
// (dist.all_gather_object for int lists, done as two all_gathers of int64 tensors).
func (p *Process) GatherInt64s(vals []int64) ([][]int64, error) {
	lens, err := p.allGather([]int64{int64(len(vals))})
	if err != nil {
		return nil, err
	}
	longest := 0
	for _, l := range lens {
		longest = max(longest, int(l[0]))
	}
	padded := make([]int64, max(longest, 1))
	copy(padded, vals)
	all, err := p.allGather(padded)
	if err != nil {
		return nil, err
	}
	for r := range all {
		all[r] = all[r][:lens[r][0]]
	}
	return all, nil
}

func (p *Process) allGather(vals []int64) ([][]int64, error) {
	t, err := ts.OfSlice(vals)
	if err != nil {
		return nil, err
	}
	defer t.MustDrop()
	outs, err := p.group.AllGather(t)
	if err != nil {
		return nil, p.collective("gathering values", err)
	}
	res := make([][]int64, len(outs))
	var cerr error
	for i, o := range outs {
		res[i] = make([]int64, o.Numel())
		if err := torchext.CopyTo(o, res[i]); err != nil && cerr == nil {
			cerr = err
		}
		o.MustDrop()
	}
	return res, cerr
}

// Predictions are a split's evaluation results as (data set index, prediction, label) triples.
type Predictions struct {
	Index, Preds, Labels []int
}

// GatherPredictions merges every rank's predictions on its shard into the whole split's: the
// samples DistributedSampler repeated to pad the shards are counted once, and the result is
// in data set order, so metrics over it equal a single process's.
func (p *Process) GatherPredictions(local Predictions) (Predictions, error) {
	n := len(local.Index)
	if len(local.Preds) != n || len(local.Labels) != n {
		return Predictions{}, errors.New("GatherPredictions: index, preds and labels differ in length")
	}
	flat := make([]int64, 0, 3*n)
	for i := 0; i < n; i++ {
		flat = append(flat, int64(local.Index[i]), int64(local.Preds[i]), int64(local.Labels[i]))
	}
	all, err := p.GatherInt64s(flat)
	if err != nil {
		return Predictions{}, err
	}
	return mergePredictions(all), nil
}

// mergePredictions flattens per-rank triples, keeps the first occurrence of each index (ranks
// in order), and sorts by index.
func mergePredictions(all [][]int64) Predictions {
	type triple struct{ idx, pred, label int }
	seen := map[int]bool{}
	var rows []triple
	for _, flat := range all {
		for i := 0; i+2 < len(flat); i += 3 {
			idx := int(flat[i])
			if seen[idx] {
				continue
			}
			seen[idx] = true
			rows = append(rows, triple{idx, int(flat[i+1]), int(flat[i+2])})
		}
	}
	sort.Slice(rows, func(a, b int) bool { return rows[a].idx < rows[b].idx })
	var out Predictions
	for _, t := range rows {
		out.Index = append(out.Index, t.idx)
		out.Preds = append(out.Preds, t.pred)
		out.Labels = append(out.Labels, t.label)
	}
	return out
}

// ModelOptions are DistributedDataParallel's arguments drgrade exposes.
type ModelOptions struct {
	// BucketBytes is bucket_cap_mb in bytes (0: 25 MiB).
	BucketBytes int64
	// FirstBucketBytes caps the first bucket to reduce, so communication starts early in
	// backward (0: 1 MiB, torch's dist._DEFAULT_FIRST_BUCKET_BYTES).
	FirstBucketBytes int64
	// DelayAllReduce reduces all gradients after backward instead of overlapping bucket
	// all-reduces with backward through c10d's Reducer.
	DelayAllReduce bool
	// FindUnused is find_unused_parameters: parameters that took no part in the forward pass
	// are marked ready so the reduction completes (costs a graph walk every step).
	FindUnused bool
	// NoBroadcastBuffers is broadcast_buffers=False: each rank keeps its own buffers (e.g.
	// BatchNorm statistics) instead of taking rank 0's before every forward.
	NoBroadcastBuffers bool
}

// DDP is torch.nn.parallel.DistributedDataParallel for a model given as its parameters and
// buffers: rank 0's state is broadcast at construction, and each training step's gradients
// are averaged over all ranks. Call BeforeForward, the forward pass, AfterForward, backward,
// then AfterBackward; every rank must take the same number of steps.
type DDP struct {
	p        *Process
	params   []*ts.Tensor
	buffers  []*ts.Tensor
	opts     ModelOptions
	reducer  *dist.Reducer
	rebuilds int
}

// Wrap is DistributedDataParallel(model): it checks that every rank built the same parameters
// (number, shapes, dtypes), copies rank 0's parameters and buffers to every rank, and sets up
// the gradient reduction. params and buffers are borrowed and must outlive the DDP.
func (p *Process) Wrap(params, buffers []*ts.Tensor, o ModelOptions) (*DDP, error) {
	if o.BucketBytes <= 0 {
		o.BucketBytes = 25 << 20
	}
	if err := p.group.VerifyParams(params); err != nil {
		return nil, p.collective("checking that every rank built the same model", err)
	}
	if err := p.BroadcastState(append(slices.Clone(params), buffers...)); err != nil {
		return nil, err
	}
	d := &DDP{p: p, params: params, buffers: buffers, opts: o}
	if !o.DelayAllReduce {
		r, err := p.group.NewReducer(params, dist.ReducerOptions{BucketBytes: o.BucketBytes,
			FirstBucketBytes: o.FirstBucketBytes, FindUnused: o.FindUnused})
		if err != nil {
			return nil, fmt.Errorf("rank %d: setting up the gradient reducer: %w", p.env.Rank, err)
		}
		d.reducer = r
	}
	return d, nil
}

// BeforeForward is DDP's _pre_forward for a training step: the reducer's per-iteration setup
// (and, once, rebuilding its buckets in the order gradients arrived), then rank 0's buffers
// to every rank.
func (d *DDP) BeforeForward() error {
	if d.reducer != nil {
		rebuilt, err := d.reducer.PreForward()
		if err != nil {
			return d.p.collective("preparing the gradient reducer", err)
		}
		if rebuilt {
			d.rebuilds++
		}
	}
	return d.SyncBuffers()
}

// AfterForward is DDP's _post_forward: it arms the reducer for this step's backward. outputs
// are the forward's outputs (used with FindUnused).
func (d *DDP) AfterForward(outputs ...*ts.Tensor) error {
	if d.reducer == nil {
		return nil
	}
	if !d.opts.FindUnused {
		outputs = nil
	}
	return d.p.collective("preparing the gradient reducer", d.reducer.PostForward(outputs))
}

// AfterBackward completes the step's gradient averaging: with the reducer it already
// happened inside backward; with DelayAllReduce it happens now.
func (d *DDP) AfterBackward() error {
	if d.reducer != nil {
		return nil
	}
	return d.p.AllReduceGrads(d.params, d.opts.BucketBytes)
}

// SyncBuffers copies rank 0's buffers to every rank (DDP's _sync_buffers), e.g. before an
// evaluation so every rank scores with rank 0's BatchNorm statistics.
func (d *DDP) SyncBuffers() error {
	if d.opts.NoBroadcastBuffers || len(d.buffers) == 0 {
		return nil
	}
	return d.p.collective("broadcasting rank 0's buffers", d.p.group.BroadcastCoalesced(d.buffers, broadcastBucketBytes, 0))
}

// BucketSizes is the number of elements in each gradient bucket, in reduction order (nil with
// DelayAllReduce).
func (d *DDP) BucketSizes() []int64 {
	if d.reducer == nil {
		return nil
	}
	return d.reducer.BucketSizes()
}

// Close releases the reducer (its autograd hooks are removed).
func (d *DDP) Close() {
	if d != nil && d.reducer != nil {
		d.reducer.Close()
		d.reducer = nil
	}
}
