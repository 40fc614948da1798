// Command epoch runs what `drgrade train` runs — trainer.Preflight, then trainer.Run — for
// --epochs epochs and prints one JSON line with the times bench/run.sh compares against the
// researcher's script (bench/train_ref.py): when the first optimiser step finished (Unix
// seconds; procmon's exec time subtracted from it is the time to the first step), the
// in-process time of each epoch (train + evaluation + metrics, EpochRecord.Seconds) and the
// first epoch's numbers.
//
// The end of the first step is seen through Run's stop callback, which the epoch loop polls
// before every batch: its second call comes right after step 1's optimiser step and
// zero_grad, its third after step 2's (their difference is one steady step, the next batch
// having been prefetched). The flags are `drgrade train`'s, with the run's output going to --output.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/vision/loader"
)

// result is the JSON line a run prints; train_ref.py prints the same keys.
type result struct {
	Impl           string    `json:"impl"`
	Model          string    `json:"model"`
	Batch          int       `json:"batch"`
	Threads        int       `json:"threads"`
	Workers        int       `json:"workers"`
	FirstStepUnix  float64   `json:"first_step_unix"`
	SecondStepUnix float64   `json:"second_step_unix"`   // step 2 finished (0: one step only)
	StartUnix      float64   `json:"main_start_unix"`    // main() entered
	PreflightUnix  float64   `json:"preflight_end_unix"` // trainer.Preflight returned
	EpochS         []float64 `json:"epoch_s"`
	TrainLoss      float64   `json:"train_loss"`
	ValAcc         float64   `json:"val_accuracy"`
}

func main() {
	startUnix := float64(time.Now().UnixNano()) / 1e9
	// As drgrade does: libtorch's CPU buffers are cached (DRGRADE_CPU_CACHE_MB=off for an A/B run).
	if err := torchext.InstallCPUCache(); err != nil {
		fmt.Fprintf(os.Stderr, "epoch: %v; using the default CPU allocator\n", err)
	}
	cfg := trainer.DefaultConfig()
	flag.StringVar(&cfg.DataPath, "data_path", "", "data set folder (train/, val/, train.txt, val.txt)")
	flag.StringVar(&cfg.Model, "model", "resnet_small", "zoo model name")
	flag.IntVar(&cfg.Epochs, "epochs", 1, "epochs")
	flag.IntVar(&cfg.BatchSize, "batch_size", 32, "batch size")
	flag.IntVar(&cfg.Threads, "threads", 2, "libtorch threads (--threads)")
	flag.IntVar(&cfg.NumWorkers, "num_workers", -1, "loader workers (-1: the script's min(cpus, batch_size, 8))")
	flag.StringVar(&cfg.Output, "output", "", "output root (weights/, tensorboard/)")
	flag.StringVar(&cfg.Weights, "weights", "", `initial weights ("" for none)`)
	flag.BoolVar(&cfg.CheckImages, "check_images", cfg.CheckImages, "decode every image before training (drgrade train's default)")
	flag.Parse()
	cfg.Quiet = true
	if cfg.DataPath == "" || cfg.Output == "" {
		fmt.Fprintln(os.Stderr, "epoch: --data_path and --output are required")
		os.Exit(2)
	}
	calls := 0
	var firstStep, secondStep float64
	stop := func() bool {
		calls++
		switch calls {
		case 2:
			firstStep = float64(time.Now().UnixNano()) / 1e9
		case 3:
			secondStep = float64(time.Now().UnixNano()) / 1e9
		}
		return false
	}
	if err := trainer.Preflight(cfg, io.Discard); err != nil {
		fmt.Fprintln(os.Stderr, "epoch:", err)
		os.Exit(1)
	}
	preflightEnd := float64(time.Now().UnixNano()) / 1e9
	res, err := trainer.Run(cfg, io.Discard, stop)
	if err != nil {
		fmt.Fprintln(os.Stderr, "epoch:", err)
		os.Exit(1)
	}
	r := result{Impl: "drgrade", Model: cfg.Model, Batch: cfg.BatchSize, Threads: cfg.Threads,
		FirstStepUnix: firstStep, SecondStepUnix: secondStep, StartUnix: startUnix, PreflightUnix: preflightEnd, Workers: cfg.NumWorkers}
	if r.Workers < 0 {
		r.Workers = loader.DefaultWorkers(cfg.BatchSize)
	}
	for _, e := range res.Epochs {
		r.EpochS = append(r.EpochS, e.Seconds)
	}
	if len(res.Epochs) > 0 {
		r.TrainLoss, r.ValAcc = res.Epochs[0].TrainLoss, res.Epochs[0].ValAcc
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		os.Exit(1)
	}
}
