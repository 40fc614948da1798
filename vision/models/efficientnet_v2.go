package models

import (
	"math"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
)

// EfficientNetV2 family, mirroring torchvision.models.efficientnet (EfficientNet with the
// efficientnet_v2_s/m/l settings: FusedMBConv then MBConv stages, SiLU, squeeze-and-excitation,
// BatchNorm eps 1e-3, stochastic depth 0.2 scaled by block depth, dropout before the head).
// torchvision evaluates them at 384/480/480 (resize = crop); the layers accept any size ≥ 32.
func init() {
	reg := func(name, arch string, setting []effStage, dropout float64, size int) {
		zoo(name, func(n int) (Model, error) {
			return newEfficientNetV2(name, setting, dropout, n)
		}, Config{Arch: arch, Classifier: "classifier.1", InputSize: size, CropPct: 1})
	}
	reg("efficient_v2_small", "efficientnet_v2_s", effV2S, 0.2, 384)
	reg("efficient_v2", "efficientnet_v2_m", effV2M, 0.3, 480)
	reg("efficient_v2_large", "efficientnet_v2_l", effV2L, 0.4, 480)
}

// effStage is one row of torchvision's _efficientnet_conf (a FusedMBConvConfig or
// MBConvConfig). Every channel count is a multiple of 8, so _make_divisible is the identity.
type effStage struct {
	fused           bool
	expand, kernel  int64
	stride, in, out int64
	layers          int
}

var (
	effV2S = []effStage{
		{true, 1, 3, 1, 24, 24, 2}, {true, 4, 3, 2, 24, 48, 4}, {true, 4, 3, 2, 48, 64, 4},
		{false, 4, 3, 2, 64, 128, 6}, {false, 6, 3, 1, 128, 160, 9}, {false, 6, 3, 2, 160, 256, 15},
	}
	effV2M = []effStage{
		{true, 1, 3, 1, 24, 24, 3}, {true, 4, 3, 2, 24, 48, 5}, {true, 4, 3, 2, 48, 80, 5},
		{false, 4, 3, 2, 80, 160, 7}, {false, 6, 3, 1, 160, 176, 14}, {false, 6, 3, 2, 176, 304, 18},
		{false, 6, 3, 1, 304, 512, 5},
	}
	effV2L = []effStage{
		{true, 1, 3, 1, 32, 32, 4}, {true, 4, 3, 2, 32, 64, 7}, {true, 4, 3, 2, 64, 96, 7},
		{false, 4, 3, 2, 96, 192, 10}, {false, 6, 3, 1, 192, 224, 19}, {false, 6, 3, 2, 224, 384, 25},
		{false, 6, 3, 1, 384, 640, 7},
	}
)

// effConvBNAct is torchvision's Conv2dNormActivation with BatchNorm2d(eps=1e-3) and an optional
// SiLU: padding (k-1)/2, no conv bias; conv under p.0, BatchNorm under p.1.
func effConvBNAct(p Path, in, out, k, stride, groups int64, act bool) Sequential {
	s := Sequential{
		NewConv2d(p.Sub("0"), in, out, k, ConvOpts{Stride: stride, Padding: (k - 1) / 2, Groups: groups, NoBias: true}, KaimingNormalFanOut),
		effBN(p.Sub("1"), out),
	}
	if act {
		s = append(s, siluLayer)
	}
	return s
}

func effBN(p Path, c int64) *BatchNorm2d {
	bn := NewBatchNorm2d(p, c)
	bn.Eps = 1e-3
	return bn
}

// effSE mirrors torchvision.ops.SqueezeExcitation with SiLU: x * sigmoid(fc2(silu(fc1(avgpool(x))))).
type effSE struct{ fc1, fc2 *Conv2d }

func (se *effSE) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	var s own.Scope
	defer s.Free()
	scale, err := s.Track(x.AdaptiveAvgPool2d([]int64{1, 1}, false))
	if err != nil {
		return nil, err
	}
	if scale, err = s.Track(se.fc1.ForwardT(scale, train)); err != nil {
		return nil, err
	}
	if scale, err = s.Track(scale.Silu(false)); err != nil {
		return nil, err
	}
	if scale, err = s.Track(se.fc2.ForwardT(scale, train)); err != nil {
		return nil, err
	}
	if scale, err = s.Track(scale.Sigmoid(false)); err != nil {
		return nil, err
	}
	return scale.Mul(x, false)
}

// effBlock is MBConv / FusedMBConv's forward: block(x), plus x through stochastic depth when
// the shapes allow a residual connection.
type effBlock struct {
	block    Sequential
	residual bool
	sdProb   float64
}

func (b *effBlock) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	out, err := b.block.ForwardT(x, train)
	if err != nil || !b.residual {
		return out, err
	}
	defer out.MustDrop()
	return residualAdd(out, x, b.sdProb, train)
}

// newEfficientNetV2 mirrors torchvision.models.efficientnet.EfficientNet.__init__ (with
// MBConv.__init__ and FusedMBConv.__init__) including its weight initialisation.
func newEfficientNetV2(name string, setting []effStage, dropout float64, numClasses int) (Model, error) {
	sd := NewStateDict()
	feat := sd.Root().Sub("features")
	body := Sequential{effConvBNAct(feat.Sub("0"), 3, setting[0].in, 3, 2, 1, true)}
	total := 0
	for _, st := range setting {
		total += st.layers
	}
	blockID := 0
	for si, st := range setting {
		sp := feat.Subf("%d", si+1)
		var stage Sequential
		for li := 0; li < st.layers; li++ {
			in, stride := st.in, st.stride
			if li > 0 {
				in, stride = st.out, 1
			}
			bp := sp.Subf("%d", li).Sub("block")
			expanded := in * st.expand
			var blk Sequential
			switch {
			case st.fused && expanded != in:
				blk = Sequential{
					effConvBNAct(bp.Sub("0"), in, expanded, st.kernel, stride, 1, true),
					effConvBNAct(bp.Sub("1"), expanded, st.out, 1, 1, 1, false),
				}
			case st.fused:
				blk = Sequential{effConvBNAct(bp.Sub("0"), in, st.out, st.kernel, stride, 1, true)}
			default:
				i := 0
				if expanded != in {
					blk = append(blk, effConvBNAct(bp.Sub("0"), in, expanded, 1, 1, 1, true))
					i++
				}
				blk = append(blk, effConvBNAct(bp.Subf("%d", i), expanded, expanded, st.kernel, stride, expanded, true))
				sq := max(1, in/4)
				sep := bp.Subf("%d", i+1)
				blk = append(blk, &effSE{
					// EfficientNet.__init__ zeroes every conv bias (only the SE convolutions have one).
					fc1: modConv(sep.Sub("fc1"), expanded, sq, 1, ConvOpts{}, KaimingNormalFanOut, Zeros),
					fc2: modConv(sep.Sub("fc2"), sq, expanded, 1, ConvOpts{}, KaimingNormalFanOut, Zeros),
				})
				blk = append(blk, effConvBNAct(bp.Subf("%d", i+2), expanded, st.out, 1, 1, 1, false))
			}
			stage = append(stage, &effBlock{
				block:    blk,
				residual: stride == 1 && in == st.out,
				sdProb:   0.2 * float64(blockID) / float64(total),
			})
			blockID++
		}
		body = append(body, stage)
	}
	last := setting[len(setting)-1].out
	const lastChannel = 1280
	body = append(body, effConvBNAct(feat.Subf("%d", len(setting)+1), last, lastChannel, 1, 1, 1, true))
	r := 1 / math.Sqrt(float64(numClasses))
	body = append(body,
		AdaptiveAvgPool2d(1, 1), Flatten, Dropout(dropout),
		newLinearInit(sd.Root().Sub("classifier").Sub("1"), lastChannel, int64(numClasses), true, Uniform(-r, r), Zeros))
	return finish(sd, Config{Name: name}, body)
}
