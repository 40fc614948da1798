package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/sugarme/gotch"

	"github.com/drgrade/drgrade/internal/torchext"
)

// Version is drgrade's version; release builds set it with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "", stdout, stderr)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	gotchVersion := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/sugarme/gotch" {
				gotchVersion = d.Version
			}
		}
	}
	fmt.Fprintf(stdout, "drgrade   %s (%s, %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(stdout, "gotch     %s\n", gotchVersion)
	fmt.Fprintf(stdout, "libtorch  %s (C++11 ABI %d, CUDA build %v)\n", torchext.TorchVersion(), torchext.CXX11ABI(), torchext.CUDACompiled())
	fmt.Fprintf(stdout, "runtime   %s\n", runtimeLine())
	fmt.Fprintf(stdout, "threads   %d\n", torchext.NumThreads())
	fmt.Fprintf(stdout, "device    %s\n", deviceLine())
	return nil
}

// runtimeLine says which libtorch the process runs on: the version its build settings record
// (which should be the headers' version above) and where it was loaded from.
func runtimeLine() string {
	v, cudaV, dir := torchext.TorchRuntime()
	if v == "" {
		v = "unknown version"
	}
	line := "libtorch " + v
	if torchext.CUDACompiled() && cudaV != "" {
		line += " (CUDA " + cudaV + ")"
	}
	if dir != "" {
		line += " from " + dir
	}
	return line
}

// deviceLine says which device `--device 0` would use and why.
func deviceLine() string {
	if torchext.CUDACompiled() && gotch.CUDA.IsAvailable() {
		return fmt.Sprintf("CUDA (%d device(s))", gotch.CUDA.DeviceCount())
	}
	if !torchext.CUDACompiled() {
		return "CPU (this build links libtorch without CUDA)"
	}
	return "CPU (CUDA build, but no CUDA device found)"
}
