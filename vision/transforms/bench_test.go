package transforms

import (
	"fmt"
	"testing"

	"github.com/drgrade/drgrade/vision/imageio"
)

// synthImage makes a deterministic picture with smooth gradients and per-pixel noise, so the
// benchmarks do not depend on files.
func synthImage(w, h int, seed uint64) *imageio.RGB {
	img := imageio.NewRGB(w, h)
	rng := NewRand(seed, 1)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := rng.IntN(32)
			img.Set(x, y, uint8((x*255/max(1, w-1)+n)%256), uint8((y*255/max(1, h-1)+n)%256), uint8((x+y+n)%256))
		}
	}
	return img
}

func benchPipeline(b *testing.B, train bool) {
	for _, sz := range [][2]int{{2048, 1536}, {512, 512}} {
		b.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(b *testing.B) {
			img := synthImage(sz[0], sz[1], 7)
			var p *Pipeline
			var err error
			if train {
				p, err = TrainPipeline(DefaultConfig())
			} else {
				p, err = ValPipeline(DefaultConfig())
			}
			if err != nil {
				b.Fatal(err)
			}
			rng := NewRand(1, 2)
			dst := make([]float32, 3*224*224)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := p.Run(img, rng, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTrainPipeline times RandomResizedCrop → flip → rotation → ColorJitter → tensor.
func BenchmarkTrainPipeline(b *testing.B) { benchPipeline(b, true) }

// BenchmarkValPipeline times Resize(256) → CenterCrop(224) → tensor.
func BenchmarkValPipeline(b *testing.B) { benchPipeline(b, false) }
