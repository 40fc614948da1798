package models

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
)

// Building blocks shared by the classic CNNs of the zoo (AlexNet, ZFNet, VGG, GoogLeNet,
// Xception, DenseNet, MobileNetV3, ShuffleNetV2, ResNet). Each fuses a chain of PyTorch modules
// and frees every intermediate as soon as the next op has consumed it (docs/ownership.md).
// Activations and residual sums are applied in place, as PyTorch's nn.ReLU(inplace=True) and
// `out += identity` do, on the new tensor a convolution, BatchNorm or Linear layer just made.

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
		if err := t.MulScalar_(ts.FloatScalar(std * math.Sqrt2)); err != nil {
			return err
		}
		if err := t.AddScalar_(ts.FloatScalar(mean)); err != nil {
			return err
		}
		return t.Clamp_(ts.FloatScalar(a), ts.FloatScalar(b))
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

// apply is nn.ReLU(inplace=True) / nn.Hardswish(inplace=True) on t, in place: t must be a new
// tensor its caller owns (the output of a convolution, BatchNorm or Linear layer, whose
// backward does not read it).
func (a cnnAct) apply(t *ts.Tensor) error {
	switch a {
	case cnnActReLU:
		return t.Relu_()
	case cnnActHardswish:
		return t.Hardswish_()
	}
	return nil
}

// withAct returns the last stage of c with a applied to it in place.
func (a cnnAct) withAct(c *own.Chain) (*ts.Tensor, error) {
	if err := a.apply(c.Cur()); err != nil {
		return nil, err
	}
	return c.Result()
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
	if len(u.convs) == 0 && u.bn == nil {
		return nil, fmt.Errorf("models: a conv block without convolution or norm")
	}
	c := own.NewChain(x)
	defer c.Free()
	for _, conv := range u.convs {
		if err := c.Next(conv.ForwardT(c.Cur(), train)); err != nil {
			return nil, err
		}
	}
	if u.bn != nil {
		if err := c.Next(u.bn.ForwardT(c.Cur(), train)); err != nil {
			return nil, err
		}
	}
	return u.act.withAct(c)
}

// cnnSum is act(main(x) + skip(x)) with skip nil meaning the identity: torchvision ResNet's
// BasicBlock/Bottleneck (`out += identity; out = relu(out)`), timm Xception's Block
// (`x += skip`) and torchvision MobileNetV3's InvertedResidual (`result += input`). The sum is
// taken in place on main's output, which must be a new tensor (main ends in a BatchNorm or a
// pool).
type cnnSum struct {
	main Layer
	skip Layer // nil: identity
	act  cnnAct
}

// ForwardT computes act(main(x) + skip(x)).
func (b *cnnSum) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	c := own.NewChain(x)
	defer c.Free()
	if err := c.Next(b.main.ForwardT(x, train)); err != nil {
		return nil, err
	}
	var s own.Scope
	defer s.Free()
	identity := x
	if b.skip != nil {
		var err error
		if identity, err = s.Track(b.skip.ForwardT(x, train)); err != nil {
			return nil, err
		}
	}
	if err := c.Cur().Add_(identity); err != nil {
		return nil, err
	}
	return b.act.withAct(c)
}

// cnnConcat runs every branch on the same input and concatenates the results along
// the channel dimension (GoogLeNet's Inception.forward: torch.cat(outputs, 1)).
type cnnConcat []Layer

// ForwardT is torch.cat([b(x) for b in branches], 1).
func (c cnnConcat) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	var s own.Scope
	defer s.Free()
	outs := make([]*ts.Tensor, 0, len(c))
	for _, b := range c {
		o, err := s.Track(b.ForwardT(x, train))
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
	defer p.MustDrop()
	return p.Flatten(1, -1, false)
})

// cnnWithAct applies an activation to l's output, in place: an nn.Linear/nn.BatchNorm2d
// followed by nn.ReLU(inplace=True) or nn.Hardswish(inplace=True), or DenseNet's
// `F.relu(features, inplace=True)` after norm5.
func cnnWithAct(l Layer, a cnnAct) Layer {
	return LayerFunc(func(x *ts.Tensor, train bool) (*ts.Tensor, error) {
		c := own.NewChain(x)
		defer c.Free()
		if err := c.Next(l.ForwardT(x, train)); err != nil {
			return nil, err
		}
		return a.withAct(c)
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
