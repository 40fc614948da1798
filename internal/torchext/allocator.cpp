// A caching CPU allocator for libtorch, installed in place of c10's DefaultCPUAllocator.
//
// Why: c10's CPU allocator hands every request to glibc's posix_memalign/free. glibc serves
// blocks above its mmap threshold (128 KiB, adapting up to 32 MiB) with a fresh mmap and
// returns them with munmap, so a training step that allocates and frees the same activation
// and gradient buffers every iteration pays page faults and zeroing for all of them again, every
// step (a third of ResNet-50's step time on this project's 2-core machine was kernel time).
// This allocator keeps freed blocks of 16 KiB and more in per-size free lists and hands them
// back for the next request of the same rounded size, as PyTorch's CUDA caching allocator does
// on the GPU. Small blocks still go straight to glibc (its heap serves them without syscalls).
// The values computed are untouched: the same kernels run on the same shapes; only where the
// output buffers live changes. Cached bytes are capped; a block that would exceed the cap is
// given back to glibc, and a failed allocation empties the cache and retries.
#include "torch_abi.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

#include "compat.h"
#include "torchext.h"

namespace {

constexpr size_t kAlignment = 64;          // c10::gAlignment
constexpr size_t kHeader = kAlignment;     // block size stored in front of the data
// Below this, blocks go to glibc. Not 128 KiB (glibc's mmap threshold): glibc also trims its
// heap whenever more than 128 KiB lie free at its top (M_TRIM_THRESHOLD), so buffers just
// under 128 KiB were given back to the kernel and faulted in again on every forward
// (densenet201 at batch 1: ~2000 page faults per forward, 96 → 86 ms once cached).
constexpr size_t kMinCached = 16 << 10;

// A request takes the smallest cached block of its size or larger, up to kMaxOversize times its
// size, as PyTorch's CUDA caching allocator takes the best-fitting larger block. Why: a server
// runs forwards of every batch size from 1 to --max_batch, and with exact-size lists each batch
// size kept its own copy of every activation (shufflenet_small, batch sizes 1..16: ~900 MiB
// cached, growing as new batch sizes appeared); with best fit a smaller batch reuses a larger
// batch's buffers. A loop of fixed shapes (training) finds its exact sizes first, as before.
constexpr size_t kMaxOversize = 2;

struct Cache {
  std::mutex mu;
  std::map<size_t, std::vector<void *>> free;  // block size -> block bases (no empty lists)
  size_t cached = 0;                                     // bytes in free
  size_t limit = 0;                                      // 0: caching off
  unsigned long long hits = 0, misses = 0;
};

Cache &cache() {
  static Cache *c = new Cache();  // never destroyed: tensors may be freed during exit
  return *c;
}

// roundSize groups nearby sizes so that a step's buffers find each other: 4 KiB pages below
// 64 MiB, 2 MiB steps above (at most 3% waste there).
size_t roundSize(size_t n) {
  if (n < kMinCached) return n;
  size_t g = n >= (size_t(64) << 20) ? (size_t(2) << 20) : 4096;
  return (n + g - 1) / g * g;
}

void releaseAllLocked(Cache &c) {
  for (auto &kv : c.free)
    for (void *b : kv.second) std::free(b);
  c.free.clear();
  c.cached = 0;
}

void deleteBlock(void *data) {
  if (data == nullptr) return;
  char *base = static_cast<char *>(data) - kHeader;
  size_t size = *reinterpret_cast<size_t *>(base);
  if (size >= kMinCached) {
    Cache &c = cache();
    std::lock_guard<std::mutex> g(c.mu);
    if (c.cached + size <= c.limit) {
      c.free[size].push_back(base);
      c.cached += size;
      return;
    }
  }
  std::free(base);
}

void *newBlock(size_t size) {
  void *base = nullptr;
  if (posix_memalign(&base, kAlignment, size + kHeader) != 0) return nullptr;
  return base;
}

struct CachingCPUAllocator final : public c10::Allocator {
  c10::DataPtr allocate(size_t nbytes) DRGRADE_ALLOCATE_CONST override {
    c10::Device cpu(c10::DeviceType::CPU);
    if (nbytes == 0) return {nullptr, nullptr, &deleteBlock, cpu};
    size_t size = roundSize(nbytes);
    void *base = nullptr;
    if (size >= kMinCached) {
      Cache &c = cache();
      std::lock_guard<std::mutex> g(c.mu);
      auto it = c.free.lower_bound(size);
      if (it != c.free.end() && it->first <= size * kMaxOversize) {
        base = it->second.back();
        it->second.pop_back();
        size = it->first;  // the block keeps its own size, for deleteBlock
        c.cached -= size;
        if (it->second.empty()) c.free.erase(it);
        c.hits++;
      } else {
        c.misses++;
      }
    }
    if (base == nullptr) base = newBlock(size);
    if (base == nullptr) {  // give the cache back to the system and try once more
      Cache &c = cache();
      {
        std::lock_guard<std::mutex> g(c.mu);
        releaseAllLocked(c);
      }
      base = newBlock(size);
    }
    TORCH_CHECK(base != nullptr, "DefaultCPUAllocator: not enough memory: you tried to allocate ",
                nbytes, " bytes.");
    *static_cast<size_t *>(base) = size;
    void *data = static_cast<char *>(base) + kHeader;
    return {data, data, &deleteBlock, cpu};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &deleteBlock; }
  DRGRADE_ALLOCATOR_COPY_DATA
};

CachingCPUAllocator g_caching;

}  // namespace

extern "C" {

void tx_cpu_cache_install(unsigned long long limit_bytes) {
  Cache &c = cache();
  {
    std::lock_guard<std::mutex> g(c.mu);
    c.limit = limit_bytes;
  }
  // Priority 1 outranks c10's own registration (priority 0), whatever the load order.
  c10::SetCPUAllocator(&g_caching, 1);
}

void tx_cpu_cache_stats(unsigned long long *cached, unsigned long long *limit,
                        unsigned long long *hits, unsigned long long *misses, bool *installed) {
  Cache &c = cache();
  std::lock_guard<std::mutex> g(c.mu);
  *cached = c.cached;
  *limit = c.limit;
  *hits = c.hits;
  *misses = c.misses;
  *installed = c10::GetCPUAllocator() == &g_caching;
}

void tx_cpu_cache_release(void) {
  Cache &c = cache();
  std::lock_guard<std::mutex> g(c.mu);
  releaseAllLocked(c);
}

}  // extern "C"
