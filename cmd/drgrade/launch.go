package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/drgrade/drgrade/trainer/ddp"
)

// launchFlags are drgrade train's launcher flags: what torchrun's --nproc_per_node, --nnodes,
// --node_rank, --master_addr and --master_port do, for users without Python.
type launchFlags struct {
	nproc, nnodes, nodeRank int
	masterAddr              string
	masterPort              int
}

// launching reports whether this drgrade train should start the workers rather than train:
// more than one process in all, and not already a worker (RANK unset).
func (l launchFlags) launching() bool {
	_, worker := os.LookupEnv(ddp.EnvRank)
	return l.nproc*max(l.nnodes, 1) > 1 && !worker
}

// runLaunch starts l.nproc copies of `drgrade train` with args (minus the launcher's flags,
// the images already checked here) and torchrun's environment, forwards SIGINT/SIGTERM to
// them, and exits with the first failing worker's status.
func runLaunch(l launchFlags, args []string, stdout, stderr io.Writer) error {
	for _, f := range []string{"nproc_per_node", "nnodes", "node_rank"} {
		args = stripFlag(args, f)
	}
	childArgs := append([]string{"train"}, args...)
	childArgs = append(childArgs, "--check_images=false")
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	fmt.Fprintf(stdout, "Starting %d training processes on node %d of %d (rendezvous %s:%d); rank 0 reports\n",
		l.nproc, l.nodeRank, max(l.nnodes, 1), l.masterAddr, l.masterPort)
	err := ddp.Launch(ddp.LaunchOptions{NProc: l.nproc, NNodes: l.nnodes, NodeRank: l.nodeRank,
		MasterAddr: l.masterAddr, MasterPort: l.masterPort, Args: childArgs, Stdout: stdout, Stderr: stderr, Signals: sigs})
	var we *ddp.WorkerError
	if errors.As(err, &we) {
		code := we.ExitCode
		if code <= 0 {
			code = exitFail
		}
		return exitError{code: code, err: err}
	}
	return err
}

// stripFlag removes every occurrence of the flag name (-name, --name, with "=value" or the
// value as the next argument) from args.
func stripFlag(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		bare := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if !strings.HasPrefix(a, "-") || (bare != name && !strings.HasPrefix(bare, name+"=")) {
			out = append(out, a)
			continue
		}
		if bare == name && i+1 < len(args) {
			i++ // the value
		}
	}
	return out
}
