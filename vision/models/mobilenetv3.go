package models

import (
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
)

// MobileNetV3, mirroring torchvision.models.MobileNetV3 (width 1.0, no reduced tail, no
// dilation): BatchNorm eps 0.001 momentum 0.01, Hardswish/ReLU per Tables 1–2 of the paper,
// squeeze-excitation with a hard sigmoid, classifier dropout 0.2.
func init() {
	zoo("mobilenet_v3", func(n int) (Model, error) {
		return newMobileNetV3("mobilenet_v3", mobileNetV3Small, 1024, n)
	}, Config{Arch: "mobilenet_v3_small", Classifier: "classifier.3"})
	zoo("mobilenet_v3_large", func(n int) (Model, error) {
		return newMobileNetV3("mobilenet_v3_large", mobileNetV3Large, 1280, n)
	}, Config{Arch: "mobilenet_v3_large", Classifier: "classifier.3"})
}

// mbBlockConfig is torchvision's InvertedResidualConfig at width 1.0.
type mbBlockConfig struct {
	in, kernel, expanded, out int64
	se, hardswish             bool
	stride                    int64
}

// The tables of torchvision's _mobilenet_v3_conf.
var (
	mobileNetV3Large = []mbBlockConfig{
		{16, 3, 16, 16, false, false, 1},
		{16, 3, 64, 24, false, false, 2},
		{24, 3, 72, 24, false, false, 1},
		{24, 5, 72, 40, true, false, 2},
		{40, 5, 120, 40, true, false, 1},
		{40, 5, 120, 40, true, false, 1},
		{40, 3, 240, 80, false, true, 2},
		{80, 3, 200, 80, false, true, 1},
		{80, 3, 184, 80, false, true, 1},
		{80, 3, 184, 80, false, true, 1},
		{80, 3, 480, 112, true, true, 1},
		{112, 3, 672, 112, true, true, 1},
		{112, 5, 672, 160, true, true, 2},
		{160, 5, 960, 160, true, true, 1},
		{160, 5, 960, 160, true, true, 1},
	}
	mobileNetV3Small = []mbBlockConfig{
		{16, 3, 16, 16, true, false, 2},
		{16, 3, 72, 24, false, false, 2},
		{24, 3, 88, 24, false, false, 1},
		{24, 5, 96, 40, true, true, 2},
		{40, 5, 240, 40, true, true, 1},
		{40, 5, 240, 40, true, true, 1},
		{40, 5, 120, 48, true, true, 1},
		{48, 5, 144, 48, true, true, 1},
		{48, 5, 288, 96, true, true, 2},
		{96, 5, 576, 96, true, true, 1},
		{96, 5, 576, 96, true, true, 1},
	}
)

// mbMakeDivisible mirrors torchvision.models._utils._make_divisible(v, divisor): round to the
// nearest multiple of divisor, at least divisor, never more than 10% below v.
func mbMakeDivisible(v float64, divisor int64) int64 {
	n := max(divisor, int64(v+float64(divisor)/2)/divisor*divisor)
	if float64(n) < 0.9*v {
		n += divisor
	}
	return n
}

// mbConvNormAct is torchvision's Conv2dNormActivation with MobileNetV3's norm layer:
// conv (padding (k-1)/2, no bias) → BatchNorm(eps 0.001, momentum 0.01) → activation.
func mbConvNormAct(p Path, in, out, k, stride, groups int64, act cnnAct) *cnnUnit {
	return &cnnUnit{
		convs: []*Conv2d{NewConv2d(p.Sub("0"), in, out, k, ConvOpts{Stride: stride, Padding: (k - 1) / 2, Groups: groups, NoBias: true}, KaimingNormalFanOut)},
		bn:    cnnBN(p.Sub("1"), out, 1e-3, 0.01),
		act:   act,
	}
}

// mbSqueezeExcitation mirrors torchvision.ops.SqueezeExcitation with ReLU and Hardsigmoid:
// x * hardsigmoid(fc2(relu(fc1(avgpool(x))))), fc1/fc2 being biased 1×1 convolutions.
type mbSqueezeExcitation struct {
	fc1, fc2 *Conv2d
}

func (se *mbSqueezeExcitation) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	var s own.Scope
	defer s.Free()
	scale, err := s.Track(x.AdaptiveAvgPool2d([]int64{1, 1}, false))
	if err != nil {
		return nil, err
	}
	if scale, err = s.Track(se.fc1.ForwardT(scale, train)); err != nil {
		return nil, err
	}
	if scale, err = s.Track(scale.Relu(false)); err != nil {
		return nil, err
	}
	if scale, err = s.Track(se.fc2.ForwardT(scale, train)); err != nil {
		return nil, err
	}
	if scale, err = s.Track(scale.Hardsigmoid(false)); err != nil {
		return nil, err
	}
	return scale.Mul(x, false)
}

// newMobileNetV3 mirrors torchvision.models.MobileNetV3.__init__ and _forward_impl, with its
// initialisation: convolutions kaiming-normal (fan_out) with zero bias, BatchNorm 1/0,
// Linear layers N(0, 0.01) with zero bias.
func newMobileNetV3(name string, setting []mbBlockConfig, lastChannel int64, numClasses int) (Model, error) {
	sd := NewStateDict()
	r := sd.Root()
	fp := r.Sub("features")
	first := setting[0].in
	body := Sequential{mbConvNormAct(fp.Sub("0"), 3, first, 3, 2, 1, cnnActHardswish)}
	for i, c := range setting {
		bp := fp.Subf("%d", i+1).Sub("block")
		act := cnnActReLU
		if c.hardswish {
			act = cnnActHardswish
		}
		var block Sequential
		j := 0
		next := func() Path { p := bp.Subf("%d", j); j++; return p }
		if c.expanded != c.in {
			block = append(block, mbConvNormAct(next(), c.in, c.expanded, 1, 1, 1, act))
		}
		block = append(block, mbConvNormAct(next(), c.expanded, c.expanded, c.kernel, c.stride, c.expanded, act))
		if c.se {
			sp := next()
			squeeze := mbMakeDivisible(float64(c.expanded/4), 8)
			block = append(block, &mbSqueezeExcitation{
				fc1: cnnConv(sp.Sub("fc1"), c.expanded, squeeze, 1, ConvOpts{}, KaimingNormalFanOut, Zeros),
				fc2: cnnConv(sp.Sub("fc2"), squeeze, c.expanded, 1, ConvOpts{}, KaimingNormalFanOut, Zeros),
			})
		}
		block = append(block, mbConvNormAct(next(), c.expanded, c.out, 1, 1, 1, cnnActNone))
		if c.stride == 1 && c.in == c.out {
			body = append(body, &cnnSum{main: block})
		} else {
			body = append(body, block)
		}
	}
	lastIn := setting[len(setting)-1].out
	body = append(body, mbConvNormAct(fp.Subf("%d", len(setting)+1), lastIn, 6*lastIn, 1, 1, 1, cnnActHardswish))
	cp := r.Sub("classifier")
	body = append(body,
		cnnGlobalPool,
		cnnWithAct(cnnLinear(cp.Sub("0"), 6*lastIn, lastChannel, Normal(0, 0.01), Zeros), cnnActHardswish),
		Dropout(0.2),
		cnnLinear(cp.Sub("3"), lastChannel, int64(numClasses), Normal(0, 0.01), Zeros),
	)
	return finish(sd, Config{Name: name}, body)
}
