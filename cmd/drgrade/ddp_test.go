package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/pyoracle"
)

func freeTCPPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// supportTotal is the validation support the epoch table reports (the whole val split when
// the ranks' predictions were gathered).
var supportTotal = regexp.MustCompile(`weighted / macro[^\n]*│\s*(\d+)\s*│`)

// TestTrainDataParallel runs the binary as two data-parallel processes, started by drgrade
// itself (torchrun's launch: TestParityTorchrunLaunch): the run finishes, rank 0 alone writes the logs, checkpoints and one
// TensorBoard run, validation covers the whole split, it resumes from its last.pth, and a busy
// rendezvous port is refused with a clear message; --sync_bn trains too.
func TestTrainDataParallel(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the drgrade binary")
	}
	work := t.TempDir()
	bin := buildDrgrade(t, work)
	data := filepath.Join(work, "data")
	runOK(t, bin, work, "synth", "--out", data, "--n", "40", "--size", "64", "--proportions", "uniform")
	b, err := os.ReadFile(filepath.Join(data, "val.txt"))
	if err != nil {
		t.Fatal(err)
	}
	valN := strings.Count(string(b), "\n")

	check := func(t *testing.T, out, stdout string, epochs int) {
		t.Helper()
		if !strings.Contains(stdout, "Distributed data parallel: 2 processes") {
			t.Errorf("stdout lacks the data-parallel line:\n%s", stdout)
		}
		for _, m := range supportTotal.FindAllStringSubmatch(stdout, -1) {
			if m[1] != strconv.Itoa(valN) {
				t.Errorf("validation support %s, want the whole split's %d", m[1], valN)
			}
		}
		if n := len(supportTotal.FindAllString(stdout, -1)); n != epochs {
			t.Errorf("%d epoch tables printed, want %d (rank 0 only)", n, epochs)
		}
		w := filepath.Join(out, "weights", "shufflenet_small")
		for _, f := range []string{"DDR.pth", "last.pth", "metrics.json", "metrics.csv"} {
			if _, err := os.Stat(filepath.Join(w, f)); err != nil {
				t.Error(err)
			}
		}
		log, err := os.ReadFile(filepath.Join(w, "DDR.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(log), "train_loss"); n != epochs {
			t.Errorf("DDR.txt has %d epoch lines, want %d (rank 0 alone writes it)", n, epochs)
		}
		// referable_auc needs every rank's softmax, gathered (val holds both classes)
		var hist []struct {
			ReferableAUC *float64 `json:"referable_auc"`
		}
		readJSON(t, filepath.Join(w, "metrics.json"), &hist)
		if len(hist) != epochs || hist[epochs-1].ReferableAUC == nil {
			t.Errorf("metrics.json: %d epochs, the last referable_auc null: the ranks' probabilities were not gathered", len(hist))
		}
		runs, _ := filepath.Glob(filepath.Join(out, "tensorboard", "shufflenet_small", "run*"))
		if len(runs) != 1 {
			t.Errorf("TensorBoard runs %v, want one", runs)
		}
	}

	t.Run("nproc_per_node", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		code, stdout, stderr := runDrgrade(t, bin, work, trainArgs(data, out, "--epochs", "2",
			"--nproc_per_node", "2", "--master_port", freeTCPPort(t))...)
		if code != 0 || leaks.MatchString(stderr) {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		check(t, out, stdout, 2)
		last := filepath.Join(out, "weights", "shufflenet_small", "last.pth")
		code, stdout, stderr = runDrgrade(t, bin, work, trainArgs(data, out, "--epochs", "3", "--resume", last,
			"--nproc_per_node", "2", "--master_port", freeTCPPort(t))...)
		if code != 0 || !strings.Contains(stdout, "Resuming from") {
			t.Fatalf("resume: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
	})

	t.Run("port in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		code, _, stderr := runDrgrade(t, bin, work, trainArgs(data, filepath.Join(t.TempDir(), "out"),
			"--nproc_per_node", "2", "--master_port", port)...)
		if code != exitFail || !strings.Contains(stderr, "port "+port) || !strings.Contains(stderr, "already in use") {
			t.Fatalf("exit %d, stderr: %s", code, stderr)
		}
	})

	// --sync_bn trains (its numbers are checked against one process in trainer/ddp's
	// TestSyncBatchNormTwoRanksVsOneProcess) and says how many layers it synchronises.
	t.Run("sync_bn", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		code, stdout, stderr := runDrgrade(t, bin, work, trainArgs(data, out,
			"--nproc_per_node", "2", "--master_port", freeTCPPort(t), "--sync_bn")...)
		if code != 0 || leaks.MatchString(stderr) || !strings.Contains(stdout, "SyncBatchNorm: 56 BatchNorm layers") {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		check(t, out, stdout, 1)
	})
}

// TestParityTorchrunLaunch: the same run started by PyTorch's own launcher, torchrun from the
// venv (`torchrun --no-python --nproc_per_node 2 drgrade train ...`), finishes with rank 0
// alone writing the outputs. Live only: it runs in `make parity`, after `make pyenv`, and
// fails there when torchrun is missing.
func TestParityTorchrunLaunch(t *testing.T) {
	if pyoracle.Mode() == "" {
		t.Skip("needs torchrun from the PyTorch venv: runs in `make parity`")
	}
	torchrun := filepath.Join(pyoracle.Venv(), "bin", "torchrun")
	if _, err := os.Stat(torchrun); err != nil {
		t.Fatalf("no torchrun in the PyTorch venv (run `make pyenv`): %v", err)
	}
	work := t.TempDir()
	bin := buildDrgrade(t, work)
	data := filepath.Join(work, "data")
	runOK(t, bin, work, "synth", "--out", data, "--n", "40", "--size", "64", "--proportions", "uniform")
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(torchrun, append([]string{"--no-python", "--nproc_per_node", "2", "--master_port", freeTCPPort(t), bin},
		trainArgs(data, out, "--epochs", "1")...)...)
	cmd.Dir = work
	stdout, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("torchrun: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}
	if !strings.Contains(string(stdout), "Distributed data parallel: 2 processes") {
		t.Errorf("stdout lacks the data-parallel line:\n%s", stdout)
	}
	log, err := os.ReadFile(filepath.Join(out, "weights", "shufflenet_small", "DDR.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "train_loss"); n != 1 {
		t.Errorf("DDR.txt has %d epoch lines, want 1 (rank 0 alone writes it)", n)
	}
}
