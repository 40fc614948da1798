package ddp_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/trainer/ddp"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/synth"
	"github.com/drgrade/drgrade/vision/transforms"
)

// The multi-process tests start copies of this test binary as the ranks: with
// DRGRADE_DDP_CHILD set, TestMain runs that scenario instead of the tests and exits with its
// status (0 ok, 1 the scenario's error, printed to stderr).
const childVar = "DRGRADE_DDP_CHILD"

func TestMain(m *testing.M) {
	if s := os.Getenv(childVar); s != "" {
		os.Exit(child(s))
	}
	os.Exit(m.Run())
}

func child(scenario string) int {
	env, ok, err := ddp.FromOS()
	if err == nil && !ok {
		err = errors.New("child started without RANK/WORLD_SIZE")
	}
	if err == nil {
		locked.Run(func() { err = scenarios[scenario](env) })
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rank %d: %v\n", env.Rank, err)
		return 1
	}
	return 0
}

var scenarios = map[string]func(ddp.Env) error{
	"collectives": collectivesScenario,
	"parity":      parityScenario,
	"torchref":    torchrefScenario,
	"dead":        func(env ddp.Env) error { return faultScenario(env, "dead") },
	"hang":        func(env ddp.Env) error { return faultScenario(env, "hang") },
	"launch-ok":   launchScenario,
	"launch-fail": func(env ddp.Env) error {
		if env.Rank == 1 {
			os.Exit(7)
		}
		time.Sleep(time.Hour) // rank 0 never ends by itself: Launch must stop it
		return nil
	},
}

// childTimeout is childTimeoutFromEnv: the process group timeout the parent chose.
func childTimeout() time.Duration {
	s, err := strconv.Atoi(os.Getenv("DRGRADE_DDP_TIMEOUT_MS"))
	if err != nil || s <= 0 {
		return time.Minute
	}
	return time.Duration(s) * time.Millisecond
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// rankResult is one child's exit status and output.
type rankResult struct {
	code           int
	stdout, stderr string
	hung           bool
}

// runRanks starts world children running scenario on a free loopback port and waits for
// them, killing any that is still running after deadline (reported as hung). kill, when set,
// is called after rank 0 exited and says whether to kill the others at once (a rank meant to
// hang).
func runRanks(t *testing.T, scenario string, world int, timeout, deadline time.Duration, extra []string, killAfterRank0 bool) []rankResult {
	t.Helper()
	port := freePort(t)
	type done struct {
		rank int
		err  error
	}
	exits := make(chan done, world)
	cmds := make([]*exec.Cmd, world)
	outs := make([]*bytes.Buffer, world)
	errs := make([]*bytes.Buffer, world)
	for r := 0; r < world; r++ {
		env := ddp.Env{Rank: r, World: world, LocalRank: r, LocalWorld: world, MasterAddr: "127.0.0.1", MasterPort: port}
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(env.Environ(os.Environ()), childVar+"="+scenario, "GLOO_SOCKET_IFNAME=lo",
			"DRGRADE_DDP_TIMEOUT_MS="+strconv.Itoa(int(timeout/time.Millisecond)), "OMP_NUM_THREADS=1")
		cmd.Env = append(cmd.Env, extra...)
		outs[r], errs[r] = new(bytes.Buffer), new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = outs[r], errs[r]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[r] = cmd
		go func(r int) { exits <- done{r, cmds[r].Wait()} }(r)
	}
	res := make([]rankResult, world)
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for left := world; left > 0; {
		select {
		case d := <-exits:
			left--
			res[d.rank].code = cmds[d.rank].ProcessState.ExitCode()
			if d.rank == 0 && killAfterRank0 {
				for r := 1; r < world; r++ {
					_ = cmds[r].Process.Kill()
				}
			}
		case <-timer.C:
			for r := range cmds {
				if cmds[r].ProcessState == nil {
					res[r].hung = true
					_ = cmds[r].Process.Kill()
				}
			}
		}
	}
	for r := range res {
		res[r].stdout, res[r].stderr = outs[r].String(), errs[r].String()
	}
	return res
}

// TestCollectives runs two ranks through every collective drgrade uses; each rank checks the
// values it receives against what the other rank sent.
func TestCollectives(t *testing.T) {
	res := runRanks(t, "collectives", 2, time.Minute, 3*time.Minute, nil, false)
	for r, x := range res {
		if x.hung || x.code != 0 {
			t.Errorf("rank %d: exit %d hung=%v\n%s", r, x.code, x.hung, x.stderr)
		}
	}
}

func collectivesScenario(env ddp.Env) error {
	p, err := ddp.Init(env, ddp.Options{Timeout: childTimeout()})
	if err != nil {
		return err
	}
	defer p.Close()
	r := float64(env.Rank)
	sums, err := p.SumFloat64s(r+1, 10*(r+1), 0.5)
	if err != nil {
		return err
	}
	if want := []float64{3, 30, 1}; !floatsEqual(sums, want) {
		return fmt.Errorf("SumFloat64s: %v, want %v", sums, want)
	}
	any, err := p.AnyTrue(env.Rank == 1)
	if err != nil {
		return err
	}
	none, err := p.AnyTrue(false)
	if err != nil {
		return err
	}
	if !any || none {
		return fmt.Errorf("AnyTrue: %v (one rank true), %v (none)", any, none)
	}
	// Different lengths per rank: rank r sends r+2 values r*100, r*100+1, ...
	mine := make([]int64, env.Rank+2)
	for i := range mine {
		mine[i] = int64(env.Rank*100 + i)
	}
	all, err := p.GatherInt64s(mine)
	if err != nil {
		return err
	}
	if fmt.Sprint(all) != "[[0 1] [100 101 102]]" {
		return fmt.Errorf("GatherInt64s: %v", all)
	}
	// Predictions of a padded shard: index 0 appears on both ranks (padding) and counts once.
	local := ddp.Predictions{Index: []int{0, 2, 4}, Preds: []int{1, 1, 1}, Labels: []int{0, 2, 4}}
	if env.Rank == 1 {
		local = ddp.Predictions{Index: []int{1, 3, 0}, Preds: []int{0, 3, 9}, Labels: []int{1, 3, 0}}
	}
	merged, err := p.GatherPredictions(local)
	if err != nil {
		return err
	}
	if got := fmt.Sprint(merged); got != "{[0 1 2 3 4] [1 0 1 3 1] [0 1 2 3 4]}" {
		return fmt.Errorf("GatherPredictions: %s", got)
	}
	// BroadcastState: rank 1's different values are replaced by rank 0's.
	a, err := ts.OfSlice([]float32{float32(r + 1), float32(r + 2)})
	if err != nil {
		return err
	}
	defer a.MustDrop()
	b, err := ts.OfSlice([]int64{int64(r) * 7})
	if err != nil {
		return err
	}
	defer b.MustDrop()
	if err := p.BroadcastState([]*ts.Tensor{a, b}); err != nil {
		return err
	}
	if got := fmt.Sprint(a.Float64Values(), b.Int64Values()); got != "[1 2] [0]" {
		return fmt.Errorf("BroadcastState: %s", got)
	}
	// AllReduceGrads: gradients averaged over ranks.
	w, err := ts.OfSlice([]float32{1, 2, 3})
	if err != nil {
		return err
	}
	defer w.MustDrop()
	w = w.MustSetRequiresGrad(true, true)
	y := w.MustMulScalar(ts.FloatScalar(r+1), false).MustSum(w.DType(), true)
	if err := y.Backward(); err != nil {
		return err
	}
	y.MustDrop()
	if err := p.AllReduceGrads([]*ts.Tensor{w}, 0); err != nil {
		return err
	}
	g := w.MustGrad(false)
	defer g.MustDrop()
	if got := g.Float64Values(); !floatsEqual(got, []float64{1.5, 1.5, 1.5}) {
		return fmt.Errorf("AllReduceGrads: %v, want 1.5 each", got)
	}
	return p.Barrier()
}

func floatsEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPortInUse: a rank 0 whose MASTER_PORT is taken fails at once with an error naming it.
func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, err = ddp.Init(ddp.Env{Rank: 0, World: 2, LocalWorld: 2, MasterAddr: "127.0.0.1", MasterPort: port},
		ddp.Options{Timeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Fatalf("Init on a busy port: %v", err)
	}
	// The launcher checks the port before starting any worker.
	err = ddp.Launch(ddp.LaunchOptions{NProc: 2, MasterPort: port, Exe: "/bin/true"})
	if err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("Launch on a busy port: %v", err)
	}
}

// TestRendezvousTimeout: rank 0 of 2 alone gives up after the timeout, saying why.
func TestRendezvousTimeout(t *testing.T) {
	port := freePort(t)
	_, err := ddp.Init(ddp.Env{Rank: 0, World: 2, LocalWorld: 2, MasterAddr: "127.0.0.1", MasterPort: port},
		ddp.Options{Timeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "not all 2 ranks arrived") {
		t.Fatalf("rendezvous without rank 1: %v", err)
	}
}

// TestDeadRank: rank 1 exits in the middle of training; rank 0's next collective fails with
// a clear error instead of waiting (the group timeout is long: the closed connection is seen).
func TestDeadRank(t *testing.T) {
	res := runRanks(t, "dead", 2, 2*time.Minute, 90*time.Second, nil, false)
	checkFault(t, res, "failed")
}

// TestHungRank: rank 1 stops answering (sleeps); rank 0 fails after the group timeout.
func TestHungRank(t *testing.T) {
	res := runRanks(t, "hang", 2, 3*time.Second, 90*time.Second, nil, true)
	checkFault(t, res, "imed out")
}

func checkFault(t *testing.T, res []rankResult, want string) {
	t.Helper()
	r0 := res[0]
	if r0.hung {
		t.Fatalf("rank 0 hung after rank 1 failed:\n%s", r0.stderr)
	}
	if r0.code != 1 || !strings.Contains(r0.stderr, "rank 0 of 2") || !strings.Contains(r0.stderr, want) {
		t.Fatalf("rank 0: exit %d, stderr:\n%s\nwant exit 1 and a message with %q", r0.code, r0.stderr, want)
	}
	t.Logf("rank 0 said: %s", strings.TrimSpace(r0.stderr))
}

func faultScenario(env ddp.Env, kind string) error {
	p, err := ddp.Init(env, ddp.Options{Timeout: childTimeout()})
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.Barrier(); err != nil {
		return err
	}
	if env.Rank == 1 {
		if kind == "dead" {
			os.Exit(3)
		}
		time.Sleep(time.Hour)
	}
	for i := 0; i < 3; i++ {
		if _, err := p.SumFloat64s(1); err != nil {
			return err
		}
	}
	return errors.New("collectives succeeded without rank 1")
}

// TestLaunch: the launcher starts the ranks with torchrun's environment and prefixes their
// stderr; when one fails it stops the others and reports the first failure.
func TestLaunch(t *testing.T) {
	var stderr bytes.Buffer
	err := ddp.Launch(ddp.LaunchOptions{NProc: 2, MasterPort: freePort(t), Exe: os.Args[0],
		Env: append(os.Environ(), childVar+"=launch-ok", "GLOO_SOCKET_IFNAME=lo"), Stderr: &stderr})
	if err != nil {
		t.Fatalf("launch-ok: %v\n%s", err, stderr.String())
	}
	omp := os.Getenv("OMP_NUM_THREADS") // Launch sets 1 unless it is set already, as torchrun does
	if omp == "" {
		omp = "1"
	}
	for r := 0; r < 2; r++ {
		if want := fmt.Sprintf("[rank %d] rank %d of 2 OMP_NUM_THREADS=%s local 2\n", r, r, omp); !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}

	// Two "nodes" of one worker each, both on this machine: ranks 0 and 1 of a world of 2.
	port := freePort(t)
	var node1 bytes.Buffer
	node1Err := make(chan error, 1)
	go func() {
		node1Err <- ddp.Launch(ddp.LaunchOptions{NProc: 1, NNodes: 2, NodeRank: 1, MasterPort: port, Exe: os.Args[0],
			Env: append(os.Environ(), childVar+"=launch-ok", "GLOO_SOCKET_IFNAME=lo"), Stderr: &node1})
	}()
	stderr.Reset()
	err = ddp.Launch(ddp.LaunchOptions{NProc: 1, NNodes: 2, NodeRank: 0, MasterPort: port, Exe: os.Args[0],
		Env: append(os.Environ(), childVar+"=launch-ok", "GLOO_SOCKET_IFNAME=lo"), Stderr: &stderr})
	if err1 := <-node1Err; err != nil || err1 != nil {
		t.Fatalf("two nodes: %v, %v\n%s%s", err, err1, stderr.String(), node1.String())
	}
	if !strings.Contains(stderr.String(), "[rank 0] rank 0 of 2") || !strings.Contains(node1.String(), "[rank 1] rank 1 of 2") {
		t.Errorf("two nodes: node 0 said %q, node 1 %q", stderr.String(), node1.String())
	}
	if err := ddp.Launch(ddp.LaunchOptions{NProc: 1, NNodes: 2, NodeRank: 2}); err == nil {
		t.Error("node rank 2 of 2 accepted")
	}

	stderr.Reset()
	start := time.Now()
	err = ddp.Launch(ddp.LaunchOptions{NProc: 2, MasterPort: freePort(t), Exe: os.Args[0], Grace: time.Second,
		Env: append(os.Environ(), childVar+"=launch-fail"), Stderr: &stderr})
	var we *ddp.WorkerError
	if !errors.As(err, &we) || we.Rank != 1 || we.ExitCode != 7 {
		t.Fatalf("launch-fail: %v, want rank 1 exit status 7", err)
	}
	t.Logf("launch-fail returned after %v: %v", time.Since(start).Round(time.Millisecond), err)
}

func launchScenario(env ddp.Env) error {
	p, err := ddp.Init(env, ddp.Options{Timeout: time.Minute})
	if err != nil {
		return err
	}
	defer p.Close()
	fmt.Fprintf(os.Stderr, "rank %d of %d OMP_NUM_THREADS=%s local %d\n", p.Rank(), p.World(), os.Getenv("OMP_NUM_THREADS"), env.LocalWorld)
	return p.Barrier()
}

// toyNet is a model without BatchNorm (conv, ReLU, conv, ReLU, pool, linear), so a DDP step
// on two half batches equals one step on the whole batch up to float rounding.
type toyNet struct {
	sd   *models.StateDict
	body models.Sequential
}

func newToyNet(numClasses int) (models.Model, error) {
	sd := models.NewStateDict()
	root := sd.Root()
	// With syncBNVar set, BatchNorm after each convolution (the SyncBatchNorm test).
	// The convolutions before a BatchNorm have no bias, as in torchvision's CNNs: its true
	// gradient is 0 and Adam would turn the rounding noise into full-size steps.
	withBN := os.Getenv(syncBNVar) == "1"
	body := models.Sequential{models.NewConv2d(root.Sub("conv1"), 3, 8, 3, models.ConvOpts{Padding: 1, NoBias: withBN}, nil)}
	if withBN {
		body = append(body, models.NewBatchNorm2d(root.Sub("bn1"), 8))
	}
	body = append(body, models.ReLU, models.NewConv2d(root.Sub("conv2"), 8, 8, 3, models.ConvOpts{Padding: 1, Stride: 2, NoBias: withBN}, nil))
	if withBN {
		body = append(body, models.NewBatchNorm2d(root.Sub("bn2"), 8))
	}
	body = append(body, models.ReLU, models.AdaptiveAvgPool2d(1, 1), models.Flatten,
		models.NewLinear(root.Sub("fc"), 8, int64(numClasses)))
	if err := sd.Err(); err != nil {
		sd.Close()
		return nil, err
	}
	return &toyNet{sd: sd, body: body}, nil
}

func (m *toyNet) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	return m.body.ForwardT(x, train)
}
func (m *toyNet) StateDict() *models.StateDict { return m.sd }
func (m *toyNet) Config() models.Config        { return models.Config{} }
func (m *toyNet) Close()                       { m.sd.Close() }

// parityRun trains toyNet for epochs on dataDir with batch size batch and returns, for every
// step, the flattened gradients the optimiser saw followed by the flattened parameters after
// the step. With p nil it is a plain single process (loading the
// 1-rank shard, i.e. DistributedSampler's order); otherwise rank p.Rank() of p.World() under
// DDP, whose own initial weights (seeded by seed) are replaced by rank 0's.
func parityRun(p *ddp.Process, dataDir string, batch, epochs int, seed uint64, opts ddp.ModelOptions) ([][]float32, error) {
	torchext.SetNumThreads(1)
	torchext.ManualSeed(seed)
	model, err := newToyNet(5)
	if err != nil {
		return nil, err
	}
	defer model.Close()
	params := model.StateDict().Parameters()
	shard := loader.Shard{Rank: 0, World: 1}
	var d *ddp.DDP
	var buffers []*ts.Tensor
	for _, e := range model.StateDict().Entries() {
		if e.Buffer && e.Tensor.DType() == gotch.Float {
			buffers = append(buffers, e.Tensor)
		}
	}
	if p != nil {
		shard = loader.Shard{Rank: p.Rank(), World: p.World()}
		if os.Getenv(syncBNVar) == "1" { // nn.SyncBatchNorm.convert_sync_batchnorm(model), then DDP
			if n := models.ConvertSyncBatchNorm(model, p.Group().SumAcrossRanks); n != 2 {
				return nil, fmt.Errorf("converted %d BatchNorm layers, want 2", n)
			}
		}
		if d, err = p.Wrap(params, buffers, opts); err != nil {
			return nil, err
		}
		defer d.Close()
	}
	ds, err := dataset.Load(dataDir, "train", 5)
	if err != nil {
		return nil, err
	}
	cfg := transforms.DefaultConfig()
	cfg.CropSize, cfg.ResizeSize = 24, 28
	pipe, err := transforms.TrainPipeline(cfg)
	if err != nil {
		return nil, err
	}
	dl, err := loader.New(ds, pipe, 24, loader.Options{BatchSize: batch, Workers: 1, Shuffle: true, Seed: 1, Shard: shard})
	if err != nil {
		return nil, err
	}
	crit, err := loss.New(loss.NameCrossEntropy, loss.Options{ClassCounts: ds.ClassCounts})
	if err != nil {
		return nil, err
	}
	defer crit.Close()
	opt, err := trainer.NewAdam(params, 0.01, 1e-4)
	if err != nil {
		return nil, err
	}
	defer opt.Close()
	var steps [][]float32
	for epoch := 0; epoch < epochs; epoch++ {
		it := dl.Epoch(epoch)
		for {
			b, err := it.Next()
			if err != nil || b == nil {
				it.Close()
				if err != nil {
					return nil, err
				}
				break
			}
			err = func() error {
				defer b.Release()
				x, err := models.TensorFrom(b.Images, []int64{int64(b.N), 3, int64(b.H), int64(b.W)})
				if err != nil {
					return err
				}
				defer x.MustDrop()
				y, err := models.TensorFrom(b.Labels, []int64{int64(b.N)})
				if err != nil {
					return err
				}
				defer y.MustDrop()
				if d != nil {
					if err := d.BeforeForward(); err != nil {
						return err
					}
				}
				pred, err := model.ForwardT(x, true)
				if err != nil {
					return err
				}
				defer pred.MustDrop()
				l, err := crit.Loss(pred, y)
				if err != nil {
					return err
				}
				defer l.MustDrop()
				if d != nil {
					if err := d.AfterForward(pred); err != nil {
						return err
					}
				}
				if err := l.Backward(); err != nil {
					return err
				}
				if d != nil {
					if err := d.AfterBackward(); err != nil {
						return err
					}
				}
				grads := make([]*ts.Tensor, len(params))
				for i, p := range params {
					grads[i] = p.MustGrad(false)
				}
				g := flatten(grads)
				for _, t := range grads {
					t.MustDrop()
				}
				if err := opt.Step(); err != nil {
					return err
				}
				opt.ZeroGrad()
				steps = append(steps, append(append(g, flatten(params)...), flatten(buffers)...))
				if d != nil && !opts.DelayAllReduce && len(steps) <= 2 {
					sizes := d.BucketSizes()
					fmt.Fprintf(os.Stderr, "rank %d step %d: buckets of %v elements\n", p.Rank(), len(steps), sizes)
					if len(sizes) < 2 {
						return fmt.Errorf("the reducer made %d buckets, want several", len(sizes))
					}
				}
				return nil
			}()
			if err != nil {
				it.Close()
				return nil, err
			}
		}
	}
	return steps, nil
}

func flatten(params []*ts.Tensor) []float32 {
	var out []float32
	for _, p := range params {
		n := p.Numel()
		v := make([]float32, n)
		if err := p.CopyData(v, n); err != nil {
			panic(err)
		}
		out = append(out, v...)
	}
	return out
}

func parityScenario(env ddp.Env) error {
	p, err := ddp.Init(env, ddp.Options{Timeout: childTimeout()})
	if err != nil {
		return err
	}
	defer p.Close()
	// Small buckets, so the toy model's 8 parameters are reduced in several.
	opts := ddp.ModelOptions{DelayAllReduce: os.Getenv("DRGRADE_DDP_DELAY") == "1", BucketBytes: 2048, FirstBucketBytes: 1024}
	// Each rank starts from different weights: Wrap must replace them with rank 0's.
	epochs := 3
	if e, err := strconv.Atoi(os.Getenv("DRGRADE_DDP_EPOCHS")); err == nil {
		epochs = e
	}
	steps, err := parityRun(p, os.Getenv("DRGRADE_DDP_DATA"), 16, epochs, uint64(1+env.Rank), opts)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, s := range steps {
		if err := binary.Write(&buf, binary.LittleEndian, s); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(os.Getenv("DRGRADE_DDP_OUT"), fmt.Sprintf("rank%d.bin", env.Rank)), buf.Bytes(), 0o644)
}

// parityData writes a small synthetic data set whose train split has exactly 64 images (two
// global batches of 32, no DistributedSampler padding).
func parityData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := synth.Generate(dir, synth.Options{N: 100, Size: 32, Seed: 3, Proportions: "uniform", Workers: 1}, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "train.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) < 64 {
		t.Fatalf("synth train split has %d images", len(lines))
	}
	if err := os.WriteFile(filepath.Join(dir, "train.txt"), []byte(strings.Join(lines[:64], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTwoRanksVsOneProcess is the DDP contract on CPU (drgrade against itself; the oracle is
// TestParityDDPAgainstTorchrun): two ranks with batch 16 each take
// the same parameter steps as one process with batch 32 on the same samples (the model has no
// BatchNorm; plain mean cross-entropy). Both ranks must hold bit-identical parameters after
// every step (they apply the same averaged gradients). Against the single process both the
// averaged gradients (a sum instead of a mean would be off by 2×) and the parameters after each
// Adam step must agree within 1e-5 of their largest magnitude: float32 summation order (two
// half-batch means averaged vs one mean of 32) is the only difference.
func TestTwoRanksVsOneProcess(t *testing.T) {
	data := parityData(t)
	var ref [][]float32
	var err error
	locked.Run(func() { ref, err = parityRun(nil, data, 32, 3, 1, ddp.ModelOptions{}) })
	if err != nil {
		t.Fatal(err)
	}
	if len(ref) != 6 {
		t.Fatalf("reference took %d steps, want 6 (64 images, batch 32, 3 epochs)", len(ref))
	}
	for _, mode := range []struct {
		name  string
		delay string
	}{{"reducer", "0"}, {"delayed", "1"}} {
		t.Run(mode.name, func(t *testing.T) {
			out := t.TempDir()
			res := runRanks(t, "parity", 2, time.Minute, 4*time.Minute,
				[]string{"DRGRADE_DDP_DATA=" + data, "DRGRADE_DDP_OUT=" + out, "DRGRADE_DDP_DELAY=" + mode.delay}, false)
			for r, x := range res {
				if x.hung || x.code != 0 {
					t.Fatalf("rank %d: exit %d hung=%v\n%s", r, x.code, x.hung, x.stderr)
				}
			}
			t.Log(strings.TrimSpace(res[0].stderr))
			ranks := make([][]float32, 2)
			for r := range ranks {
				b, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("rank%d.bin", r)))
				if err != nil {
					t.Fatal(err)
				}
				ranks[r] = make([]float32, len(b)/4)
				if err := binary.Read(bytes.NewReader(b), binary.LittleEndian, ranks[r]); err != nil {
					t.Fatal(err)
				}
			}
			n := len(ref[0])
			if len(ranks[0]) != len(ref)*n || len(ranks[1]) != len(ref)*n {
				t.Fatalf("ranks recorded %d and %d values, want %d steps × %d", len(ranks[0]), len(ranks[1]), len(ref), n)
			}
			half := n / 2 // gradients, then parameters
			for s := range ref {
				r0, r1 := ranks[0][s*n:(s+1)*n], ranks[1][s*n:(s+1)*n]
				for part, name := range []string{"gradients", "parameters"} {
					lo, hi := part*half, (part+1)*half
					scale, worst := 0.0, 0.0
					for i := lo; i < hi; i++ {
						if r0[i] != r1[i] {
							t.Fatalf("step %d: ranks' %s differ at %d: %v vs %v", s+1, name, i-lo, r0[i], r1[i])
						}
						scale = math.Max(scale, math.Abs(float64(ref[s][i])))
						worst = math.Max(worst, math.Abs(float64(r0[i])-float64(ref[s][i])))
					}
					t.Logf("step %d %s: max |2 ranks − 1 process| = %.3g (%.3g of the largest)", s+1, name, worst, worst/scale)
					// 1e-5 for the parameters is the contract; the gradients get 1e-4 (measured
					// 7.7e-6 at step 1: conv backward sums 16 and 32 samples in different
					// blockings), still far below the 2× a sum instead of a mean would give.
					tol := 1e-5
					if part == 0 {
						tol = 1e-4
					}
					if worst > tol*scale {
						t.Errorf("step %d %s: max difference %.3g exceeds %g × %.3g", s+1, name, worst, tol, scale)
					}
				}
			}
		})
	}
}

// syncBNVar switches the parity scenario's toy net to one with BatchNorm, converted to
// SyncBatchNorm on every rank.
const syncBNVar = "DRGRADE_DDP_SYNCBN"

// TestSyncBatchNormTwoRanksVsOneProcess: with SyncBatchNorm, two ranks of 16 images each
// normalise with the statistics of all 32, so their gradients, parameters and running
// statistics after every step equal one process's plain BatchNorm on the whole batch of 32
// (PyTorch's SyncBatchNorm contract; its own needs GPUs, drgrade's runs wherever c10d does).
// Without the sync (each rank normalising with its own 16) the gradients differ by ~1e-2 of
// their size, and with a backward that does not sum over the ranks by more.
func TestSyncBatchNormTwoRanksVsOneProcess(t *testing.T) {
	data := parityData(t)
	t.Setenv(syncBNVar, "1")
	var ref [][]float32
	var err error
	locked.Run(func() { ref, err = parityRun(nil, data, 32, 2, 1, ddp.ModelOptions{}) })
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	res := runRanks(t, "parity", 2, time.Minute, 4*time.Minute,
		[]string{"DRGRADE_DDP_DATA=" + data, "DRGRADE_DDP_OUT=" + out, syncBNVar + "=1", "DRGRADE_DDP_EPOCHS=2"}, false)
	for r, x := range res {
		if x.hung || x.code != 0 {
			t.Fatalf("rank %d: exit %d hung=%v\n%s", r, x.code, x.hung, x.stderr)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "rank0.bin"))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(b)/4)
	if err := binary.Read(bytes.NewReader(b), binary.LittleEndian, got); err != nil {
		t.Fatal(err)
	}
	n := len(ref[0])
	if len(got) != len(ref)*n {
		t.Fatalf("rank 0 recorded %d values, want %d steps × %d", len(got), len(ref), n)
	}
	// Per step: gradients (nParams values), parameters (nParams), running statistics (the rest).
	nParams := 0
	locked.Run(func() {
		m, err := newToyNet(5)
		if err != nil {
			t.Error(err)
			return
		}
		for _, p := range m.StateDict().Parameters() {
			nParams += int(p.Numel())
		}
		m.Close()
	})
	parts := []struct {
		name   string
		lo, hi int
		tol    float64
	}{
		// Tolerances as TestTwoRanksVsOneProcess: summing 16+16 values in a
		// different order than 32 (measured ≤ 1e-5 of the largest for every part here).
		{"gradients", 0, nParams, 1e-4}, {"parameters", nParams, 2 * nParams, 1e-5},
		{"running statistics", 2 * nParams, n, 1e-5},
	}
	for s := range ref {
		r0 := got[s*n : (s+1)*n]
		for _, part := range parts {
			scale, worst := 0.0, 0.0
			for i := part.lo; i < part.hi; i++ {
				scale = math.Max(scale, math.Abs(float64(ref[s][i])))
				worst = math.Max(worst, math.Abs(float64(r0[i])-float64(ref[s][i])))
			}
			t.Logf("step %d %s: max |2 ranks − 1 process| = %.3g (%.3g of the largest)", s+1, part.name, worst, worst/scale)
			if worst > part.tol*scale {
				t.Errorf("step %d %s: max difference %.3g exceeds %g × %.3g", s+1, part.name, worst, part.tol, scale)
			}
		}
	}
}
