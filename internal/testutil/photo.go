package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// RetinaSHA256 is the SHA-256 of skimage/data/retina.jpg in scikit-image 0.22.0's wheel.
const RetinaSHA256 = "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6"

// Cache is $DRGRADE_CACHE, else ~/.cache/drgrade (the Makefile's default).
func Cache() string {
	if c := os.Getenv("DRGRADE_CACHE"); c != "" {
		return c
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "drgrade")
}

var retinaOnce struct {
	sync.Once
	err string
}

// RetinaPhoto is the path of the real fundus photograph the tests use: scikit-image's
// skimage/data/retina.jpg (1411×1411 colour JPEG of a normal eye, public domain / CC0), which
// scripts/retina.sh (`make retina`, run by `make test` and `make parity`) downloads once into
// $DRGRADE_CACHE/photos. It is never committed. The test fails, never skips, when the photo is
// missing or not the expected file, saying how to get it.
func RetinaPhoto(t testing.TB) string {
	t.Helper()
	p := filepath.Join(Cache(), "photos", "retina.jpg")
	retinaOnce.Do(func() {
		b, err := os.ReadFile(p)
		if err != nil {
			retinaOnce.err = "the real fundus photo is missing: run `make retina` (scripts/retina.sh downloads scikit-image 0.22.0's wheel from PyPI and extracts skimage/data/retina.jpg): " + err.Error()
			return
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != RetinaSHA256 {
			retinaOnce.err = p + " has SHA-256 " + got + ", want " + RetinaSHA256 + ": delete it and run `make retina`"
		}
	})
	if retinaOnce.err != "" {
		t.Fatal(retinaOnce.err)
	}
	return p
}
