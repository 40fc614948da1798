package models

import (
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
)

// ConvNeXt family, mirroring torchvision.models.convnext. convnext_huge is the paper's
// ConvNeXt-XLarge, which torchvision has no builder for: its ConvNeXt class with widths
// (256, 512, 1024, 2048), depths (3, 3, 27, 3) and the large model's stochastic depth 0.5.
func init() {
	reg := func(name, arch string, dims [4]int64, depths [4]int, sdProb, cropPct float64) {
		zoo(name, func(n int) (Model, error) {
			return newConvNeXt(name, dims, depths, sdProb, n)
		}, Config{Arch: arch, Classifier: "classifier.2", CropPct: cropPct})
	}
	reg("convnext_tiny", "convnext_tiny", [4]int64{96, 192, 384, 768}, [4]int{3, 3, 9, 3}, 0.1, 224.0/236)
	reg("convnext_small", "convnext_small", [4]int64{96, 192, 384, 768}, [4]int{3, 3, 27, 3}, 0.4, 224.0/230)
	reg("convnext", "convnext_base", [4]int64{128, 256, 512, 1024}, [4]int{3, 3, 27, 3}, 0.5, 224.0/232)
	reg("convnext_big", "convnext_large", [4]int64{192, 384, 768, 1536}, [4]int{3, 3, 27, 3}, 0.5, 224.0/232)
	reg("convnext_huge", "convnext_xlarge", [4]int64{256, 512, 1024, 2048}, [4]int{3, 3, 27, 3}, 0.5, 224.0/232)
}

// cnInit is ConvNeXt's initialisation of every Conv2d and Linear weight: trunc_normal_(std=0.02),
// whose ±2 bounds lie 100 standard deviations out, so a plain normal draw has its distribution.
var cnInit = Normal(0, 0.02)

// cnBlock mirrors torchvision.models.convnext.CNBlock:
// input + stochastic_depth(layer_scale * block(input)).
type cnBlock struct {
	layerScale *ts.Tensor
	block      Sequential
	sdProb     float64
}

func (b *cnBlock) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	var s own.Scope
	defer s.Free()
	y, err := s.Track(b.block.ForwardT(x, train))
	if err != nil {
		return nil, err
	}
	if y, err = s.Track(b.layerScale.Mul(y, false)); err != nil {
		return nil, err
	}
	return residualAdd(y, x, b.sdProb, train)
}

func newCNBlock(p Path, dim int64, sdProb float64) *cnBlock {
	b := &cnBlock{layerScale: p.Param("layer_scale", []int64{dim, 1, 1}, constant(1e-6)), sdProb: sdProb}
	bp := p.Sub("block")
	b.block = Sequential{
		modConv(bp.Sub("0"), dim, dim, 7, ConvOpts{Padding: 3, Groups: dim}, cnInit, Zeros),
		permuteLayer(0, 2, 3, 1),
		NewLayerNorm(bp.Sub("2"), dim, 1e-6),
		newLinearInit(bp.Sub("3"), dim, 4*dim, true, cnInit, Zeros),
		geluLayer,
		newLinearInit(bp.Sub("5"), 4*dim, dim, true, cnInit, Zeros),
		permuteLayer(0, 3, 1, 2),
	}
	return b
}

// newConvNeXt mirrors torchvision.models.convnext.ConvNeXt.__init__ and its initialisation.
func newConvNeXt(name string, dims [4]int64, depths [4]int, sdProb float64, numClasses int) (Model, error) {
	sd := NewStateDict()
	feat := sd.Root().Sub("features")
	stem := feat.Sub("0")
	body := Sequential{
		modConv(stem.Sub("0"), 3, dims[0], 4, ConvOpts{Stride: 4}, cnInit, Zeros),
		layerNorm2d{NewLayerNorm(stem.Sub("1"), dims[0], 1e-6)},
	}
	total := 0
	for _, d := range depths {
		total += d
	}
	blockID, idx := 0, 1
	for si, dim := range dims {
		sp := feat.Subf("%d", idx)
		var stage Sequential
		for li := 0; li < depths[si]; li++ {
			p := sdProb * float64(blockID) / (float64(total) - 1)
			stage = append(stage, newCNBlock(sp.Subf("%d", li), dim, p))
			blockID++
		}
		body = append(body, stage)
		idx++
		if si < len(dims)-1 {
			dp := feat.Subf("%d", idx)
			body = append(body, Sequential{
				layerNorm2d{NewLayerNorm(dp.Sub("0"), dim, 1e-6)},
				modConv(dp.Sub("1"), dim, dims[si+1], 2, ConvOpts{Stride: 2}, cnInit, Zeros),
			})
			idx++
		}
	}
	cls := sd.Root().Sub("classifier")
	last := dims[3]
	body = append(body,
		AdaptiveAvgPool2d(1, 1),
		layerNorm2d{NewLayerNorm(cls.Sub("0"), last, 1e-6)},
		Flatten,
		newLinearInit(cls.Sub("2"), last, int64(numClasses), true, cnInit, Zeros))
	return finish(sd, Config{Name: name}, body)
}
