package models

import (
	"fmt"
	"math"
	"strings"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
	"github.com/drgrade/drgrade/internal/torchext"
)

// Grad-CAM support (vision/explain): each zoo model cut at the layer pytorch_grad_cam's
// GradCAM is usually pointed at, the last convolutional stage, so that the activation and its
// gradient are those the grad-cam package's forward hook sees on the torchvision model.

// Activation layouts of a CAM layer's output.
const (
	LayoutNCHW   = "NCHW"   // [N, C, H, W]: convolutional stages
	LayoutNHWC   = "NHWC"   // [N, H, W, C]: torchvision's Swin stages
	LayoutTokens = "tokens" // [N, 1+h·w, D]: ViT's tokens, class token first, on an h×w grid
)

// CAMLayer is the layer Grad-CAM explains by default for a model.
type CAMLayer struct {
	// Module is the layer's path in the PyTorch model (torchvision's, timm's for xception), as
	// target_layers=[model.<Module>] names it for pytorch_grad_cam.
	Module string
	// Layout is how the layer's output is laid out (LayoutNCHW, LayoutNHWC or LayoutTokens).
	// NCHW returns it as Grad-CAM reads it: LayoutNHWC is permuted (grad-cam's
	// swinT_reshape_transform without its reshape from tokens, which torchvision's Swin has
	// already done), LayoutTokens loses its class token and is reshaped to its h×w grid
	// (grad-cam's vit_reshape_transform).
	Layout string
	// ReLUInPlace: the PyTorch forward applies an in-place ReLU to the module's output
	// (DenseNet's F.relu(features, inplace=True) after norm5). On the CPU the grad-cam package
	// then reads the activation after that ReLU (its hook keeps a view of the tensor the ReLU
	// overwrites) and the gradient at the module's output, before the ReLU: zero where the
	// ReLU cut. CAMForward returns the activation after the ReLU; the gradient it is
	// differentiated against must be masked where that activation is not positive (MaskGrad).
	ReLUInPlace bool
}

// String describes the layer, e.g. "features[-1] (NHWC, permuted to NCHW)".
func (l CAMLayer) String() string {
	var notes []string
	switch l.Layout {
	case LayoutNHWC:
		notes = append(notes, "NHWC, permuted to NCHW")
	case LayoutTokens:
		notes = append(notes, "tokens without the class token, reshaped to their grid")
	}
	if l.ReLUInPlace {
		notes = append(notes, "after the in-place ReLU that follows it")
	}
	if len(notes) == 0 {
		return l.Module
	}
	return l.Module + " (" + strings.Join(notes, "; ") + ")"
}

// camSpec is where a zoo family's CAM layer sits in its body: tail is the number of body
// layers after it (the pooling and classifier), counted from the end of the Sequential that
// finish() was given; vit marks ViT, whose body is not a Sequential.
type camSpec struct {
	layer CAMLayer
	tail  int
	vit   bool
}

// camSpecs maps a zoo architecture (Config.Arch) prefix to its CAM layer. The tails count the
// layers each constructor appends after the layer; cam_test.go in vision/explain checks the
// activation's shape for every family, so a change of a constructor's head shows there.
var camSpecs = []struct {
	arch string // Config.Arch prefix
	spec camSpec
}{
	// layer4: AdaptiveAvgPool2d, Flatten, fc
	{"resnet", camSpec{layer: CAMLayer{Module: "layer4", Layout: LayoutNCHW}, tail: 3}},
	{"resnext", camSpec{layer: CAMLayer{Module: "layer4", Layout: LayoutNCHW}, tail: 3}},
	// features[-1] is norm5; norm5+ReLU, then global pool, classifier
	{"densenet", camSpec{layer: CAMLayer{Module: "features[-1]", Layout: LayoutNCHW, ReLUInPlace: true}, tail: 2}},
	// features[-1] (the 1×1 Conv2dNormActivation): AdaptiveAvgPool2d, Flatten, Dropout, Linear
	{"efficientnet_v2", camSpec{layer: CAMLayer{Module: "features[-1]", Layout: LayoutNCHW}, tail: 4}},
	// features[-1] (the last stage): AdaptiveAvgPool2d, LayerNorm2d, Flatten, Linear
	{"convnext", camSpec{layer: CAMLayer{Module: "features[-1]", Layout: LayoutNCHW}, tail: 4}},
	// features[-1] (the last stage, NHWC): norm, permute, AdaptiveAvgPool2d, Flatten, head
	{"swin", camSpec{layer: CAMLayer{Module: "features[-1]", Layout: LayoutNHWC}, tail: 5}},
	// ln_1 of the last encoder block, as grad-cam's ViT example (blocks[-1].norm1 in timm)
	{"vit", camSpec{layer: CAMLayer{Module: "encoder.layers[-1].ln_1", Layout: LayoutTokens}, vit: true}},
	// features[-1] (the last MaxPool2d): AdaptiveAvgPool2d(6), Flatten, 5 classifier layers
	{"alexnet", camSpec{layer: CAMLayer{Module: "features[-1]", Layout: LayoutNCHW}, tail: 7}},
	// features[-1]: the size check and flatten, 5 classifier layers
	{"zfnet", camSpec{layer: CAMLayer{Module: "features[-1]", Layout: LayoutNCHW}, tail: 6}},
	// features[-1]: AdaptiveAvgPool2d(7), Flatten, 5 classifier layers
	{"vgg", camSpec{layer: CAMLayer{Module: "features[-1]", Layout: LayoutNCHW}, tail: 7}},
	// inception5b: global pool, Dropout, fc
	{"googlenet", camSpec{layer: CAMLayer{Module: "inception5b", Layout: LayoutNCHW}, tail: 3}},
	// act4 (conv4, bn4, act4): global pool, fc
	{"legacy_xception", camSpec{layer: CAMLayer{Module: "act4", Layout: LayoutNCHW}, tail: 2}},
	// features[-1]: global pool, Linear+Hardswish, Dropout, Linear
	{"mobilenet_v3", camSpec{layer: CAMLayer{Module: "features[-1]", Layout: LayoutNCHW}, tail: 4}},
	// conv5: mean over H, W, fc
	{"shufflenet_v2", camSpec{layer: CAMLayer{Module: "conv5", Layout: LayoutNCHW}, tail: 2}},
}

// camSpecOf returns the CAM layer of a registered model name.
func camSpecOf(name string) (camSpec, error) {
	r, ok := registered.Get(name)
	if !ok {
		return camSpec{}, unknownModel(name)
	}
	if r.zoo {
		for _, s := range camSpecs {
			if strings.HasPrefix(r.cfg.Arch, s.arch) {
				return s.spec, nil
			}
		}
	}
	return camSpec{}, fmt.Errorf("explain: no Grad-CAM layer for %s (%s): only the zoo's models have a default target layer", name, r.cfg.Arch)
}

// CAMTarget returns the layer Grad-CAM explains for the registered model name, or an error
// for a model without one (a model registered outside the zoo).
func CAMTarget(name string) (CAMLayer, error) {
	s, err := camSpecOf(name)
	return s.layer, err
}

// CAMForward runs m on x in eval mode, cut at its CAM layer: act is that layer's output (in
// the layer's Layout) as a leaf tensor that requires grad, computed without autograd, and
// logits the rest of the forward from act, recorded by autograd, so that
// ts.RunBackward([score], [act]) gives the gradient pytorch_grad_cam's hook sees. Autograd
// is switched on for the second part whatever the thread's grad mode, and restored; call it
// on a locked OS thread (internal/locked) as every forward. The caller drops act and logits
// (the autograd graph goes with them).
func CAMForward(m Model, x *ts.Tensor) (act, logits *ts.Tensor, layer CAMLayer, err error) {
	spec, err := camSpecOf(m.Config().Name)
	if err != nil {
		return nil, nil, layer, err
	}
	layer = spec.layer
	b, ok := m.(*base)
	if !ok {
		return nil, nil, layer, fmt.Errorf("explain: model %s is not built by this package's registry", m.Config().Name)
	}
	var head Layer
	var front Layer
	switch body := b.body.(type) {
	case Sequential:
		k := len(body) - spec.tail
		if spec.vit || k < 1 {
			return nil, nil, layer, fmt.Errorf("explain: model %s: its layers do not match its Grad-CAM layer %s", b.cfg.Name, layer.Module)
		}
		front, head = body[:k], body[k:]
	case *vit:
		if !spec.vit {
			return nil, nil, layer, fmt.Errorf("explain: model %s: its layers do not match its Grad-CAM layer %s", b.cfg.Name, layer.Module)
		}
		var residual *ts.Tensor // the last block's input, a constant of the head
		defer func() {
			if residual != nil {
				residual.MustDrop()
			}
		}()
		front = LayerFunc(func(x *ts.Tensor, train bool) (*ts.Tensor, error) {
			var a *ts.Tensor
			var err error
			residual, a, err = body.camFront(x, train)
			return a, err
		})
		head = LayerFunc(func(a *ts.Tensor, train bool) (*ts.Tensor, error) {
			return body.camHead(residual, a, train)
		})
	default:
		return nil, nil, layer, fmt.Errorf("explain: model %s has no Grad-CAM layer", b.cfg.Name)
	}
	prev := torchext.GradEnabled()
	defer torchext.SetGradEnabled(prev)
	torchext.SetGradEnabled(false)
	// The input checks of base.ForwardT, on the part up to the layer.
	a, err := (&base{sd: b.sd, cfg: b.cfg, body: front}).ForwardT(x, false)
	if err != nil {
		return nil, nil, layer, err
	}
	defer a.MustDrop()
	if err := checkCAMShape(b.cfg.Name, layer, a); err != nil {
		return nil, nil, layer, err
	}
	if act, err = a.SetRequiresGrad(true, false); err != nil {
		return nil, nil, layer, err
	}
	torchext.SetGradEnabled(true)
	if logits, err = head.ForwardT(act, false); err != nil {
		act.MustDrop()
		return nil, nil, layer, err
	}
	return act, logits, layer, nil
}

// checkCAMShape refuses an activation whose rank does not fit the layout.
func checkCAMShape(name string, l CAMLayer, a *ts.Tensor) error {
	s, err := a.Size()
	if err != nil {
		return err
	}
	want := 4
	if l.Layout == LayoutTokens {
		want = 3
	}
	if len(s) != want {
		return fmt.Errorf("explain: model %s: layer %s gave %s, not a %s activation", name, l.Module, describeShape(s), l.Layout)
	}
	return nil
}

// NCHW returns t, an activation or gradient of the layer, as [N, C, H, W] (a new tensor, the
// caller's): the reshape transform grad-cam applies to both.
func (l CAMLayer) NCHW(t *ts.Tensor) (*ts.Tensor, error) {
	s, err := t.Size()
	if err != nil {
		return nil, err
	}
	switch l.Layout {
	case LayoutNCHW:
		if len(s) != 4 {
			return nil, fmt.Errorf("explain: layer %s: want [N, C, H, W], got %s", l.Module, describeShape(s))
		}
		return t.ShallowClone()
	case LayoutNHWC:
		if len(s) != 4 {
			return nil, fmt.Errorf("explain: layer %s: want [N, H, W, C], got %s", l.Module, describeShape(s))
		}
		return t.Permute([]int64{0, 3, 1, 2}, false)
	case LayoutTokens:
		g := int64(math.Round(math.Sqrt(float64(s[1] - 1))))
		if len(s) != 3 || g*g != s[1]-1 {
			return nil, fmt.Errorf("explain: layer %s: want [N, 1+g·g, D] tokens, got %s", l.Module, describeShape(s))
		}
		var sc own.Scope
		defer sc.Free()
		r, err := sc.Track(t.Slice(1, []int64{1}, []int64{s[1]}, 1, false))
		if err != nil {
			return nil, err
		}
		if r, err = sc.Track(r.Reshape([]int64{s[0], g, g, s[2]}, false)); err != nil {
			return nil, err
		}
		return r.Permute([]int64{0, 3, 1, 2}, false)
	}
	return nil, fmt.Errorf("explain: layer %s: unknown layout %q", l.Module, l.Layout)
}

// camFront is VisionTransformer.forward up to the last encoder block's ln_1: it returns that
// block's input (the residual the head adds back) and ln_1's output.
func (v *vit) camFront(x *ts.Tensor, train bool) (residual, a *ts.Tensor, err error) {
	last, ok := v.blocks[len(v.blocks)-1].(*vitBlock)
	if !ok {
		return nil, nil, fmt.Errorf("explain: the last ViT encoder block is a %T", v.blocks[len(v.blocks)-1])
	}
	c := own.NewChain(x)
	defer c.Free()
	if err := c.Next(Sequential{LayerFunc(v.embed), v.blocks[:len(v.blocks)-1]}.ForwardT(x, train)); err != nil {
		return nil, nil, err
	}
	if a, err = last.ln1.ForwardT(c.Cur(), train); err != nil {
		return nil, nil, err
	}
	residual, err = c.Result()
	if err != nil {
		a.MustDrop()
		return nil, nil, err
	}
	return residual, a, nil
}

// camHead is the rest of VisionTransformer.forward from the last block's ln_1 output a:
// x = residual + attention(a); x + mlp(ln_2(x)); ln; the class token; the head.
func (v *vit) camHead(residual, a *ts.Tensor, train bool) (*ts.Tensor, error) {
	last := v.blocks[len(v.blocks)-1].(*vitBlock)
	var s own.Scope
	defer s.Free()
	y, err := s.Track(last.attn.ForwardT(a, train))
	if err != nil {
		return nil, err
	}
	h, err := s.Track(y.Add(residual, false))
	if err != nil {
		return nil, err
	}
	if y, err = s.Track(last.ln2.ForwardT(h, train)); err != nil {
		return nil, err
	}
	if y, err = s.Track(last.mlp.ForwardT(y, train)); err != nil {
		return nil, err
	}
	if h, err = s.Track(h.Add(y, false)); err != nil {
		return nil, err
	}
	if h, err = s.Track(v.ln.ForwardT(h, train)); err != nil {
		return nil, err
	}
	if h, err = s.Track(vitClassToken(h, train)); err != nil {
		return nil, err
	}
	return v.head.ForwardT(h, train)
}
