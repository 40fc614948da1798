package synth

import (
	"math"
	"math/rand/v2"
)

// put raises mask m at pixel (x, y) to v (masks combine by max).
func (s *scene) put(m []float32, x, y int, v float32) {
	i := y*s.size + x
	if v > m[i] {
		m[i] = v
	}
}

// clampBox returns the pixel box covering [x0,x1]×[y0,y1], clipped to the image.
func (s *scene) clampBox(x0, y0, x1, y1 float64) (int, int, int, int) {
	ix0 := max(0, int(math.Floor(x0)))
	iy0 := max(0, int(math.Floor(y0)))
	ix1 := min(s.size-1, int(math.Ceil(x1)))
	iy1 := min(s.size-1, int(math.Ceil(y1)))
	return ix0, iy0, ix1, iy1
}

// capsule draws the segment (x0,y0)–(x1,y1) with radius rad pixels, anti-aliased; radii under
// half a pixel are drawn one pixel wide at proportionally lower strength.
func (s *scene) capsule(m []float32, x0, y0, x1, y1, rad float64, strength float32) {
	re := math.Max(rad, 0.5)
	strength *= float32(rad / re)
	bx0, by0, bx1, by1 := s.clampBox(math.Min(x0, x1)-re-1, math.Min(y0, y1)-re-1,
		math.Max(x0, x1)+re+1, math.Max(y0, y1)+re+1)
	dx, dy := x1-x0, y1-y0
	l2 := dx*dx + dy*dy
	for y := by0; y <= by1; y++ {
		py := float64(y) + 0.5
		for x := bx0; x <= bx1; x++ {
			px := float64(x) + 0.5
			t := 0.0
			if l2 > 0 {
				t = math.Max(0, math.Min(1, ((px-x0)*dx+(py-y0)*dy)/l2))
			}
			ex, ey := px-(x0+t*dx), py-(y0+t*dy)
			d := math.Sqrt(ex*ex + ey*ey)
			cov := re - d + 0.5
			if cov <= 0 {
				continue
			}
			if cov > 1 {
				cov = 1
			}
			// Vessels are a little darker on their axis than at their walls.
			prof := 0.8 + 0.2*math.Max(0, 1-(d*d)/(re*re))
			s.put(m, x, y, strength*float32(cov*prof))
		}
	}
}

// ellipse draws a filled ellipse with semi-axes a, b (pixels) rotated by ang, edge softened over
// soft pixels.
func (s *scene) ellipse(m []float32, cx, cy, a, b, ang, soft float64, strength float32) {
	ext := math.Max(a, b) + soft + 1
	bx0, by0, bx1, by1 := s.clampBox(cx-ext, cy-ext, cx+ext, cy+ext)
	ca, sa := math.Cos(ang), math.Sin(ang)
	mn := math.Min(a, b)
	for y := by0; y <= by1; y++ {
		py := float64(y) + 0.5 - cy
		for x := bx0; x <= bx1; x++ {
			px := float64(x) + 0.5 - cx
			u := (px*ca + py*sa) / a
			v := (-px*sa + py*ca) / b
			q := math.Sqrt(u*u + v*v)
			cov := 0.5 + (1-q)*mn/soft
			if cov <= 0 {
				continue
			}
			if cov > 1 {
				cov = 1
			}
			s.put(m, x, y, strength*float32(cov))
		}
	}
}

// blob draws a Gaussian spot with standard deviations sigX, sigY pixels along axes rotated by
// ang, and the given peak strength.
func (s *scene) blob(m []float32, cx, cy, sigX, sigY, ang float64, strength float32) {
	ext := 3 * math.Max(sigX, sigY)
	bx0, by0, bx1, by1 := s.clampBox(cx-ext, cy-ext, cx+ext, cy+ext)
	ca, sa := math.Cos(ang), math.Sin(ang)
	for y := by0; y <= by1; y++ {
		py := float64(y) + 0.5 - cy
		for x := bx0; x <= bx1; x++ {
			px := float64(x) + 0.5 - cx
			u := (px*ca + py*sa) / sigX
			v := (-px*sa + py*ca) / sigY
			g := math.Exp(-0.5 * (u*u + v*v))
			if g < 0.01 {
				continue
			}
			s.put(m, x, y, strength*float32(g))
		}
	}
}

// vessel is one growing vessel tip.
type vessel struct {
	x, y   float64 // position (pixels)
	h      float64 // heading (radians)
	target float64 // heading the vessel relaxes towards
	pull   float64 // relaxation rate per pixel
	rad    float64 // radius (pixels)
	maxLen float64 // pixels
	depth  int
	wiggle float64 // curvature noise per step
	taper  float64 // length over which the radius falls by 1/e
}

func angleOf(x, y float64) float64 { return math.Atan2(y, x) }

// wrap maps an angle difference into (-π, π].
func wrap(a float64) float64 {
	for a > math.Pi {
		a -= 2 * math.Pi
	}
	for a <= -math.Pi {
		a += 2 * math.Pi
	}
	return a
}

// growVessels grows the retinal vascular tree: for each of the superior and inferior halves a
// temporal arcade (arching around the macula) and a nasal trunk, each as an artery and a vein,
// plus small macular and nasal twigs; every vessel branches, tapers and meanders.
func (s *scene) growVessels(r *rand.Rand) {
	R := s.R
	unit := R / 240 // sizes below were tuned at R = 240 px (512 px image)
	dir := func(a, n float64) float64 { return angleOf(a*s.ax+n*s.nx, a*s.ay+n*s.ny) }
	var roots []vessel
	for _, side := range []float64{1, -1} {
		for k, m := range [][]float32{s.vein, s.artery} {
			isVein := k == 0
			w := 2.6 * unit * uni(r, 0.9, 1.1)
			if !isVein {
				w *= 0.75
			}
			// Temporal arcade: leaves the disc vertically, bends towards and around the macula.
			roots = append(roots, vessel{
				h:      dir(uni(r, 0.05, 0.35), side) + uni(r, -0.12, 0.12),
				target: dir(1, side*uni(r, 0.0, 0.25)),
				pull:   1 / (R * uni(r, 0.3, 0.45)),
				rad:    w, maxLen: R * 1.9, wiggle: 0.004,
				taper: R * uni(r, 1.4, 2.0),
			})
			// Nasal trunk.
			roots = append(roots, vessel{
				h:      dir(-uni(r, 0.2, 0.7), side) + uni(r, -0.2, 0.2),
				target: dir(-1, side*uni(r, 0.3, 0.8)),
				pull:   1 / (R * uni(r, 0.4, 0.7)),
				rad:    w * uni(r, 0.65, 0.85), maxLen: R * 1.4, wiggle: 0.006,
				taper: R * uni(r, 1.0, 1.5),
			})
			if isVein {
				roots[len(roots)-2].taper *= 1.1
			}
			for j := len(roots) - 2; j < len(roots); j++ {
				roots[j].x, roots[j].y = s.odx+uni(r, -0.25, 0.25)*s.odr, s.ody+uni(r, -0.25, 0.25)*s.odr
				s.grow(r, roots[j], m)
			}
			// Macular twig heading for (but stopping short of) the fovea.
			s.grow(r, vessel{
				x: s.odx, y: s.ody, h: dir(1, side*uni(r, 0.1, 0.45)), target: dir(1, side*0.1),
				pull: 1 / R, rad: w * uni(r, 0.35, 0.5), maxLen: R * 0.6, wiggle: 0.01,
				taper: R * 0.6,
			}, m)
		}
	}
	// A few small nasal/vertical twigs.
	for k := 0; k < 2+r.IntN(3); k++ {
		m := s.artery
		if r.IntN(2) == 0 {
			m = s.vein
		}
		h := dir(-1, 0) + uni(r, -1.4, 1.4)
		s.grow(r, vessel{
			x: s.odx, y: s.ody, h: h, target: h, pull: 0, rad: 1.1 * unit * uni(r, 0.8, 1.2),
			maxLen: R * uni(r, 0.3, 0.8), wiggle: 0.012, taper: R * 0.7,
		}, m)
	}
}

// grow advances one vessel until it thins out, leaves the retina or reaches its length,
// drawing it into m and recursively spawning branches.
func (s *scene) grow(r *rand.Rand, v vessel, m []float32) {
	const ds = 1.0
	unit := s.R / 240
	branchEvery := s.R * (0.16 + 0.08*float64(v.depth))
	curv := 0.0
	length := 0.0
	for v.rad > 0.3*unit && length < v.maxLen {
		curv = 0.9*curv + r.NormFloat64()*v.wiggle
		v.h += v.pull*wrap(v.target-v.h)*ds*unit + curv*ds
		nx := v.x + math.Cos(v.h)*ds*unit
		ny := v.y + math.Sin(v.h)*ds*unit
		s.capsule(m, v.x, v.y, nx, ny, v.rad, 1)
		v.x, v.y = nx, ny
		length += ds * unit
		v.rad *= math.Exp(-ds * unit / v.taper)
		if s.fundusDist(v.x, v.y) > 0.985 {
			return
		}
		if math.Hypot(v.x-s.mx, v.y-s.my) < 0.1*s.R { // the fovea is avascular
			return
		}
		// Branches leave at 30–70° and are markedly thinner; the parent thins a little.
		if v.depth < 3 && v.rad > 0.5*unit && r.Float64() < ds*unit/branchEvery {
			side := 1.0
			if r.IntN(2) == 0 {
				side = -1
			}
			c := v
			c.h = v.h + side*uni(r, 0.5, 1.2)
			c.target = c.h + side*uni(r, -0.3, 0.3)
			c.pull = 0.5 / s.R
			c.rad = v.rad * uni(r, 0.5, 0.75)
			c.maxLen = s.R * uni(r, 0.2, 0.6) / float64(1+v.depth)
			c.taper = s.R * uni(r, 0.4, 0.8)
			c.depth = v.depth + 1
			c.wiggle = v.wiggle * 1.5
			s.grow(r, c, m)
			v.rad *= 0.93
		}
	}
}
