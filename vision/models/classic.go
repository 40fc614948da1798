package models

// AlexNet, ZFNet and VGG: plain conv/ReLU/max-pool stacks with a three-layer MLP head.
func init() {
	zoo("alexnet", newAlexNet, Config{Arch: "alexnet", Classifier: "classifier.6"})
	zoo("zfnet", newZFNet, Config{Arch: "zfnet", Classifier: "classifier.6"})
	regVGG := func(name, arch string, cfg []int64) {
		zoo(name, func(n int) (Model, error) { return newVGG(name, cfg, n) },
			Config{Arch: arch, Classifier: "classifier.6"})
	}
	// torchvision.models.vgg cfgs "A", "B", "D", "E"; 0 stands for "M" (max-pool 2/2).
	regVGG("vgg_tiny", "vgg11", []int64{64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0})
	regVGG("vgg_small", "vgg13", []int64{64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0})
	regVGG("vgg", "vgg16", []int64{64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0})
	regVGG("vgg_big", "vgg19", []int64{64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0})
}

// plainFeatures builds an nn.Sequential of Conv2d+ReLU pairs and MaxPool2d layers under
// "features", numbering its children as nn.Sequential does (a conv at i, its ReLU at i+1).
type plainFeatures struct {
	p    Path
	idx  int
	body Sequential
}

func (f *plainFeatures) conv(in, out, k int64, o ConvOpts, winit, binit Init) {
	c := cnnConv(f.p.Subf("%d", f.idx), in, out, k, o, winit, binit)
	f.body = append(f.body, &cnnUnit{convs: []*Conv2d{c}, act: cnnActReLU})
	f.idx += 2
}

func (f *plainFeatures) pool(k, stride int64) {
	f.body = append(f.body, MaxPool2d(k, stride, 0, false))
	f.idx++
}

// plainHead is AlexNet's/ZFNet's classifier: Dropout, Linear, ReLU, Dropout, Linear, ReLU,
// Linear (indices 0–6), with nn.Linear's default initialisation.
func plainHead(p Path, in int64, numClasses int, dropout float64) Sequential {
	return Sequential{
		Dropout(dropout),
		cnnWithAct(NewLinear(p.Sub("1"), in, 4096), cnnActReLU),
		Dropout(dropout),
		cnnWithAct(NewLinear(p.Sub("4"), 4096, 4096), cnnActReLU),
		NewLinear(p.Sub("6"), 4096, int64(numClasses)),
	}
}

// newAlexNet mirrors torchvision.models.AlexNet (dropout 0.5, PyTorch's default init).
func newAlexNet(numClasses int) (Model, error) {
	sd := NewStateDict()
	root := sd.Root()
	f := &plainFeatures{p: root.Sub("features")}
	f.conv(3, 64, 11, ConvOpts{Stride: 4, Padding: 2}, nil, nil)
	f.pool(3, 2)
	f.conv(64, 192, 5, ConvOpts{Padding: 2}, nil, nil)
	f.pool(3, 2)
	f.conv(192, 384, 3, ConvOpts{Padding: 1}, nil, nil)
	f.conv(384, 256, 3, ConvOpts{Padding: 1}, nil, nil)
	f.conv(256, 256, 3, ConvOpts{Padding: 1}, nil, nil)
	f.pool(3, 2)
	body := append(f.body, AdaptiveAvgPool2d(6, 6), Flatten)
	body = append(body, plainHead(root.Sub("classifier"), 256*6*6, numClasses, 0.5)...)
	return finish(sd, Config{Name: "alexnet"}, body)
}

// newZFNet mirrors ZFNet of the researcher's model zoo (classic_models/zfnet.py of
// Arwin-Yu/Deep-Learning-Image-Classification-Models-Based-CNN-or-Attention, the same network
// in both its revisions up to 730e4e5): AlexNet with a
// 7×7/2 first convolution and 512-1024-512 channels in the last three, no adaptive pool (so
// the head takes the 512×13×13 map of a 224×224 input), built with init_weights=False, i.e.
// PyTorch's default initialisation.
func newZFNet(numClasses int) (Model, error) {
	sd := NewStateDict()
	root := sd.Root()
	f := &plainFeatures{p: root.Sub("features")}
	f.conv(3, 96, 7, ConvOpts{Stride: 2, Padding: 2}, nil, nil)
	f.pool(3, 2)
	f.conv(96, 256, 5, ConvOpts{Padding: 2}, nil, nil)
	f.pool(3, 2)
	f.conv(256, 512, 3, ConvOpts{Padding: 1}, nil, nil)
	f.conv(512, 1024, 3, ConvOpts{Padding: 1}, nil, nil)
	f.conv(1024, 512, 3, ConvOpts{Padding: 1}, nil, nil)
	f.pool(3, 2)
	body := append(f.body, cnnFlattenExpecting("zfnet", 512, 13, 13, "224×224"))
	body = append(body, plainHead(root.Sub("classifier"), 512*13*13, numClasses, 0.5)...)
	return finish(sd, Config{Name: "zfnet"}, body)
}

// newVGG mirrors torchvision.models.VGG with make_layers(cfg, batch_norm=False) and
// init_weights=True: convolutions kaiming-normal (fan_out) with zero bias, Linear layers
// N(0, 0.01) with zero bias, dropout 0.5.
func newVGG(name string, cfg []int64, numClasses int) (Model, error) {
	sd := NewStateDict()
	root := sd.Root()
	f := &plainFeatures{p: root.Sub("features")}
	in := int64(3)
	for _, v := range cfg {
		if v == 0 {
			f.pool(2, 2)
			continue
		}
		f.conv(in, v, 3, ConvOpts{Padding: 1}, KaimingNormalFanOut, Zeros)
		in = v
	}
	cp := root.Sub("classifier")
	lin := func(i string, in, out int64) *Linear { return cnnLinear(cp.Sub(i), in, out, Normal(0, 0.01), Zeros) }
	body := append(f.body, AdaptiveAvgPool2d(7, 7), Flatten,
		cnnWithAct(lin("0", 512*7*7, 4096), cnnActReLU),
		Dropout(0.5),
		cnnWithAct(lin("3", 4096, 4096), cnnActReLU),
		Dropout(0.5),
		lin("6", 4096, int64(numClasses)),
	)
	return finish(sd, Config{Name: name}, body)
}
