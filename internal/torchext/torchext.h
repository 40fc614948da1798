// C interface of drgrade's own libtorch glue (what gotch v0.9.1 lacks). C only: Go calls it.
#pragma once
#include <stdbool.h>
#ifdef __cplusplus
extern "C" {
#endif

// at::autocast state; every call acts on the calling OS thread only.
bool tx_autocast_is_enabled(int device);            // 0 = CPU, 1 = CUDA
void tx_autocast_set_enabled(int device, bool on);
int tx_autocast_get_dtype(int device);               // c10::ScalarType code
void tx_autocast_set_dtype(int device, int dtype);
int tx_autocast_increment_nesting(void);
int tx_autocast_decrement_nesting(void);
void tx_autocast_clear_cache(void);

// Tensor ops gotch only offers in log.Fatal form. dst and src are torch::Tensor* as returned
// by gotch's Tensor.Ctensor(). Each returns NULL, or an error message the caller must free().
char *tx_copy_(void *dst, void *src);  // dst.copy_(src) under NoGradGuard (like p.data.copy_)


// One Adam (decoupled == 0) or AdamW step over n parameters, parameter i at lrs[i], operation
// for operation as torch.optim.Adam's _single_tensor_adam / AdamW's _single_tensor_adamw (torch
// 2.1, amsgrad=False, maximize=False): L2 weight decay added to the gradient (Adam) or
// param.mul_(1 - lr*weight_decay) (AdamW), lerp_ for the first moment, addcmul_ for the second,
// bias corrections from step. Parameters without a gradient are skipped. Runs under NoGradGuard.
char *tx_adam_step_lrs(void **params, void **exp_avgs, void **exp_avg_sqs, long long *steps, int n,
                       const double *lrs, double beta1, double beta2, double eps, double weight_decay,
                       int decoupled);
// torch.optim.SGD's _single_tensor_sgd; bufs[i] NULL until created here (a new torch::Tensor*
// the caller owns, freed as gotch frees its tensors).
char *tx_sgd_step(void **params, void **bufs, int n, const double *lrs, double momentum,
                  double dampening, double weight_decay, int nesterov);
// clip_grad_norm_ / clip_grad_value_ of torch 2.1 (foreach path) over the parameters' gradients.
char *tx_clip_grad_norm(void **params, int n, double max_norm, double norm_type, double *total);
char *tx_clip_grad_value(void **params, int n, double value);
// timm ModelEmaV2.update over matching state_dict entries: ema.copy_(decay*ema + (1-decay)*model).
char *tx_ema_update(void **ema, void **model, int n, double decay);

// GradScaler's two kernels (torch.cuda.amp.GradScaler, torch 2.1): unscale every parameter's
// gradient by inv_scale in place and set found_inf to 1 if any is inf/NaN
// (_amp_foreach_non_finite_check_and_unscale_); then update scale and growth_tracker
// (_amp_update_scale_). Parameters without a gradient are skipped.
char *tx_amp_unscale_grads(void **params, int n, void *found_inf, void *inv_scale);
char *tx_amp_update_scale(void *scale, void *growth_tracker, void *found_inf, double growth,
                          double backoff, long long interval);

// The default CPU generator's state as a new uint8 tensor (torch.get_rng_state), and its
// restoration (torch.set_rng_state).
char *tx_get_rng_state(void **out);
char *tx_set_rng_state(void *state);

// optimizer.zero_grad(set_to_none=True), PyTorch 2.x's default: drops each parameter's .grad.
void tx_zero_grad(void **params, int n);

// Grad mode of the calling thread (torch.is_grad_enabled / torch.set_grad_enabled).
bool tx_grad_is_enabled(void);
void tx_grad_set_enabled(bool on);

// Global libtorch settings (process-wide, unlike autocast).
void tx_set_num_threads(int n);
int tx_get_num_threads(void);
void tx_manual_seed(unsigned long long seed);

// The caching CPU allocator (allocator.cpp): install it as libtorch's CPU allocator with a cap
// on cached bytes; read its counters; give its cached blocks back to the C heap.
void tx_cpu_cache_install(unsigned long long limit_bytes);
void tx_cpu_cache_stats(unsigned long long *cached, unsigned long long *limit,
                        unsigned long long *hits, unsigned long long *misses, bool *installed);
void tx_cpu_cache_release(void);

// A new contiguous CPU tensor of the given shape and c10::ScalarType code, filled with a copy
// of the nbytes at data (which the caller keeps). With pinned, in page-locked memory:
// DataLoader(pin_memory=True)'s buffer, from which .to(cuda, non_blocking=True) copies
// asynchronously (needs a CUDA runtime; an error otherwise).
char *tx_tensor_from_bytes(const void *data, long long nbytes, const long long *shape, int ndim,
                           int dtype, bool pinned, void **out);

// Copies the nbytes of tensor (any device, any layout) into dst, which the caller owns; an error
// when tensor's c10::ScalarType is not dtype or it does not hold exactly nbytes.
char *tx_tensor_to_bytes(void *tensor, void *dst, long long nbytes, int dtype);

// Build information of the linked libtorch.
const char *tx_torch_version(void);  // TORCH_VERSION of the headers compiled against
// What the libtorch loaded at run time says of itself (malloc'ed, the caller frees): the
// file libtorch_cpu.so was loaded from, and at::show_config() (its build settings).
char *tx_torch_library_path(void);
char *tx_torch_show_config(void);
bool tx_cuda_compiled(void);
int tx_cxx11_abi(void);

#ifdef __cplusplus
}
#endif
