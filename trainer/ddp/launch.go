package ddp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// DefaultMasterPort is torchrun's default MASTER_PORT.
const DefaultMasterPort = 29500

// LaunchOptions configure Launch.
type LaunchOptions struct {
	NProc      int    // workers to start on this node (torchrun's --nproc_per_node)
	NNodes     int    // machines taking part, each running Launch (0: 1; torchrun's --nnodes)
	NodeRank   int    // this machine's index, 0..NNodes-1 (torchrun's --node_rank)
	MasterAddr string // "" : 127.0.0.1 (with several nodes: node 0's address)
	MasterPort int    // 0: DefaultMasterPort
	Exe        string // program to run ("": this executable)
	Args       []string
	Env        []string // base environment (nil: os.Environ())
	Stdout     io.Writer
	Stderr     io.Writer // each worker's lines are prefixed with "[rank N] "
	// Signals are forwarded to every worker (each then stops after its current step).
	Signals <-chan os.Signal
	// Grace is how long the other workers get after SIGTERM, once one failed, before SIGKILL
	// (0: 10 s).
	Grace time.Duration
}

// WorkerError is the first worker that failed.
type WorkerError struct {
	Rank     int
	ExitCode int    // -1 when killed by a signal
	Signal   string // the signal that killed it, if any, e.g. "signal 9 (killed)"
	// Interrupted says a signal had been forwarded to the workers before this one ended.
	Interrupted bool
}

// Error says which worker failed and how.
func (e *WorkerError) Error() string {
	if e.Interrupted {
		return fmt.Sprintf("interrupted: the workers were stopped by a signal (rank %d ended with status %d)", e.Rank, e.ExitCode)
	}
	if e.Signal != "" {
		return fmt.Sprintf("worker rank %d died from %s; the other workers were stopped", e.Rank, e.Signal)
	}
	return fmt.Sprintf("worker rank %d exited with status %d; the other workers were stopped", e.Rank, e.ExitCode)
}

// Launch starts NProc copies of Exe with torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT; OMP_NUM_THREADS=1 unless set, as torchrun does)
// and waits for them: drgrade's own `torchrun --nproc_per_node N` (static rendezvous) for users
// without Python. On several machines each runs Launch with the same NNodes, NProc and
// MasterAddr (node 0's) and its own NodeRank; ranks are NodeRank·NProc + local rank. When one
// worker fails the others on this node are terminated (SIGTERM, then SIGKILL after Grace) and
// the first failure is returned as a *WorkerError. On node 0, a MASTER_PORT already in use is
// reported before any worker starts.
func Launch(o LaunchOptions) error {
	if o.NProc < 1 {
		return fmt.Errorf("--nproc_per_node must be at least 1, got %d", o.NProc)
	}
	if o.NNodes <= 0 {
		o.NNodes = 1
	}
	if o.NodeRank < 0 || o.NodeRank >= o.NNodes {
		return fmt.Errorf("--node_rank %d is outside 0..%d (--nnodes %d)", o.NodeRank, o.NNodes-1, o.NNodes)
	}
	if o.MasterAddr == "" {
		o.MasterAddr = "127.0.0.1"
	}
	if o.MasterPort == 0 {
		o.MasterPort = DefaultMasterPort
	}
	if o.Grace <= 0 {
		o.Grace = 10 * time.Second
	}
	if o.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("cannot find this program to start the workers: %w", err)
		}
		o.Exe = exe
	}
	if o.Env == nil {
		o.Env = os.Environ()
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.NodeRank == 0 { // node 0's rank 0 hosts the rendezvous
		if err := checkPortFree(o.MasterPort); err != nil {
			return err
		}
	}
	base := o.Env
	if _, set := os.LookupEnv("OMP_NUM_THREADS"); !set && o.NProc > 1 && !hasVar(base, "OMP_NUM_THREADS") {
		base = append(base[:len(base):len(base)], "OMP_NUM_THREADS=1")
	}

	// Workers get SIGKILL if the launcher dies (Pdeathsig is tied to the thread that started
	// them, so that thread stays locked until every worker exited).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	type exit struct {
		rank int
		err  error
	}
	exits := make(chan exit, o.NProc) // rank here is the local rank
	cmds := make([]*exec.Cmd, o.NProc)
	var outMu sync.Mutex
	for r := 0; r < o.NProc; r++ {
		env := Env{Rank: o.NodeRank*o.NProc + r, World: o.NNodes * o.NProc, LocalRank: r, LocalWorld: o.NProc,
			MasterAddr: o.MasterAddr, MasterPort: o.MasterPort}
		cmd := exec.Command(o.Exe, o.Args...)
		cmd.Env = env.Environ(base)
		cmd.Stdout = &lockedWriter{mu: &outMu, w: o.Stdout}
		pw := &prefixWriter{mu: &outMu, w: o.Stderr, prefix: []byte("[rank " + strconv.Itoa(env.Rank) + "] ")}
		cmd.Stderr = pw
		// Own process group: a terminal's Ctrl-C reaches the launcher only, which forwards it
		// once (a second signal makes a worker quit at once).
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			for _, c := range cmds[:r] {
				_ = c.Process.Kill()
			}
			for i := 0; i < r; i++ {
				<-exits
			}
			return fmt.Errorf("starting worker rank %d: %w", r, err)
		}
		cmds[r] = cmd
		go func(r int) {
			err := cmd.Wait()
			pw.flush()
			exits <- exit{r, err}
		}(r)
	}

	var first *WorkerError
	forwarded := false
	alive := o.NProc
	var killTimer <-chan time.Time
	signalAll := func(s os.Signal, done []bool) {
		for r, c := range cmds {
			if !done[r] {
				_ = c.Process.Signal(s)
			}
		}
	}
	done := make([]bool, o.NProc)
	for alive > 0 {
		select {
		case e := <-exits:
			alive--
			done[e.rank] = true
			if e.err == nil || first != nil {
				continue
			}
			first = workerError(o.NodeRank*o.NProc+e.rank, e.err)
			first.Interrupted = forwarded
			if !forwarded { // after a user's signal the others are stopping by themselves
				signalAll(syscall.SIGTERM, done)
				killTimer = time.After(o.Grace)
			}
		case s := <-o.Signals:
			forwarded = true
			signalAll(s, done)
		case <-killTimer:
			signalAll(syscall.SIGKILL, done)
		}
	}
	if first != nil {
		return first
	}
	return nil
}

func workerError(rank int, err error) *WorkerError {
	we := &WorkerError{Rank: rank, ExitCode: -1}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			we.Signal = fmt.Sprintf("signal %d (%s)", int(ws.Signal()), ws.Signal())
			return we
		}
		we.ExitCode = ee.ExitCode()
		return we
	}
	we.Signal = err.Error()
	return we
}

// checkPortFree reports a rendezvous port that is already taken, the way TCPStore would
// fail on rank 0, but before any worker starts.
func checkPortFree(port int) error {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("the rendezvous port %d (MASTER_PORT) is already in use (another run?); choose another with --master_port or MASTER_PORT", port)
		}
		return fmt.Errorf("cannot use the rendezvous port %d: %w", port, err)
	}
	return ln.Close()
}

func hasVar(env []string, name string) bool {
	for _, kv := range env {
		if len(kv) > len(name) && kv[:len(name)] == name && kv[len(name)] == '=' {
			return true
		}
	}
	return false
}

// lockedWriter serialises the workers' writes to one writer.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes whole lines, each prefixed, keeping a partial last line for later.
type prefixWriter struct {
	mu      *sync.Mutex
	w       io.Writer
	prefix  []byte
	pending []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.pending = append(p.pending, b...)
	for {
		i := bytes.IndexByte(p.pending, '\n')
		if i < 0 {
			break
		}
		line := append(append([]byte(nil), p.prefix...), p.pending[:i+1]...)
		p.pending = p.pending[i+1:]
		p.mu.Lock()
		_, err := p.w.Write(line)
		p.mu.Unlock()
		if err != nil {
			return len(b), err
		}
	}
	return len(b), nil
}

// flush writes a last line that had no newline.
func (p *prefixWriter) flush() {
	if len(p.pending) > 0 {
		_, _ = p.Write([]byte("\n"))
	}
}
