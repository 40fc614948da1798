package synth

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

func TestRenderDeterministic(t *testing.T) {
	for g := 0; g < NumGrades; g++ {
		a, err := Render(g, 96, 42)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Render(g, 96, 42)
		c, _ := Render(g, 96, 43)
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Errorf("grade %d: same seed, different pixels", g)
		}
		if bytes.Equal(a.Pix, c.Pix) {
			t.Errorf("grade %d: seeds 42 and 43 gave identical images", g)
		}
		if a.W != 96 || a.H != 96 || len(a.Pix) != 3*96*96 {
			t.Errorf("grade %d: got %dx%d with %d bytes", g, a.W, a.H, len(a.Pix))
		}
	}
}

func TestRenderRejectsBadArguments(t *testing.T) {
	for _, c := range []struct{ grade, size int }{{-1, 64}, {5, 64}, {0, MinSize - 1}, {0, MaxSize + 1}} {
		if _, err := Render(c.grade, c.size, 1); err == nil {
			t.Errorf("Render(%d, %d): no error", c.grade, c.size)
		}
	}
}

// TestLesionsOnlyChangeLesionPixels: the grade only adds lesions; every pixel no lesion mask
// touches is byte-identical to the grade-0 image of the same seed (anatomy, brightness and
// noise come from grade-independent streams).
func TestLesionsOnlyChangeLesionPixels(t *testing.T) {
	const size, seed = 160, 9
	base, _ := Render(0, size, seed)
	for g := 1; g < NumGrades; g++ {
		s, err := renderScene(g, size, seed)
		if err != nil {
			t.Fatal(err)
		}
		img := s.quantize(rand.New(rand.NewPCG(seed, streamNoise)))
		changed, touched := 0, 0
		for i := 0; i < size*size; i++ {
			les := s.haem[i] + s.exud[i] + s.cws[i] + s.nv[i]
			same := bytes.Equal(img.Pix[3*i:3*i+3], base.Pix[3*i:3*i+3])
			if les > 0 {
				touched++
				if !same {
					changed++
				}
			} else if !same {
				t.Fatalf("grade %d: pixel %d changed without a lesion", g, i)
			}
		}
		if changed == 0 || touched == 0 {
			t.Errorf("grade %d: %d lesion pixels, %d changed", g, touched, changed)
		}
	}
}

// lesionStats counts, on the rendered 8-bit image, pixels inside the retina (within 0.9 radii,
// off the optic disc and off the arteries/veins, which the scene masks tell us) that are dark
// red — luminance under 0.7× the local background — or bright yellow — luminance over 1.3× the
// local background with blue under 0.7× green. The background is the mean over a box of side
// size/6 of the same eligible pixels.
func lesionStats(s *scene, pix []uint8) (dark, yellow int) {
	n := s.size
	ok := make([]bool, n*n)
	lum := make([]float64, n*n)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			i := y*n + x
			r, g, b := float64(pix[3*i]), float64(pix[3*i+1]), float64(pix[3*i+2])
			lum[i] = 0.299*r + 0.587*g + 0.114*b
			px, py := float64(x)+0.5, float64(y)+0.5
			if s.fundusDist(px, py) > 0.9 || math.Hypot(px-s.odx, py-s.ody) < 1.6*s.odr {
				continue
			}
			ok[i] = true
		}
	}
	// Dilate the vessel masks by two pixels so anti-aliased vessel walls do not count.
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			i := y*n + x
			if s.vein[i] < 0.05 && s.artery[i] < 0.05 {
				continue
			}
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					if xx, yy := x+dx, y+dy; xx >= 0 && yy >= 0 && xx < n && yy < n {
						ok[yy*n+xx] = false
					}
				}
			}
		}
	}
	// Integral images of luminance and count over eligible pixels.
	w := n + 1
	sum, cnt := make([]float64, w*w), make([]float64, w*w)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			v, c := 0.0, 0.0
			if ok[y*n+x] {
				v, c = lum[y*n+x], 1
			}
			sum[(y+1)*w+x+1] = v + sum[y*w+x+1] + sum[(y+1)*w+x] - sum[y*w+x]
			cnt[(y+1)*w+x+1] = c + cnt[y*w+x+1] + cnt[(y+1)*w+x] - cnt[y*w+x]
		}
	}
	half := n / 12
	box := func(a []float64, x0, y0, x1, y1 int) float64 {
		return a[y1*w+x1] - a[y0*w+x1] - a[y1*w+x0] + a[y0*w+x0]
	}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			i := y*n + x
			if !ok[i] {
				continue
			}
			x0, y0, x1, y1 := max(0, x-half), max(0, y-half), min(n, x+half+1), min(n, y+half+1)
			bg := box(sum, x0, y0, x1, y1) / box(cnt, x0, y0, x1, y1)
			switch {
			case lum[i] < 0.7*bg:
				dark++
			case lum[i] > 1.3*bg && float64(pix[3*i+2]) < 0.7*float64(pix[3*i+1]):
				yellow++
			}
		}
	}
	return dark, yellow
}

// TestLesionStatisticsRiseWithGrade: averaged over 20 eyes per grade, dark-red lesion pixels
// rise strictly with every grade, and bright-yellow (exudate) pixels are near zero for grades
// 0–1 and then rise strictly from 2 to 4 — the signal a CNN has to learn.
func TestLesionStatisticsRiseWithGrade(t *testing.T) {
	const size, perGrade = 256, 20
	var dark, yellow [NumGrades]float64
	for g := 0; g < NumGrades; g++ {
		for k := 0; k < perGrade; k++ {
			seed := ImageSeed(1000, k)
			s, err := renderScene(g, size, seed)
			if err != nil {
				t.Fatal(err)
			}
			img := s.quantize(rand.New(rand.NewPCG(seed, streamNoise)))
			d, y := lesionStats(s, img.Pix)
			dark[g] += float64(d) / perGrade
			yellow[g] += float64(y) / perGrade
		}
	}
	t.Logf("mean dark-red pixels per grade: %.1f", dark)
	t.Logf("mean bright-yellow pixels per grade: %.1f", yellow)
	for g := 1; g < NumGrades; g++ {
		if !(dark[g] > dark[g-1]) {
			t.Errorf("dark-red pixels do not rise from grade %d (%.1f) to %d (%.1f)", g-1, dark[g-1], g, dark[g])
		}
	}
	// Grades 0 and 1 have no exudates: whatever the classifier finds there is background
	// mottling, bounded here by a tenth of the grade-2 count.
	for g := 0; g <= 1; g++ {
		if yellow[g] > 0.1*yellow[2] {
			t.Errorf("grade %d: %.1f bright-yellow pixels, grade 2 has %.1f", g, yellow[g], yellow[2])
		}
	}
	for g := 3; g < NumGrades; g++ {
		if !(yellow[g] > yellow[g-1]) {
			t.Errorf("bright-yellow pixels do not rise from grade %d (%.1f) to %d (%.1f)", g-1, yellow[g-1], g, yellow[g])
		}
	}
}

// pearson is the sample correlation coefficient of x and y.
func pearson(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

// TestMeanColourBarelyPredictsGrade: over 40 eyes per grade, the per-image mean luminance and
// mean R, G, B of the whole image correlate with the grade by |r| < 0.25 (r² < 6%), so mean
// colour alone cannot grade the images; the grade lives in the lesions.
func TestMeanColourBarelyPredictsGrade(t *testing.T) {
	const size, perGrade = 128, 40
	var grades []float64
	feats := make([][]float64, 4) // Y, R, G, B
	for g := 0; g < NumGrades; g++ {
		for k := 0; k < perGrade; k++ {
			img, err := Render(g, size, ImageSeed(2000, g*perGrade+k))
			if err != nil {
				t.Fatal(err)
			}
			var sum [3]float64
			for i := 0; i < len(img.Pix); i += 3 {
				for c := 0; c < 3; c++ {
					sum[c] += float64(img.Pix[i+c])
				}
			}
			np := float64(size * size)
			grades = append(grades, float64(g))
			feats[0] = append(feats[0], (0.299*sum[0]+0.587*sum[1]+0.114*sum[2])/np)
			for c := 0; c < 3; c++ {
				feats[c+1] = append(feats[c+1], sum[c]/np)
			}
		}
	}
	for k, name := range []string{"luminance", "red", "green", "blue"} {
		r := pearson(grades, feats[k])
		t.Logf("corr(grade, mean %s) = %+.3f", name, r)
		if math.Abs(r) >= 0.25 {
			t.Errorf("mean %s correlates with grade: r = %.3f", name, r)
		}
	}
}

func TestSpanDraw(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sp := range []span{{0, 0}, {3, 8}, {5, 5}} {
		seen := map[int]bool{}
		for k := 0; k < 500; k++ {
			v := sp.draw(r)
			if v < sp[0] || v > sp[1] {
				t.Fatalf("%v drew %d", sp, v)
			}
			seen[v] = true
		}
		if len(seen) != sp[1]-sp[0]+1 {
			t.Errorf("%v: drew %d distinct values, want all %d", sp, len(seen), sp[1]-sp[0]+1)
		}
	}
}
