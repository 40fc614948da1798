package trainer

import (
	"errors"
	"fmt"
	"image"
	"io"

	"github.com/sugarme/gotch"

	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/explain"
	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/transforms"
)

// Grader is PredictFiles for a long-running process (drgrade serve): the checkpoint is loaded
// once and images arrive as bytes, in batches the caller gathers. A batch graded here gives the
// probabilities PredictFiles gives for the same files in one loader batch, bit for bit: the same
// decode (Pipeline.RunSource on the encoded bytes), val transforms, forward, temperature and
// softmax (EvaluateWith's evalForward and softmaxRows).
//
// NewGrader, Grade, Explain and Close do tensor work: call them all on one locked OS thread
// (internal/locked). Prepare is pure Go and safe for concurrent use.
type Grader struct {
	Referral *Referral          // the --thresholds operating point (nil without)
	Report   *models.LoadReport // LoadCheckpoint's report
	CropSize int                // the side of the square the model sees

	cfg   PredictConfig
	pipe  *transforms.Pipeline
	model models.Model
	dev   gotch.Device
	cam   bool // the model has a Grad-CAM target layer (and class logits to explain)
	dec   headDecoder
}

// NewGrader checks cfg as PredictFiles does, then loads the model on cfg.Device with the
// checkpoint's weights. Notes (device fallback) go to log. Errors from cfg are InputErrors.
func NewGrader(cfg PredictConfig, log io.Writer) (*Grader, error) {
	sc := scoring{model: cfg.Model, weights: cfg.Weights, device: cfg.Device, tta: cfg.TTA, transforms: cfg.Transforms,
		numClasses: cfg.NumClasses, batchSize: 1, imgSize: cfg.ImgSize, threads: cfg.Threads, temperature: cfg.Temperature,
		gradeThresholds: cfg.GradeThresholds}
	mcfg, err := sc.check("grade with")
	if err != nil {
		return nil, err
	}
	referral, err := LoadReferral(cfg)
	if err != nil {
		return nil, err
	}
	tcfg := TransformConfig(mcfg, cfg.ImgSize, cfg.Transforms)
	pipe, err := transforms.ValPipeline(tcfg)
	if err != nil {
		return nil, inputErr(err)
	}
	g := &Grader{Referral: referral, CropSize: tcfg.CropSize, cfg: cfg, pipe: pipe}
	if g.model, g.dev, err = sc.loadModel(&g.Report, log); err != nil {
		return nil, err
	}
	g.dec, err = newHeadDecoder(g.model, g.Report.GradeThresholds)
	if err == nil {
		err = g.dec.check(cfg.TTA, cfg.Temperature)
	}
	if err != nil {
		g.Close()
		return nil, inputErr(err)
	}
	_, camErr := explain.TargetLayer(cfg.Model)
	g.cam = camErr == nil && g.dec.logits()
	return g, nil
}

// Close frees the model.
func (g *Grader) Close() {
	if g.model != nil {
		g.model.Close()
		g.model = nil
	}
}

// CanExplain reports whether the model has a Grad-CAM target layer.
func (g *Grader) CanExplain() bool { return g.cam }

// Prepare decodes an encoded image (JPEG, PNG, ... as imageio) and applies the val transforms,
// as the loader does for a file: the sample's CHW is what Grade takes, its RGB the picture the
// model sees (for Explain). Decoding errors are *imageio.Error. name is only used in errors.
func (g *Grader) Prepare(name string, data []byte) (transforms.Sample, error) {
	var src imageio.Encoded
	src.Reset(name, data)
	s, err := g.pipe.RunSource(&src, transforms.NewRand(0, 0), nil)
	if err != nil {
		return s, err
	}
	if s.H != g.CropSize || s.W != g.CropSize {
		return s, fmt.Errorf("transform produced %d×%d, want %d×%d", s.W, s.H, g.CropSize, g.CropSize)
	}
	return s, nil
}

// Grade runs one forward over the samples (CHW of Prepare) as one batch and returns a
// Prediction for each (Path left empty), with P(referable), P(any DR) and refer as predict's.
func (g *Grader) Grade(chw [][]float32) ([]Prediction, error) {
	if len(chw) == 0 {
		return nil, errors.New("grade: no images")
	}
	per := 3 * g.CropSize * g.CropSize
	data := make([]float32, 0, len(chw)*per)
	for i, c := range chw {
		if len(c) != per {
			return nil, fmt.Errorf("grade: image %d has %d values, want %d", i, len(c), per)
		}
		data = append(data, c...)
	}
	defer torchext.NoGrad()()
	x, err := torchext.FromSliceTo(data, []int64{int64(len(chw)), 3, int64(g.CropSize), int64(g.CropSize)}, torchext.OrCPU(g.dev))
	if err != nil {
		return nil, err
	}
	defer x.MustDrop()
	pred, err := evalForward(g.model, x, g.cfg.TTA, g.cfg.Temperature)
	if err != nil {
		return nil, err
	}
	defer pred.MustDrop()
	db, err := g.dec.decode(pred, true, g.cfg.TTA != "", g.cfg.Temperature)
	if err != nil {
		return nil, err
	}
	cls, probs := db.grades, db.probs
	out := make([]Prediction, len(chw))
	for i := range out {
		out[i] = Prediction{Grade: int(cls[i]), Name: dataset.GradeName(int(cls[i])), Probs: probs[i]}
		g.Referral.grade(&out[i], g.cfg)
	}
	return out, nil
}

// WarmUp runs one forward of zeros at every batch size from maxBatch down to 1: the buffers of
// every batch a server's batcher can form are then in the caching CPU allocator
// (torchext.InstallCPUCache; a smaller batch reuses a larger one's blocks), so the process's
// memory is at its steady state before the first request instead of growing as new batch sizes
// appear (a Grad-CAM at batch 1 fits in the same blocks: TestWarmUpCoversBatchSizes).
func (g *Grader) WarmUp(maxBatch int) error {
	zeros := make([]float32, 3*g.CropSize*g.CropSize)
	for b := maxBatch; b >= 1; b-- {
		chw := make([][]float32, b)
		for i := range chw {
			chw[i] = zeros
		}
		if _, err := g.Grade(chw); err != nil {
			return fmt.Errorf("warm-up forward of %d images: %w", b, err)
		}
	}
	return nil
}

// Explain is predict --explain for one prepared sample: the Grad-CAM of grade target, as the
// overlay drgrade explain writes (grad-cam's show_cam_on_image).
func (g *Grader) Explain(s transforms.Sample, target int) (*image.NRGBA, error) {
	if !g.cam {
		return nil, fmt.Errorf("explain: %s has no Grad-CAM target layer", g.cfg.Model)
	}
	res, err := explainBatch(s.CHW, 1, g.CropSize, g.model, torchext.OrCPU(g.dev), []int{target})
	if err != nil {
		return nil, err
	}
	return explain.Overlay(s.RGB, res[0].Map)
}
