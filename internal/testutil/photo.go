package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// skimagePictures are the SHA-256s of the pictures scripts/retina.sh extracts from scikit-image
// 0.22.0's wheel (skimage/data/, all public domain / CC0).
var skimagePictures = map[string]string{
	"retina.jpg":  "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6",
	"chelsea.png": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
	"coffee.png":  "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
}

// Cache is $DRGRADE_CACHE, else ~/.cache/drgrade (the Makefile's default).
func Cache() string {
	if c := os.Getenv("DRGRADE_CACHE"); c != "" {
		return c
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "drgrade")
}

var (
	pictureMu     sync.Mutex
	pictureErrors = map[string]string{} // checked pictures: "" when good
)

// RetinaPhoto is the path of the real fundus photograph the tests use: scikit-image's
// skimage/data/retina.jpg (1411×1411 colour JPEG of a normal eye, public domain / CC0), which
// scripts/retina.sh (`make retina`, run by `make test` and `make parity`) downloads once into
// $DRGRADE_CACHE/photos. It is never committed. The test fails, never skips, when the photo is
// missing or not the expected file, saying how to get it.
func RetinaPhoto(t testing.TB) string {
	t.Helper()
	return SkimagePicture(t, "retina.jpg")
}

// SkimagePicture is RetinaPhoto for any picture scripts/retina.sh fetches: retina.jpg, and
// chelsea.png (a cat) and coffee.png (a cup of coffee), which are not fundus photographs.
func SkimagePicture(t testing.TB, name string) string {
	t.Helper()
	want, ok := skimagePictures[name]
	if !ok {
		t.Fatalf("testutil: scripts/retina.sh does not fetch %q", name)
	}
	p := filepath.Join(Cache(), "photos", name)
	pictureMu.Lock()
	msg, done := pictureErrors[name]
	if !done {
		b, err := os.ReadFile(p)
		switch {
		case err != nil:
			msg = "skimage's " + name + " is missing: run `make retina` (scripts/retina.sh downloads scikit-image 0.22.0's wheel from PyPI and extracts skimage/data/" + name + "): " + err.Error()
		default:
			sum := sha256.Sum256(b)
			if got := hex.EncodeToString(sum[:]); got != want {
				msg = p + " has SHA-256 " + got + ", want " + want + ": delete it and run `make retina`"
			}
		}
		pictureErrors[name] = msg
	}
	pictureMu.Unlock()
	if msg != "" {
		t.Fatal(msg)
	}
	return p
}
