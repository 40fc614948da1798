package trainer

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/vision/models"
)

// DeviceSpec is a parsed --device: the script's spellings "0", "0,1" (nn.DataParallel over
// the listed GPUs) and "cpu", plus torch's "cuda", "cuda:N".
type DeviceSpec struct {
	CPU bool  // "cpu"
	IDs []int // the CUDA device numbers listed, in order; one for a single GPU
}

// ParseDevice reads a --device value.
func ParseDevice(s string) (DeviceSpec, error) {
	v := strings.TrimSpace(strings.ToLower(s))
	switch v {
	case "cpu":
		return DeviceSpec{CPU: true}, nil
	case "cuda":
		return DeviceSpec{IDs: []int{0}}, nil
	}
	var ids []int
	seen := map[int]bool{}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "cuda:")
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return DeviceSpec{}, fmt.Errorf("--device %q: want cpu, a CUDA device number (0, cuda:0) or a list of them (0,1)", s)
		}
		if seen[n] {
			return DeviceSpec{}, fmt.Errorf("--device %q lists cuda:%d twice", s, n)
		}
		seen[n] = true
		ids = append(ids, n)
	}
	return DeviceSpec{IDs: ids}, nil
}

// CUDAAvailable reports whether this build links a CUDA libtorch and sees at least one device,
// and how many.
func CUDAAvailable() (bool, int) {
	if !torchext.CUDACompiled() || !gotch.CUDA.IsAvailable() {
		return false, 0
	}
	return true, int(gotch.CUDA.DeviceCount())
}

// DevicePlan is where this process computes and why.
type DevicePlan struct {
	Device gotch.Device
	Note   string // appended to "Using device: ..." (a fallback or the GPU chosen for a rank)
	// Procs is the number of data-parallel processes --device asks for: one per listed GPU
	// (the script's nn.DataParallel(model, device_ids) becomes DistributedDataParallel).
	Procs int
}

// PlanDevice chooses this process's device from --device, as the script's
// torch.device(f"cuda:{args.device}" if torch.cuda.is_available() else "cpu"): without CUDA
// the script's default 0 (and a list starting 0,...) falls back to the CPU with a note saying
// so; any other number is refused, since it can only mean a GPU that is not here. localRank is LOCAL_RANK in a data-parallel
// run (-1 alone): with several GPUs listed rank r takes the r-th; with one GPU, torchvision's
// reference scripts' cuda:LOCAL_RANK.
func PlanDevice(flag string, cudaAvailable bool, count, localRank int) (DevicePlan, error) {
	spec, err := ParseDevice(flag)
	if err != nil {
		return DevicePlan{}, err
	}
	if spec.CPU {
		return DevicePlan{Device: gotch.CPU, Procs: 1}, nil
	}
	if !cudaAvailable {
		why := "this build links libtorch without CUDA"
		if torchext.CUDACompiled() {
			why = "no CUDA device found"
		}
		if spec.IDs[0] != 0 {
			return DevicePlan{}, fmt.Errorf("--device %s: CUDA is not available here (%s); use --device cpu "+
				"(--device 0, the script's default, falls back to the CPU as the script does)", flag, why)
		}
		return DevicePlan{Device: gotch.CPU, Procs: 1,
			Note: fmt.Sprintf(" (--device %s asked for CUDA: %s; falling back to the CPU)", flag, why)}, nil
	}
	for _, id := range spec.IDs {
		if id >= count {
			return DevicePlan{}, fmt.Errorf("--device %s: cuda:%d does not exist (%d CUDA device(s) found)", flag, id, count)
		}
	}
	plan := DevicePlan{Device: gotch.CudaBuilder(uint(spec.IDs[0])), Procs: len(spec.IDs)}
	switch {
	case localRank >= 0 && len(spec.IDs) > 1:
		if localRank >= len(spec.IDs) {
			return DevicePlan{}, fmt.Errorf("--device %s lists %d GPUs, but this is local rank %d", flag, len(spec.IDs), localRank)
		}
		plan.Device = gotch.CudaBuilder(uint(spec.IDs[localRank]))
		plan.Note = fmt.Sprintf(" (local rank %d of --device %s)", localRank, flag)
	case localRank >= 0:
		if localRank >= count {
			return DevicePlan{}, fmt.Errorf("local rank %d has no GPU of its own (%d CUDA device(s) found): list one per process with --device 0,1,...", localRank, count)
		}
		plan.Device = gotch.CudaBuilder(uint(localRank))
		if localRank != spec.IDs[0] {
			plan.Note = fmt.Sprintf(" (cuda:LOCAL_RANK, as torchvision's reference scripts; --device %s names one GPU for all ranks)", flag)
		}
	}
	return plan, nil
}

// toDevice is model.to(device): every parameter and buffer moved in place.
func toDevice(model models.Model, dev gotch.Device) error {
	for _, e := range model.StateDict().Entries() {
		if err := torchext.MoveTo(e.Tensor, dev); err != nil {
			return fmt.Errorf("moving %s to %s: %w", e.Name, torchext.DeviceName(dev), err)
		}
	}
	return nil
}

// ampPlan is the script's AMP set-up for a device: on CUDA, torch.cuda.amp.autocast (float16
// unless --amp_dtype bfloat16) with a GradScaler for float16; on the CPU, CPU autocast with
// bfloat16 and no scaler, as PyTorch's GradScaler only scales on CUDA. amp_dtype "" means the
// device's default. float16 on the CPU is refused, as torch 2.1
// refuses it: torch.autocast('cpu', dtype=torch.float16) warns "In CPU autocast, but the
// target dtype is not supported. Disabling autocast." and then raises "Currently, AutocastCPU
// only support Bfloat16 as the autocast_cpu_dtype" on entering.
func ampPlan(useAMP bool, ampDType string, dev gotch.Device) (amp AMP, scale bool, desc string, err error) {
	if !useAMP {
		return AMP{}, false, "", nil
	}
	if ampDType == "float16" && !torchext.IsCUDA(dev) {
		return AMP{}, false, "", fmt.Errorf("--use_amp --amp_dtype float16 on %s: PyTorch 2.1's CPU autocast supports bfloat16 only "+
			"(torch.autocast('cpu', dtype=torch.float16) raises \"Currently, AutocastCPU only support Bfloat16 as the autocast_cpu_dtype\"); "+
			"use --amp_dtype bfloat16 (the CPU's default) or a CUDA --device", torchext.DeviceName(torchext.OrCPU(dev)))
	}
	amp = AMP{Enabled: true, Device: torchext.CPU, DType: torchext.BFloat16}
	if torchext.IsCUDA(dev) {
		amp.Device, amp.DType = torchext.CUDA, torchext.Half
	}
	switch ampDType {
	case "bfloat16":
		amp.DType = torchext.BFloat16
	case "float16":
		amp.DType = torchext.Half
	}
	name := map[int]string{torchext.Half: "float16", torchext.BFloat16: "bfloat16"}[amp.DType]
	if torchext.IsCUDA(dev) {
		scale = amp.DType == torchext.Half
		desc = fmt.Sprintf("AMP: torch.cuda.amp.autocast with %s on %s", name, torchext.DeviceName(dev))
		if scale {
			desc += ", GradScaler (init scale 65536, growth 2.0 every 2000 steps, backoff 0.5)"
		}
		return amp, scale, desc, nil
	}
	return amp, false, fmt.Sprintf("AMP: autocast on CPU with %s (PyTorch's CPU autocast; no GradScaler on CPU)", name), nil
}
