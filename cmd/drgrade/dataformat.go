package main

import (
	"flag"
	"strings"

	"github.com/drgrade/drgrade/vision/dataset"
)

// dataFormatFlags adds --data_format, --image_col, --label_col and --image_ext (how
// --data_path is stored; docs/training.md "Data formats") to a command that reads a data set.
func dataFormatFlags(fs *flag.FlagSet, o *dataset.Options) {
	fs.StringVar(&o.Format, "data_format", "", "how --data_path is stored: "+strings.Join(dataset.Formats, "|")+
		" (ddr: <split>/ + <split>.txt; csv: <split>.csv or <split>Labels.csv + <split>/ or <split>_images/; "+
		"folder: <split>/<grade>/ like torchvision's ImageFolder); empty: detected")
	fs.StringVar(&o.ImageCol, "image_col", "", "csv: the image column (empty: image, id_code, Image name, image_id, ...)")
	fs.StringVar(&o.LabelCol, "label_col", "", "csv: the grade column (empty: level, diagnosis, Retinopathy grade, adjudicated_dr_grade, ...)")
	fs.StringVar(&o.ImageExt, "image_ext", "", "csv: extension added to image names that lack it, e.g. .jpeg (empty: the one that exists)")
}

// noSplits is the usage error for a --data_path without any split in its format.
func noSplits(dataPath string, o dataset.Options) error {
	switch f, _ := o.DetectFormat(dataPath); f {
	case dataset.FormatCSV:
		return usagef("%s has no train, val or test split in the csv format (<split>.csv or <split>Labels.csv beside <split>/ or <split>_images/)", dataPath)
	case dataset.FormatFolder:
		return usagef("%s has no train/, val/ or test/ folder of grade folders (the folder format)", dataPath)
	}
	return usagef("%s has no train/ + train.txt, val/ + val.txt or test/ + test.txt", dataPath)
}
