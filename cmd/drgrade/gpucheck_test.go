package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/vision/models"
)

// gpuPresent says whether this machine has an NVIDIA GPU, as scripts/gpu-check.sh decides.
func gpuPresent() bool {
	if _, err := os.Stat("/dev/nvidia0"); err == nil {
		return true
	}
	if _, err := exec.LookPath("nvidia-smi"); err == nil {
		out, err := exec.Command("nvidia-smi", "-L").Output()
		return err == nil && bytes.Contains(out, []byte("GPU"))
	}
	return false
}

// runGPUCheck runs scripts/gpu-check.sh with env added and returns its exit status and output.
func runGPUCheck(t *testing.T, timeout time.Duration, env []string, args ...string) (int, string, string) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "gpu-check.sh"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, args...)
	var clean []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DRGRADE_GPU_CHECK_") {
			clean = append(clean, kv)
		}
	}
	cmd.Env = append(clean, env...)
	return runCommand(t, cmd, timeout)
}

// TestGPUCheckRefusesWithoutGPU: on a machine without an NVIDIA GPU, make gpu-check's script
// exits 2 with a message saying what it needs, before it needs a binary or a Python.
func TestGPUCheckRefusesWithoutGPU(t *testing.T) {
	if gpuPresent() {
		t.Skip("this machine has an NVIDIA GPU: the refusal is not what would happen here")
	}
	code, stdout, stderr := runGPUCheck(t, time.Minute, []string{
		"DRGRADE_BIN=/nonexistent/drgrade", "DRGRADE_PYTHON=/nonexistent/python"})
	if code != 2 {
		t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range []string{"no CUDA GPU found", "NVIDIA GPU", "make build CUDA=1"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestParityGPUCheckOnCPU runs the whole gpu-check comparison on the CPU
// (DRGRADE_GPU_CHECK_DEVICE=cpu), small: drgrade steps against the venv's PyTorch, fp32 and
// bfloat16 autocast, and wants every bound to hold. Live only (`make parity`): it needs the venv.
func TestParityGPUCheckOnCPU(t *testing.T) {
	if pyoracle.Mode() == "" {
		t.Skip("live parity test (needs the PyTorch venv): run `make parity`")
	}
	py := pyoracle.Python()
	if py == "" {
		t.Fatalf("the PyTorch reference venv is not installed at %s (run `make pyenv`)", pyoracle.Venv())
	}
	dir := t.TempDir()
	bin := buildDrgrade(t, dir)
	out := filepath.Join(dir, "work")
	start := time.Now()
	code, stdout, stderr := runGPUCheck(t, 5*time.Minute, []string{
		"DRGRADE_PYTHON=" + py, "DRGRADE_BIN=" + bin, "DRGRADE_GPU_CHECK_DEVICE=cpu",
		"DRGRADE_GPU_CHECK_STEPS=6", "DRGRADE_GPU_CHECK_BATCH=4", "DRGRADE_GPU_CHECK_SIZE=64",
		"DRGRADE_GPU_CHECK_EVAL=64", "DRGRADE_GPU_CHECK_THREADS=1"}, "--out", out)
	t.Logf("gpu-check on the CPU took %v:\n%s", time.Since(start).Round(time.Second), stdout)
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	var res struct {
		OK   bool `json:"ok"`
		Rows []struct {
			Mode        string   `json:"mode"`
			Steps       int      `json:"steps"`
			WeightRel   *float64 `json:"weight_rel_diff"`
			WeightBound float64  `json:"weight_bound"`
			Agreement   *float64 `json:"eval_agreement"`
			TorchLoadOK bool     `json:"torch_load_ok"`
			MaxAbsDLoss *float64 `json:"max_abs_dloss"`
			Verdict     string   `json:"verdict"`
			Failed      []string `json:"failed"`
		} `json:"rows"`
	}
	b, err := os.ReadFile(filepath.Join(out, "gpu_check.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "gpu_check.md")); err != nil {
		t.Error(err)
	}
	if !res.OK || len(res.Rows) != 2 {
		t.Fatalf("ok %v with %d rows, want true with 2 (fp32, amp):\n%s", res.OK, len(res.Rows), b)
	}
	for i, mode := range []string{"fp32", "amp"} {
		r := res.Rows[i]
		if r.Mode != mode || r.Steps != 6 || r.Verdict != "ok" || len(r.Failed) != 0 || !r.TorchLoadOK {
			t.Errorf("row %d: %+v", i, r)
			continue
		}
		if r.WeightRel == nil || *r.WeightRel > r.WeightBound || r.WeightBound != map[string]float64{"fp32": 1e-3, "amp": 1e-2}[mode] {
			t.Errorf("%s: weight rel diff %v, bound %g", mode, r.WeightRel, r.WeightBound)
		}
		if r.Agreement == nil || *r.Agreement < 0.995 {
			t.Errorf("%s: eval agreement %v", mode, r.Agreement)
		}
		if r.MaxAbsDLoss == nil || math.IsNaN(*r.MaxAbsDLoss) {
			t.Errorf("%s: max |dloss| %v", mode, r.MaxAbsDLoss)
		}
	}
}

// TestStepsCommand: `drgrade steps` alone, 2 steps of shufflenet_small at 32 px on the CPU
// from a batches folder written here: finite losses, a final.pth that loads, weights changed.
func TestStepsCommand(t *testing.T) {
	dir := t.TempDir()
	batches := filepath.Join(dir, "batches")
	if err := os.MkdirAll(batches, 0o755); err != nil {
		t.Fatal(err)
	}
	const b, size = 2, 32
	for i := 0; i < 2; i++ {
		x := make([]float32, b*3*size*size)
		for j := range x {
			x[j] = float32(math.Sin(float64(j*(i+3)) * 0.01))
		}
		if err := npy.WriteFile(filepath.Join(batches, fmt.Sprintf("x%d.npy", i)), x, []int{b, 3, size, size}); err != nil {
			t.Fatal(err)
		}
		if err := npy.WriteFile(filepath.Join(batches, fmt.Sprintf("y%d.npy", i)), []int64{int64(i), 4}, []int{b}); err != nil {
			t.Fatal(err)
		}
	}
	initPth := filepath.Join(dir, "init.pth")
	final := filepath.Join(dir, "final.pth")
	results := filepath.Join(dir, "results.json")
	var stdout, stderr bytes.Buffer
	args := []string{"steps", "--model", "shufflenet_small", "--batches", batches, "--steps", "2", "--warmup", "1",
		"--threads", "1", "--out", final, "--json", results}
	// The same initialisation written first, so "the weights changed" compares like with like.
	if code := run(append(append([]string{}, args...), "--lr", "0", "--weight_decay", "0", "--steps", "1", "--warmup", "0", "--out", initPth, "--json", ""), &stdout, &stderr); code != 0 {
		t.Fatalf("steps --lr 0: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run(append(args, "--weights", initPth), &stdout, &stderr); code != 0 {
		t.Fatalf("steps: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	var res stepsResult
	raw, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Losses) != 2 || len(res.Stepped) != 2 || res.Device != "cpu" || res.Batch != b || res.ImagesPerS <= 0 {
		t.Fatalf("results: %s", raw)
	}
	for _, l := range res.Losses {
		if math.IsNaN(l) || math.IsInf(l, 0) || l <= 0 {
			t.Errorf("loss %v", l)
		}
	}
	// final.pth loads, and differs from init.pth
	load := func(p string) []float32 {
		m, err := models.New("shufflenet_small", 5)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if _, err := models.LoadWeights(m, p, models.HeadSlice); err != nil {
			t.Fatal(err)
		}
		var all []float32
		for _, p := range m.StateDict().Parameters() {
			v := make([]float32, p.Numel())
			if err := torchext.CopyTo(p, v); err != nil {
				t.Fatal(err)
			}
			all = append(all, v...)
		}
		return all
	}
	var a, c []float32
	trainer.RunLocked(func() { a, c = load(initPth), load(final) })
	if len(a) != len(c) || len(a) == 0 {
		t.Fatalf("%d vs %d parameters", len(a), len(c))
	}
	changed := 0
	for i := range a {
		if a[i] != c[i] {
			changed++
		}
	}
	if changed < len(a)/2 {
		t.Errorf("only %d of %d parameter values changed in 2 steps", changed, len(a))
	}
	// bad input is a usage error
	stderr.Reset()
	if code := run([]string{"steps", "--batches", filepath.Join(dir, "none")}, &stdout, &stderr); code != exitUsage ||
		!strings.Contains(stderr.String(), "no x0.npy") {
		t.Errorf("missing batches: exit %d, %s", code, stderr.String())
	}
}
