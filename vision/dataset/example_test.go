package dataset_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/drgrade/drgrade/vision/dataset"
)

// makeTiny writes a two-image data set in the DDR layout under a new temporary folder:
// train/ + train.txt with one image each of grades 0 and 1 (the images are never decoded by
// Load, so any bytes do).
func makeTiny() (string, error) {
	root, err := os.MkdirTemp("", "dataset-example-")
	if err != nil {
		return "", err
	}
	if err := os.Mkdir(filepath.Join(root, "train"), 0o755); err != nil {
		return "", err
	}
	for _, name := range []string{"007-0001.jpg", "007-0002.jpg"} {
		if err := os.WriteFile(filepath.Join(root, "train", name), []byte("not decoded by Load"), 0o644); err != nil {
			return "", err
		}
	}
	return root, os.WriteFile(filepath.Join(root, "train.txt"), []byte("007-0001.jpg 0\n007-0002.jpg 1\n"), 0o644)
}

// The script's data set and its --num_classes check:
//
//	train_dataset = DR_Grading_Dataset(os.path.join(args.data_path, 'train'), os.path.join(args.data_path, 'train.txt'))
//	if args.num_classes != train_dataset.num_class: raise ValueError(...)
func ExampleLoad() {
	dataPath, err := makeTiny()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dataPath)

	trainDataset, err := dataset.Load(dataPath, "train", 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(trainDataset.FoundMessage())
	fmt.Println(trainDataset.Names, trainDataset.Labels, "per class:", trainDataset.ClassCounts)
	if err := trainDataset.CheckNumClasses(); err != nil {
		fmt.Println(err)
	}

	// With --num_classes 5 a two-grade training set is refused before anything runs.
	five, err := dataset.Load(dataPath, "train", 5)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(five.CheckNumClasses() != nil)
	// Output:
	// 2 images were found in the dataset.
	// [007-0001.jpg 007-0002.jpg] [0 1] per class: [1 1]
	// true
}

// Every problem of a data set is reported at once, with file:line, instead of the first
// exception the Python loader would raise.
func ExampleError() {
	dataPath, err := makeTiny()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dataPath)
	bad := "007-0001.jpg 0\n007-0003.jpg 1\n007-0002.jpg seven\n"
	if err := os.WriteFile(filepath.Join(dataPath, "train.txt"), []byte(bad), 0o644); err != nil {
		fmt.Println(err)
		return
	}
	_, err = dataset.Load(dataPath, "train", 5)
	if e, ok := err.(*dataset.Error); ok {
		for _, p := range e.Problems {
			fmt.Printf("line %d: %v\n", p.Line, p.Kind)
		}
	}
	// Output:
	// line 3: label(s) not an integer
	// line 2: missing image(s)
}
