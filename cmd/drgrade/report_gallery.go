package main

import (
	"io"

	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/trainer/report"
)

// galleryImages is how many of the most confident mistakes the report explains.
const galleryImages = 8

// reportGallery is the report's gallery: the most confident mistakes with their Grad-CAM.
func reportGallery(o *trainer.EvalOutput, log io.Writer) ([]report.Tile, string, error) {
	return trainer.MistakeGallery(o, galleryImages, log)
}
