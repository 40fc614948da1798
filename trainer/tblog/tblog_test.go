package tblog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var pinned = time.Unix(1717171717, 250_000_000)

func writeSample(t *testing.T, dir string) (*Writer, []Scalar) {
	t.Helper()
	w, err := newWriter(dir, func() time.Time { return pinned })
	if err != nil {
		t.Fatal(err)
	}
	tags := []string{"train_loss", "train_acc", "val_accuracy", "learning_rate", "precision", "recall", "f1_score"}
	var want []Scalar
	for epoch := int64(0); epoch < 3; epoch++ {
		for i, tag := range tags {
			v := 1/float64(i+1) + float64(epoch)
			if err := w.AddScalar(tag, v, epoch); err != nil {
				t.Fatal(err)
			}
			want = append(want, Scalar{wallTime(pinned), epoch, tag, float32(v)})
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	return w, want
}

func TestWriterRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	w, want := writeSample(t, dir)
	// Flushed but not closed: a reader already sees every epoch (TensorBoard runs alongside).
	events, err := ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	re := regexp.MustCompile(`^events\.out\.tfevents\.1717171717\.` + regexp.QuoteMeta(host) + fmt.Sprintf(`\.%d\.\d+$`, os.Getpid()))
	if name := filepath.Base(w.Path()); !re.MatchString(name) || filepath.Dir(w.Path()) != dir {
		t.Errorf("file %s does not match %s", w.Path(), re)
	}
	if len(events) != 1+len(want) {
		t.Fatalf("%d events, want %d", len(events), 1+len(want))
	}
	first := events[0]
	if !first.HasFileVersion || first.FileVersion != FileVersion || first.WallTime != wallTime(pinned) || first.HasSummary {
		t.Errorf("first event %+v", first)
	}
	got := Scalars(events)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("scalar %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestWriterUniqueNamesAndClosed(t *testing.T) {
	dir := t.TempDir()
	a, err := newWriter(dir, func() time.Time { return pinned })
	if err != nil {
		t.Fatal(err)
	}
	b, err := newWriter(dir, func() time.Time { return pinned })
	if err != nil {
		t.Fatal(err)
	}
	if a.Path() == b.Path() {
		t.Fatalf("two writers in the same second share %s", a.Path())
	}
	for _, w := range []*Writer{a, b} {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err == nil {
			t.Error("second Close succeeded")
		}
		if err := w.AddScalar("x", 1, 0); err == nil {
			t.Error("AddScalar after Close succeeded")
		}
		if err := w.Flush(); err == nil {
			t.Error("Flush after Close succeeded")
		}
	}
	// A log dir that cannot be created is an error, not a panic.
	file := filepath.Join(dir, "plain")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewWriter(filepath.Join(file, "sub")); err == nil {
		t.Error("NewWriter under a regular file succeeded")
	}
}

func TestWriterConcurrent(t *testing.T) {
	w, err := NewWriter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, per = 8, 50
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if err := w.AddScalar(fmt.Sprintf("g%d", g), float64(i), int64(i)); err != nil {
					t.Error(err)
				}
			}
		}(g)
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	events, err := ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	next := map[string]int64{}
	for _, s := range Scalars(events) {
		if s.Step != next[s.Tag] || s.Value != float32(s.Step) {
			t.Fatalf("%s: step %d value %v, want step %d", s.Tag, s.Step, s.Value, next[s.Tag])
		}
		next[s.Tag]++
	}
	if len(next) != goroutines {
		t.Fatalf("%d tags, want %d", len(next), goroutines)
	}
}

func TestToFloat32(t *testing.T) {
	tests := []struct {
		x    float64
		bits uint32
	}{
		{0.1, 0x3dcccccd},
		{math.MaxFloat32, 0x7f7fffff},
		{math.MaxFloat32 + 1<<102, 0x7f7fffff}, // below the half-ulp tie: rounds down
		{math.MaxFloat32 + 1<<103, 0x7f800000}, // the tie: to even = Inf
		{-3.5e38, 0xff800000},
		{math.Inf(1), 0x7f800000},
		{math.NaN(), 0x7fc00000},
		{math.Float64frombits(0xfff8000000000000), 0xffc00000},
		{math.Float64frombits(0x7ff0000020000000), 0x7fc00001}, // signalling NaN: quieted, payload kept
		{1e-46, 0},
		{math.Copysign(0, -1), 0x80000000},
	}
	for _, tc := range tests {
		if got := math.Float32bits(toFloat32(tc.x)); got != tc.bits {
			t.Errorf("toFloat32(%v) bits %#x, want %#x", tc.x, got, tc.bits)
		}
	}
}

// sampleFile is a small valid event file held in memory.
func sampleFile(t testing.TB) []byte {
	var b []byte
	b = frameRecord(b, encodeFileVersionEvent(1.5, FileVersion, SourceWriter))
	b = frameRecord(b, encodeScalarEvent(2.5, 3, "train_loss", 0.75))
	b = frameRecord(b, encodeScalarEvent(3.5, -1, "f1_score", float32(math.Inf(-1))))
	return b
}

func TestReadErrors(t *testing.T) {
	good := sampleFile(t)
	hugeHdr := make([]byte, 8)
	hugeHdr[7] = 0x7f // claims ~9e18 bytes
	huge := append(hugeHdr, 0, 0, 0, 0)
	putCRC := func(b []byte) []byte {
		c := MaskedCRC32C(b[:8])
		return append(b[:8], byte(c), byte(c>>8), byte(c>>16), byte(c>>24))
	}
	midLen := putCRC(append([]byte{}, 200, 0, 0, 0, 0, 0, 0, 0)) // claims 200 bytes, has none
	tests := []struct {
		name   string
		data   []byte
		events int
		want   error // nil: any error
	}{
		{"empty file", nil, 0, nil},
		{"truncated header", good[:5], 0, io.ErrUnexpectedEOF},
		{"truncated last record", good[:len(good)-3], 2, io.ErrUnexpectedEOF},
		{"length CRC", append(append([]byte{}, good[:8]...), 0, 0, 0, 0), 0, ErrCRC},
		{"data CRC", func() []byte { b := append([]byte{}, good...); b[20] ^= 1; return b }(), 0, ErrCRC},
		{"huge length with bad CRC", huge, 0, ErrCRC},
		{"huge length with good CRC", putCRC(hugeHdr), 0, nil},
		{"length beyond data", midLen, 0, io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events, err := ReadEvents(bytes.NewReader(tc.data))
			if tc.name == "empty file" {
				if err != nil || len(events) != 0 {
					t.Fatalf("events %v, err %v", events, err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if len(events) != tc.events {
				t.Fatalf("%d events before the error, want %d", len(events), tc.events)
			}
		})
	}
}

// Every single-bit flip of a valid file is detected (CRC, framing or decode error).
func TestReadDetectsEveryBitFlip(t *testing.T) {
	good := sampleFile(t)
	for i := range good {
		for bit := 0; bit < 8; bit++ {
			b := append([]byte{}, good...)
			b[i] ^= 1 << bit
			if _, err := ReadEvents(bytes.NewReader(b)); err == nil {
				t.Fatalf("flip of byte %d bit %d went unnoticed", i, bit)
			}
		}
	}
}

func TestDecodeProto(t *testing.T) {
	scalar := encodeScalarEvent(1, 2, "t", 3)
	tests := []struct {
		name    string
		data    []byte
		wantErr string
		check   func(Event) bool
	}{
		{"unknown fields skipped", append(append([]byte{0x30, 0x05}, scalar...), 0x5a, 0x01, 0x00),
			"", func(e Event) bool { return e.Step == 2 && len(e.Values) == 1 }},
		{"wrong wire type ignored", append([]byte{0x15, 1, 2, 3, 4}, scalar...), // step as fixed32
			"", func(e Event) bool { return e.Step == 2 }},
		{"file_version replaces summary", append(append([]byte{}, scalar...), appendBytesField(nil, eventFileVersion, []byte("v"))...),
			"", func(e Event) bool { return !e.HasSummary && e.FileVersion == "v" }},
		{"log_message clears summary", append(append([]byte{}, scalar...), 0x32, 0x00),
			"", func(e Event) bool { return !e.HasSummary && len(e.Values) == 0 }},
		{"repeated summary merges", append(append([]byte{}, scalar...), scalar...),
			"", func(e Event) bool { return len(e.Values) == 2 }},
		{"tensor replaces simple_value", appendBytesField(nil, eventSummary, appendBytesField(nil, summaryValue,
			append(encodeValue("x", 1), 0x42, 0x00))), "", func(e Event) bool { return len(e.Values) == 1 && !e.Values[0].HasSimpleValue }},
		{"invalid UTF-8 tag", appendBytesField(nil, eventSummary, appendBytesField(nil, summaryValue, encodeValue("\xff", 1))), "UTF-8", nil},
		{"group wire type", []byte{0x0b}, "wire type 3", nil},
		{"field zero", []byte{0x00, 0x01}, "field number 0", nil},
		{"truncated varint", []byte{0x10, 0x80}, "truncated", nil},
		{"truncated fixed64", []byte{0x09, 1, 2}, "truncated", nil},
		{"length beyond message", []byte{0x1a, 0x05, 'a'}, "truncated", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := decodeEvent(tc.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(e) {
				t.Fatalf("event %+v, err %v", e, err)
			}
		})
	}
}

// encodeValue is a Summary.Value{tag, simple_value} for the decoder tests.
func encodeValue(tag string, v float32) []byte {
	ev := encodeScalarEvent(0, 0, tag, v)
	// strip Event.summary and Summary.value headers (tag byte + 1-byte length each)
	return ev[4:]
}

func BenchmarkAddScalar(b *testing.B) {
	w, err := NewWriter(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := w.AddScalar("train_loss", float64(i), int64(i)); err != nil {
			b.Fatal(err)
		}
	}
}
