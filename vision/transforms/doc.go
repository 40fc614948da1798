// Package transforms reimplements the torchvision 0.16 transforms that drgrade's training and
// validation pipelines use, with the semantics they have on PIL images (Pillow's fixed-point
// resampling, nearest-neighbour affine rotation, ImageEnhance blends, PIL's HSV conversion),
// so that pure-Go preprocessing produces the same pixels as the PyTorch reference.
//
// Functional forms (Resize, CenterCrop, Crop, ResizedCrop, HorizontalFlip, Rotate,
// AdjustBrightness/Contrast/Saturation/Hue, ToTensor, Normalize) take explicit parameters and
// are deterministic. Random forms (RandomResizedCrop, RandomHorizontalFlip, RandomRotation,
// ColorJitter) draw their parameters with torchvision's distributions and retry rules from a
// caller-supplied Rand and expose the drawn parameters (Params methods), so a caller can
// replay them through the functional forms. Parity of the random forms with torchvision is by
// distribution, not by reproducing torch's random stream.
//
// The pixel reference is Pillow 13 (the reference venv's), whose resize runs the vertical pass
// first when the height shrinks by more than twice as many pixels as the width; older Pillow
// always ran the horizontal pass first, which can differ by 1 in some pixels.
//
// Extending: a custom step is any Transform; Func adapts a deterministic image function and
// RandFunc a random one (which must draw only from the Rand it is given, so it stays
// reproducible). Pipeline.Append adds steps before ToTensor + Normalize (docs/extending.md).
// A custom step must not modify its input image, for the reason below.
//
// Decoding less: a step that reads only part of its input implements Windowed (RandomResizedCrop
// and ResizeCenterCropStep do); Pipeline.RunSource then draws the first step's parameters
// from the image size, has the Source (imageio.Encoded) decode only that window, and finishes
// the step from it, with the same pixels, tensors and random draws as Run on the full decode.
//
// Ownership and threading: no function or transform modifies its input image; the functional
// forms always allocate their result, while a Transform that leaves an image unchanged (a
// RandomHorizontalFlip that does not flip) returns its input, as torchvision does. Images may
// therefore be shared read-only between goroutines. Transform values (Compose,
// steps, Pipeline) hold only configuration and are safe for concurrent use; the Rand passed in
// is not, so give each goroutine its own (NewRand).
package transforms
