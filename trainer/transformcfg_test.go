package trainer

import (
	"math"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/transforms"
)

// TestTransformConfigEveryModel pins both --transforms modes for all 35 zoo names. "script"
// is train_imbalance.py's data_transform whatever the model: RandomResizedCrop(224),
// Resize(256) + CenterCrop(224), ImageNet mean/std (and --img_size N scales the resize to
// round(N·256/224)). "model" is each model's own recipe, the numbers of torchvision's weight
// documentation (ImageClassification(crop_size, resize_size)) and of timm's xception
// pretrained_cfg (299, crop_pct 0.8975, mean/std 0.5).
func TestTransformConfigEveryModel(t *testing.T) {
	own := map[string]struct {
		crop, resize int
		imagenet     bool
	}{
		"alexnet": {224, 256, true}, "convnext": {224, 232, true}, "convnext_big": {224, 232, true},
		"convnext_huge": {224, 232, true}, "convnext_small": {224, 230, true}, "convnext_tiny": {224, 236, true},
		"densenet": {224, 256, true}, "densenet_big": {224, 256, true}, "densenet_small": {224, 256, true},
		"densenet_tiny": {224, 256, true}, "efficient_v2": {480, 480, true}, "efficient_v2_large": {480, 480, true},
		"efficient_v2_small": {384, 384, true}, "googlenet": {224, 256, true}, "mobilenet_v3": {224, 256, true},
		"mobilenet_v3_large": {224, 256, true}, "resnet": {224, 256, true}, "resnet_big": {224, 256, true},
		"resnet_small": {224, 256, true}, "resnext": {224, 256, true}, "resnext_big": {224, 256, true},
		"shufflenet": {224, 256, true}, "shufflenet_small": {224, 256, true}, "swin_transformer": {224, 238, true},
		"swin_transformer_small": {224, 246, true}, "swin_transformer_tiny": {224, 232, true}, "vgg": {224, 256, true},
		"vgg_big": {224, 256, true}, "vgg_small": {224, 256, true}, "vgg_tiny": {224, 256, true},
		"vision_transformer": {224, 256, true}, "vision_transformer_big": {224, 242, true},
		"vision_transformer_small": {224, 256, true}, "xception": {299, 333, false}, "zfnet": {224, 256, true},
	}
	names := zooNamesForTest()
	if len(names) != 35 || len(own) != 35 {
		t.Fatalf("%d zoo models, %d in the table; want 35 of each", len(names), len(own))
	}
	imagenet := transforms.DefaultConfig()
	for _, name := range names {
		mcfg, err := models.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		want, ok := own[name]
		if !ok {
			t.Errorf("%s: not in the table", name)
			continue
		}
		for _, tc := range []struct {
			mode                   string
			img, crop, resize      int
			imagenetMean, ownStats bool
		}{
			{TransformsScript, 0, 224, 256, true, false},
			{"", 0, 224, 256, true, false}, // unset is the script's
			{TransformsScript, 128, 128, 146, true, false},
			{TransformsScript, 384, 384, 439, true, false},
			{TransformsModel, 0, want.crop, want.resize, want.imagenet, true},
		} {
			got := TransformConfig(mcfg, tc.img, tc.mode)
			if got.CropSize != tc.crop || got.ResizeSize != tc.resize {
				t.Errorf("%s --transforms %q --img_size %d: crop %d resize %d, want %d %d", name, tc.mode, tc.img,
					got.CropSize, got.ResizeSize, tc.crop, tc.resize)
			}
			if isImageNet := got.Mean == imagenet.Mean && got.Std == imagenet.Std; isImageNet != tc.imagenetMean {
				t.Errorf("%s --transforms %q: mean %v std %v, ImageNet's: %v", name, tc.mode, got.Mean, got.Std, tc.imagenetMean)
			}
			if tc.ownStats {
				for i := 0; i < 3; i++ {
					if math.Abs(float64(got.Mean[i])-mcfg.Mean[i]) > 1e-7 || math.Abs(float64(got.Std[i])-mcfg.Std[i]) > 1e-7 {
						t.Errorf("%s --transforms model: mean %v std %v, the model's %v %v", name, got.Mean, got.Std, mcfg.Mean, mcfg.Std)
					}
				}
			}
		}
	}
	if s := DescribeTransforms("", TransformConfig(models.Config{}, 0, "")); !strings.Contains(s, "Transforms (script): train RandomResizedCrop(224)") ||
		!strings.Contains(s, "val Resize(256) + CenterCrop(224)") || !strings.Contains(s, "mean=[0.485, 0.456, 0.406]") {
		t.Errorf("run header line: %s", s)
	}
}

// zooNamesForTest is every registered name this package's tests did not register themselves.
func zooNamesForTest() []string {
	var out []string
	for _, n := range models.Names() {
		if n != "oom_toy" {
			out = append(out, n)
		}
	}
	return out
}
