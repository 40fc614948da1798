package trainer

import (
	"fmt"
	"io"
	"math"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/trainer/ddp"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/models"
)

// distributed is a run's part in data-parallel training (nil for a single process): its
// process group, and the DDP wrapper of the model once Wrap was called.
type distributed struct {
	proc *ddp.Process
	ddp  *ddp.DDP
	err  error // the first failure of a collective hidden behind stop()
}

// initDistributed joins the world torchrun (or drgrade train --nproc_per_node) started this
// process in; it returns nil without error when the process runs alone.
func initDistributed(cfg Config) (*distributed, error) {
	env, ok, err := ddp.FromOS()
	if err != nil {
		return nil, &InputError{Err: err}
	}
	if !ok {
		return nil, nil
	}
	proc, err := ddp.Init(env, ddp.Options{Backend: cfg.distBackend(), Timeout: cfg.DistTimeout})
	if err != nil {
		return nil, err
	}
	return &distributed{proc: proc}, nil
}

// distBackend is --dist_backend, or its default: NCCL when this run trains on CUDA (as
// torchvision's reference scripts), Gloo on the CPU.
func (c Config) distBackend() string {
	if c.DistBackend != "" {
		return c.DistBackend
	}
	if ok, n := CUDAAvailable(); ok {
		if plan, err := PlanDevice(c.Device, ok, n, -1); err == nil && plan.Device.Name == "CUDA" {
			return "nccl"
		}
	}
	return "gloo"
}

// localRank is LOCAL_RANK, or -1 for a single process.
func (d *distributed) localRank() int {
	if d == nil {
		return -1
	}
	return d.proc.Env().LocalRank
}

// main reports whether this process prints, logs and saves (rank 0, or a single process).
func (d *distributed) main() bool { return d == nil || d.proc.IsMain() }

// shard is the loader's part of the data for this rank (the whole split for a single process).
func (d *distributed) shard() loader.Shard {
	if d == nil {
		return loader.Shard{}
	}
	return loader.Shard{Rank: d.proc.Rank(), World: d.proc.World()}
}

// wrap is DistributedDataParallel(model): rank 0's weights and buffers to every rank, and
// gradient averaging from here on.
func (d *distributed) wrap(model models.Model, cfg Config) error {
	if d == nil {
		return nil
	}
	var buffers = bufferTensors(model)
	w, err := d.proc.Wrap(model.StateDict().Parameters(), buffers, ddp.ModelOptions{
		BucketBytes: int64(cfg.BucketCapMB * (1 << 20)), DelayAllReduce: cfg.DDPNoOverlap,
		FindUnused: cfg.FindUnusedParameters})
	if err != nil {
		return err
	}
	d.ddp = w
	return nil
}

// syncBatchNorm is nn.SyncBatchNorm.convert_sync_batchnorm(model) when on: every BatchNorm
// normalises a training batch with the statistics of all ranks' batches. drgrade's
// SyncBatchNorm is written with ordinary ops and a differentiable all-reduce, so it also runs on
// the CPU, where PyTorch 2.1's refuses CPU tensors. A single process has no one to sync with
// and keeps plain BatchNorm, as PyTorch's SyncBatchNorm without a process group does.
func (d *distributed) syncBatchNorm(model models.Model, on bool, out io.Writer) error {
	if !on {
		return nil
	}
	if d == nil {
		fmt.Fprintln(out, "--sync_bn: a single process, so plain BatchNorm (SyncBatchNorm syncs data-parallel processes)")
		return nil
	}
	n := models.ConvertSyncBatchNorm(model, d.proc.Group().SumAcrossRanks)
	fmt.Fprintf(out, "SyncBatchNorm: %d BatchNorm layers normalise with the statistics of all %d processes' batches\n", n, d.proc.World())
	return nil
}

// agreeOnStop makes stop collective: every rank stops at the same step when any rank was
// asked to (a rank that stopped alone would leave the others waiting in an all-reduce). A
// failed collective also stops the run; it is kept in d.err and returned instead of
// ErrInterrupted.
func (d *distributed) agreeOnStop(stop func() bool) func() bool {
	if d == nil {
		return stop
	}
	return func() bool {
		if d.err != nil {
			return true
		}
		any, err := d.proc.AnyTrue(stop != nil && stop())
		if err != nil {
			d.err = err
			return true
		}
		return any
	}
}

// describe is the line rank 0 prints about the world.
func (d *distributed) describe(out io.Writer, cfg Config) {
	if d == nil {
		return
	}
	env := d.proc.Env()
	overlap := "overlapping backward"
	if cfg.DDPNoOverlap {
		overlap = "after backward"
	}
	fmt.Fprintf(out, "Distributed data parallel: %d processes (%s, rendezvous %s:%d), batch %d per process (%d in all), gradients averaged in %g MB buckets %s\n",
		env.World, cfg.distBackend(), env.MasterAddr, env.MasterPort, cfg.BatchSize, cfg.BatchSize*env.World, cfg.BucketCapMB, overlap)
}

// gatherEval replaces a rank's evaluation of its shard by the whole split's, gathered from
// every rank (padding samples counted once, data set order): metrics equal a single process's.
func (d *distributed) gatherEval(ev *EvalResult) error {
	if d == nil {
		return nil
	}
	probs, err := d.gatherProbs(ev)
	if err != nil {
		return err
	}
	all, err := d.proc.GatherPredictions(ddp.Predictions{Index: ev.Index, Preds: ev.Preds, Labels: ev.Labels})
	if err != nil {
		return err
	}
	ev.Index, ev.Preds, ev.Labels, ev.Probs = all.Index, all.Preds, all.Labels, nil
	if probs != nil {
		ev.Probs = make([][]float32, len(ev.Index))
		for i, idx := range ev.Index {
			ev.Probs[i] = probs[idx]
		}
	}
	correct := 0
	for i, p := range ev.Preds {
		if p == ev.Labels[i] {
			correct++
		}
	}
	if len(ev.Preds) > 0 {
		ev.Acc = float64(correct) / float64(len(ev.Preds))
	}
	return nil
}

// gatherProbs gathers every rank's softmax rows by data set index, bit for bit (each float32
// as its bits in an int64, after the index): nil when ev holds none. Every rank calls it, with
// or without rows (a collective).
func (d *distributed) gatherProbs(ev *EvalResult) (map[int][]float32, error) {
	width := 0
	if len(ev.Probs) > 0 {
		width = len(ev.Probs[0])
	}
	flat := []int64{int64(width)}
	for i, p := range ev.Probs {
		flat = append(flat, int64(ev.Index[i]))
		for _, v := range p {
			flat = append(flat, int64(math.Float32bits(v)))
		}
	}
	all, err := d.proc.GatherInt64s(flat)
	if err != nil {
		return nil, err
	}
	return mergeProbRows(all), nil
}

// mergeProbRows decodes gatherProbs' per-rank [width, (index, bits...)...] lists into rows by
// index, the first occurrence winning (ranks in order); nil when no rank had any.
func mergeProbRows(all [][]int64) map[int][]float32 {
	out := map[int][]float32{}
	for _, f := range all {
		if len(f) == 0 {
			continue
		}
		w := int(f[0])
		for j := 1; w > 0 && j+w < len(f); j += w + 1 {
			idx := int(f[j])
			if _, seen := out[idx]; seen { // padding repeats a sample: count it once
				continue
			}
			row := make([]float32, w)
			for k := range row {
				row[k] = math.Float32frombits(uint32(f[j+1+k]))
			}
			out[idx] = row
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// close leaves the world.
func (d *distributed) close() {
	if d == nil {
		return
	}
	d.ddp.Close()
	d.proc.Close()
}

// bufferTensors are the model's buffers (BatchNorm statistics, ...), in state_dict order.
func bufferTensors(model models.Model) []*ts.Tensor {
	var out []*ts.Tensor
	for _, e := range model.StateDict().Entries() {
		if e.Buffer {
			out = append(out, e.Tensor)
		}
	}
	return out
}
