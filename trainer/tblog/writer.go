package tblog

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// FileVersion is the file_version of the first event, as tensorboard's EventFileWriter writes.
const FileVersion = "brain.Event:2"

// SourceWriter is recorded in the first event's source_metadata.writer (tensorboard writes its
// own module name there; readers ignore it).
const SourceWriter = "drgrade/trainer/tblog"

// globalUID mirrors event_file_writer._global_uid: a per-process counter in the file name, so
// two writers opened in the same second get different files.
var globalUID atomic.Int64

// Writer appends scalar events to one new event file, like torch.utils.tensorboard.SummaryWriter.
type Writer struct {
	mu     sync.Mutex
	f      *os.File
	bw     *bufio.Writer
	path   string
	now    func() time.Time
	closed bool
	buf    []byte
}

// NewWriter creates logDir (and parents) and a new event file in it named as tensorboard's
// EventFileWriter does: events.out.tfevents.%010d.<hostname>.<pid>.<uid>. It writes the
// file_version event and flushes it, so the file is valid at once. An existing file of that
// name is never overwritten.
func NewWriter(logDir string) (*Writer, error) {
	return newWriter(logDir, time.Now)
}

func newWriter(logDir string, now func() time.Time) (*Writer, error) {
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("tblog: %w", err)
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("tblog: hostname: %w", err)
	}
	t := now()
	name := fmt.Sprintf("events.out.tfevents.%010d.%s.%d.%d", t.Unix(), host, os.Getpid(), globalUID.Add(1)-1)
	path := filepath.Join(logDir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("tblog: %w", err)
	}
	w := &Writer{f: f, bw: bufio.NewWriter(f), path: path, now: now}
	if err := w.writeRecord(encodeFileVersionEvent(wallTime(t), FileVersion, SourceWriter)); err != nil {
		f.Close()
		return nil, err
	}
	if err := w.bw.Flush(); err != nil {
		f.Close()
		return nil, fmt.Errorf("tblog: %w", err)
	}
	return w, nil
}

// wallTime is time.time(): seconds since the epoch as a float64.
func wallTime(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}

// Path is the event file's path.
func (w *Writer) Path() string { return w.path }

var errClosed = errors.New("tblog: writer is closed")

func (w *Writer) writeRecord(data []byte) error {
	w.buf = frameRecord(w.buf[:0], data)
	if _, err := w.bw.Write(w.buf); err != nil {
		return fmt.Errorf("tblog: %w", err)
	}
	return nil
}

// AddScalar mirrors SummaryWriter.add_scalar(tag, value, step) with the current wall time.
// The value is stored as a float32 simple_value, as tensorboard does.
func (w *Writer) AddScalar(tag string, value float64, step int64) error {
	return w.AddScalarAt(tag, value, step, w.now())
}

// AddScalarAt is AddScalar with an explicit wall time (add_scalar's walltime argument).
func (w *Writer) AddScalarAt(tag string, value float64, step int64, wall time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errClosed
	}
	// A protobuf string must be UTF-8: Python's str cannot hold anything else, and
	// TensorBoard's reader (and ReadEvents) would reject the whole file at this record.
	if !utf8.ValidString(tag) {
		return fmt.Errorf("tblog: tag %q is not valid UTF-8", tag)
	}
	return w.writeRecord(encodeScalarEvent(wallTime(wall), step, tag, toFloat32(value)))
}

// Flush writes buffered events to the file (SummaryWriter.flush()).
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errClosed
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("tblog: %w", err)
	}
	return nil
}

// Close flushes and closes the file. Closing twice is an error.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errClosed
	}
	w.closed = true
	ferr := w.bw.Flush()
	cerr := w.f.Close()
	if ferr != nil {
		return fmt.Errorf("tblog: %w", ferr)
	}
	if cerr != nil {
		return fmt.Errorf("tblog: %w", cerr)
	}
	return nil
}
