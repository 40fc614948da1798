package models

import (
	"os"
	"testing"

	"github.com/drgrade/drgrade/internal/torchext"
)

// TestMain installs the caching CPU allocator, as cmd/drgrade's main does, so the memory tests
// (memory_test.go) measure the models as drgrade runs them.
func TestMain(m *testing.M) {
	if err := torchext.InstallCPUCache(); err != nil {
		os.Stderr.WriteString("models tests: " + err.Error() + "; using the default CPU allocator\n")
	}
	os.Exit(m.Run())
}
