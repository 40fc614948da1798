// Package loader batches a data set for training and evaluation the way torch's DataLoader
// does for the script (batch_size, shuffle, num_workers, last partial batch kept), in plain Go:
// worker goroutines decode and transform whole batches, a bounded number run ahead of the
// consumer, and batches are delivered in order as NCHW float32 buffers with int64 labels.
//
// Determinism: a sample's augmentation depends only on (seed, epoch, index), and the epoch's
// order only on (seed, epoch); never on the number of workers or on scheduling. With
// Options.Shard (data-parallel training) the order is torch's DistributedSampler's: a
// torch.randperm seeded with seed+epoch, padded and strided over the ranks.
//
// Ownership and threading: a Batch's buffers belong to the consumer until it calls Release,
// which recycles them. No tensors are created here; the trainer copies a batch into a tensor
// on its own locked goroutine. Iter.Close stops every goroutine the iterator started.
package loader
