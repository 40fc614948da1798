// Package atomicfile writes output files so that a crash, a kill -9 or a full disk leaves
// either the old file or the complete new one, never a part: the data goes to a hidden
// temporary file in the same directory (".<name>.tmp<random>"), which is fsynced, made 0644
// and renamed over the target. drgrade's checkpoints (pth.Save), metrics files and figures all
// go through it, so one pattern names every temporary file a killed run can leave behind.
package atomicfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
)

// TempPattern is the os.CreateTemp pattern of the temporary file for a target named base; a
// glob for the leftovers of a killed run is TempPattern(base) itself.
func TempPattern(base string) string { return "." + base + ".tmp*" }

// Write calls write with a buffered writer onto a temporary file beside path and, if it and
// every step after it succeed, renames the file to path. On any error the temporary file is
// removed and path is untouched. Errors are the os package's (*fs.PathError, *os.LinkError),
// so callers can say which file and why.
func Write(path string, write func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, TempPattern(filepath.Base(path)))
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil { // CreateTemp makes 0600 files; outputs are shared
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil { // make the rename durable; best effort
		d.Sync()
		d.Close()
	}
	return nil
}

// WriteBytes is Write of a byte slice.
func WriteBytes(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
