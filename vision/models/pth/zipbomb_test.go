package pth

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// bombSize is what the bomb records inflate to: far above zipPickleMinLimit, far below
// what the test could afford to hold (it never does: the zeros are deflated chunk by chunk).
const bombSize = 128 << 20

var bomb struct {
	once sync.Once
	comp []byte // bombSize zero bytes, deflated (about 130 KB)
	crc  uint32
}

// deflatedZeros returns bombSize zero bytes deflated, and their CRC-32.
func deflatedZeros(t testing.TB) ([]byte, uint32) {
	bomb.once.Do(func() {
		var buf bytes.Buffer
		fw, err := flate.NewWriter(&buf, flate.DefaultCompression)
		if err != nil {
			t.Fatal(err)
		}
		chunk := make([]byte, 1<<20)
		for n := 0; n < bombSize; n += len(chunk) {
			if _, err := fw.Write(chunk); err != nil {
				t.Fatal(err)
			}
			bomb.crc = crc32.Update(bomb.crc, crc32.IEEETable, chunk)
		}
		if err := fw.Close(); err != nil {
			t.Fatal(err)
		}
		bomb.comp = buf.Bytes()
	})
	return bomb.comp, bomb.crc
}

// bombZip rewrites a torch.save zip with the record name replaced by the deflated zeros,
// whose header declares declared uncompressed bytes (bombSize when honest).
func bombZip(t *testing.T, src []byte, name string, declared uint64) []byte {
	t.Helper()
	comp, crc := deflatedZeros(t)
	zr, err := zip.NewReader(bytes.NewReader(src), int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		if f.Name != name {
			if err := zw.Copy(f); err != nil {
				t.Fatal(err)
			}
			continue
		}
		w, err := zw.CreateRaw(&zip.FileHeader{
			Name: name, Method: zip.Deflate, CRC32: crc,
			CompressedSize64: uint64(len(comp)), UncompressedSize64: declared,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(comp); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestZipBomb: a small .pth whose records inflate to hundreds of MB is refused before
// they are inflated (by their declared size) or while they are (a header that lies about
// the size), and the attempt allocates far less than the inflated size.
func TestZipBomb(t *testing.T) {
	var src bytes.Buffer
	if err := Encode(&src, []*Entry{NewFloat32("w", []int{1}, []float32{1})}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, record string
		declared     uint64
		want         string
	}{
		{"deflated data.pkl", "archive/data.pkl", bombSize, "archive/data.pkl"},
		{"deflated tensor record", "archive/data/0", bombSize, "archive/data/0"},
		{"data.pkl header lies about its size", "archive/data.pkl", 100, "archive/data.pkl"},
		{"tensor record header lies about its size", "archive/data/0", 4, "archive/data/0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bomb.pth")
			if err := os.WriteFile(path, bombZip(t, src.Bytes(), c.record, c.declared), 0o644); err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Stat(path)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Load(path)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d-byte file inflating to %d bytes: allocated %.1f MB during Load, heap %.1f -> %.1f MB; error: %v",
				fi.Size(), bombSize, float64(alloc)/1e6, float64(before.HeapAlloc)/1e6, float64(after.HeapAlloc)/1e6, err)
			if err == nil {
				t.Fatal("zip bomb loaded")
			}
			if !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name the file and the entry %s", err, c.want)
			}
			// Go heap bytes allocated by Load (runtime.MemStats.TotalAlloc). Refusing means
			// reading the central directory and at most a few chunks of one record: measured
			// worst 0.2 MB over the four cases. Inflating the bomb would allocate its 128 MB;
			// 16 MB leaves room for the zip reader's buffers without coming near it.
			if alloc > 16<<20 {
				t.Errorf("Load allocated %d bytes for a %d-byte file (the bomb inflates to %d)", alloc, fi.Size(), bombSize)
			}
		})
	}
}
