package models

// ResNet family, mirroring torchvision.models.resnet (v1.5: the stride is on the 3×3 conv).
func init() {
	reg := func(name, arch string, bottleneck bool, layers [4]int, groups, width int64) {
		zoo(name, func(n int) (Model, error) {
			return newResNet(name, bottleneck, layers, groups, width, n)
		}, Config{Arch: arch, Classifier: "fc"})
	}
	reg("resnet_small", "resnet34", false, [4]int{3, 4, 6, 3}, 1, 64)
	reg("resnet", "resnet50", true, [4]int{3, 4, 6, 3}, 1, 64)
	reg("resnet_big", "resnet101", true, [4]int{3, 4, 23, 3}, 1, 64)
	reg("resnext", "resnext50_32x4d", true, [4]int{3, 4, 6, 3}, 32, 4)
	reg("resnext_big", "resnext101_32x8d", true, [4]int{3, 4, 23, 3}, 32, 8)
}

func conv3x3(p Path, in, out, stride, groups int64) *Conv2d {
	return NewConv2d(p, in, out, 3, ConvOpts{Stride: stride, Padding: 1, Groups: groups, NoBias: true}, KaimingNormalFanOut)
}

func conv1x1(p Path, in, out, stride int64) *Conv2d {
	return NewConv2d(p, in, out, 1, ConvOpts{Stride: stride, NoBias: true}, KaimingNormalFanOut)
}

// newResNet mirrors torchvision.models.resnet.ResNet.__init__ and _make_layer.
func newResNet(name string, bottleneck bool, layers [4]int, groups, widthPerGroup int64, numClasses int) (Model, error) {
	sd := NewStateDict()
	root := sd.Root()
	expansion := int64(1)
	if bottleneck {
		expansion = 4
	}
	inplanes := int64(64)
	body := Sequential{
		NewConv2d(root.Sub("conv1"), 3, 64, 7, ConvOpts{Stride: 2, Padding: 3, NoBias: true}, KaimingNormalFanOut),
		NewBatchNorm2d(root.Sub("bn1"), 64),
		ReLU,
		MaxPool2d(3, 2, 1, false),
	}
	for li, planes := range []int64{64, 128, 256, 512} {
		stride := int64(2)
		if li == 0 {
			stride = 1
		}
		lp := root.Subf("layer%d", li+1)
		for bi := 0; bi < layers[li]; bi++ {
			bp := lp.Subf("%d", bi)
			s := int64(1)
			if bi == 0 {
				s = stride
			}
			blk := &cnnSum{act: cnnActReLU} // relu(main(x) + downsample(x))
			if bottleneck {
				width := planes * widthPerGroup / 64 * groups
				blk.main = Sequential{
					conv1x1(bp.Sub("conv1"), inplanes, width, 1), NewBatchNorm2d(bp.Sub("bn1"), width), ReLU,
					conv3x3(bp.Sub("conv2"), width, width, s, groups), NewBatchNorm2d(bp.Sub("bn2"), width), ReLU,
					conv1x1(bp.Sub("conv3"), width, planes*expansion, 1), NewBatchNorm2d(bp.Sub("bn3"), planes*expansion),
				}
			} else {
				blk.main = Sequential{
					conv3x3(bp.Sub("conv1"), inplanes, planes, s, 1), NewBatchNorm2d(bp.Sub("bn1"), planes), ReLU,
					conv3x3(bp.Sub("conv2"), planes, planes, 1, 1), NewBatchNorm2d(bp.Sub("bn2"), planes),
				}
			}
			if bi == 0 && (s != 1 || inplanes != planes*expansion) {
				dp := bp.Sub("downsample")
				blk.skip = Sequential{
					conv1x1(dp.Sub("0"), inplanes, planes*expansion, s),
					NewBatchNorm2d(dp.Sub("1"), planes*expansion),
				}
			}
			inplanes = planes * expansion
			body = append(body, blk)
		}
	}
	body = append(body, AdaptiveAvgPool2d(1, 1), Flatten, NewLinear(root.Sub("fc"), 512*expansion, int64(numClasses)))
	return finish(sd, Config{Name: name}, body)
}
