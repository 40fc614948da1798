// C interface of drgrade's c10d glue (dist.cpp). C only: Go calls it. Every function returning
// char* returns NULL on success or an error message the caller must free().
#pragma once
#include <stdbool.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef void *dx_store;    // c10::intrusive_ptr<c10d::Store>*
typedef void *dx_group;    // drgrade's group: c10d::ProcessGroup + its backend
typedef void *dx_work;     // c10::intrusive_ptr<c10d::Work>*
typedef void *dx_reducer;  // std::shared_ptr<c10d::Reducer>*

// A c10d::TCPStore at host:port (server when is_server), optionally under a c10d::PrefixStore.
char *dx_store_new(const char *host, int port, bool is_server, int world, int64_t timeout_ms,
                   bool wait_workers, const char *prefix, dx_store *out);
char *dx_store_set(dx_store s, const char *key, const void *data, int64_t n);
// Get blocks until key exists (or the store's timeout); *out is malloc'ed, the caller frees it.
char *dx_store_get(dx_store s, const char *key, void **out, int64_t *n);
char *dx_store_add(dx_store s, const char *key, int64_t delta, int64_t *out);
void dx_store_free(dx_store s);

// backend 0: gloo (CPU), 1: nccl (CUDA builds only). The group's stores live under prefix.
char *dx_group_new(dx_store s, int backend, int rank, int world, int64_t timeout_ms, dx_group *out);
void dx_group_free(dx_group g);

// Collectives on torch::Tensor* (gotch's Ctensor()). With out == NULL they wait for completion
// (bounded by the group's timeout); otherwise *out receives the work to wait on.
char *dx_allreduce(dx_group g, void **tensors, int n, int op, dx_work *out);
char *dx_broadcast(dx_group g, void **tensors, int n, int root, dx_work *out);
// Gathers in from every rank: outs[0..world) receive new torch::Tensor* of in's shape and
// dtype (the caller owns them), outs[r] holding rank r's.
char *dx_allgather(dx_group g, void *in, void **outs, int world);
// A new tensor: in summed over the ranks, differentiably (its backward sums the incoming
// gradient over the ranks), as torch.distributed.nn.functional.all_reduce. Blocks until done.
char *dx_allreduce_sum_autograd(dx_group g, void *in, void **out);
char *dx_barrier(dx_group g);
// c10d::broadcast_coalesced under NoGradGuard (what DDP's _sync_module_states calls).
char *dx_broadcast_coalesced(dx_group g, void **tensors, int n, int64_t buffer_bytes, int root);
// c10d::verify_params_across_processes: same number, shapes and dtypes on every rank.
char *dx_verify_params(dx_group g, void **tensors, int n);

// Averages the gradients of params over the group after backward (no overlap): gradients are
// packed into flat buckets of at most bucket_bytes per dtype, multiplied by 1/world (as the
// Reducer does), summed with one all-reduce per bucket (all in flight at once) and copied back.
char *dx_allreduce_grads(dx_group g, void **params, int n, int64_t bucket_bytes);

char *dx_work_wait(dx_work w, int64_t timeout_ms);  // timeout_ms <= 0: no extra bound
void dx_work_free(dx_work w);

// c10d::Reducer set up as DistributedDataParallel.__init__ does (buckets from
// compute_bucket_assignment_by_size, reversed).
char *dx_reducer_new(dx_group g, void **params, int n, int64_t bucket_bytes, int64_t first_bucket_bytes,
                     bool find_unused, dx_reducer *out);
// DDP's _pre_forward: prepare_for_forward and _rebuild_buckets; *rebuilt says whether it did.
char *dx_reducer_pre_forward(dx_reducer r, bool *rebuilt);
// DDP's _post_forward: prepare_for_backward(outputs) (outputs only matter with find_unused).
char *dx_reducer_post_forward(dx_reducer r, void **outputs, int n);
// Number of buckets and their sizes in elements (at most cap entries written).
int dx_reducer_buckets(dx_reducer r, int64_t *sizes, int cap);
void dx_reducer_free(dx_reducer r);

// Build facts.
bool dx_nccl_compiled(void);

#ifdef __cplusplus
}
#endif
