package synth

import (
	"bytes"
	"os"
	"testing"
)

// TestGrid checks the tiles land where they should; with SYNTH_GRID=path it also writes the
// preview PNG there for a person to look at.
func TestGrid(t *testing.T) {
	const tile, cols = 64, 3
	m, err := Grid(tile, cols, 7)
	if err != nil {
		t.Fatal(err)
	}
	if m.W != cols*tile+(cols+1)*gridGap || m.H != NumGrades*tile+(NumGrades+1)*gridGap {
		t.Fatalf("grid is %dx%d", m.W, m.H)
	}
	for _, c := range []struct{ g, j int }{{0, 0}, {2, 1}, {4, 2}} {
		want, err := Render(c.g, tile, ImageSeed(7, c.j))
		if err != nil {
			t.Fatal(err)
		}
		x0, y0 := gridGap+c.j*(tile+gridGap), gridGap+c.g*(tile+gridGap)
		for y := 0; y < tile; y++ {
			got := m.Pix[3*((y0+y)*m.W+x0) : 3*((y0+y)*m.W+x0+tile)]
			if !bytes.Equal(got, want.Pix[3*y*tile:3*(y+1)*tile]) {
				t.Fatalf("grade %d column %d: row %d differs from Render", c.g, c.j, y)
			}
		}
	}
	if _, err := Grid(tile, 0, 1); err == nil {
		t.Error("Grid with 0 columns: no error")
	}
	if p := os.Getenv("SYNTH_GRID"); p != "" {
		if err := WriteGridPNG(p, 320, 4, 1); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", p)
	}
}
