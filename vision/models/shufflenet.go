package models

import (
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
)

// ShuffleNetV2, mirroring torchvision.models.ShuffleNetV2 (PyTorch's default initialisation:
// torchvision applies no custom init to it).
func init() {
	reg := func(name, arch string, out [5]int64) {
		zoo(name, func(n int) (Model, error) {
			return newShuffleNetV2(name, [3]int{4, 8, 4}, out, n)
		}, Config{Arch: arch, Classifier: "fc"})
	}
	reg("shufflenet_small", "shufflenet_v2_x0_5", [5]int64{24, 48, 96, 192, 1024})
	reg("shufflenet", "shufflenet_v2_x1_0", [5]int64{24, 116, 232, 464, 1024})
}

// shuffleUnit mirrors torchvision's shufflenetv2.InvertedResidual. With stride 1 the input is
// split in two halves along the channels, the second goes through branch2 and the halves are
// concatenated; with stride 2 both branches see the whole input. Then channel_shuffle(out, 2).
type shuffleUnit struct {
	stride           int64
	branch1, branch2 Layer // branch1 nil when stride is 1
}

func (u *shuffleUnit) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	var s own.Scope
	defer s.Free()
	var a, b *ts.Tensor
	var err error
	if u.stride == 1 {
		size, err := x.Size()
		if err != nil {
			return nil, err
		}
		half := (size[1] + 1) / 2 // x.chunk(2, dim=1): the first chunk takes the odd channel
		if a, err = s.Track(x.Narrow(1, 0, half, false)); err != nil {
			return nil, err
		}
		x2, err := s.Track(x.Narrow(1, half, size[1]-half, false))
		if err != nil {
			return nil, err
		}
		if b, err = s.Track(u.branch2.ForwardT(x2, train)); err != nil {
			return nil, err
		}
	} else {
		if a, err = s.Track(u.branch1.ForwardT(x, train)); err != nil {
			return nil, err
		}
		if b, err = s.Track(u.branch2.ForwardT(x, train)); err != nil {
			return nil, err
		}
	}
	out, err := s.Track(ts.Cat([]*ts.Tensor{a, b}, 1))
	if err != nil {
		return nil, err
	}
	return shuffleChannels(out, 2)
}

// shuffleChannels mirrors torchvision's shufflenetv2.channel_shuffle (view as
// [N, groups, C/groups, H, W], transpose 1 and 2, contiguous, view back).
func shuffleChannels(x *ts.Tensor, groups int64) (*ts.Tensor, error) {
	size, err := x.Size()
	if err != nil {
		return nil, err
	}
	var s own.Scope
	defer s.Free()
	v, err := s.Track(x.View([]int64{size[0], groups, size[1] / groups, size[2], size[3]}, false))
	if err != nil {
		return nil, err
	}
	t, err := s.Track(v.Transpose(1, 2, false))
	if err != nil {
		return nil, err
	}
	c, err := s.Track(t.Contiguous(false))
	if err != nil {
		return nil, err
	}
	return c.View(size, false)
}

// newShuffleNetV2 mirrors torchvision.models.ShuffleNetV2.__init__ and _forward_impl:
// conv1 (3×3/2, BN, ReLU), max-pool 3/2, stages 2–4 (a stride-2 unit then stride-1 units),
// conv5 (1×1, BN, ReLU), global mean over H and W, fc.
func newShuffleNetV2(name string, repeats [3]int, out [5]int64, numClasses int) (Model, error) {
	sd := NewStateDict()
	r := sd.Root()
	conv := func(p Path, in, out, k, stride int64, depthwise bool) *Conv2d {
		o := ConvOpts{Stride: stride, Padding: (k - 1) / 2, NoBias: true}
		if depthwise {
			o.Groups = in
		}
		return NewConv2d(p, in, out, k, o, nil)
	}
	// unit is conv → BN → act, registered as children i and i+1 of the Sequential at p.
	unit := func(p Path, i int, in, out, k, stride int64, depthwise bool, act cnnAct) *cnnUnit {
		return &cnnUnit{
			convs: []*Conv2d{conv(p.Subf("%d", i), in, out, k, stride, depthwise)},
			bn:    NewBatchNorm2d(p.Subf("%d", i+1), out),
			act:   act,
		}
	}
	body := Sequential{
		unit(r.Sub("conv1"), 0, 3, out[0], 3, 2, false, cnnActReLU),
		MaxPool2d(3, 2, 1, false),
	}
	in := out[0]
	for si, n := range repeats {
		sp := r.Subf("stage%d", si+2)
		oup := out[si+1]
		branch := oup / 2
		for i := 0; i < n; i++ {
			up := sp.Subf("%d", i)
			u := &shuffleUnit{stride: 1}
			b2in := branch
			if i == 0 {
				u.stride = 2
				b2in = in
				b1 := up.Sub("branch1")
				u.branch1 = Sequential{
					unit(b1, 0, in, in, 3, 2, true, cnnActNone),
					unit(b1, 2, in, branch, 1, 1, false, cnnActReLU),
				}
			}
			b2 := up.Sub("branch2")
			u.branch2 = Sequential{
				unit(b2, 0, b2in, branch, 1, 1, false, cnnActReLU),
				unit(b2, 3, branch, branch, 3, u.stride, true, cnnActNone),
				unit(b2, 5, branch, branch, 1, 1, false, cnnActReLU),
			}
			body = append(body, u)
		}
		in = oup
	}
	body = append(body,
		unit(r.Sub("conv5"), 0, in, out[4], 1, 1, false, cnnActReLU),
		LayerFunc(func(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
			return x.MeanDim([]int64{2, 3}, false, x.DType(), false)
		}),
		NewLinear(r.Sub("fc"), out[4], int64(numClasses)),
	)
	return finish(sd, Config{Name: name}, body)
}
