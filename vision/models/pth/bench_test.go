package pth

import (
	"path/filepath"
	"testing"

	"github.com/drgrade/drgrade/internal/pyoracle"
)

// resnet18Entries is a resnet18-shaped state_dict (46.8 MB) with formula values.
func resnet18Entries(b *testing.B) []*Entry {
	var keys []keySpec
	pyoracle.ReadJSON(b, goldenDir, "resnet18_keys.json", &keys)
	var es []*Entry
	for k, ks := range keys {
		es = append(es, formulaEntry(k, ks.Name, Dtype(ks.Dtype), ks.Shape))
	}
	return es
}

func BenchmarkSaveResnet18(b *testing.B) {
	es := resnet18Entries(b)
	path := filepath.Join(b.TempDir(), "r18.pth")
	b.SetBytes(46 << 20)
	for b.Loop() {
		if err := Save(path, es); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadResnet18(b *testing.B) {
	path := filepath.Join(b.TempDir(), "r18.pth")
	if err := Save(path, resnet18Entries(b)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(46 << 20)
	for b.Loop() {
		if _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
}
