package tblog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Event is the part of a tensorboard.Event that drgrade writes.
type Event struct {
	WallTime float64
	Step     int64
	// FileVersion is set (HasFileVersion) on the first event of a file: "brain.Event:2".
	FileVersion    string
	HasFileVersion bool
	// Values are the summary's values (HasSummary) — one scalar per add_scalar.
	Values     []Value
	HasSummary bool
}

// clearWhat resets the members of Event's `what` oneof, as setting another member does.
func (e *Event) clearWhat() {
	e.FileVersion, e.HasFileVersion = "", false
	e.Values, e.HasSummary = nil, false
}

// Value is one tensorboard.Summary.Value; only simple_value scalars are decoded.
type Value struct {
	Tag            string
	SimpleValue    float32
	HasSimpleValue bool
}

// Scalar is one (tag, step, value) point, what EventAccumulator.Scalars returns.
type Scalar struct {
	WallTime float64
	Step     int64
	Tag      string
	Value    float32
}

// ErrCRC reports a record whose length or data fails its masked CRC32C check.
var ErrCRC = errors.New("tblog: CRC32C mismatch")

// maxRecord bounds a record's declared length (TFRecord lengths are uint64); larger records
// are rejected before anything is read.
const maxRecord = 1 << 40

// ReadRecords splits a TFRecord stream into its payloads, verifying both CRCs of each record
// (mirrors tensorboard's PyRecordReader.GetNext). It returns the records read before the
// first error, and io.ErrUnexpectedEOF for a truncated final record. Memory grows only with
// the bytes actually read, whatever length a header claims.
func ReadRecords(r io.Reader) ([][]byte, error) {
	var out [][]byte
	var hdr [12]byte
	for i := 0; ; i++ {
		n, err := io.ReadFull(r, hdr[:])
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("tblog: record %d header (%d of 12 bytes): %w", i, n, io.ErrUnexpectedEOF)
		}
		if MaskedCRC32C(hdr[:8]) != binary.LittleEndian.Uint32(hdr[8:]) {
			return out, fmt.Errorf("record %d length: %w", i, ErrCRC)
		}
		length := binary.LittleEndian.Uint64(hdr[:8])
		if length > maxRecord {
			return out, fmt.Errorf("tblog: record %d claims %d bytes", i, length)
		}
		var buf bytes.Buffer
		got, err := io.CopyN(&buf, r, int64(length)+4)
		if err != nil {
			return out, fmt.Errorf("tblog: record %d data (%d of %d bytes): %w", i, got, length+4, io.ErrUnexpectedEOF)
		}
		b := buf.Bytes()
		data := b[:length:length]
		if MaskedCRC32C(data) != binary.LittleEndian.Uint32(b[length:]) {
			return out, fmt.Errorf("record %d data: %w", i, ErrCRC)
		}
		out = append(out, data)
	}
}

// ReadEvents parses every record of an event file as a tensorboard.Event. It returns the
// events decoded before the first error.
func ReadEvents(r io.Reader) ([]Event, error) {
	recs, rerr := ReadRecords(r)
	events := make([]Event, 0, len(recs))
	for i, rec := range recs {
		e, err := decodeEvent(rec)
		if err != nil {
			return events, fmt.Errorf("tblog: record %d: %w", i, err)
		}
		events = append(events, e)
	}
	return events, rerr
}

// Scalars flattens the simple_value scalars of events in file order.
func Scalars(events []Event) []Scalar {
	var out []Scalar
	for _, e := range events {
		for _, v := range e.Values {
			if v.HasSimpleValue {
				out = append(out, Scalar{WallTime: e.WallTime, Step: e.Step, Tag: v.Tag, Value: v.SimpleValue})
			}
		}
	}
	return out
}

// ReadFile reads the events of one event file.
func ReadFile(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadEvents(f)
}

// ReadDir reads every event file (events.out.tfevents.*) in dir, in name order.
func ReadDir(dir string) ([]Event, error) {
	files, err := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	if err != nil {
		return nil, err
	}
	var out []Event
	for _, f := range files {
		ev, err := ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, ev...)
	}
	return out, nil
}
