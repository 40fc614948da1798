package models

// GoogLeNet (Inception v1), mirroring torchvision.models.GoogLeNet as the researcher's script
// builds it: aux_logits=False (no aux1/aux2 heads, so none in the state_dict),
// transform_input=False, init_weights=True.
func init() {
	zoo("googlenet", newGoogLeNet, Config{Arch: "googlenet", Classifier: "fc"})
}

// googLeNetInit is torchvision's init_weights: trunc_normal_(std=0.01, a=-2, b=2) for every
// Conv2d and Linear weight (BatchNorm stays 1/0, the Linear bias keeps nn.Linear's default).
var googLeNetInit = cnnTruncNormal(0, 0.01, -2, 2)

// googLeNetConv is torchvision's googlenet.BasicConv2d: conv (no bias) → BatchNorm(eps=0.001) → ReLU.
func googLeNetConv(p Path, in, out, k int64, o ConvOpts) *cnnUnit {
	o.NoBias = true
	return &cnnUnit{
		convs: []*Conv2d{NewConv2d(p.Sub("conv"), in, out, k, o, googLeNetInit)},
		bn:    cnnBN(p.Sub("bn"), out, 1e-3, 0.1),
		act:   cnnActReLU,
	}
}

// googLeNetInception mirrors torchvision's googlenet.Inception, including its 3×3 (not 5×5) conv in
// branch3 (pytorch/vision#906).
func googLeNetInception(p Path, in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, poolProj int64) Layer {
	return cnnConcat{
		googLeNetConv(p.Sub("branch1"), in, ch1x1, 1, ConvOpts{}),
		Sequential{
			googLeNetConv(p.Sub("branch2").Sub("0"), in, ch3x3red, 1, ConvOpts{}),
			googLeNetConv(p.Sub("branch2").Sub("1"), ch3x3red, ch3x3, 3, ConvOpts{Padding: 1}),
		},
		Sequential{
			googLeNetConv(p.Sub("branch3").Sub("0"), in, ch5x5red, 1, ConvOpts{}),
			googLeNetConv(p.Sub("branch3").Sub("1"), ch5x5red, ch5x5, 3, ConvOpts{Padding: 1}),
		},
		Sequential{
			MaxPool2d(3, 1, 1, true),
			googLeNetConv(p.Sub("branch4").Sub("1"), in, poolProj, 1, ConvOpts{}),
		},
	}
}

// newGoogLeNet mirrors torchvision.models.GoogLeNet.__init__ and _forward (eval and train
// give the main logits only, as with aux_logits=False; dropout 0.2 before fc).
func newGoogLeNet(numClasses int) (Model, error) {
	sd := NewStateDict()
	r := sd.Root()
	body := Sequential{
		googLeNetConv(r.Sub("conv1"), 3, 64, 7, ConvOpts{Stride: 2, Padding: 3}),
		MaxPool2d(3, 2, 0, true),
		googLeNetConv(r.Sub("conv2"), 64, 64, 1, ConvOpts{}),
		googLeNetConv(r.Sub("conv3"), 64, 192, 3, ConvOpts{Padding: 1}),
		MaxPool2d(3, 2, 0, true),
		googLeNetInception(r.Sub("inception3a"), 192, 64, 96, 128, 16, 32, 32),
		googLeNetInception(r.Sub("inception3b"), 256, 128, 128, 192, 32, 96, 64),
		MaxPool2d(3, 2, 0, true),
		googLeNetInception(r.Sub("inception4a"), 480, 192, 96, 208, 16, 48, 64),
		googLeNetInception(r.Sub("inception4b"), 512, 160, 112, 224, 24, 64, 64),
		googLeNetInception(r.Sub("inception4c"), 512, 128, 128, 256, 24, 64, 64),
		googLeNetInception(r.Sub("inception4d"), 512, 112, 144, 288, 32, 64, 64),
		googLeNetInception(r.Sub("inception4e"), 528, 256, 160, 320, 32, 128, 128),
		MaxPool2d(2, 2, 0, true),
		googLeNetInception(r.Sub("inception5a"), 832, 256, 160, 320, 32, 128, 128),
		googLeNetInception(r.Sub("inception5b"), 832, 384, 192, 384, 48, 128, 128),
		cnnGlobalPool,
		Dropout(0.2),
		cnnLinear(r.Sub("fc"), 1024, int64(numClasses), googLeNetInit, BiasDefault(1024)),
	}
	return finish(sd, Config{Name: "googlenet"}, body)
}
