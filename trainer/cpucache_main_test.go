package trainer

import (
	"os"
	"testing"

	"github.com/drgrade/drgrade/internal/torchext"
)

// TestMain installs the caching CPU allocator, as cmd/drgrade's main does, so the memory tests
// (memory_test.go, docs/reliability.md) measure drgrade as it runs.
func TestMain(m *testing.M) {
	if err := torchext.InstallCPUCache(); err != nil {
		os.Stderr.WriteString("trainer tests: " + err.Error() + "; using the default CPU allocator\n")
	}
	os.Exit(m.Run())
}
