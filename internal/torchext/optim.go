package torchext

// #include <stdlib.h>
// #include "torchext.h"
import "C"

import (
	"errors"
	"unsafe"

	"github.com/sugarme/gotch/ts"
)

// AdamStepLRs applies one torch.optim.Adam step (see tx_adam_step_lrs) to params at lrs[i]
// for parameter i (param groups), with the moment buffers expAvg and expAvgSq (same shapes,
// updated in place); with decoupled, AdamW's weight decay (param.mul_(1 - lr·weight_decay))
// instead of Adam's L2. steps holds each parameter's state['step']: a parameter with a
// gradient has its count incremented and steps with the new value; one without (.grad None)
// is skipped and keeps its count, as in PyTorch. All tensors are borrowed.
func AdamStepLRs(params, expAvg, expAvgSq []*ts.Tensor, steps []int64, lrs []float64, beta1, beta2, eps, weightDecay float64, decoupled bool) error {
	n := len(params)
	if len(expAvg) != n || len(expAvgSq) != n || len(steps) != n || len(lrs) != n {
		return errors.New("AdamStepLRs: params, moment buffers, step counts and lrs differ in length")
	}
	if n == 0 {
		return nil
	}
	p, m, v := cTensorArray(params), cTensorArray(expAvg), cTensorArray(expAvgSq)
	defer C.free(p)
	defer C.free(m)
	defer C.free(v)
	d := 0
	if decoupled {
		d = 1
	}
	return cerr(C.tx_adam_step_lrs((*unsafe.Pointer)(p), (*unsafe.Pointer)(m), (*unsafe.Pointer)(v),
		(*C.longlong)(unsafe.Pointer(&steps[0])), C.int(n), (*C.double)(unsafe.Pointer(&lrs[0])),
		C.double(beta1), C.double(beta2), C.double(eps), C.double(weightDecay), C.int(d)))
}

// SGDStep is one torch.optim.SGD step (torch 2.1's _single_tensor_sgd, maximize=False) with
// lrs[i] for parameter i. bufs[i] is parameter i's momentum_buffer, nil until its first step
// with a gradient, when it is created (owned by the caller from then on).
func SGDStep(params []*ts.Tensor, bufs []*ts.Tensor, lrs []float64, momentum, dampening, weightDecay float64, nesterov bool) error {
	n := len(params)
	if len(bufs) != n || len(lrs) != n {
		return errors.New("SGDStep: params, momentum buffers and lrs differ in length")
	}
	if n == 0 {
		return nil
	}
	p := cTensorArray(params)
	defer C.free(p)
	b := C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof(uintptr(0))))
	defer C.free(b)
	bs := unsafe.Slice((*unsafe.Pointer)(b), n)
	for i, t := range bufs {
		bs[i] = nil
		if t != nil {
			bs[i] = t.Ctensor()
		}
	}
	nv := 0
	if nesterov {
		nv = 1
	}
	err := cerr(C.tx_sgd_step((*unsafe.Pointer)(p), (*unsafe.Pointer)(b), C.int(n), (*C.double)(unsafe.Pointer(&lrs[0])),
		C.double(momentum), C.double(dampening), C.double(weightDecay), C.int(nv)))
	for i := range bufs {
		if bufs[i] == nil && bs[i] != nil {
			bufs[i] = ts.FromCtensor(bs[i])
		}
	}
	return err
}

// ClipGradNorm is torch.nn.utils.clip_grad_norm_(params, maxNorm, normType) (torch 2.1): the
// total norm over every gradient, and the gradients scaled by min(1, maxNorm/(total+1e-6)).
func ClipGradNorm(params []*ts.Tensor, maxNorm, normType float64) (float64, error) {
	if len(params) == 0 {
		return 0, nil
	}
	p := cTensorArray(params)
	defer C.free(p)
	var total C.double
	err := cerr(C.tx_clip_grad_norm((*unsafe.Pointer)(p), C.int(len(params)), C.double(maxNorm), C.double(normType), &total))
	return float64(total), err
}

// ClipGradValue is torch.nn.utils.clip_grad_value_(params, value): every gradient clamped to
// [-value, value].
func ClipGradValue(params []*ts.Tensor, value float64) error {
	if len(params) == 0 {
		return nil
	}
	p := cTensorArray(params)
	defer C.free(p)
	return cerr(C.tx_clip_grad_value((*unsafe.Pointer)(p), C.int(len(params)), C.double(value)))
}

// EMAUpdate is timm 0.9.12 ModelEmaV2.update over matching state_dict entries:
// ema.copy_(decay·ema + (1 − decay)·model) for every entry, buffers included.
func EMAUpdate(ema, model []*ts.Tensor, decay float64) error {
	if len(ema) != len(model) {
		return errors.New("EMAUpdate: the EMA and the model differ in entries")
	}
	if len(ema) == 0 {
		return nil
	}
	e, m := cTensorArray(ema), cTensorArray(model)
	defer C.free(e)
	defer C.free(m)
	return cerr(C.tx_ema_update((*unsafe.Pointer)(e), (*unsafe.Pointer)(m), C.int(len(ema)), C.double(decay)))
}
