// Version shims between the libtorch releases drgrade builds against: 2.1 (the default, what
// gotch v0.9.1 is generated for) and 2.11 (the current PyTorch, `make build TORCH=2.11.0`).
// Every libtorch version #if of internal/torchext lives here; versions between 2.1 and 2.11
// were never built and take the 2.11 branch.
#pragma once

#include <ATen/autocast_mode.h>
#include <c10/core/Allocator.h>
#include <torch/csrc/api/include/torch/version.h>

#if TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR <= 1
#define DRGRADE_TORCH_2_1 1
#else
#define DRGRADE_TORCH_2_1 0
#endif

namespace drgrade {

// at::autocast state of device 0 (CPU) or 1 (CUDA). libtorch 2.1 has one function per device
// type; later releases deprecate those for the device-generic ones.
inline c10::DeviceType autocastDevice(int device) { return device == 0 ? c10::DeviceType::CPU : c10::DeviceType::CUDA; }

inline bool autocastEnabled(int device) {
#if DRGRADE_TORCH_2_1
  return device == 0 ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#else
  return at::autocast::is_autocast_enabled(autocastDevice(device));
#endif
}

inline void setAutocastEnabled(int device, bool on) {
#if DRGRADE_TORCH_2_1
  if (device == 0) {
    at::autocast::set_cpu_enabled(on);
  } else {
    at::autocast::set_enabled(on);
  }
#else
  at::autocast::set_autocast_enabled(autocastDevice(device), on);
#endif
}

inline at::ScalarType autocastDType(int device) {
#if DRGRADE_TORCH_2_1
  return device == 0 ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
#else
  return at::autocast::get_autocast_dtype(autocastDevice(device));
#endif
}

inline void setAutocastDType(int device, at::ScalarType st) {
#if DRGRADE_TORCH_2_1
  if (device == 0) {
    at::autocast::set_autocast_cpu_dtype(st);
  } else {
    at::autocast::set_autocast_gpu_dtype(st);
  }
#else
  at::autocast::set_autocast_dtype(autocastDevice(device), st);
#endif
}

}  // namespace drgrade

// c10::Allocator: 2.1's allocate() is const; later releases drop the const and add a pure
// virtual copy_data (used to clone storages), which c10's default_copy_data (a memcpy) serves.
#if DRGRADE_TORCH_2_1
#define DRGRADE_ALLOCATE_CONST const
#define DRGRADE_ALLOCATOR_COPY_DATA
#else
#define DRGRADE_ALLOCATE_CONST
#define DRGRADE_ALLOCATOR_COPY_DATA                                                  \
  void copy_data(void *dest, const void *src, std::size_t count) const override { \
    default_copy_data(dest, src, count);                                            \
  }
#endif
