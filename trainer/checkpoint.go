package trainer

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/atomicfile"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/models/pth"
)

// last.pth is a flat dict that torch.load reads (weights_only=True too):
//
//	model.<key>                         the model's state_dict
//	optimizer.state.<i>.exp_avg         Adam's moments for parameter i (torch's numbering)
//	optimizer.state.<i>.exp_avg_sq
//	optimizer.state.<i>.step            float32 0-d, parameter i's state['step'] (as torch 2.1's
//	                                    Adam state_dict); absent from files written before
//	                                    per-parameter counts, which read optimizer.step for all
//	optimizer.step                      int64, the number of optimizer.step() calls
//	epoch                               int64, the last finished epoch (0-based)
//	best_value                          float64, the best --best_metric so far
//	rng_state                           uint8, torch.get_rng_state()
//	rng_state_cuda                      uint8, torch.cuda.get_rng_state() (CUDA runs only)
//	config_json                         uint8, this run's Config as JSON (model, flags)
const (
	ckModel     = "model."
	ckOptState  = "optimizer.state."
	ckOptStep   = "optimizer.step"
	ckEpoch     = "epoch"
	ckBest      = "best_value"
	ckRNG       = "rng_state"
	ckRNGCUDA   = "rng_state_cuda"
	ckConfig    = "config_json"
	ckFormatKey = "drgrade_checkpoint_version"
)

func bytesEntry(name string, b []byte) *pth.Entry {
	return &pth.Entry{Name: name, Dtype: pth.Uint8, Shape: []int{len(b)}, Data: append([]byte(nil), b...)}
}

func float64Entry(name string, v float64) *pth.Entry {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, math.Float64bits(v))
	return &pth.Entry{Name: name, Dtype: pth.Float64, Shape: []int{}, Data: b}
}

// saveLast writes last.pth atomically: everything --resume needs to continue bit for bit.
func saveLast(path string, model models.Model, opt *Adam, epoch int, best float64, cfg Config, dev gotch.Device, extra ...*pth.Entry) error {
	entries, err := models.HostEntries(model.StateDict())
	if err != nil {
		return err
	}
	for _, e := range entries {
		e.Name = ckModel + e.Name
	}
	m, v := opt.Moments()
	if m != nil {
		for i := range m {
			for _, x := range []struct {
				t    *ts.Tensor
				name string
			}{{m[i], "exp_avg"}, {v[i], "exp_avg_sq"}} {
				e, err := models.HostEntry(fmt.Sprintf("%s%d.%s", ckOptState, i, x.name), x.t)
				if err != nil {
					return err
				}
				entries = append(entries, e)
			}
		}
		for i, n := range opt.Steps() {
			entries = append(entries, pth.NewFloat32(fmt.Sprintf("%s%d.step", ckOptState, i), []int{}, []float32{float32(n)}))
		}
	}
	for i, b := range opt.MomentumBuffers() { // SGD's state[p]['momentum_buffer'] (--opt sgd)
		if b == nil {
			continue
		}
		e, err := models.HostEntry(fmt.Sprintf("%s%d.momentum_buffer", ckOptState, i), b)
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	entries = append(entries,
		pth.NewInt64(ckOptStep, []int{}, []int64{opt.StepCount}),
		pth.NewInt64(ckEpoch, []int{}, []int64{int64(epoch)}),
		pth.NewInt64(ckFormatKey, []int{}, []int64{1}),
		float64Entry(ckBest, best))
	rng, err := torchext.RNGState()
	if err != nil {
		return err
	}
	state := make([]byte, rng.Numel())
	err = rng.CopyDataUint8(state, rng.Numel())
	rng.MustDrop()
	if err != nil {
		return err
	}
	entries = append(entries, bytesEntry(ckRNG, state))
	if torchext.IsCUDA(dev) { // torch.cuda.get_rng_state(): dropout on the GPU draws from it
		rng, err := torchext.CUDARNGState(dev)
		if err != nil {
			return err
		}
		state := make([]byte, rng.Numel())
		err = torchext.CopyTo(rng, state)
		rng.MustDrop()
		if err != nil {
			return err
		}
		entries = append(entries, bytesEntry(ckRNGCUDA, state))
	}
	cj, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	entries = append(entries, bytesEntry(ckConfig, cj))
	return pth.Save(path, append(entries, extra...))
}

// CheckResume reads the --resume checkpoint at path and checks that it is a drgrade last.pth
// of the same --model and number of classes as cfg, without touching any model: what loadLast
// checks first, for Preflight.
func CheckResume(path string, cfg Config) error {
	_, _, err := readLast(path, cfg)
	return err
}

// readLast loads a last.pth and its saved Config, and refuses a file that is not a drgrade
// last.pth or was written for another --model or --num_classes.
func readLast(path string, cfg Config) (*pth.StateDict, Config, error) {
	var saved Config
	if _, err := os.Stat(path); err != nil {
		return nil, saved, fmt.Errorf("--resume %s: %w", path, pathErr(err))
	}
	src, err := pth.Load(path)
	if err != nil {
		return nil, saved, fmt.Errorf("--resume %w", err) // pth.Load's errors start with the path
	}
	if src.Get(ckFormatKey) == nil || src.Get(ckConfig) == nil {
		return nil, saved, fmt.Errorf("--resume %s: not a drgrade last.pth (no %s); to start from weights use --weights", path, ckConfig)
	}
	if err := json.Unmarshal(src.Get(ckConfig).Data, &saved); err != nil {
		return nil, saved, fmt.Errorf("--resume %s: reading its config: %w", path, err)
	}
	if saved.Model != cfg.Model || saved.NumClasses != cfg.NumClasses {
		return nil, saved, fmt.Errorf("--resume %s: the checkpoint is of --model %s with %d classes, this run is --model %s with %d classes",
			path, saved.Model, saved.NumClasses, cfg.Model, cfg.NumClasses)
	}
	return src, saved, nil
}

// resumeState is what a last.pth restores.
type resumeState struct {
	epoch int // last finished epoch
	best  float64
	cfg   Config
}

// loadLast restores model, optimiser and RNG from last.pth, after checking that it was
// written for the same --model (and number of classes).
func loadLast(path string, model models.Model, opt *Adam, cfg Config, dev gotch.Device) (*resumeState, error) {
	src, saved, err := readLast(path, cfg)
	if err != nil {
		return nil, err
	}
	get := func(name string) *pth.Entry { return src.Get(name) }
	r, err := models.LoadStateDict(model, lastModelEntries(src), models.HeadSlice)
	if err != nil {
		return nil, fmt.Errorf("--resume %s: %w", path, err)
	}
	if len(r.Missing) > 0 || len(r.Unexpected) > 0 {
		return nil, fmt.Errorf("--resume %s: the model's keys differ: %s", path, r)
	}
	ints := func(name string) (int64, error) {
		e := get(name)
		if e == nil {
			return 0, fmt.Errorf("--resume %s: %s is missing", path, name)
		}
		v, err := e.Int64s()
		if err != nil || len(v) != 1 {
			return 0, fmt.Errorf("--resume %s: %s is not an integer scalar", path, name)
		}
		return v[0], nil
	}
	step, err := ints(ckOptStep)
	if err != nil {
		return nil, err
	}
	epoch, err := ints(ckEpoch)
	if err != nil {
		return nil, err
	}
	st := &resumeState{epoch: int(epoch), cfg: saved}
	if e := get(ckBest); e != nil {
		v, err := e.Float64s()
		if err != nil || len(v) != 1 {
			return nil, fmt.Errorf("--resume %s: %s is not a float scalar", path, ckBest)
		}
		st.best = v[0]
	}
	if step > 0 {
		if err := opt.restore(step, func(i int, which string) (*pth.Entry, error) {
			e := get(fmt.Sprintf("%s%d.%s", ckOptState, i, which))
			if e == nil && which == "step" {
				return nil, nil // written before per-parameter step counts: optimizer.step for all
			}
			if e == nil {
				return nil, fmt.Errorf("--resume %s: optimizer state of parameter %d is missing", path, i)
			}
			return e, nil
		}, dev); err != nil {
			return nil, err
		}
	}
	if e := get(ckRNG); e != nil {
		t, err := models.TensorFrom(e.Data, []int64{int64(len(e.Data))})
		if err != nil {
			return nil, err
		}
		err = torchext.SetRNGState(t)
		t.MustDrop()
		if err != nil {
			return nil, fmt.Errorf("--resume %s: restoring the random generator: %w", path, err)
		}
	}
	// The CUDA generator's state only means something to a CUDA run: a checkpoint of a GPU run
	// resumed on the CPU (or the other way round) continues with that device's own generator.
	if e := get(ckRNGCUDA); e != nil && torchext.IsCUDA(dev) {
		t, err := models.TensorFrom(e.Data, []int64{int64(len(e.Data))})
		if err != nil {
			return nil, err
		}
		err = torchext.SetCUDARNGState(dev, t)
		t.MustDrop()
		if err != nil {
			return nil, fmt.Errorf("--resume %s: restoring the CUDA random generator: %w", path, err)
		}
	}
	return st, nil
}

// restore sets the step counts and the moments from a checkpoint: step is the number of
// Step calls; entry(i, "step") is parameter i's own count (nil, nil for a file without
// per-parameter counts, whose parameters all took step steps).
func (a *Adam) restore(step int64, entry func(i int, which string) (*pth.Entry, error), dev gotch.Device) error {
	a.Close()
	if a.Kind == OptSGD {
		return a.restoreSGD(step, entry, dev)
	}
	a.steps = make([]int64, len(a.params))
	for i, p := range a.params {
		a.steps[i] = step
		e, err := entry(i, "step")
		if err != nil {
			return err
		}
		if e != nil {
			v, err := e.Float64s() // float32 0-d as torch 2.1's state['step']; an integer works too
			if err != nil || len(v) != 1 || v[0] < 0 || v[0] != math.Trunc(v[0]) {
				return fmt.Errorf("optimizer state %d.step is not a non-negative whole-number scalar", i)
			}
			a.steps[i] = int64(v[0])
		}
		for _, which := range []string{"exp_avg", "exp_avg_sq"} {
			e, err := entry(i, which)
			if err != nil {
				return err
			}
			t, err := stateTensor(e, p, i, which, dev)
			if err != nil {
				return err
			}
			if which == "exp_avg" {
				a.expAvg = append(a.expAvg, t)
			} else {
				a.expAvgSq = append(a.expAvgSq, t)
			}
		}
	}
	a.StepCount = step
	return nil
}

// stateTensor is the optimiser state entry e (state[i][which]) as a float32 tensor on dev,
// the parameters' device, refused when its shape is not the parameter p's.
func stateTensor(e *pth.Entry, p *ts.Tensor, i int, which string, dev gotch.Device) (*ts.Tensor, error) {
	v, err := e.Float32s()
	if err != nil {
		return nil, err
	}
	shape := make([]int64, len(e.Shape))
	for j, d := range e.Shape {
		shape[j] = int64(d)
	}
	if got, want := fmt.Sprint(shape), fmt.Sprint(p.MustSize()); got != want {
		return nil, fmt.Errorf("optimizer state %d.%s has shape %s, the parameter %s", i, which, got, want)
	}
	return torchext.FromSliceTo(v, shape, dev)
}

// staleTempPatterns are the temporary files of the weights folder's atomic writes
// (internal/atomicfile): DDR.pth and last.pth, metrics.json and metrics.csv, the figures.
// The figures once used ".tmp-<random>"; the globs match those names too.
var staleTempPatterns = []string{atomicfile.TempPattern("DDR.pth"), atomicfile.TempPattern("last.pth"),
	atomicfile.TempPattern("DDR.pth.json"), atomicfile.TempPattern("DDR-epoch*.pth"), // --ema, --keep_topk
	atomicfile.TempPattern("args.yaml"), // --config
	atomicfile.TempPattern("metrics.json"), atomicfile.TempPattern("metrics.csv"),
	atomicfile.TempPattern("curves.png"), atomicfile.TempPattern("confusion_matrix.png")}

// removeStaleTemps deletes the temporary files that an earlier run killed in the middle of a
// write (kill -9, power loss) left in the weights folder dir, and returns their paths. Only
// names of drgrade's own making are touched; they are hidden and never a complete file. Call
// it at the start of a run, before any write: a run still writing into the same folder would
// lose its temporary file.
func removeStaleTemps(dir string) ([]string, error) {
	var removed []string
	for _, p := range staleTempPatterns {
		matches, err := filepath.Glob(filepath.Join(dir, p))
		if err != nil {
			return removed, err
		}
		for _, m := range matches {
			if fi, err := os.Lstat(m); err != nil || !fi.Mode().IsRegular() {
				continue
			}
			if err := os.Remove(m); err != nil && !os.IsNotExist(err) {
				return removed, err
			}
			removed = append(removed, m)
		}
	}
	return removed, nil
}

// lastModelEntries is the model's state_dict inside a last.pth: its model.* entries, renamed.
func lastModelEntries(src *pth.StateDict) *pth.StateDict {
	sub := &pth.StateDict{Format: src.Format, NestedKey: ckModel}
	for _, e := range src.Entries {
		if strings.HasPrefix(e.Name, ckModel) {
			c := *e
			c.Name = strings.TrimPrefix(e.Name, ckModel)
			sub.Entries = append(sub.Entries, &c)
		}
	}
	return sub
}
