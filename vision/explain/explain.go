// Package explain computes Grad-CAM heatmaps of the zoo's models: which part of a fundus
// photograph the predicted (or any) grade's logit is most sensitive to, at the resolution of a
// model's last convolutional stage.
//
// GradCAM is pytorch_grad_cam.GradCAM (PyPI grad-cam 1.5.7) with one target layer per model
// (models.CAMTarget: ResNet's layer4, DenseNet's, EfficientNetV2's, ConvNeXt's and Swin's
// features[-1], ...): the gradient of the target logit at that layer, averaged over the
// layer's positions, weighs its channels; the ReLU of the weighted sum is scaled to [0, 1]
// (min-max), resized to the input with OpenCV's bilinear cv2.resize, and scaled again, as
// BaseCAM.compute_cam_per_layer and aggregate_multi_layers do. Overlay is grad-cam's
// show_cam_on_image(img, cam, use_rgb=True): OpenCV's COLORMAP_JET blended half and half with
// the image.
//
// The parity tests compare the heatmaps with the grad-cam package itself (testdata/gradcam_gen.py):
// committed goldens for shufflenet_small and for the NumPy and OpenCV steps, and live under
// `make parity` for a ResNet, a DenseNet, an EfficientNetV2, a ConvNeXt, a Swin, a ViT and a
// MobileNetV3 (docs/evaluation.md has the measured differences).
package explain

import (
	"errors"
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/vision/models"
)

// Map is a heatmap: H×W values, row-major.
type Map struct {
	H, W int
	Data []float32
}

// At is the value at column x, row y.
func (m Map) At(x, y int) float32 { return m.Data[y*m.W+x] }

// Result is one image's Grad-CAM.
type Result struct {
	// Map is the heatmap at the input's size, in [0, 1]: GradCAM's output for the image,
	// before any colouring.
	Map
	Pred   int       // the predicted grade: argmax of the logits
	Target int       // the grade explained: Pred unless asked otherwise
	Probs  []float32 // softmax of the logits
	Logit  float32   // the target grade's logit, whose gradient the map follows
	// Layer is the layer explained and CAMH×CAMW the size of its activation map (the
	// heatmap's real resolution before the resize to the input).
	Layer      models.CAMLayer
	CAMH, CAMW int
}

// TargetLayer describes the layer GradCAM explains for a registered model name, e.g.
// "layer4" or "features[-1] (NHWC, permuted to NCHW)"; an error for a model without one.
func TargetLayer(model string) (string, error) {
	l, err := models.CAMTarget(model)
	if err != nil {
		return "", err
	}
	return l.String(), nil
}

// GradCAM explains each image of the batch images [N, 3, H, W] (on m's device, transformed as
// for evaluation) for the grade targets[i], or for its predicted grade where targets is nil
// or targets[i] < 0. m runs in eval mode, its target layer's part under autograd (the score is
// the sum over the batch of logits[i, target_i], as grad-cam's ClassifierOutputTarget sums);
// its parameters' gradients are not touched. Call it on a locked OS thread (internal/locked),
// as every forward. images is borrowed.
func GradCAM(m models.Model, images *ts.Tensor, targets []int) ([]Result, error) {
	size, err := images.Size()
	if err != nil {
		return nil, err
	}
	if len(size) != 4 {
		return nil, fmt.Errorf("explain: want a batch of images [N, 3, H, W], got %v", size)
	}
	n, inH, inW := int(size[0]), int(size[2]), int(size[3])
	if targets != nil && len(targets) != n {
		return nil, fmt.Errorf("explain: %d targets for %d images", len(targets), n)
	}
	var s own.Scope
	defer s.Free()
	act, logits, layer, err := models.CAMForward(m, images)
	if err != nil {
		return nil, err
	}
	s.Add(act, logits)
	ls, err := logits.Size()
	if err != nil {
		return nil, err
	}
	if len(ls) != 2 || int(ls[0]) != n {
		return nil, fmt.Errorf("explain: model %s gave logits %v for %d images", m.Config().Name, ls, n)
	}
	classes := int(ls[1])
	lv, err := hostFloats(logits)
	if err != nil {
		return nil, err
	}
	res := make([]Result, n)
	onehot := make([]float32, n*classes)
	for i := range res {
		row := lv[i*classes : (i+1)*classes]
		r := &res[i]
		r.Layer = layer
		r.Probs = softmax(row)
		r.Pred = argmax(row)
		r.Target = r.Pred
		if targets != nil && targets[i] >= 0 {
			if targets[i] >= classes {
				return nil, fmt.Errorf("explain: target grade %d of image %d: the model has %d classes (0–%d)", targets[i], i, classes, classes-1)
			}
			r.Target = targets[i]
		}
		r.Logit = row[r.Target]
		onehot[i*classes+r.Target] = 1
	}
	dev, err := logits.Device()
	if err != nil {
		return nil, err
	}
	mask, err := s.Track(torchext.FromSliceTo(onehot, []int64{int64(n), int64(classes)}, dev))
	if err != nil {
		return nil, err
	}
	if mask.DType() != logits.DType() {
		if mask, err = s.Track(mask.Totype(logits.DType(), false)); err != nil {
			return nil, err
		}
	}
	picked, err := s.Track(logits.Mul(mask, false))
	if err != nil {
		return nil, err
	}
	score, err := s.Track(picked.Sum(logits.DType(), false))
	if err != nil {
		return nil, err
	}
	grads, err := ts.RunBackward([]*ts.Tensor{score}, []*ts.Tensor{act}, false, false)
	if err != nil {
		return nil, fmt.Errorf("explain: gradient at %s: %w", layer.Module, err)
	}
	s.Add(grads...)
	if len(grads) != 1 {
		return nil, fmt.Errorf("explain: %d gradients for one layer", len(grads))
	}
	a, g, shape, err := nchwFloats(layer, act, grads[0])
	if err != nil {
		return nil, err
	}
	if layer.ReLUInPlace { // the gradient at the module's output, before the ReLU
		for i, v := range a {
			if !(v > 0) {
				g[i] = 0
			}
		}
	}
	maps := camMaps(a, g, shape, inH, inW)
	for i := range res {
		res[i].Map, res[i].CAMH, res[i].CAMW = maps[i], shape[2], shape[3]
	}
	return res, nil
}

// camMaps turns the activations and gradients a, g [N, C, h, w] into heatmaps of inH×inW:
// per image camImage, then scale_cam_image with the resize to the input
// (compute_cam_per_layer), then aggregate_multi_layers for the one layer (a ReLU and a mean,
// no-ops here, and scale_cam_image again).
func camMaps(a, g []float32, shape []int, inH, inW int) []Map {
	n, c, h, w := shape[0], shape[1], shape[2], shape[3]
	maps := make([]Map, n)
	for i := range maps {
		off := i * c * h * w
		cam := camImage(a[off:off+c*h*w], g[off:off+c*h*w], c, h*w)
		maps[i] = Map{H: inH, W: inW, Data: scaleCAM(resizeLinear(scaleCAM(cam), h, w, inH, inW))}
	}
	return maps
}

// camImage is GradCAM.get_cam_weights and BaseCAM.get_cam_image for one image, then the
// ReLU of compute_cam_per_layer, in NumPy's float32 arithmetic and order: the channel weights
// are np.mean(grads, axis=(2, 3)) (a pairwise sum over the positions, divided by their count),
// the map (weights[:, :, None, None] * activations).sum(axis=1) (float32 products added
// channel after channel). The map is often a small difference of large terms (its range can
// be a thousandth of the terms' sum), so float64 here would differ from grad-cam by float32's
// rounding, amplified: 6e-5 of the heatmap on efficient_v2_small. a and g are [C, P].
func camImage(a, g []float32, c, p int) []float32 {
	cam := make([]float32, p)
	for ch := 0; ch < c; ch++ {
		wt := pairwiseSum32(g[ch*p:(ch+1)*p]) / float32(p)
		for j, v := range a[ch*p : (ch+1)*p] {
			cam[j] = float32(cam[j] + float32(wt*v))
		}
	}
	for j, v := range cam {
		cam[j] = max(v, 0)
	}
	return cam
}

// pairwiseSum32 is NumPy's pairwise_sum of float32 values (numpy/core/src/umath/loops_utils.h):
// a plain loop below 8 values, eight running sums up to 128 (combined as ((r0+r1)+(r2+r3)) +
// ((r4+r5)+(r6+r7)), then the rest added), halves (at a multiple of 8) above.
func pairwiseSum32(a []float32) float32 {
	n := len(a)
	switch {
	case n < 8:
		var s float32
		for _, v := range a {
			s = float32(s + v)
		}
		return s
	case n <= 128:
		var r [8]float32
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range r {
				r[j] = float32(r[j] + a[i+j])
			}
		}
		s := float32(float32(float32(r[0]+r[1])+float32(r[2]+r[3])) + float32(float32(r[4]+r[5])+float32(r[6]+r[7])))
		for ; i < n; i++ {
			s = float32(s + a[i])
		}
		return s
	default:
		n2 := n / 2
		n2 -= n2 % 8
		return float32(pairwiseSum32(a[:n2]) + pairwiseSum32(a[n2:]))
	}
}

// scaleCAM is grad-cam's scale_cam_image without a resize, in place: (x − min) / (1e-7 + max
// of that). aggregate_multi_layers applies it (after a ReLU and the mean over one layer, both
// no-ops on its input) to the resized map again.
func scaleCAM(x []float32) []float32 {
	if len(x) == 0 {
		return x
	}
	lo := x[0]
	for _, v := range x {
		lo = min(lo, v)
	}
	hi := float32(0)
	for i, v := range x {
		x[i] = max(v-lo, 0)
		hi = max(hi, x[i])
	}
	d := float32(1e-7 + float64(hi))
	for i := range x {
		x[i] /= d
	}
	return x
}

// nchwFloats copies the activation and its gradient to the host as float32 [N, C, H, W], the
// layer's reshape transform applied to both.
func nchwFloats(l models.CAMLayer, act, grad *ts.Tensor) (a, g []float32, shape []int, err error) {
	var s own.Scope
	defer s.Free()
	an, err := s.Track(l.NCHW(act))
	if err != nil {
		return nil, nil, nil, err
	}
	gn, err := s.Track(l.NCHW(grad))
	if err != nil {
		return nil, nil, nil, err
	}
	as, err := an.Size()
	if err != nil {
		return nil, nil, nil, err
	}
	for _, d := range as {
		shape = append(shape, int(d))
	}
	if a, err = hostFloats(an); err != nil {
		return nil, nil, nil, err
	}
	if g, err = hostFloats(gn); err != nil {
		return nil, nil, nil, err
	}
	if len(a) != len(g) {
		return nil, nil, nil, errors.New("explain: the gradient's shape is not the activation's")
	}
	return a, g, shape, nil
}

// hostFloats copies t (any device, layout or floating dtype) into a new []float32.
func hostFloats(t *ts.Tensor) ([]float32, error) {
	if t.DType() != gotch.Float {
		f, err := t.Totype(gotch.Float, false)
		if err != nil {
			return nil, err
		}
		defer f.MustDrop()
		t = f
	}
	out := make([]float32, t.Numel())
	if err := torchext.CopyTo(t, out); err != nil {
		return nil, err
	}
	return out, nil
}

func softmax(x []float32) []float32 {
	hi := math.Inf(-1)
	for _, v := range x {
		hi = math.Max(hi, float64(v))
	}
	sum := 0.0
	e := make([]float64, len(x))
	for i, v := range x {
		e[i] = math.Exp(float64(v) - hi)
		sum += e[i]
	}
	out := make([]float32, len(x))
	for i := range e {
		out[i] = float32(e[i] / sum)
	}
	return out
}

// argmax is np.argmax: the first index of the largest value.
func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
