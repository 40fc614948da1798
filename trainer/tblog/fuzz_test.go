package tblog

import (
	"bytes"
	"math"
	"os"
	"testing"
)

// FuzzReadEvents feeds arbitrary bytes to the reader. It must not panic, and whatever it
// accepts must survive a round trip: re-encoding the scalars it decoded and reading them back
// gives the same scalars (bit for bit). Seeds: testdata/fuzz/FuzzReadEvents plus the
// committed torch-written file and an in-memory Go-written one.
func FuzzReadEvents(f *testing.F) {
	f.Add(sampleFile(f))
	if b, err := os.ReadFile("testdata/tblog/torch.tfevents"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		events, err := ReadEvents(bytes.NewReader(data))
		if err != nil && len(events) > 0 && len(data) < 12*len(events) {
			t.Fatalf("%d events from %d bytes", len(events), len(data))
		}
		var again []byte
		for _, s := range Scalars(events) {
			again = frameRecord(again, encodeScalarEvent(s.WallTime, s.Step, s.Tag, s.Value))
		}
		back, err := ReadEvents(bytes.NewReader(again))
		if err != nil {
			t.Fatalf("re-reading our own encoding: %v", err)
		}
		want, got := Scalars(events), Scalars(back)
		if len(got) != len(want) {
			t.Fatalf("round trip: %d scalars, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i].Tag != want[i].Tag || got[i].Step != want[i].Step ||
				math.Float64bits(got[i].WallTime) != math.Float64bits(want[i].WallTime) ||
				math.Float32bits(got[i].Value) != math.Float32bits(want[i].Value) {
				t.Fatalf("round trip: %+v, want %+v", got[i], want[i])
			}
		}
	})
}
