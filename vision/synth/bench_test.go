package synth

import "testing"

// BenchmarkRender512 measures one 512×512 grade-4 image (the heaviest grade).
func BenchmarkRender512(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		if _, err := Render(i%NumGrades, 512, uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
}
