package trainer

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestTruncateLogOnResume: resuming after epoch k keeps DDR.txt's lines of epochs 1..k once,
// whatever a killed run appended after them.
func TestTruncateLogOnResume(t *testing.T) {
	lines := "[epoch 1] train_loss: 1.6\nPrecision: 0.1\nKappa: 0.0\n" +
		"[epoch 2] train_loss: 1.5\nPrecision: 0.2\nKappa: 0.1\n" +
		"[epoch 3] train_loss: 1.4\nPrecision: 0.3\nKappa: 0.2\n"
	for _, c := range []struct {
		start int
		want  string
	}{
		{1, lines[:len("[epoch 1] train_loss: 1.6\nPrecision: 0.1\nKappa: 0.0\n")]},
		{2, lines[:len(lines)-len("[epoch 3] train_loss: 1.4\nPrecision: 0.3\nKappa: 0.2\n")]},
		{3, lines}, // nothing after epoch 3: unchanged
		{5, lines},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "DDR.txt")
		if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
			t.Fatal(err)
		}
		l := &runLog{dir: dir, out: io.Discard}
		if err := l.truncateLog(c.start); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		if string(got) != c.want {
			t.Errorf("resume after epoch %d: DDR.txt\n%s\nwant\n%s", c.start, got, c.want)
		}
	}
}
