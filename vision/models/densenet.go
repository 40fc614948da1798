package models

import (
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
)

// DenseNet-BC, mirroring torchvision.models.DenseNet (memory_efficient=False, drop_rate 0,
// bn_size 4). The researcher's classic_models maps densenet_big to densenet121 — a slip, as
// densenet_tiny is already densenet121; drgrade maps densenet_big to densenet201.
func init() {
	reg := func(name, arch string, growth int64, blocks [4]int, initFeatures int64) {
		zoo(name, func(n int) (Model, error) {
			return newDenseNet(name, growth, blocks, initFeatures, n)
		}, Config{Arch: arch, Classifier: "classifier"})
	}
	reg("densenet_tiny", "densenet121", 32, [4]int{6, 12, 24, 16}, 64)
	reg("densenet_small", "densenet161", 48, [4]int{6, 12, 36, 24}, 96)
	reg("densenet", "densenet169", 32, [4]int{6, 12, 32, 32}, 64)
	reg("densenet_big", "densenet201", 32, [4]int{6, 12, 48, 32}, 64)
}

// denseUnit is DenseNet's pre-activation unit: BatchNorm → ReLU → Conv2d.
type denseUnit struct {
	bn   *BatchNorm2d
	conv *Conv2d
}

func (u *denseUnit) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	c := own.NewChain(x)
	defer c.Free()
	if err := c.Next(u.bn.ForwardT(x, train)); err != nil {
		return nil, err
	}
	if err := cnnActReLU.apply(c.Cur()); err != nil { // nn.ReLU(inplace=True)
		return nil, err
	}
	if err := c.Next(u.conv.ForwardT(c.Cur(), train)); err != nil {
		return nil, err
	}
	return c.Result()
}

// denseBlock mirrors torchvision's _DenseBlock: layer i sees the concatenation of the block's
// input and every earlier layer's output, and the block returns the concatenation of all.
// Each _DenseLayer is norm1 → relu1 → conv1 (1×1) → norm2 → relu2 → conv2 (3×3).
// torchvision concatenates the whole list before every layer; concatenating the running
// result with the newest output gives the same tensors (cat is an exact copy) while holding
// one concatenation instead of every piece: the concatenations form an own.Chain.
type denseBlock []Sequential

func (b denseBlock) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	c := own.NewChain(x)
	defer c.Free()
	var s own.Scope // the newest layer's output, until it is concatenated
	defer s.Free()
	for _, layer := range b {
		y, err := s.Track(layer.ForwardT(c.Cur(), train))
		if err != nil {
			return nil, err
		}
		if err := c.Next(ts.Cat([]*ts.Tensor{c.Cur(), y}, 1)); err != nil {
			return nil, err
		}
		s.Free()
	}
	return c.Result()
}

// newDenseNet mirrors torchvision.models.DenseNet.__init__ and forward: conv0/norm0/relu0/pool0,
// four dense blocks with transitions (BN, ReLU, 1×1 conv halving the channels, 2×2 average
// pool) between them, norm5, ReLU, global average pool, classifier. Initialisation as
// torchvision: kaiming_normal_ (fan_in) convolutions, BatchNorm 1/0, classifier bias 0.
func newDenseNet(name string, growth int64, blocks [4]int, initFeatures int64, numClasses int) (Model, error) {
	const bnSize = 4
	sd := NewStateDict()
	fp := sd.Root().Sub("features")
	conv := func(p Path, in, out, k, pad int64) *Conv2d {
		return NewConv2d(p, in, out, k, ConvOpts{Padding: pad, NoBias: true}, cnnKaimingFanIn)
	}
	body := Sequential{
		&cnnUnit{
			convs: []*Conv2d{NewConv2d(fp.Sub("conv0"), 3, initFeatures, 7, ConvOpts{Stride: 2, Padding: 3, NoBias: true}, cnnKaimingFanIn)},
			bn:    NewBatchNorm2d(fp.Sub("norm0"), initFeatures),
			act:   cnnActReLU,
		},
		MaxPool2d(3, 2, 1, false),
	}
	features := initFeatures
	for bi, n := range blocks {
		bp := fp.Subf("denseblock%d", bi+1)
		var blk denseBlock
		for li := 0; li < n; li++ {
			lp := bp.Subf("denselayer%d", li+1)
			in := features + int64(li)*growth
			blk = append(blk, Sequential{
				&denseUnit{NewBatchNorm2d(lp.Sub("norm1"), in), conv(lp.Sub("conv1"), in, bnSize*growth, 1, 0)},
				&denseUnit{NewBatchNorm2d(lp.Sub("norm2"), bnSize*growth), conv(lp.Sub("conv2"), bnSize*growth, growth, 3, 1)},
			})
		}
		body = append(body, blk)
		features += int64(n) * growth
		if bi != len(blocks)-1 {
			tp := fp.Subf("transition%d", bi+1)
			body = append(body,
				&denseUnit{NewBatchNorm2d(tp.Sub("norm"), features), conv(tp.Sub("conv"), features, features/2, 1, 0)},
				denseAvgPool,
			)
			features /= 2
		}
	}
	body = append(body,
		cnnWithAct(NewBatchNorm2d(fp.Sub("norm5"), features), cnnActReLU),
		cnnGlobalPool,
		cnnLinear(sd.Root().Sub("classifier"), features, int64(numClasses), LinearDefault, Zeros),
	)
	return finish(sd, Config{Name: name}, body)
}

// denseAvgPool is nn.AvgPool2d(kernel_size=2, stride=2) (no padding, floor, count_include_pad).
var denseAvgPool = LayerFunc(func(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
	return x.AvgPool2d([]int64{2, 2}, []int64{2, 2}, []int64{0, 0}, false, true, nil, false)
})
