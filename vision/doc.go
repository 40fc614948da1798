// Package vision groups drgrade's image side, one sub-package per stage of the data flow:
// imageio (decoding to RGB as PIL's convert('RGB')), transforms (torchvision semantics),
// dataset (label files), loader (parallel, deterministic batching), synth (synthetic fundus
// data) and models (the zoo and state_dict I/O).
//
// Everything up to the loader is plain Go: no tensors, no cgo. Tensors start in models.
package vision
