package trainer

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/vision/models/pth"
)

// TestResumeAfterMidEpochStop is TestResumeMatchesUninterrupted for a stop in the middle of an
// epoch (SIGINT between two steps): the part-trained epoch is abandoned, last.pth still holds
// the state after the last finished epoch, and the resumed run ends with the uninterrupted
// run's DDR.txt, DDR.pth and last.pth (weights, BatchNorm buffers, Adam moments), bit for bit.
func TestResumeAfterMidEpochStop(t *testing.T) {
	if testing.Short() {
		t.Skip("three short trainings per case")
	}
	full := t.TempDir()
	if _, err := Run(tinyConfig(t, full), &bytes.Buffer{}, nil); err != nil {
		t.Fatal(err)
	}
	fullDir := filepath.Join(full, "weights", "shufflenet_small")
	// The stop is polled before every train and eval batch and after each epoch. Counting
	// from the first poll after epoch 1 is logged (its end-of-epoch check, answered false),
	// poll 3 comes before epoch 2's third train batch and poll 10 inside epoch 2's evaluation
	// (6 train batches + the end-of-loader poll, then 2 val batches).
	for _, tc := range []struct {
		name string
		poll int
	}{{"during training", 3}, {"during evaluation", 10}} {
		t.Run(tc.name, func(t *testing.T) {
			part := t.TempDir()
			dir := filepath.Join(part, "weights", "shufflenet_small")
			polls := 0
			stop := func() bool {
				b, _ := os.ReadFile(filepath.Join(dir, "DDR.txt"))
				if strings.Count(string(b), "\n") < 3 {
					return false
				}
				polls++
				return polls >= tc.poll
			}
			var log bytes.Buffer
			if _, err := Run(tinyConfig(t, part), &log, stop); !errors.Is(err, ErrInterrupted) {
				t.Fatalf("interrupted run returned %v\n%s", err, log.String())
			}
			if polls < tc.poll {
				t.Fatalf("stop polled %d times after epoch 1, want %d", polls, tc.poll)
			}
			last := filepath.Join(dir, "last.pth")
			if !strings.Contains(log.String(), "--resume "+last) {
				t.Errorf("no resume hint naming %s:\n%s", last, log.String())
			}
			sd, err := pth.Load(last)
			if err != nil {
				t.Fatal(err)
			}
			if e := sd.Get(ckEpoch); e == nil {
				t.Fatalf("last.pth has no %s entry", ckEpoch)
			} else if v, err := e.Int64s(); err != nil || len(v) != 1 || v[0] != 0 {
				t.Fatalf("last.pth after a stop in epoch 2 records epoch %v (%v), want 0 (epoch 1, the last finished)", v, err)
			}
			cfg := tinyConfig(t, part)
			cfg.Resume = last
			log.Reset()
			if _, err := Run(cfg, &log, nil); err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			if a, b := readFile(t, filepath.Join(fullDir, "DDR.txt")), readFile(t, filepath.Join(dir, "DDR.txt")); !bytes.Equal(a, b) {
				t.Errorf("DDR.txt differs:\nuninterrupted:\n%s\nresumed:\n%s", a, b)
			}
			if !bytes.Equal(readFile(t, filepath.Join(fullDir, "DDR.pth")), readFile(t, filepath.Join(dir, "DDR.pth"))) {
				t.Error("DDR.pth differs from the uninterrupted run's")
			}
			sameTensors(t, modelBytes(t, filepath.Join(fullDir, "last.pth")), modelBytes(t, last))
		})
	}
}
