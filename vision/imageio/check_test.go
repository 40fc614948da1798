package imageio

import (
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestCheckMatchesDecode: Check (what Preflight's --check_images runs; a JPEG at 1/8 scale)
// accepts exactly the files Decode accepts, with the same size, and refuses the others with
// Decode's error: every corpus file, the bad files, truncations of the JPEGs at ~100 cuts,
// bytes overwritten in their entropy-coded data, and junk that libjpeg only warns about.
func TestCheckMatchesDecode(t *testing.T) {
	files := map[string][]byte{}
	for _, dir := range []string{corpus, filepath.Join(corpus, "..", "bad")} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[filepath.Base(dir)+"/"+e.Name()] = b
		}
	}
	rng := rand.New(rand.NewSource(9))
	for _, name := range []string{"jpeg420_q90_161x121.jpg", "progressive420_q80_203x157.jpg", "cmyk_adobe_q90_90x60.jpg",
		"gray_q85_130x70.jpg", "restart_optimized_q85_100x70.jpg", "fundus_2000x1300_q75.jpg"} {
		data := readCorpus(t, name)
		step := max(1, len(data)/97)
		for cut := 0; cut < len(data); cut += step {
			files[name+" cut at "+strconv.Itoa(cut)] = data[:cut]
		}
		sos := strings.LastIndex(string(data), "\xff\xda") // the entropy-coded data follows
		for i := 0; i < 12; i++ {
			b := append([]byte{}, data...)
			at := sos + 20 + rng.Intn(len(data)-sos-22)
			b[at] ^= byte(1 + rng.Intn(255))
			files[name+" byte "+strconv.Itoa(at)+" changed"] = b
		}
		junk := append(append(append([]byte{}, data[:len(data)-2]...), 1, 2, 3, 4, 5), data[len(data)-2:]...)
		files[name+" junk before EOI"] = junk
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	refused := 0
	for _, jd := range JPEGDecoders() {
		dec := Decoder{JPEG: jd}
		for _, name := range names {
			data := files[name]
			m, derr := dec.DecodeBytes(data)
			w, h, cerr := dec.CheckBytes(data)
			switch {
			case (derr == nil) != (cerr == nil):
				t.Errorf("%s, %s: Decode error %v, Check error %v", jd, name, derr, cerr)
			case derr != nil && derr.Error() != cerr.Error():
				t.Errorf("%s, %s: Decode error %q, Check error %q", jd, name, derr, cerr)
			case derr == nil && (w != m.W || h != m.H):
				t.Errorf("%s, %s: Check size %dx%d, Decode %dx%d", jd, name, w, h, m.W, m.H)
			case derr != nil:
				refused++
			}
		}
	}
	if refused < len(names)/2 { // the cuts alone make most files unreadable
		t.Errorf("only %d of %d cases refused: the corpus of bad files is not reaching Check", refused, len(names))
	}
}
