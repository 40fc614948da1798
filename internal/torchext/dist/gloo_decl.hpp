// The part of torch 2.1.0's c10d::ProcessGroupGloo (torch/csrc/distributed/c10d/ProcessGroupGloo.hpp)
// that drgrade calls. The real header includes gloo's headers, which the libtorch wheel does not
// ship; the class itself is compiled into libtorch_cpu.so. This declaration repeats the real
// one's data members in order, with gloo's types only forward-declared, so that
// make_intrusive<ProcessGroupGloo> allocates the size libtorch's constructor fills in; nothing
// else of the class is used here (collectives go through the c10d::Backend base class).
//
// The sizes and offsets asserted below were measured by compiling the real header (with
// USE_C10D_GLOO and gloo's headers from facebookincubator/gloo) against this libtorch: both
// gave sizeof(ProcessGroupGloo) 448 and sizeof(ProcessGroupGloo::Options) 72 on x86-64 with
// _GLIBCXX_USE_CXX11_ABI=0. A libtorch other than 2.1 must be re-measured (the #error says so).
//
// No vtable is emitted here: ~ProcessGroupGloo is declared and not defined, so it is the key
// function and the vtable stays libtorch's.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <torch/csrc/api/include/torch/version.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#if TORCH_VERSION_MAJOR != 2 || TORCH_VERSION_MINOR != 1
#error "gloo_decl.hpp repeats torch 2.1's ProcessGroupGloo layout; re-check it against this libtorch's header"
#endif

namespace gloo {
class Context;
namespace transport {
class Device;
}  // namespace transport
namespace rendezvous {
class Store;
}  // namespace rendezvous
}  // namespace gloo

namespace c10d {

class TORCH_API ProcessGroupGloo : public Backend {
 public:
  class AsyncWork;

  struct TORCH_API Options : public Backend::Options {
    explicit Options(std::chrono::milliseconds timeout = kBackendDefaultTimeout);

    static c10::intrusive_ptr<Options> create(
        std::chrono::milliseconds timeout = kBackendDefaultTimeout) {
      return c10::make_intrusive<Options>(timeout);
    }

    std::vector<std::shared_ptr<::gloo::transport::Device>> devices;
    int threads;
  };

  static std::shared_ptr<::gloo::transport::Device> createDeviceForInterface(
      const std::string& interface);
  static std::shared_ptr<::gloo::transport::Device> createDeviceForHostname(
      const std::string& hostname);
  static std::shared_ptr<::gloo::transport::Device> createDefaultDevice();

  explicit ProcessGroupGloo(const c10::intrusive_ptr<Store>& store, int rank, int size,
                            c10::intrusive_ptr<Options> options);

  ~ProcessGroupGloo() override;

 protected:
  std::unique_ptr<::gloo::rendezvous::Store> store_;
  const c10::intrusive_ptr<Options> options_;
  std::vector<std::shared_ptr<::gloo::Context>> contexts_;
  std::vector<std::thread> threads_;
  bool stop_;
  uint32_t collectiveCounter_;
  std::deque<c10::intrusive_ptr<AsyncWork>> workQueue_;
  std::vector<c10::intrusive_ptr<AsyncWork>> workInProgress_;
  std::mutex workMutex_;
  std::condition_variable workProduceCV_;
  std::condition_variable workConsumeCV_;

  friend struct GlooLayoutCheck;
};

// Layout checks against the measured real class (see the top of this file).
struct GlooLayoutCheck {
  static_assert(sizeof(ProcessGroupGloo::Options) == 72, "ProcessGroupGloo::Options size differs from torch 2.1.0's");
  static_assert(sizeof(ProcessGroupGloo) == 448, "ProcessGroupGloo size differs from torch 2.1.0's");
  static_assert(offsetof(ProcessGroupGloo, store_) == 136, "ProcessGroupGloo::store_ offset");
  static_assert(offsetof(ProcessGroupGloo, workQueue_) == 208, "ProcessGroupGloo::workQueue_ offset");
  static_assert(offsetof(ProcessGroupGloo, workConsumeCV_) == 400, "ProcessGroupGloo::workConsumeCV_ offset");
};

}  // namespace c10d
