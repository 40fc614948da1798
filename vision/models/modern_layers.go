package models

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
)

// Building blocks shared by the EfficientNetV2, ConvNeXt, ViT and Swin families.

// LayerNorm is nn.LayerNorm over the last dimension (weight 1, bias 0 initially).
type LayerNorm struct {
	Weight, Bias *ts.Tensor
	Eps          float64
	dim          int64
}

// NewLayerNorm registers a LayerNorm over dim features with the given eps.
func NewLayerNorm(p Path, dim int64, eps float64) *LayerNorm {
	return &LayerNorm{
		Weight: p.Param("weight", []int64{dim}, Ones),
		Bias:   p.Param("bias", []int64{dim}, Zeros),
		Eps:    eps,
		dim:    dim,
	}
}

// ForwardT is F.layer_norm over the last dimension.
func (l *LayerNorm) ForwardT(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
	y, err := ts.LayerNorm(x, []int64{l.dim}, l.Weight, l.Bias, l.Eps, true)
	if err != nil {
		return nil, fmt.Errorf("layer_norm over %d features on input %s: %w", l.dim, describeShape(x.MustSize()), err)
	}
	return y, nil
}

// layerNorm2d mirrors torchvision.models.convnext.LayerNorm2d: a LayerNorm over the channels
// of an NCHW tensor, computed channels-last (permute, layer_norm, permute back).
type layerNorm2d struct{ ln *LayerNorm }

func (l layerNorm2d) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	var s own.Scope
	defer s.Free()
	nhwc, err := s.Track(x.Permute([]int64{0, 2, 3, 1}, false))
	if err != nil {
		return nil, err
	}
	y, err := s.Track(l.ln.ForwardT(nhwc, train))
	if err != nil {
		return nil, err
	}
	return y.Permute([]int64{0, 3, 1, 2}, false) // the caller's
}

// permuteLayer is torchvision.ops.misc.Permute.
func permuteLayer(dims ...int64) Layer {
	return LayerFunc(func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Permute(dims, false) })
}

// geluLayer is nn.GELU() (the exact, erf form).
var geluLayer = LayerFunc(func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Gelu("none", false) })

// siluLayer is nn.SiLU.
var siluLayer = LayerFunc(func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Silu(false) })

// stochasticDepth mirrors torchvision.ops.stochastic_depth(x, p, "row", train): in training
// each sample's residual branch is zeroed with probability p and the survivors are scaled by
// 1/(1-p), drawing the mask exactly as torchvision does (empty + bernoulli_ + div_) so a seeded
// run draws the same masks as PyTorch. Outside training, or with p = 0, x passes through.
// The result is a new tensor handle the caller owns.
func stochasticDepth(x *ts.Tensor, p float64, train bool) (*ts.Tensor, error) {
	if !train || p == 0 {
		return x.ShallowClone()
	}
	if p < 0 || p > 1 {
		return nil, fmt.Errorf("drop probability has to be between 0 and 1, but got %g", p)
	}
	size, err := x.Size()
	if err != nil {
		return nil, err
	}
	shape := make([]int64, len(size))
	for i := range shape {
		shape[i] = 1
	}
	shape[0] = size[0]
	dev, err := x.Device()
	if err != nil {
		return nil, err
	}
	noise, err := ts.Empty(shape, x.DType(), dev)
	if err != nil {
		return nil, err
	}
	defer noise.MustDrop()
	survival := 1 - p
	if err := noise.BernoulliFloat_(survival); err != nil {
		return nil, err
	}
	if survival > 0 {
		if err := noise.DivScalar_(ts.FloatScalar(survival)); err != nil {
			return nil, err
		}
	}
	return x.Mul(noise, false)
}

// residualAdd returns input + stochastic_depth(branch): the residual connection of
// MBConv, CNBlock and the Swin block.
func residualAdd(branch, input *ts.Tensor, p float64, train bool) (*ts.Tensor, error) {
	d, err := stochasticDepth(branch, p, train)
	if err != nil {
		return nil, err
	}
	defer d.MustDrop()
	return d.Add(input, false)
}

// xavierUniform is nn.init.xavier_uniform_ (gain 1).
func xavierUniform(t *ts.Tensor) error {
	fanIn, fanOut := fans(t.MustSize())
	a := math.Sqrt(6 / (fanIn + fanOut))
	return t.Uniform_(-a, a)
}

// constant is nn.init.constant_(v).
func constant(v float64) Init {
	return func(t *ts.Tensor) error { return t.Fill_(ts.FloatScalar(v)) }
}

// newLinearInit registers an nn.Linear (bias optional) with explicit initialisers.
func newLinearInit(p Path, in, out int64, bias bool, winit, binit Init) *Linear {
	l := &Linear{Weight: p.Param("weight", []int64{out, in}, winit)}
	if bias {
		l.Bias = p.Param("bias", []int64{out}, binit)
	} else {
		l.Bias = undefinedTensor()
	}
	p.sd.linears[p.prefix] = l
	return l
}

// modConv registers an nn.Conv2d (in → out channels, k×k) with explicit initialisers for
// the weight and, unless o.NoBias, the bias.
func modConv(p Path, in, out, k int64, o ConvOpts, winit, binit Init) *Conv2d {
	bias := o.NoBias
	o.NoBias = true
	c := NewConv2d(p, in, out, k, o, winit)
	if !bias {
		c.Bias = p.Param("bias", []int64{out}, binit)
	}
	return c
}
