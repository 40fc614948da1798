// Package vision groups drgrade's image side, one sub-package per stage of the data flow:
// imageio (decoding to RGB as PIL's convert('RGB')), transforms (torchvision semantics),
// dataset (label files), preprocess (the field's fundus preprocessing), loader (parallel,
// deterministic batching), mixup (timm's Mixup/CutMix on a batch), synth (synthetic fundus
// data), explain (Grad-CAM) and models (the zoo and state_dict I/O).
//
// Everything up to the loader (imageio, transforms, preprocess, dataset, loader, mixup, synth)
// makes no tensors
// and does not link libtorch or gotch: batches are Go slices. It is not all Go: in the default
// (cgo) build, imageio decodes JPEGs with libjpeg-turbo and transforms runs Pillow's resampling
// pass in C, both through internal/imagec, which links libjpeg-turbo and libc only; with
// -tags purego (or CGO_ENABLED=0) they are plain Go. TestImageSideLinksNoLibtorch checks the
// import graph. Tensors, and libtorch, start in models.
package vision
