// C interface of drgrade's device glue (device.cpp): moving tensors between devices in place,
// cuDNN and determinism switches, CUDA RNG state. (Pinned host buffers: tx_tensor_from_bytes.) C only: Go calls it.
// A device is an int as gotch passes it: -1 the CPU, N >= 0 the CUDA device N.
#pragma once
#include <stdbool.h>
#ifdef __cplusplus
extern "C" {
#endif

// t.set_data(t.to(device)) under NoGradGuard: what nn.Module.to(device) does to each
// parameter and buffer, so every holder of t sees it on the new device (requires_grad kept).
char *tx_move_to(void *t, int device);

// torch.backends.cudnn.benchmark / .deterministic and torch.use_deterministic_algorithms.
void tx_set_cudnn(bool benchmark, bool deterministic);
char *tx_set_deterministic_algorithms(bool on, bool warn_only);

// torch.cuda.get_rng_state(device) as a new uint8 tensor, and torch.cuda.set_rng_state.
char *tx_cuda_get_rng_state(int device, void **out);
char *tx_cuda_set_rng_state(int device, void *state);

#ifdef __cplusplus
}
#endif
