package models

// Xception, mirroring timm 0.9.12's legacy_xception (the Keras-ported ImageNet model: 299×299
// input, crop 0.8975, mean = std = 0.5 as timm's pretrained config). The researcher's
// classic_models/xception.py is a different, CIFAR-style variant (stride-1 padded 3×3 stem
// for small inputs, biased shortcut convolutions, entry_flow/middel_flow/exit_flow module
// names): its weights do not load here, and ImageNet Xception weights do.
func init() {
	zoo("xception", newXception, Config{
		Arch:       "legacy_xception",
		Classifier: "fc",
		InputSize:  299,
		CropPct:    0.8975,
		Mean:       [3]float64{0.5, 0.5, 0.5},
		Std:        [3]float64{0.5, 0.5, 0.5},
	})
}

// xceptionSepConv is timm's xception.SeparableConv2d (depthwise "conv1" then 1×1 "pointwise",
// both without bias) followed by a BatchNorm registered at bnPath and an optional ReLU.
func xceptionSepConv(p, bnPath Path, in, out int64, act cnnAct) *cnnUnit {
	return &cnnUnit{
		convs: []*Conv2d{
			NewConv2d(p.Sub("conv1"), in, in, 3, ConvOpts{Padding: 1, Groups: in, NoBias: true}, KaimingNormalFanOut),
			NewConv2d(p.Sub("pointwise"), in, out, 1, ConvOpts{NoBias: true}, KaimingNormalFanOut),
		},
		bn:  NewBatchNorm2d(bnPath, out),
		act: act,
	}
}

// xceptionBlock mirrors timm's xception.Block: rep(x) + skip(x), where rep is reps ×
// (ReLU, SeparableConv2d, BatchNorm2d) — without the first ReLU when !startWithReLU, the first
// ReLU not in place — then a 3×3 max-pool when strided, and skip is a strided 1×1 conv + BN
// when the shape changes. skip/skipbn are registered before rep, as timm does.
func xceptionBlock(p Path, in, out int64, reps int, stride int64, startWithReLU, growFirst bool) Layer {
	blk := &cnnSum{}
	if out != in || stride != 1 {
		blk.skip = &cnnUnit{
			convs: []*Conv2d{NewConv2d(p.Sub("skip"), in, out, 1, ConvOpts{Stride: stride, NoBias: true}, KaimingNormalFanOut)},
			bn:    NewBatchNorm2d(p.Sub("skipbn"), out),
		}
	}
	rp := p.Sub("rep")
	var rep Sequential
	idx := 0 // index in timm's rep Sequential
	if startWithReLU {
		rep = append(rep, ReLU)
		idx++
	}
	for i := 0; i < reps; i++ {
		inc, outc := out, out
		if growFirst {
			if i == 0 {
				inc = in
			}
		} else {
			inc = in
			if i < reps-1 {
				outc = in
			}
		}
		act := cnnActReLU // the next repetition's ReLU(inplace=True), applied to this BN's output
		if i == reps-1 {
			act = cnnActNone
		}
		rep = append(rep, xceptionSepConv(rp.Subf("%d", idx), rp.Subf("%d", idx+1), inc, outc, act))
		idx += 3 // SeparableConv2d, BatchNorm2d, next ReLU
	}
	if stride != 1 {
		rep = append(rep, MaxPool2d(3, stride, 1, false))
	}
	blk.main = rep
	return blk
}

// newXception mirrors timm.models.xception.Xception (drop_rate 0, global average pool, fc):
// convolutions kaiming-normal (fan_out), BatchNorm 1/0, fc nn.Linear's default.
func newXception(numClasses int) (Model, error) {
	sd := NewStateDict()
	r := sd.Root()
	stem := func(conv, bn string, in, out int64, stride int64) *cnnUnit {
		return &cnnUnit{
			convs: []*Conv2d{NewConv2d(r.Sub(conv), in, out, 3, ConvOpts{Stride: stride, NoBias: true}, KaimingNormalFanOut)},
			bn:    NewBatchNorm2d(r.Sub(bn), out),
			act:   cnnActReLU,
		}
	}
	body := Sequential{
		stem("conv1", "bn1", 3, 32, 2),
		stem("conv2", "bn2", 32, 64, 1),
		xceptionBlock(r.Sub("block1"), 64, 128, 2, 2, false, true),
		xceptionBlock(r.Sub("block2"), 128, 256, 2, 2, true, true),
		xceptionBlock(r.Sub("block3"), 256, 728, 2, 2, true, true),
	}
	for i := 4; i <= 11; i++ {
		body = append(body, xceptionBlock(r.Subf("block%d", i), 728, 728, 3, 1, true, true))
	}
	body = append(body,
		xceptionBlock(r.Sub("block12"), 728, 1024, 2, 2, true, false),
		xceptionSepConv(r.Sub("conv3"), r.Sub("bn3"), 1024, 1536, cnnActReLU),
		xceptionSepConv(r.Sub("conv4"), r.Sub("bn4"), 1536, 2048, cnnActReLU),
		cnnGlobalPool,
		NewLinear(r.Sub("fc"), 2048, int64(numClasses)),
	)
	return finish(sd, Config{Name: "xception"}, body)
}
