// Package ddp is data-parallel training on PyTorch's own distributed engine (c10d, through
// internal/torchext/dist), with DistributedDataParallel's semantics:
//
//   - Launch: the environment torchrun gives each worker (RANK, WORLD_SIZE, LOCAL_RANK,
//     MASTER_ADDR, MASTER_PORT; FromOS), so `torchrun --no-python --nproc_per_node 2 drgrade
//     train ...` works; Launch is drgrade's own launcher for --nproc_per_node. Several machines
//     run the same environment on each node (torchrun --nnodes N --node_rank R --master_addr
//     HOST0 ...).
//   - Init is init_process_group("gloo", "env://"): a c10d TCPStore on rank 0 (or torchrun's
//     agent store) and a ProcessGroupGloo; NCCL in CUDA builds.
//   - Wrap is DistributedDataParallel(model): parameters and buffers broadcast from rank 0,
//     and each step's gradients averaged over the ranks by c10d::Reducer (bucketed, all-reduce
//     overlapping backward) or, with DelayAllReduce, by bucketed all-reduces after backward.
//   - The data: vision/loader's Shard is torch's DistributedSampler (a disjoint shard per rank,
//     padded, reshuffled from seed+epoch); GatherPredictions and SumFloat64s give metrics over
//     all ranks; IsMain picks the one process that prints, logs and saves.
//   - Faults: every rendezvous and collective is bounded by Options.Timeout (torch's 30 minutes
//     by default); a rank that died fails the others' next collective at once (its connections
//     close), one that hangs fails them after the timeout, and a port in use fails rank 0's
//     rendezvous; all with errors that name the rank and the cause.
//
// Threading: a Process's collectives must be called in the same order on every rank, from the
// goroutine that does the run's tensor work (locked to its OS thread, as the trainer's is).
//
// Ownership: tensors passed in are borrowed; nothing returned is a tensor.
package ddp
