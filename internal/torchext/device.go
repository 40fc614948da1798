package torchext

// #include <stdlib.h>
// #include "device.h"
import "C"

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// MoveTo moves t to dev in place, as nn.Module.to(device) moves each parameter and buffer
// (param.data = param.to(device)): the handle stays the same, so every holder of t (a model's
// layers and its StateDict) sees the tensor on dev, and requires_grad is kept. t is borrowed.
func MoveTo(t *ts.Tensor, dev gotch.Device) error {
	return cerr(C.tx_move_to(t.Ctensor(), cDevice(dev)))
}

// IsCUDA reports whether dev is a CUDA device. Unlike gotch's Device.IsCuda it takes the zero
// Device (an unset field) for the CPU; gotch's CInt would end the process on it.
func IsCUDA(dev gotch.Device) bool { return dev.Name == "CUDA" }

// OrCPU is dev, or gotch.CPU for the zero Device: use it where a Device comes from a struct
// field a caller may have left unset.
func OrCPU(dev gotch.Device) gotch.Device {
	if IsCUDA(dev) {
		return dev
	}
	return gotch.CPU
}

func cDevice(dev gotch.Device) C.int {
	if IsCUDA(dev) {
		return C.int(dev.Value)
	}
	return -1
}

// FromSliceTo returns a new tensor on dev holding a copy of data, as a batch reaches the model
// in the script: DataLoader(pin_memory=True) fills page-locked host memory, and
// .to(device, non_blocking=True) queues the copy so it overlaps the GPU's work. Pinned memory
// needs a CUDA runtime, so on the CPU the host tensor is an ordinary one and the move is
// torch's no-op .to('cpu'). The caller owns the result.
func FromSliceTo(data any, shape []int64, dev gotch.Device) (*ts.Tensor, error) {
	dev = OrCPU(dev)
	host, err := fromSlice(data, shape, IsCUDA(dev))
	if err != nil {
		return nil, err
	}
	return host.ToDevice(dev, host.DType(), true, false, true)
}

// SetCuDNN sets torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic.
// Both are process-wide and matter only for CUDA convolutions.
func SetCuDNN(benchmark, deterministic bool) {
	C.tx_set_cudnn(C.bool(benchmark), C.bool(deterministic))
}

// SetDeterministicAlgorithms is torch.use_deterministic_algorithms(on, warn_only=warnOnly):
// ops without a deterministic implementation then fail (or, with warnOnly, warn) instead of
// silently varying between runs. On CUDA several common backward kernels have none
// (adaptive_avg_pool2d's, used by every ResNet), so strict mode stops such a run.
func SetDeterministicAlgorithms(on, warnOnly bool) error {
	return cerr(C.tx_set_deterministic_algorithms(C.bool(on), C.bool(warnOnly)))
}

// CUDARNGState is torch.cuda.get_rng_state(dev) as a new uint8 tensor the caller owns.
func CUDARNGState(dev gotch.Device) (*ts.Tensor, error) {
	var out unsafe.Pointer
	if err := cerr(C.tx_cuda_get_rng_state(cDevice(dev), &out)); err != nil {
		return nil, err
	}
	return ts.FromCtensor(out), nil
}

// SetCUDARNGState is torch.cuda.set_rng_state(state, dev); state is borrowed.
func SetCUDARNGState(dev gotch.Device, state *ts.Tensor) error {
	return cerr(C.tx_cuda_set_rng_state(cDevice(dev), state.Ctensor()))
}

// DeviceName is torch's spelling of dev: "cpu" or "cuda:N".
func DeviceName(dev gotch.Device) string {
	if IsCUDA(dev) {
		return fmt.Sprintf("cuda:%d", dev.Value)
	}
	return "cpu"
}

// IsOutOfMemory reports whether err is libtorch's out-of-memory error: c10::OutOfMemoryError
// on CUDA ("CUDA out of memory. Tried to allocate ...") or the CPU allocator's
// ("DefaultCPUAllocator: can't allocate memory").
func IsOutOfMemory(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "CUDA out of memory") || strings.Contains(s, "CUDA error: out of memory") ||
		strings.Contains(s, "can't allocate memory")
}
