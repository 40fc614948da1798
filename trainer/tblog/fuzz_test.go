package tblog

import (
	"bytes"
	"math"
	"os"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzReadEvents feeds arbitrary bytes to the reader. It must not panic, and whatever it
// accepts must survive a round trip: re-encoding the scalars it decoded and reading them back
// gives the same scalars (bit for bit). The bytes are read twice: as a file, and framed as
// one record with valid CRCs, so mutations reach the protobuf decoder (in a file almost every
// mutation fails a CRC first). Seeds: testdata/fuzz/FuzzReadEvents plus the committed
// torch-written file, an in-memory Go-written one and bare events.
func FuzzReadEvents(f *testing.F) {
	f.Add(sampleFile(f))
	if b, err := os.ReadFile("testdata/tblog/torch.tfevents"); err == nil {
		f.Add(b)
	}
	f.Add(encodeScalarEvent(2.5, 3, "train_loss", 0.75))
	f.Add(encodeFileVersionEvent(1.5, FileVersion, SourceWriter))
	f.Fuzz(func(t *testing.T, data []byte) {
		readRoundTrip(t, data)
		readRoundTrip(t, frameRecord(nil, data))
	})
}

// readRoundTrip is FuzzReadEvents' check of one event file's bytes.
func readRoundTrip(t *testing.T, data []byte) {
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
}

// FuzzWriteRead is the writer-side round trip: scalars written through a real Writer (an
// event file on disk, flushed, closed) read back with ReadFile as the same points, bit for
// bit, after the file_version event; a tag the writer refuses (not UTF-8, which TensorBoard's
// protobuf reader would reject) leaves the file readable. Two scalars per input, so the second
// record's framing after the first is exercised too.
func FuzzWriteRead(f *testing.F) {
	f.Add("train_loss", 0.75, int64(0), int64(1717171717250000000), "kappa", math.NaN(), int64(-1))
	f.Add("", math.Inf(-1), int64(math.MaxInt64), int64(0), "f1_score", math.MaxFloat64, int64(math.MinInt64))
	f.Add("学习率/lr", 1e-300, int64(1), int64(-1), "a\x00b", -0.0, int64(1<<40))
	f.Add("\xff\xfe", 3.4028235677973366e+38, int64(7), int64(1), "ok", 1.0, int64(2))
	f.Fuzz(func(t *testing.T, tag1 string, v1 float64, step1, wallNs int64, tag2 string, v2 float64, step2 int64) {
		wall := time.Unix(0, wallNs)
		w, err := newWriter(t.TempDir(), func() time.Time { return wall })
		if err != nil {
			t.Fatal(err)
		}
		var want []Scalar
		for _, s := range []struct {
			tag  string
			v    float64
			step int64
		}{{tag1, v1, step1}, {tag2, v2, step2}} {
			err := w.AddScalar(s.tag, s.v, s.step)
			if utf8.ValidString(s.tag) != (err == nil) {
				t.Fatalf("AddScalar(%q): %v", s.tag, err)
			}
			if err == nil {
				want = append(want, Scalar{wallTime(wall), s.step, s.tag, toFloat32(s.v)})
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		events, err := ReadFile(w.Path())
		if err != nil {
			t.Fatalf("reading the writer's file: %v", err)
		}
		if len(events) != 1+len(want) || !events[0].HasFileVersion || events[0].FileVersion != FileVersion ||
			math.Float64bits(events[0].WallTime) != math.Float64bits(wallTime(wall)) {
			t.Fatalf("%d events (first %+v), want the file_version event and %d scalars", len(events), events[0], len(want))
		}
		got := Scalars(events)
		if len(got) != len(want) {
			t.Fatalf("%d scalars, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i].Tag != want[i].Tag || got[i].Step != want[i].Step ||
				math.Float64bits(got[i].WallTime) != math.Float64bits(want[i].WallTime) ||
				math.Float32bits(got[i].Value) != math.Float32bits(want[i].Value) {
				t.Fatalf("scalar %d: %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}
