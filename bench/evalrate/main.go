// Command evalrate measures drgrade's evaluation throughput: images per second through the
// val pipeline (JPEG decode, Resize, CenterCrop, ToTensor, Normalize in vision/loader's
// workers) and the model's eval-mode forward under no-grad, as trainer.Evaluate runs them
// after every epoch and `drgrade eval` runs them on a checkpoint. bench/eval_ref.py is its
// PyTorch counterpart (upstream evaluate over the script's val DataLoader).
//
// One run: build the model (seeded weights: the cost does not depend on their values), a
// warm-up (the first batch of a separate iterator, forwarded once), then one timed
// trainer.Evaluate over the whole val split. Prints {images, seconds, images_per_s} as JSON.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/transforms"
)

// result is the JSON line a run prints; eval_ref.py prints the same keys.
type result struct {
	Impl    string  `json:"impl"`
	Model   string  `json:"model"`
	Images  int     `json:"images"`
	Seconds float64 `json:"seconds"`
	Rate    float64 `json:"images_per_s"`
	Batch   int     `json:"batch"`
	Workers int     `json:"workers"`
	Threads int     `json:"threads"`
}

func main() {
	// As drgrade does: libtorch's CPU buffers are cached (DRGRADE_CPU_CACHE_MB=off for an A/B run).
	if err := torchext.InstallCPUCache(); err != nil {
		fmt.Fprintf(os.Stderr, "evalrate: %v; using the default CPU allocator\n", err)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "evalrate:", err)
		os.Exit(1)
	}
}

func run() error {
	data := flag.String("data", "", "data set root (val/ and val.txt)")
	model := flag.String("model", "resnet_small", "zoo model name")
	batch := flag.Int("batch", 32, "batch size")
	workers := flag.Int("workers", 0, "loader workers (0: the script's min(cpus, batch, 8))")
	threads := flag.Int("threads", 2, "libtorch intra-op threads")
	flag.Parse()
	if *data == "" {
		return errors.New("--data is required")
	}
	ds, err := dataset.Load(*data, "val", 5)
	if err != nil {
		return err
	}
	mcfg, err := models.Lookup(*model)
	if err != nil {
		return err
	}
	tcfg := trainer.TransformConfig(mcfg, 0, trainer.TransformsModel)
	pipe, err := transforms.ValPipeline(tcfg)
	if err != nil {
		return err
	}
	nw := *workers
	if nw == 0 {
		nw = loader.DefaultWorkers(*batch)
	}
	dl, err := loader.New(ds, pipe, tcfg.CropSize, loader.Options{BatchSize: *batch, Workers: nw})
	if err != nil {
		return err
	}
	res := result{Impl: "drgrade", Model: *model, Batch: *batch, Workers: nw, Threads: *threads}
	var runErr error
	trainer.RunLocked(func() {
		runErr = func() error {
			trainer.SetNumThreads(*threads)
			trainer.ManualSeed(1)
			m, err := models.New(*model, 5)
			if err != nil {
				return err
			}
			defer m.Close()
			if err := warmUp(m, dl); err != nil {
				return err
			}
			t0 := time.Now()
			ev, err := trainer.Evaluate(m, dl, false, nil, nil)
			if err != nil {
				return err
			}
			res.Seconds = time.Since(t0).Seconds()
			res.Images = len(ev.Preds)
			return nil
		}()
	})
	if runErr != nil {
		return fmt.Errorf("%s: %s", *model, torchext.Message(runErr))
	}
	res.Rate = float64(res.Images) / res.Seconds
	return json.NewEncoder(os.Stdout).Encode(res)
}

// warmUp loads the first batch from its own iterator and runs one no-grad eval forward on it.
func warmUp(m models.Model, dl *loader.Loader) error {
	it := dl.Epoch(0)
	defer it.Close()
	b, err := it.Next()
	if err != nil || b == nil {
		return fmt.Errorf("warm-up batch: %v", err)
	}
	x, err := models.TensorFrom(b.Images, []int64{int64(b.N), 3, int64(b.H), int64(b.W)})
	b.Release()
	if err != nil {
		return err
	}
	defer x.MustDrop()
	defer trainer.NoGrad()()
	y, err := m.ForwardT(x, false)
	if err != nil {
		return err
	}
	y.MustDrop()
	return nil
}
