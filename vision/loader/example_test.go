package loader_test

import (
	"fmt"
	"os"

	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/synth"
	"github.com/drgrade/drgrade/vision/transforms"
)

// The script's training loader on a tiny synthetic data set (what `drgrade synth` writes):
//
//	train_loader = torch.utils.data.DataLoader(train_dataset, batch_size=4, shuffle=True,
//	                                           num_workers=nw)
//	for images, labels in train_loader: ...
//
// with a 16-pixel crop instead of 224 to keep it small. The last partial batch is kept, as in
// torch; the order depends only on (Seed, epoch), never on the number of workers.
func ExampleLoader_Epoch() {
	dataPath, err := os.MkdirTemp("", "loader-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dataPath)
	if _, err := synth.Generate(dataPath, synth.Options{N: 12, Size: 32, Seed: 3, Proportions: "uniform"}, nil); err != nil {
		fmt.Println(err)
		return
	}
	trainDataset, err := dataset.Load(dataPath, "train", synth.NumGrades)
	if err != nil {
		fmt.Println(err)
		return
	}

	cfg := transforms.DefaultConfig()
	cfg.CropSize, cfg.ResizeSize = 16, 18
	pipe, err := transforms.TrainPipeline(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	trainLoader, err := loader.New(trainDataset, pipe, cfg.CropSize, loader.Options{BatchSize: 4, Shuffle: true, Seed: 0})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d images, %d batches per epoch\n", trainDataset.Len(), trainLoader.Len())

	it := trainLoader.Epoch(0)
	defer it.Close()
	for {
		b, err := it.Next()
		if err != nil {
			fmt.Println(err)
			return
		}
		if b == nil { // end of the epoch
			break
		}
		fmt.Printf("images [%d 3 %d %d] (%d float32), labels %v\n", b.N, b.H, b.W, len(b.Images), b.Labels)
		b.Release() // the buffers go back to the loader for the next batches
	}
	// Output:
	// 7 images, 2 batches per epoch
	// images [4 3 16 16] (3072 float32), labels [1 4 2 3]
	// images [3 3 16 16] (2304 float32), labels [0 0 1]
}

// Data-parallel training: each rank loads its own part of the epoch, as torch's
// DistributedSampler(dataset, num_replicas=3, rank=r, shuffle=True, seed=0) gives it after
// sampler.set_epoch(0). The order is torch.randperm's, padded by repeating its start until
// every rank has the same number of samples (the values are torch 2.1's).
func ExampleDistributedIndices() {
	fmt.Println("torch.randperm(10):", loader.TorchRandperm(10, 0))
	for r := 0; r < 3; r++ {
		shard := loader.Shard{Rank: r, World: 3}
		fmt.Printf("rank %d: %v\n", r, loader.DistributedIndices(10, shard, true, 0, 0))
	}
	// Output:
	// torch.randperm(10): [4 1 7 5 3 9 0 8 6 2]
	// rank 0: [4 5 0 2]
	// rank 1: [1 3 8 4]
	// rank 2: [7 9 6 1]
}
