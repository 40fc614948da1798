package trainer_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/trainer/schedule"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/synth"
	"github.com/drgrade/drgrade/vision/transforms"
)

// One optimiser step by hand, as inside train_one_epoch:
//
//	pred = model(images); loss = criterion(pred, labels)
//	loss.backward(); optimizer.step(); optimizer.zero_grad()
//
// Every tensor is freed by its owner; everything runs on one locked OS thread.
func Example_trainingStep() {
	trainer.RunLocked(func() {
		trainer.ManualSeed(1)
		model, err := models.New("shufflenet_small", 5)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer model.Close()
		criterion, err := loss.NewCrossEntropy(nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer criterion.Close()
		optimizer, err := trainer.NewAdam(model.StateDict().Parameters(), 1e-3, 1e-4)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer optimizer.Close()

		images := ts.MustRandn([]int64{4, 3, 32, 32}, gotch.Float, gotch.CPU)
		defer images.MustDrop()
		labels := ts.MustOfSlice([]int64{0, 1, 2, 4})
		defer labels.MustDrop()

		step := func() (float64, error) {
			pred, err := model.ForwardT(images, true) // model.train(); model(images)
			if err != nil {
				return 0, err
			}
			defer pred.MustDrop()
			l, err := criterion.Loss(pred, labels)
			if err != nil {
				return 0, err
			}
			defer l.MustDrop()
			if err := l.Backward(); err != nil { // loss.backward()
				return 0, err
			}
			if err := optimizer.Step(); err != nil { // optimizer.step()
				return 0, err
			}
			optimizer.ZeroGrad() // optimizer.zero_grad()
			return l.Float64Values()[0], nil
		}
		first, err := step()
		if err != nil {
			fmt.Println(err)
			return
		}
		var last float64
		for i := 0; i < 4; i++ {
			if last, err = step(); err != nil {
				fmt.Println(err)
				return
			}
		}
		fmt.Println("Adam steps taken:", optimizer.StepCount)
		fmt.Println("loss went down on the batch:", last < first)
	})
	// Output:
	// Adam steps taken: 5
	// loss went down on the batch: true
}

// train_one_epoch and evaluate over a data set on disk: the loop of examples/train_ddr,
// shortened to one epoch on twelve synthetic 48-px images.
func ExampleTrainOneEpoch() {
	dir, err := os.MkdirTemp("", "trainer-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	dataPath := filepath.Join(dir, "data")
	if _, err := synth.Generate(dataPath, synth.Options{N: 12, Size: 48, Seed: 1, Proportions: "uniform"}, nil); err != nil {
		fmt.Println(err)
		return
	}
	trainDataset, err := dataset.Load(dataPath, "train", 5)
	if err != nil {
		fmt.Println(err)
		return
	}
	valDataset, err := dataset.Load(dataPath, "val", 5)
	if err != nil {
		fmt.Println(err)
		return
	}
	tcfg := transforms.DefaultConfig()
	tcfg.CropSize, tcfg.ResizeSize = 32, 37
	trainTransform, err := transforms.TrainPipeline(tcfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	valTransform, err := transforms.ValPipeline(tcfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	trainLoader, err := loader.New(trainDataset, trainTransform, 32, loader.Options{BatchSize: 4, Shuffle: true, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	valLoader, err := loader.New(valDataset, valTransform, 32, loader.Options{BatchSize: 4, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}

	trainer.RunLocked(func() {
		trainer.ManualSeed(1)
		model, err := models.New("shufflenet_small", 5)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer model.Close()
		criterion := loss.NewFocal(1, 2)
		defer criterion.Close()
		optimizer, err := trainer.NewAdam(model.StateDict().Parameters(), 2e-4, 1e-4)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer optimizer.Close()
		scheduler, err := schedule.NewScript(schedule.Config{LR: 2e-4, LRF: 1e-4, Epochs: 1,
			LoaderLen: trainLoader.Len(), Warmup: true})
		if err != nil {
			fmt.Println(err)
			return
		}

		tr, err := trainer.TrainOneEpoch(trainer.EpochArgs{Model: model, Optimizer: optimizer,
			DataLoader: trainLoader, Epoch: 0, LRMethod: scheduler, Criterion: criterion})
		if err != nil {
			fmt.Println(err)
			return
		}
		if err := scheduler.EndEpoch(); err != nil { // scheduler.step()
			fmt.Println(err)
			return
		}
		ev, err := trainer.Evaluate(model, valLoader, false, nil, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("trained on %d images in %d steps; finite loss: %v\n", tr.Samples, optimizer.StepCount,
			!math.IsNaN(tr.MeanLoss) && !math.IsInf(tr.MeanLoss, 0))
		fmt.Printf("evaluated %d images; accuracy in [0, 1]: %v\n", len(ev.Preds), ev.Acc >= 0 && ev.Acc <= 1)
	})
	// Output:
	// trained on 7 images in 2 steps; finite loss: true
	// evaluated 5 images; accuracy in [0, 1]: true
}
