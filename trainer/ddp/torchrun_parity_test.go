package ddp_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/trainer/ddp"
	"github.com/drgrade/drgrade/vision/models"
)

const torchrunSteps, torchrunBatch = 4, 8

// TestParityDDPAgainstTorchrun is the oracle for drgrade's data-parallel step: two ranks of
// PyTorch's DistributedDataParallel on Gloo (torchrun in the venv, testdata/ddp_ref.py) and
// two ranks of drgrade's (c10d's Reducer through trainer/ddp) start from the same weights and
// take the same per-rank batches; after every step rank 0's parameters must agree. Compared
// is the change from the initial weights, relative to its own size, so a step that averaged
// the gradients wrongly (a sum, or rank 0's alone) cannot hide behind the weights' magnitude.
// Live only (`make parity`): it needs torchrun.
func TestParityDDPAgainstTorchrun(t *testing.T) {
	if pyoracle.Mode() == "" {
		t.Skip("live-only parity test (needs torchrun in the PyTorch venv): run `make parity`")
	}
	torchrun := filepath.Join(pyoracle.Venv(), "bin", "torchrun")
	if _, err := os.Stat(torchrun); err != nil {
		t.Fatalf("no torchrun in the PyTorch venv (run `make pyenv`): %v", err)
	}
	dir := t.TempDir()
	// The initial weights and every rank's batches, written for both sides.
	var init []float32
	locked.Run(func() {
		torchext.ManualSeed(7)
		m, err := newToyNet(5)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if err := models.SaveStateDict(m, filepath.Join(dir, "init.pth")); err != nil {
			t.Fatal(err)
		}
		init = flatten(m.StateDict().Parameters())
	})
	rng := rand.New(rand.NewSource(11))
	for r := 0; r < 2; r++ {
		for s := 0; s < torchrunSteps; s++ {
			x := make([]float32, torchrunBatch*3*24*24)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			y := make([]int64, torchrunBatch)
			for i := range y {
				y[i] = int64(rng.Intn(5))
			}
			if err := npy.WriteFile(filepath.Join(dir, fmt.Sprintf("x_r%d_s%d.npy", r, s)), x, []int{torchrunBatch, 3, 24, 24}); err != nil {
				t.Fatal(err)
			}
			if err := npy.WriteFile(filepath.Join(dir, fmt.Sprintf("y_r%d_s%d.npy", r, s)), y, []int{torchrunBatch}); err != nil {
				t.Fatal(err)
			}
		}
	}

	res := runRanks(t, "torchref", 2, time.Minute, 4*time.Minute, []string{"DRGRADE_DDP_OUT=" + dir}, false)
	for r, x := range res {
		if x.hung || x.code != 0 {
			t.Fatalf("drgrade rank %d: exit %d hung=%v\n%s", r, x.code, x.hung, x.stderr)
		}
	}
	cmd := exec.Command(torchrun, "--nproc_per_node", "2", "--master_port", strconv.Itoa(freePort(t)),
		filepath.Join("testdata", "ddp_ref.py"), "--dir", dir, "--steps", strconv.Itoa(torchrunSteps))
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "GLOO_SOCKET_IFNAME=lo", "CUDA_VISIBLE_DEVICES=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("torchrun ddp_ref.py: %v\n%s", err, out)
	}

	ref, err := npy.ReadFile(filepath.Join(dir, "torch_steps.npy"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "drgrade_steps.bin"))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(b)/4)
	if err := binary.Read(bytes.NewReader(b), binary.LittleEndian, got); err != nil {
		t.Fatal(err)
	}
	n := len(init)
	if len(ref.F32) != torchrunSteps*n || len(got) != torchrunSteps*n {
		t.Fatalf("PyTorch recorded %d values, drgrade %d; want %d steps × %d parameters", len(ref.F32), len(got), torchrunSteps, n)
	}
	for s := 0; s < torchrunSteps; s++ {
		tw, dw := ref.F32[s*n:(s+1)*n], got[s*n:(s+1)*n]
		scale, worst := 0.0, 0.0
		for i := range init {
			scale = math.Max(scale, math.Abs(float64(tw[i])-float64(init[i])))
			worst = math.Max(worst, math.Abs(float64(dw[i])-float64(tw[i])))
		}
		t.Logf("step %d: max |drgrade − PyTorch| = %.3g, %.3g of the largest change from the initial weights (%.3g)", s+1, worst, worst/scale, scale)
		// Measured: 0 (bit-identical) on this project's machine. The bound leaves room for
		// another CPU's kernels while still seeing a missing weight decay (1e-2 of the change
		// in step 1: it was caught that way once) or a wrong gradient average.
		if worst > 1e-4*scale {
			t.Errorf("step %d: drgrade's weights differ from PyTorch DDP's by %.3g, more than 1e-4 × %.3g", s+1, worst, scale)
		}
	}
}

// torchrefScenario is one drgrade rank of TestParityDDPAgainstTorchrun: the same net, weights,
// batches, loss and optimiser as testdata/ddp_ref.py, under trainer/ddp's DistributedDataParallel.
func torchrefScenario(env ddp.Env) error {
	p, err := ddp.Init(env, ddp.Options{Timeout: childTimeout()})
	if err != nil {
		return err
	}
	defer p.Close()
	dir := os.Getenv("DRGRADE_DDP_OUT")
	torchext.SetNumThreads(1)
	m, err := newToyNet(5)
	if err != nil {
		return err
	}
	defer m.Close()
	if _, err := models.LoadWeights(m, filepath.Join(dir, "init.pth"), models.HeadSlice); err != nil {
		return err
	}
	params := m.StateDict().Parameters()
	d, err := p.Wrap(params, nil, ddp.ModelOptions{BucketBytes: 25 << 20})
	if err != nil {
		return err
	}
	defer d.Close()
	crit, err := loss.NewCrossEntropy(nil)
	if err != nil {
		return err
	}
	defer crit.Close()
	opt, err := trainer.NewAdam(params, 0.01, 1e-4)
	if err != nil {
		return err
	}
	defer opt.Close()
	var out bytes.Buffer
	for s := 0; s < torchrunSteps; s++ {
		xa, err := npy.ReadFile(filepath.Join(dir, fmt.Sprintf("x_r%d_s%d.npy", env.Rank, s)))
		if err != nil {
			return err
		}
		ya, err := npy.ReadFile(filepath.Join(dir, fmt.Sprintf("y_r%d_s%d.npy", env.Rank, s)))
		if err != nil {
			return err
		}
		x, err := torchext.FromSlice(xa.F32, []int64{torchrunBatch, 3, 24, 24})
		if err != nil {
			return err
		}
		y, err := torchext.FromSlice(ya.I64, []int64{torchrunBatch})
		if err != nil {
			x.MustDrop()
			return err
		}
		err = ddpStep(d, m, crit, opt, x, y)
		x.MustDrop()
		y.MustDrop()
		if err != nil {
			return err
		}
		if err := binary.Write(&out, binary.LittleEndian, flatten(params)); err != nil {
			return err
		}
	}
	if env.Rank != 0 {
		return nil
	}
	return os.WriteFile(filepath.Join(dir, "drgrade_steps.bin"), out.Bytes(), 0o644)
}

// ddpStep is one DistributedDataParallel training step: forward with the reducer armed, the
// loss, backward (the gradients averaged over the ranks inside it), the optimiser step.
func ddpStep(d *ddp.DDP, m models.Model, crit loss.Criterion, opt *trainer.Adam, x, y *ts.Tensor) error {
	if err := d.BeforeForward(); err != nil {
		return err
	}
	pred, err := m.ForwardT(x, true)
	if err != nil {
		return err
	}
	defer pred.MustDrop()
	if err := d.AfterForward(pred); err != nil {
		return err
	}
	l, err := crit.Loss(pred, y)
	if err != nil {
		return err
	}
	defer l.MustDrop()
	if err := l.Backward(); err != nil {
		return err
	}
	if err := d.AfterBackward(); err != nil {
		return err
	}
	if err := opt.Step(); err != nil {
		return err
	}
	opt.ZeroGrad()
	return nil
}
