package models

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/ts"
)

// Building blocks shared by the classic CNNs of the zoo (AlexNet, ZFNet, VGG, GoogLeNet,
// Xception, DenseNet, MobileNetV3, ShuffleNetV2). Each fuses a chain of PyTorch modules and
// frees every intermediate as soon as the next op has consumed it.
//
// PyTorch applies these networks' activations and residual sums in place. gotch v0.9.1's
// in-place methods (Relu_, Add_, ...) replace the tensor's C handle without freeing the old
// one, which keeps the whole storage alive: in a forward pass that leaks every activated
// tensor. The blocks therefore use the out-of-place op and drop its input at once (del=true):
// the same values, one transient extra buffer, nothing leaked.

// cnnKaimingFanIn is nn.init.kaiming_normal_ with its defaults (mode="fan_in",
// nonlinearity="leaky_relu", a=0, so gain √2): DenseNet's convolution initialisation.
func cnnKaimingFanIn(t *ts.Tensor) error {
	s, err := t.Size()
	if err != nil {
		return err
	}
	fanIn, _ := fans(s)
	return t.Normal_(0, math.Sqrt(2)/math.Sqrt(fanIn))
}

// cnnTruncNormal mirrors nn.init.trunc_normal_(mean, std, a, b): inverse-CDF sampling of a
// normal truncated to [a, b] (uniform draw, erfinv, scale, shift, clamp), GoogLeNet's init.
func cnnTruncNormal(mean, std, a, b float64) Init {
	cdf := func(x float64) float64 { return (1 + math.Erf(x/math.Sqrt2)) / 2 }
	lo, hi := cdf((a-mean)/std), cdf((b-mean)/std)
	return func(t *ts.Tensor) error {
		if err := t.Uniform_(2*lo-1, 2*hi-1); err != nil {
			return err
		}
		if err := t.Erfinv_(); err != nil {
			return err
		}
		scale, shift := ts.FloatScalar(std*math.Sqrt2), ts.FloatScalar(mean)
		minS, maxS := ts.FloatScalar(a), ts.FloatScalar(b)
		defer func() {
			for _, s := range []*ts.Scalar{scale, shift, minS, maxS} {
				s.MustDrop()
			}
		}()
		if err := t.MulScalar_(scale); err != nil {
			return err
		}
		if err := t.AddScalar_(shift); err != nil {
			return err
		}
		return t.Clamp_(minS, maxS)
	}
}

// cnnConv registers an nn.Conv2d whose bias (when o.NoBias is false) is initialised by binit
// (torchvision zeroes conv biases in VGG and MobileNetV3); nil inits mean nn.Conv2d's own
// reset_parameters. The weight is registered before the bias, as nn.Conv2d does.
func cnnConv(p Path, in, out, k int64, o ConvOpts, winit, binit Init) *Conv2d {
	withBias := !o.NoBias
	o.NoBias = true
	c := NewConv2d(p, in, out, k, o, winit)
	if withBias {
		if binit == nil {
			binit = BiasDefault(in / c.groups * k * k)
		}
		c.Bias = p.Param("bias", []int64{out}, binit)
	}
	return c
}

// cnnLinear registers an nn.Linear with the given weight and bias initialisations.
func cnnLinear(p Path, in, out int64, winit, binit Init) *Linear {
	return &Linear{
		Weight: p.Param("weight", []int64{out, in}, winit),
		Bias:   p.Param("bias", []int64{out}, binit),
	}
}

// cnnBN registers an nn.BatchNorm2d(c, eps, momentum).
func cnnBN(p Path, c int64, eps, momentum float64) *BatchNorm2d {
	b := NewBatchNorm2d(p, c)
	b.Eps, b.Momentum = eps, momentum
	return b
}

// cnnAct is the nonlinearity a block applies to its own output.
type cnnAct int

const (
	cnnActNone cnnAct = iota
	cnnActReLU
	cnnActHardswish
)

// apply is nn.ReLU / nn.Hardswish on t, which it consumes (t is freed, even on error).
func (a cnnAct) apply(t *ts.Tensor) (*ts.Tensor, error) {
	switch a {
	case cnnActReLU:
		return t.Relu(true)
	case cnnActHardswish:
		return t.Hardswish(true)
	}
	return t, nil
}

// cnnUnit is one or more convolutions followed by an optional BatchNorm and an activation:
// torchvision's Conv2dNormActivation and GoogLeNet's BasicConv2d, timm's SeparableConv2d
// (depthwise then pointwise) + BatchNorm, and the conv+ReLU pairs of AlexNet and VGG.
type cnnUnit struct {
	convs []*Conv2d
	bn    *BatchNorm2d // nil: no normalisation
	act   cnnAct
}

// ForwardT runs the chain, freeing every intermediate.
func (u *cnnUnit) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	cur := x
	drop := func() {
		if cur != x {
			cur.MustDrop()
		}
	}
	for _, c := range u.convs {
		next, err := c.ForwardT(cur, train)
		drop()
		if err != nil {
			return nil, err
		}
		cur = next
	}
	if u.bn != nil {
		next, err := u.bn.ForwardT(cur, train)
		drop()
		if err != nil {
			return nil, err
		}
		cur = next
	}
	if cur == x {
		return nil, fmt.Errorf("models: a conv block without convolution or norm")
	}
	return u.act.apply(cur)
}

// cnnSum is main(x) + skip(x) with skip nil meaning the identity: timm Xception's Block
// (`x += skip`) and torchvision MobileNetV3's InvertedResidual (`result += input`).
type cnnSum struct {
	main Layer
	skip Layer // nil: identity
}

// ForwardT computes main(x) + skip(x).
func (s *cnnSum) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	out, err := s.main.ForwardT(x, train)
	if err != nil {
		return nil, err
	}
	identity := x
	if s.skip != nil {
		if identity, err = s.skip.ForwardT(x, train); err != nil {
			out.MustDrop()
			return nil, err
		}
		defer identity.MustDrop()
	}
	return out.Add(identity, true)
}

// cnnConcat runs every branch on the same input and concatenates the results along
// the channel dimension (GoogLeNet's Inception.forward: torch.cat(outputs, 1)).
type cnnConcat []Layer

// ForwardT is torch.cat([b(x) for b in branches], 1).
func (c cnnConcat) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	outs := make([]*ts.Tensor, 0, len(c))
	defer func() {
		for _, o := range outs {
			o.MustDrop()
		}
	}()
	for _, b := range c {
		o, err := b.ForwardT(x, train)
		if err != nil {
			return nil, err
		}
		outs = append(outs, o)
	}
	return ts.Cat(outs, 1)
}

// cnnGlobalPool is F.adaptive_avg_pool2d(x, 1) followed by torch.flatten(x, 1), the head of
// most zoo CNNs, in one layer so the pooled [N, C, 1, 1] tensor is freed at once.
var cnnGlobalPool = LayerFunc(func(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
	p, err := x.AdaptiveAvgPool2d([]int64{1, 1}, false)
	if err != nil {
		return nil, err
	}
	return p.Flatten(1, -1, true)
})

// cnnWithAct applies an activation to l's output: an nn.Linear/nn.BatchNorm2d followed by
// nn.ReLU(inplace=True) or nn.Hardswish(inplace=True), or DenseNet's
// `F.relu(features, inplace=True)` after norm5.
func cnnWithAct(l Layer, a cnnAct) Layer {
	return LayerFunc(func(x *ts.Tensor, train bool) (*ts.Tensor, error) {
		y, err := l.ForwardT(x, train)
		if err != nil {
			return nil, err
		}
		return a.apply(y)
	})
}

// cnnFlattenExpecting is torch.flatten(x, 1) for a network without an adaptive pool (ZFNet): an
// input that does not give the feature map the first Linear layer was sized for fails with a
// message naming the input size the network needs, not a matrix-shape error.
func cnnFlattenExpecting(model string, c, h, w int64, input string) Layer {
	return LayerFunc(func(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
		s, err := x.Size()
		if err != nil {
			return nil, err
		}
		if len(s) != 4 || s[1] != c || s[2] != h || s[3] != w {
			return nil, fmt.Errorf("model %s: its classifier needs a [N, %d, %d, %d] feature map (a %s input), got %s", model, c, h, w, input, describeShape(s))
		}
		return x.Flatten(1, -1, false)
	})
}
