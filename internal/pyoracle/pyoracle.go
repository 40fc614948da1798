// Package pyoracle runs the committed Python generators (`testdata/*_gen.py`) in the PyTorch
// reference venv, so parity tests compare drgrade against PyTorch itself.
//
// Every generator takes `--out DIR` and writes .npy/JSON files there plus meta.json recording
// the torch/torchvision versions and seeds. A parity test calls Golden, which returns:
//   - by default (`go test`): the committed golden directory under testdata/;
//   - with DRGRADE_PARITY=1 (`make parity`): a fresh directory the generator just wrote, so
//     the comparison is live against the venv's PyTorch;
//   - with DRGRADE_PARITY=update (`make goldens`): the golden directory, rewritten.
package pyoracle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Venv is the reference venv: $DRGRADE_VENV, else $DRGRADE_CACHE/venv, else ~/.cache/drgrade/venv.
func Venv() string {
	if v := os.Getenv("DRGRADE_VENV"); v != "" {
		return v
	}
	cache := os.Getenv("DRGRADE_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "drgrade")
	}
	return filepath.Join(cache, "venv")
}

// Python is the venv's interpreter, or "" when the venv is not installed.
func Python() string {
	p := filepath.Join(Venv(), "bin", "python")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Mode is the value of DRGRADE_PARITY: "" (goldens), "1" (live) or "update".
func Mode() string { return os.Getenv("DRGRADE_PARITY") }

// Run runs a Python script in the venv and returns its standard output. The error carries
// the script's standard error, so a failing generator explains itself.
func Run(script string, args ...string) ([]byte, error) {
	py := Python()
	if py == "" {
		return nil, fmt.Errorf("the PyTorch reference venv is not installed at %s (run `make pyenv`)", Venv())
	}
	cmd := exec.Command(py, append([]string{script}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "PYTHONHASHSEED=0", "OMP_NUM_THREADS=1", "CUDA_VISIBLE_DEVICES=")
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("python %s %v: %v\n%s", script, args, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// Golden returns the directory of the generator's outputs to compare against (see the
// package doc for the three modes). script and goldenDir are relative to the test's package.
func Golden(t testing.TB, goldenDir, script string, args ...string) string {
	t.Helper()
	switch Mode() {
	case "":
		if _, err := os.Stat(goldenDir); err != nil {
			t.Fatalf("golden directory %s is missing (regenerate with `make goldens`): %v", goldenDir, err)
		}
		return goldenDir
	case "update":
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := Run(script, append([]string{"--out", goldenDir}, args...)...); err != nil {
			t.Fatal(err)
		}
		return goldenDir
	default:
		dir := t.TempDir()
		if _, err := Run(script, append([]string{"--out", dir}, args...)...); err != nil {
			t.Fatal(err)
		}
		return dir
	}
}

// ReadJSON decodes dir/name into v, failing the test on error.
func ReadJSON(t testing.TB, dir, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", filepath.Join(dir, name), err)
	}
}

// LiveDir is for comparisons too large to commit as goldens (full-size model weights): it
// runs the generator into a temporary directory when DRGRADE_PARITY is set (`make parity`,
// CI) and skips the test otherwise, saying so.
func LiveDir(t testing.TB, script string, args ...string) string {
	t.Helper()
	if Mode() == "" {
		t.Skip("live-only parity test (goldens too large to commit): run `make parity`")
	}
	dir := t.TempDir()
	if _, err := Run(script, append([]string{"--out", dir}, args...)...); err != nil {
		t.Fatal(err)
	}
	return dir
}
