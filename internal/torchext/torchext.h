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

// Global libtorch settings (process-wide, unlike autocast).
void tx_set_num_threads(int n);
int tx_get_num_threads(void);
void tx_manual_seed(unsigned long long seed);

// Build information of the linked libtorch.
const char *tx_torch_version(void);
bool tx_cuda_compiled(void);
int tx_cxx11_abi(void);

#ifdef __cplusplus
}
#endif
