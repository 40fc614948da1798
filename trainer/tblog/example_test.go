package tblog_test

import (
	"fmt"
	"os"

	"github.com/drgrade/drgrade/trainer/tblog"
)

// The script's SummaryWriter and add_scalar calls:
//
//	tb_writer = SummaryWriter(log_path)
//	tb_writer.add_scalar("train_loss", mean_loss, epoch)
//
// and reading the scalars back, as TensorBoard's EventAccumulator does.
func ExampleWriter() {
	logPath, err := os.MkdirTemp("", "tblog-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(logPath)

	tbWriter, err := tblog.NewWriter(logPath)
	if err != nil {
		fmt.Println(err)
		return
	}
	for epoch, meanLoss := range []float64{1.5, 1.25} {
		if err := tbWriter.AddScalar("train_loss", meanLoss, int64(epoch)); err != nil {
			fmt.Println(err)
			return
		}
		if err := tbWriter.AddScalar("learning_rate", 2e-4, int64(epoch)); err != nil {
			fmt.Println(err)
			return
		}
		if err := tbWriter.Flush(); err != nil { // once per epoch, so a crash loses nothing logged
			fmt.Println(err)
			return
		}
	}
	if err := tbWriter.Close(); err != nil {
		fmt.Println(err)
		return
	}

	events, err := tblog.ReadDir(logPath)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(events[0].FileVersion)
	for _, s := range tblog.Scalars(events) {
		fmt.Printf("%s step %d: %g\n", s.Tag, s.Step, s.Value)
	}
	// Output:
	// brain.Event:2
	// train_loss step 0: 1.5
	// learning_rate step 0: 0.0002
	// train_loss step 1: 1.25
	// learning_rate step 1: 0.0002
}
