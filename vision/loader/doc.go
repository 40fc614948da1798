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
// Decoding: each worker reads its files into a buffer of its own (imageio.Encoded) and runs
// the pipeline with Pipeline.RunSource, so a large JPEG is decoded only around the window the
// first step reads (a random crop, or what survives the validation resize + centre crop); the
// tensors are exactly those of a full decode. Data below that window is not read, which is
// why trainer.Preflight (--check_images) decodes every image in full before training.
//
// Ownership and threading: a Batch's buffers belong to the consumer until it calls Release,
// which recycles them. No tensors are created here; the trainer copies a batch into a tensor
// on its own locked goroutine. Iter.Close stops every goroutine the iterator started.
package loader
