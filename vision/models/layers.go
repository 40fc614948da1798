package models

import (
	"fmt"
	"sync"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
)

// Layer is a module with a forward pass. ForwardT borrows x and returns a new tensor owned
// by the caller; train selects training behaviour (BatchNorm statistics, dropout).
type Layer interface {
	ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error)
}

// LayerFunc adapts a function to Layer.
type LayerFunc func(x *ts.Tensor, train bool) (*ts.Tensor, error)

// ForwardT calls f.
func (f LayerFunc) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) { return f(x, train) }

// Sequential applies layers in order (nn.Sequential) through an own.Chain: each intermediate
// result is dropped as soon as the next layer has consumed it, so at most two are alive.
type Sequential []Layer

// ForwardT runs the layers in order.
func (s Sequential) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	c := own.NewChain(x)
	defer c.Free()
	for _, l := range s {
		if err := c.Next(l.ForwardT(c.Cur(), train)); err != nil {
			return nil, err
		}
	}
	return c.Result() // the caller's (a new handle on x if s is empty)
}

// ConvOpts are nn.Conv2d's keyword arguments; zero values mean PyTorch's defaults
// (stride 1, padding 0, dilation 1, groups 1, bias true unless NoBias).
type ConvOpts struct {
	Stride, Padding, Dilation, Groups int64
	NoBias                            bool
}

// Conv2d is nn.Conv2d with torchvision's names (weight, bias).
type Conv2d struct {
	Weight, Bias              *ts.Tensor // Bias is nil when bias=False
	stride, padding, dilation []int64
	groups                    int64
}

// NewConv2d registers weight [out, in/groups, k, k] (and bias) under p, initialised by winit
// (nil: PyTorch's default kaiming_uniform(a=sqrt(5))).
func NewConv2d(p Path, in, out, k int64, o ConvOpts, winit Init) *Conv2d {
	if o.Stride == 0 {
		o.Stride = 1
	}
	if o.Dilation == 0 {
		o.Dilation = 1
	}
	if o.Groups == 0 {
		o.Groups = 1
	}
	if winit == nil {
		winit = LinearDefault
	}
	c := &Conv2d{
		Weight:   p.Param("weight", []int64{out, in / o.Groups, k, k}, winit),
		stride:   []int64{o.Stride, o.Stride},
		padding:  []int64{o.Padding, o.Padding},
		dilation: []int64{o.Dilation, o.Dilation},
		groups:   o.Groups,
	}
	if !o.NoBias {
		c.Bias = p.Param("bias", []int64{out}, BiasDefault(in/o.Groups*k*k))
	}
	return c
}

// ForwardT is F.conv2d.
func (c *Conv2d) ForwardT(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
	bias := c.Bias
	if bias == nil {
		bias = undefinedTensor()
	}
	y, err := ts.Conv2d(x, c.Weight, bias, c.stride, c.padding, c.dilation, c.groups)
	if err != nil {
		return nil, fmt.Errorf("conv2d (weight %s) on input %s: %w", describeShape(c.Weight.MustSize()), describeShape(x.MustSize()), err)
	}
	return y, nil
}

// BatchNorm2d is nn.BatchNorm2d (eps 1e-5, momentum 0.1, affine, tracking running stats),
// with its five state_dict entries: weight, bias, running_mean, running_var, num_batches_tracked.
type BatchNorm2d struct {
	Weight, Bias, RunningMean, RunningVar, NumBatchesTracked *ts.Tensor
	Eps, Momentum                                            float64

	sync SumAcrossRanks // set by ConvertSyncBatchNorm: SyncBatchNorm in training
}

// NewBatchNorm2d registers a BatchNorm2d over c channels (weight 1, bias 0, as PyTorch).
func NewBatchNorm2d(p Path, c int64) *BatchNorm2d {
	b := &BatchNorm2d{
		Weight:            p.Param("weight", []int64{c}, Ones),
		Bias:              p.Param("bias", []int64{c}, Zeros),
		RunningMean:       p.Buffer("running_mean", []int64{c}, Zeros),
		RunningVar:        p.Buffer("running_var", []int64{c}, Ones),
		NumBatchesTracked: p.BufferInt64("num_batches_tracked", []int64{}),
		Eps:               1e-5,
		Momentum:          0.1,
	}
	p.sd.batchNorms = append(p.sd.batchNorms, b) // for ConvertSyncBatchNorm
	return b
}

// ForwardT is F.batch_norm; in training it updates the running statistics in place and
// counts the batch in num_batches_tracked, as nn.BatchNorm2d.forward does.
func (b *BatchNorm2d) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	if train {
		if err := b.NumBatchesTracked.AddScalar_(ts.IntScalar(1)); err != nil {
			return nil, err
		}
	}
	if train && b.sync != nil {
		return b.syncForward(x)
	}
	y, err := ts.BatchNorm(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar, train, b.Momentum, b.Eps, true)
	if err != nil {
		return nil, fmt.Errorf("batch_norm over %d channels on input %s: %w", b.Weight.MustSize()[0], describeShape(x.MustSize()), err)
	}
	return y, nil
}

// Linear is nn.Linear (weight [out, in], bias [out]) with PyTorch's default initialisation.
type Linear struct {
	Weight, Bias *ts.Tensor
}

// NewLinear registers a Linear layer under p.
func NewLinear(p Path, in, out int64) *Linear {
	l := &Linear{
		Weight: p.Param("weight", []int64{out, in}, LinearDefault),
		Bias:   p.Param("bias", []int64{out}, BiasDefault(in)),
	}
	p.sd.linears[p.prefix] = l
	return l
}

// ForwardT is F.linear.
func (l *Linear) ForwardT(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
	y, err := ts.Linear(x, l.Weight, l.Bias)
	if err != nil {
		return nil, fmt.Errorf("linear (weight %s) on input %s: %w", describeShape(l.Weight.MustSize()), describeShape(x.MustSize()), err)
	}
	return y, nil
}

// ReLU is nn.ReLU (in-place or not, the values are the same).
var ReLU = LayerFunc(func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Relu(false) })

// MaxPool2d is nn.MaxPool2d(k, stride, padding, ceil_mode).
func MaxPool2d(k, stride, padding int64, ceil bool) Layer {
	return LayerFunc(func(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
		return x.MaxPool2d([]int64{k, k}, []int64{stride, stride}, []int64{padding, padding}, []int64{1, 1}, ceil, false)
	})
}

// AdaptiveAvgPool2d is nn.AdaptiveAvgPool2d((h, w)).
func AdaptiveAvgPool2d(h, w int64) Layer {
	return LayerFunc(func(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
		return x.AdaptiveAvgPool2d([]int64{h, w}, false)
	})
}

// Flatten is torch.flatten(x, 1).
var Flatten = LayerFunc(func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Flatten(1, -1, false) })

// Dropout is nn.Dropout(p): active only in training.
func Dropout(p float64) Layer {
	return LayerFunc(func(x *ts.Tensor, train bool) (*ts.Tensor, error) { return ts.Dropout(x, p, train) })
}

// undefinedTensor is libtorch's undefined tensor, gotch's spelling of an optional argument's
// None (e.g. conv2d's bias=None). One is shared for the life of the process.
var undefinedTensor = sync.OnceValue(func() *ts.Tensor { return ts.NewTensor() })
