//go:build linux

package main

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drgrade/drgrade/internal/testutil"

	"github.com/drgrade/drgrade/vision/models/pth"
)

// The interruption and crash tests: signals, kill -9 during checkpoint writes, a full disk.
// They run the real binary (buildDrgrade) on the bad-input suite's small data set, with
// --best_metric kappa so DDR.pth is written at the first epoch (kappa starts at -inf) and
// again whenever it improves.

// syncBuffer is a bytes.Buffer that a running process writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a drgrade process started in the background.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{}
	err            error
}

func startDrgrade(t *testing.T, bin, dir string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait returns the exit status, -1 when a signal ended the process.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(3 * time.Minute):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("drgrade did not exit\nstdout:\n%s\nstderr:\n%s", p.stdout.String(), p.stderr.String())
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	}
	t.Fatal(p.err)
	return 0
}

// waitUntil polls cond until it holds; the process exiting first, or minutes passing, fails.
func (p *proc) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("drgrade exited or stalled before %s\nstdout:\n%s\nstderr:\n%s", what, p.stdout.String(), p.stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// checkpointKeys loads a checkpoint completely with drgrade's reader and returns its keys.
func checkpointKeys(t *testing.T, path string) []string {
	t.Helper()
	sd, err := pth.Load(path)
	if err != nil {
		t.Fatalf("a checkpoint does not load: %v", err)
	}
	keys := make([]string, len(sd.Entries))
	for i, e := range sd.Entries {
		keys[i] = e.Name
	}
	sort.Strings(keys)
	return keys
}

// lastEpoch is the "epoch" entry of a last.pth (0-based, the last finished epoch).
func lastEpoch(t *testing.T, path string) int64 {
	t.Helper()
	sd, err := pth.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e := sd.Get("epoch")
	if e == nil {
		t.Fatalf("%s has no epoch entry", path)
	}
	v, err := e.Int64s()
	if err != nil || len(v) != 1 {
		t.Fatalf("%s: epoch entry %v (%v)", path, v, err)
	}
	return v[0]
}

// refKeys are the key sets of a complete run's DDR.pth and last.pth.
type refKeys struct{ ddr, last []string }

// outputFiles are the weights folder's files; tempFile the hidden temporary files of its atomic
// writes (pth.Save, the trainer's and the plot package's writeAtomic).
var (
	outputFiles = map[string]bool{"DDR.pth": true, "last.pth": true, "DDR.txt": true, "metrics.json": true,
		"metrics.csv": true, "curves.png": true, "confusion_matrix.png": true, "args.yaml": true}
	tempFile = regexp.MustCompile(`^\.(DDR\.pth|last\.pth|metrics\.json|metrics\.csv|args\.yaml)\.tmp\d+$|^\.(curves|confusion_matrix)\.png\.tmp-\d+$`)
)

// checkWeightsDir checks a weights folder after a crash: DDR.pth and last.pth, where present,
// load completely with the reference key sets (last.pth never without DDR.pth, which the same
// epoch writes first); every other file is an output or a hidden temporary file, which it
// returns.
func checkWeightsDir(t *testing.T, dir string, ref refKeys) (temps []string) {
	t.Helper()
	for _, c := range []struct {
		name string
		want []string
	}{{"DDR.pth", ref.ddr}, {"last.pth", ref.last}} {
		p := filepath.Join(dir, c.name)
		if !exists(p) {
			continue
		}
		if got := checkpointKeys(t, p); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s has %d keys, not the %d of a complete one", c.name, len(got), len(c.want))
		}
	}
	if exists(filepath.Join(dir, "last.pth")) && !exists(filepath.Join(dir, "DDR.pth")) {
		t.Error("last.pth exists without DDR.pth")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		switch {
		case outputFiles[e.Name()]:
		case tempFile.MatchString(e.Name()):
			temps = append(temps, e.Name())
		default:
			t.Errorf("unexpected file %s in the weights folder", e.Name())
		}
	}
	return temps
}

// interruptEnv is the shared setup: the binary, the data set, and the key sets of a
// complete run's checkpoints.
type interruptEnv struct {
	bin, work, data string
	ref             refKeys
}

func newInterruptEnv(t *testing.T) *interruptEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the drgrade binary")
	}
	e := &interruptEnv{work: t.TempDir()}
	e.bin = buildDrgrade(t, e.work)
	e.data = filepath.Join(e.work, "data")
	runOK(t, e.bin, e.work, "synth", "--out", e.data, "--n", "40", "--size", "64", "--proportions", "uniform")
	ref := filepath.Join(e.work, "ref")
	runOK(t, e.bin, e.work, e.args(ref, "--epochs", "1")...)
	w := filepath.Join(ref, "weights", "shufflenet_small")
	e.ref = refKeys{checkpointKeys(t, filepath.Join(w, "DDR.pth")), checkpointKeys(t, filepath.Join(w, "last.pth"))}
	if len(e.ref.ddr) == 0 || len(e.ref.last) <= len(e.ref.ddr) {
		t.Fatalf("reference checkpoints: %d and %d keys", len(e.ref.ddr), len(e.ref.last))
	}
	return e
}

// args is the bad-input suite's valid command line with many epochs, DDR.pth by kappa.
func (e *interruptEnv) args(out string, extra ...string) []string {
	return trainArgs(e.data, out, append([]string{"--epochs", "1000", "--best_metric", "kappa"}, extra...)...)
}

// TestInterruptSignals: SIGINT or SIGTERM during training finishes the current step, keeps a
// complete last.pth, prints how to resume and exits 130 or 143, and the run resumes from that
// last.pth; a second SIGINT exits at once with 130, leaving every checkpoint complete.
func TestInterruptSignals(t *testing.T) {
	e := newInterruptEnv(t)
	rng := rand.New(rand.NewPCG(7, 11))
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		code int
	}{{"SIGINT", syscall.SIGINT, 130}, {"SIGTERM", syscall.SIGTERM, 143}} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			w := filepath.Join(out, "weights", "shufflenet_small")
			last := filepath.Join(w, "last.pth")
			p := startDrgrade(t, e.bin, e.work, e.args(out)...)
			p.waitUntil(t, "the first last.pth", func() bool { return exists(last) })
			// Somewhere in the next epochs (one takes ~0.4 s here): mostly mid-epoch.
			time.Sleep(time.Duration(rng.IntN(600)) * time.Millisecond)
			if err := p.cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			code := p.wait(t)
			stdout, stderr := p.stdout.String(), p.stderr.String()
			if code != tc.code {
				t.Errorf("exit status %d, want %d", code, tc.code)
			}
			if !strings.Contains(stderr, "stopping after the current step") || !strings.Contains(stdout, "--resume "+last) {
				t.Errorf("no stop notice on stderr or no `--resume %s` hint on stdout", last)
			}
			if m := leaks.FindString(stdout + stderr); m != "" {
				t.Errorf("a crash or trace reached the user (%q)", m)
			}
			if temps := checkWeightsDir(t, w, e.ref); len(temps) > 0 {
				t.Errorf("a graceful stop left temporary files: %v", temps)
			}
			if t.Failed() {
				t.Fatalf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
			}
			// The hint works: one more epoch from last.pth.
			done := lastEpoch(t, last)
			next := strconv.FormatInt(done+2, 10)
			code, stdout, stderr = runDrgrade(t, e.bin, e.work, e.args(out, "--epochs", next, "--resume", last)...)
			if code != 0 || !strings.Contains(stdout, "Resuming from "+last) {
				t.Fatalf("resume: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if got := lastEpoch(t, last); got != done+1 {
				t.Errorf("after resuming for one epoch last.pth records epoch %d, want %d", got, done+1)
			}
			checkWeightsDir(t, w, e.ref)
		})
	}

	// The second SIGINT is sent as soon as the first is acknowledged on stderr; the graceful
	// stop (finish the step, print the hint) can rarely win that race, so up to three tries.
	t.Run("second SIGINT", func(t *testing.T) {
		for try := 1; ; try++ {
			out := filepath.Join(t.TempDir(), "out")
			w := filepath.Join(out, "weights", "shufflenet_small")
			p := startDrgrade(t, e.bin, e.work, e.args(out)...)
			p.waitUntil(t, "the first last.pth", func() bool { return exists(filepath.Join(w, "last.pth")) })
			time.Sleep(time.Duration(rng.IntN(600)) * time.Millisecond)
			p.cmd.Process.Signal(syscall.SIGINT)
			p.waitUntil(t, "the first SIGINT's notice", func() bool {
				return strings.Contains(p.stderr.String(), "stopping after the current step")
			})
			p.cmd.Process.Signal(syscall.SIGINT)
			code := p.wait(t)
			stdout, stderr := p.stdout.String(), p.stderr.String()
			if code != 130 {
				t.Fatalf("exit status %d, want 130\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if m := leaks.FindString(stdout + stderr); m != "" {
				t.Errorf("a crash or trace reached the user (%q)", m)
			}
			temps := checkWeightsDir(t, w, e.ref)
			if !strings.Contains(stdout, "Interrupted") {
				t.Logf("try %d: exited at the second SIGINT; temporary files left: %v", try, temps)
				return
			}
			if try == 3 {
				t.Fatalf("three times the first SIGINT's graceful stop finished before the second was handled\nstdout:\n%s", stdout)
			}
		}
	})
}

// TestKillDuringCheckpointWrites: kill -9 at 20 seeded random moments, half of them just after
// a temporary file of DDR.pth or last.pth appears (inside the write), half anywhere in training. After
// every kill DDR.pth and last.pth load completely with the key sets of a complete run, no
// file but the outputs and hidden temporary files is in the weights folder, and the next run
// (fresh or --resume, alternately) starts from what is there. A last run removes the
// temporary files the kills left behind.
func TestKillDuringCheckpointWrites(t *testing.T) {
	e := newInterruptEnv(t)
	rng := rand.New(rand.NewPCG(2024, 9))
	out := filepath.Join(t.TempDir(), "out")
	w := filepath.Join(out, "weights", "shufflenet_small")
	last := filepath.Join(w, "last.pth")
	tempsOf := func() map[string]bool {
		m := map[string]bool{}
		ents, _ := os.ReadDir(w)
		for _, en := range ents {
			if strings.HasPrefix(en.Name(), ".DDR.pth.tmp") || strings.HasPrefix(en.Name(), ".last.pth.tmp") {
				m[en.Name()] = true
			}
		}
		return m
	}
	inWrite := 0
	for i := 0; i < 20; i++ {
		args := e.args(out)
		if i%2 == 1 && exists(last) {
			args = e.args(out, "--resume", last)
		}
		old := tempsOf()
		p := startDrgrade(t, e.bin, e.work, args...)
		if i%2 == 0 {
			// Targeted: right after a new temporary file of DDR.pth (even halves) or last.pth
			// appears, plus 0–5 ms.
			prefix := []string{".DDR.pth.tmp", ".last.pth.tmp"}[i/2%2]
			p.waitUntil(t, "a checkpoint write", func() bool {
				for n := range tempsOf() {
					if !old[n] && strings.HasPrefix(n, prefix) {
						return true
					}
				}
				return false
			})
			time.Sleep(time.Duration(rng.IntN(5000)) * time.Microsecond)
		} else {
			// Anywhere: 0.3–3 s after the start (start-up, image check, several epochs).
			time.Sleep(300*time.Millisecond + time.Duration(rng.IntN(2700))*time.Millisecond)
		}
		if p.exited() {
			t.Fatalf("kill %d: drgrade exited by itself\nstdout:\n%s\nstderr:\n%s", i, p.stdout.String(), p.stderr.String())
		}
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if code := p.wait(t); code != -1 {
			t.Fatalf("kill %d: exit status %d, want death by SIGKILL", i, code)
		}
		temps := tempsOf()
		left := 0
		for n := range temps {
			if !old[n] {
				left++
			}
		}
		if left > 0 {
			inWrite++
		}
		all := checkWeightsDir(t, w, e.ref)
		t.Logf("kill %d: %d new temporary checkpoint file(s); hidden temporary files now: %v", i, left, all)
		if t.Failed() {
			t.Fatalf("after kill %d\nstdout:\n%s\nstderr:\n%s", i, p.stdout.String(), p.stderr.String())
		}
	}
	t.Logf("%d of 20 kills landed inside a checkpoint write", inWrite)
	if inWrite == 0 {
		t.Error("no kill landed inside a checkpoint write: the test did not test the writes")
	}
	// A complete run after the crashes: it resumes from the last last.pth and cleans up.
	args := e.args(out, "--epochs", "1")
	if exists(last) {
		args = e.args(out, "--resume", last, "--epochs", strconv.FormatInt(lastEpoch(t, last)+2, 10))
	}
	code, stdout, stderr := runDrgrade(t, e.bin, e.work, args...)
	if code != 0 {
		t.Fatalf("the run after the kills: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if temps := checkWeightsDir(t, w, e.ref); len(temps) > 0 {
		t.Errorf("a complete run left the killed runs' temporary files: %v (the trainer should remove its own stale temporary files at start)", temps)
	}
}

// TestDiskFull: when the disk fills up, the checkpoint write that fails is reported with the
// file's name and ENOSPC's message, the run stops with exit status 1 and no trace, the
// previous DDR.pth and last.pth keep their bytes and modification times, and no temporary
// file is left. The output folder is on a 16 MB tmpfs, filled up after a first epoch to
// leave 700 KB: room for the logs and figures, not for a checkpoint (1.5 and 4.4 MB).
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the drgrade binary")
	}
	mnt := testutil.MountTmpfs(t, "16m")
	work := t.TempDir()
	bin := buildDrgrade(t, work)
	data := filepath.Join(work, "data")
	runOK(t, bin, work, "synth", "--out", data, "--n", "40", "--size", "64", "--proportions", "uniform")
	out := filepath.Join(mnt, "out")
	w := filepath.Join(out, "weights", "shufflenet_small")
	args := func(extra ...string) []string {
		return trainArgs(data, out, append([]string{"--best_metric", "kappa"}, extra...)...)
	}
	runOK(t, bin, work, args("--epochs", "1")...)
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	const room = 700 << 10
	if free < room {
		t.Fatalf("only %d KB free on the tmpfs after one epoch", free>>10)
	}
	writeFile(t, filepath.Join(mnt, "filler"), make([]byte, free-room))
	before := snapshot(t, w)
	code, stdout, stderr := runDrgrade(t, bin, work, args("--epochs", "3", "--resume", filepath.Join(w, "last.pth"))...)
	if code != exitFail {
		t.Errorf("exit status %d, want %d", code, exitFail)
	}
	if !strings.Contains(stderr, "no space left on device") ||
		!(strings.Contains(stderr, filepath.Join(w, "DDR.pth")+": ") || strings.Contains(stderr, filepath.Join(w, "last.pth")+": ")) {
		t.Errorf("stderr does not name the checkpoint and the full disk")
	}
	if m := leaks.FindString(stdout + stderr); m != "" {
		t.Errorf("a crash or trace reached the user (%q)", m)
	}
	after := snapshot(t, w)
	for _, f := range []string{"DDR.pth", "last.pth"} {
		if b, a := before[f], after[f]; a != b {
			t.Errorf("%s changed: %s", f, compareSnapshots(map[string]fileState{f: b}, map[string]fileState{f: a}))
		}
	}
	for p := range after {
		if strings.Contains(p, ".tmp") {
			t.Errorf("temporary file %s left behind", p)
		}
	}
	checkpointKeys(t, filepath.Join(w, "DDR.pth"))
	checkpointKeys(t, filepath.Join(w, "last.pth"))
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	} else {
		t.Logf("stderr: %s", strings.TrimSpace(stderr))
	}
}
