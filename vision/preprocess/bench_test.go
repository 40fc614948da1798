package preprocess

import (
	"testing"

	"github.com/drgrade/drgrade/internal/testutil"
	"github.com/drgrade/drgrade/vision/imageio"
)

// BenchmarkPreprocess times each step and the quality measures on the real photo
// (retina.jpg, 1411×1411).
func BenchmarkPreprocess(b *testing.B) {
	img, err := imageio.Decode(testutil.RetinaPhoto(b))
	if err != nil {
		b.Fatal(err)
	}
	for _, chain := range []string{"crop", "graham", "clahe", "crop,graham"} {
		c, err := Parse(chain)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(chain, func(b *testing.B) {
			for range b.N {
				if _, err := c.Run(img); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("quality", func(b *testing.B) {
		for range b.N {
			Measure(img, DefaultQuality)
		}
	})
}
