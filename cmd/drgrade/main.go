// Command drgrade trains and evaluates diabetic-retinopathy grading models the way the
// researcher's PyTorch script does (same flags, same numbers, same files), on libtorch.
//
// This package is flags and wiring only: each subcommand parses its flags, calls the
// library packages, and turns their errors into messages and exit codes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/drgrade/drgrade/internal/suggest"
	"github.com/drgrade/drgrade/internal/torchext"
)

// Exit codes: 0 success, 1 a run that failed (e.g. a non-finite loss), 2 bad usage or input.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

// usageError is an error caused by the command line or the user's input: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

var commands = []command{
	{"train", "train a model on a label-file data set (the researcher's train.py)", runTrain},
	{"eval", "score a checkpoint on a split: metrics, confusion matrix, predictions", runEval},
	{"predict", "grade new photographs with a checkpoint", runPredict},
	{"serve", "grade photographs over HTTP: API, web page, metrics (one binary, no Python)", runServe},
	{"explain", "Grad-CAM heatmaps of a checkpoint's grades on photographs (.npy and overlay PNG)", runExplain},
	{"calibrate", "fit a checkpoint's temperature on val logits (probabilities, not grades); eval and predict use it", runCalibrate},
	{"summary", "print the data set's class table (Train / Val / Total)", runSummary},
	{"synth", "write a synthetic fundus data set in the DDR layout", runSynth},
	{"prepare", "write a resized, optionally preprocessed copy of a data set (resumable, parallel)", runPrepare},
	{"split", "divide one labelled set into train/val(/test), stratified and seeded, as a DDR data set", runSplit},
	{"transform", "apply the train or val pipeline to an image (debugging, parity)", runTransform},
	{"forward", "run one forward pass of a model on an input (debugging, parity)", runForward},
	{"version", "print drgrade, gotch and libtorch versions and the device", runVersion},
	{"steps", "the training steps of make gpu-check, on batches from .npy files", runSteps},
}

func main() {
	// Before any tensor is made, so every libtorch CPU buffer can be reused (see
	// torchext.InstallCPUCache; DRGRADE_CPU_CACHE_MB). DDP workers run this binary: theirs too.
	if err := torchext.InstallCPUCache(); err != nil {
		fmt.Fprintf(os.Stderr, "drgrade: %v; using the default CPU allocator\n", err)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		topUsage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		topUsage(stdout)
		return exitOK
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		err := runRecovered(c, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.As(err, new(exitError)):
			var ee exitError
			errors.As(err, &ee)
			fmt.Fprintf(stderr, "drgrade %s: %s\n", c.name, torchext.Message(err))
			return ee.code
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "drgrade %s: %s\n", c.name, torchext.Message(err))
			return exitUsage
		default:
			fmt.Fprintf(stderr, "drgrade %s: %s\n", c.name, torchext.Message(err))
			return exitFail
		}
	}
	fmt.Fprintf(stderr, "drgrade: unknown command %q%s\n\n", name, didYouMean(name))
	topUsage(stderr)
	return exitUsage
}

func topUsage(w io.Writer) {
	fmt.Fprintln(w, "drgrade — diabetic-retinopathy grading on libtorch, the researcher's PyTorch script in Go")
	fmt.Fprintln(w, "\nUsage: drgrade <command> [flags]   (drgrade <command> --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
}

// didYouMean returns ` (did you mean "x"?)` for the closest command name, or "".
func didYouMean(name string) string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	if best := suggest.Closest(name, names); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// newFlags makes a subcommand's flag set: errors are returned, not printed twice, and
// --help prints the usage to stdout.
func newFlags(name, synopsis string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("drgrade "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors once, through run
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: drgrade %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; --help prints usage to stdout and yields flag.ErrHelp, a bad flag
// yields a usageError (exit 2).
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		return usagef("%v (see '%s --help')", err, fs.Name())
	}
	return nil
}

// internalError is a panic turned into an error: a bug of drgrade's, not bad input (exit 1,
// where an unrecovered panic would exit 2 like a usage error, with a stack trace).
type internalError struct{ v any }

func (e internalError) Error() string {
	return fmt.Sprintf("internal error: %v (this is a bug in drgrade; please report it with the command line)", e.v)
}

// runRecovered runs a subcommand and turns a panic on its goroutine (or one re-raised from
// the locked tensor goroutine) into an internalError.
func runRecovered(c command, args []string, stdout, stderr io.Writer) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = internalError{v}
		}
	}()
	return c.run(args, stdout, stderr)
}

// deviceHelp is the --device help of the commands that run a model.
const deviceHelp = "cpu, or a CUDA device (0, cuda:0); without CUDA it falls back to the CPU with a message"

// transformsHelp is the --transforms help of train, eval and predict.
const transformsHelp = "script (train_imbalance.py's for every model: RandomResizedCrop(224), Resize(256) + CenterCrop(224), ImageNet mean/std) or model (the model's own input size, crop_pct and mean/std, e.g. xception 299/333 and mean/std 0.5)"
