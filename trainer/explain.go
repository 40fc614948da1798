package trainer

import (
	"fmt"
	"io"

	"github.com/sugarme/gotch"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/vision/explain"
	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/transforms"
)

// ExplainConfig is what Grad-CAM of a checkpoint needs (drgrade explain, predict --explain and
// eval's report): the model and its weights, the val transforms, the device.
type ExplainConfig struct {
	Model      string
	Weights    string
	NumClasses int
	ImgSize    int    // 0: 224 (or the model's input size with Transforms "model")
	Transforms string // script ("") or model
	Threads    int
	Device     string // cpu, 0, cuda:0 ("": the CPU)
	BatchSize  int    // images per forward and backward pass (0: 8)
}

// Explained is one image's Grad-CAM.
type Explained struct {
	Path   string
	Image  *imageio.RGB // the val-transformed picture the model saw
	Result explain.Result
}

// ExplainFiles runs Grad-CAM (vision/explain) of cfg's checkpoint on each image of paths
// through the val transforms, for targets[i] (nil, or -1: the predicted grade). Images that
// cannot be read are returned in unreadable, the others in order. Notes (device, load report,
// layer) go to log. The tensor work runs on a locked OS thread.
func ExplainFiles(cfg ExplainConfig, paths []string, targets []int, log io.Writer) (out []Explained, unreadable []error, err error) {
	if targets != nil && len(targets) != len(paths) {
		return nil, nil, fmt.Errorf("explain: %d targets for %d images", len(targets), len(paths))
	}
	if cfg.BatchSize < 1 {
		cfg.BatchSize = 8
	}
	sc := scoring{model: cfg.Model, weights: cfg.Weights, device: cfg.Device, transforms: cfg.Transforms,
		numClasses: cfg.NumClasses, batchSize: cfg.BatchSize, imgSize: cfg.ImgSize, threads: cfg.Threads}
	mcfg, err := sc.check("explain")
	if err != nil {
		return nil, nil, err
	}
	layer, err := explain.TargetLayer(cfg.Model)
	if err != nil {
		return nil, nil, inputErr(err)
	}
	tcfg := TransformConfig(mcfg, cfg.ImgSize, cfg.Transforms)
	pipe, err := transforms.ValPipeline(tcfg)
	if err != nil {
		return nil, nil, err
	}
	locked.Run(func() {
		var report *models.LoadReport
		var m models.Model
		var dev gotch.Device
		if m, dev, err = sc.loadModel(&report, log); err != nil {
			return
		}
		defer m.Close()
		if h := m.Config().Head; h != "" {
			err = inputErr(fmt.Errorf("Grad-CAM explains a class logit, and %s holds a --head %s model (no class logits)", cfg.Weights, h))
			return
		}
		fmt.Fprintln(log, report)
		fmt.Fprintf(log, "Grad-CAM of %s at %s, on the val transforms (%d px)\n", cfg.Model, layer, tcfg.CropSize)
		for start := 0; start < len(paths); start += cfg.BatchSize {
			var idx []int
			var imgs []*imageio.RGB
			var data []float32
			for i := start; i < min(start+cfg.BatchSize, len(paths)); i++ {
				img, e := imageio.Decode(paths[i])
				if e != nil {
					unreadable = append(unreadable, e)
					continue
				}
				s, e := pipe.Run(img, transforms.NewRand(0, 0), nil)
				if e != nil {
					err = e
					return
				}
				idx, imgs, data = append(idx, i), append(imgs, s.RGB), append(data, s.CHW...)
			}
			if len(idx) == 0 {
				continue
			}
			var tg []int
			if targets != nil {
				for _, i := range idx {
					tg = append(tg, targets[i])
				}
			}
			var res []explain.Result
			if res, err = explainBatch(data, len(idx), tcfg.CropSize, m, dev, tg); err != nil {
				return
			}
			for k, i := range idx {
				out = append(out, Explained{Path: paths[i], Image: imgs[k], Result: res[k]})
			}
		}
	})
	return out, unreadable, err
}

// explainBatch runs GradCAM on n transformed images (CHW float32, size×size each) on dev.
func explainBatch(data []float32, n, size int, m models.Model, dev gotch.Device, targets []int) ([]explain.Result, error) {
	x, err := torchext.FromSliceTo(data, []int64{int64(n), 3, int64(size), int64(size)}, dev)
	if err != nil {
		return nil, err
	}
	defer x.MustDrop()
	return explain.GradCAM(m, x, targets)
}
