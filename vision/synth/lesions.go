package synth

import (
	"math"
	"math/rand/v2"
)

// span is an inclusive integer range drawn uniformly.
type span [2]int

func (sp span) draw(r *rand.Rand) int {
	if sp[1] <= sp[0] {
		return sp[0]
	}
	return sp[0] + r.IntN(sp[1]-sp[0]+1)
}

// lesionPlan says how many lesions of each kind a grade gets.
type lesionPlan struct {
	dots          span    // microaneurysms and dot haemorrhages
	blots         span    // blot haemorrhages
	flames        span    // flame-shaped (nerve fibre layer) haemorrhages
	exudClusters  span    // groups of hard exudates
	exudScattered span    // lone hard exudates
	cws           span    // cotton-wool spots
	nve           span    // new-vessel tangles away from the disc (NVD is always drawn at 4)
	preretinal    float64 // probability of one large pre-retinal haemorrhage
}

// plans mirrors the International Clinical DR scale: lesion kinds and counts rise with grade.
// Counts and the sizes in addLesions sit at the generous end of real photographs (severe: blots
// in every quadrant, the 4-2-1 rule) so that the grade stays visible after `make demo`'s
// 128 px training crops (down to 8% of the area) and hue jitter.
var plans = [NumGrades]lesionPlan{
	{},
	{dots: span{4, 10}},
	{dots: span{12, 24}, blots: span{3, 7}, exudClusters: span{2, 4}, exudScattered: span{4, 10}},
	{dots: span{20, 36}, blots: span{16, 28}, flames: span{3, 6}, exudClusters: span{2, 5},
		exudScattered: span{6, 14}, cws: span{3, 6}},
	{dots: span{20, 36}, blots: span{16, 28}, flames: span{3, 7}, exudClusters: span{3, 6},
		exudScattered: span{6, 16}, cws: span{3, 7}, nve: span{1, 3}, preretinal: 0.5},
}

// retinaPoint draws a point uniformly inside maxD fundus radii, away from the optic disc.
func (s *scene) retinaPoint(r *rand.Rand, maxD float64) (float64, float64) {
	for try := 0; ; try++ {
		a := r.Float64() * 2 * math.Pi
		d := s.R * maxD * math.Sqrt(r.Float64())
		x, y := s.cx+d*math.Cos(a), s.cy+d*math.Sin(a)
		if math.Hypot(x-s.odx, y-s.ody) > 1.5*s.odr || try > 50 {
			return x, y
		}
	}
}

// addLesions draws the lesions of one grade into the masks.
func (s *scene) addLesions(grade int, r *rand.Rand) {
	p := plans[grade]
	R := s.R
	unit := R / 240
	// Microaneurysms (smallest) and dot haemorrhages.
	for k := p.dots.draw(r); k > 0; k-- {
		x, y := s.retinaPoint(r, 0.88)
		rad := R * uni(r, 0.008, 0.012)
		if r.Float64() < 0.5 {
			rad = R * uni(r, 0.014, 0.024)
		}
		s.ellipse(s.haem, x, y, rad, rad*uni(r, 0.85, 1), 0, 0.8*unit, float32(uni(r, 0.8, 1)))
	}
	// Blot haemorrhages: irregular unions of ellipses.
	for k := p.blots.draw(r); k > 0; k-- {
		x, y := s.retinaPoint(r, 0.86)
		rad := R * uni(r, 0.03, 0.06)
		st := float32(uni(r, 0.8, 1))
		for j := 2 + r.IntN(4); j > 0; j-- {
			ox, oy := rad*uni(r, -0.5, 0.5), rad*uni(r, -0.5, 0.5)
			s.ellipse(s.haem, x+ox, y+oy, rad*uni(r, 0.5, 0.9), rad*uni(r, 0.4, 0.8),
				r.Float64()*math.Pi, 1.5*unit, st)
		}
	}
	// Flame haemorrhages: streaks along the nerve fibres, i.e. radial from the disc.
	for k := p.flames.draw(r); k > 0; k-- {
		x, y := s.retinaPoint(r, 0.7)
		ang := math.Atan2(y-s.ody, x-s.odx) + uni(r, -0.3, 0.3)
		s.ellipse(s.haem, x, y, R*uni(r, 0.05, 0.09), R*uni(r, 0.014, 0.024), ang, 2*unit,
			float32(uni(r, 0.7, 0.9)))
	}
	// Hard exudates: bright yellow specks, clustered (often around the macula) or scattered.
	speck := func(x, y float64) {
		rad := R * uni(r, 0.008, 0.018)
		s.ellipse(s.exud, x, y, rad, rad*uni(r, 0.6, 1), r.Float64()*math.Pi, 0.8*unit,
			float32(uni(r, 0.75, 1)))
	}
	for k := p.exudClusters.draw(r); k > 0; k-- {
		a := r.Float64() * 2 * math.Pi
		d := R * uni(r, 0.08, 0.5)
		cx, cy := s.mx+d*math.Cos(a), s.my+d*math.Sin(a)
		spread := R * uni(r, 0.03, 0.07)
		ring := r.Float64() < 0.4 // circinate ring around a leaking point
		for j := 4 + r.IntN(12); j > 0; j-- {
			var x, y float64
			if ring {
				t := r.Float64() * 2 * math.Pi
				rr := spread * uni(r, 0.85, 1.15)
				x, y = cx+rr*math.Cos(t), cy+rr*math.Sin(t)
			} else {
				x, y = cx+spread*r.NormFloat64()*0.6, cy+spread*r.NormFloat64()*0.6
			}
			if s.fundusDist(x, y) < 0.92 {
				speck(x, y)
			}
		}
	}
	for k := p.exudScattered.draw(r); k > 0; k-- {
		speck(s.retinaPoint(r, 0.85))
	}
	// Cotton-wool spots: pale fuzzy patches, mostly along the arcades near the disc.
	for k := p.cws.draw(r); k > 0; k-- {
		var x, y float64
		for try := 0; try < 50; try++ {
			a := r.Float64() * 2 * math.Pi
			d := R * uni(r, 0.25, 0.75)
			x, y = s.odx+d*math.Cos(a), s.ody+d*math.Sin(a)
			if s.fundusDist(x, y) < 0.85 {
				break
			}
		}
		sig := R * uni(r, 0.025, 0.045)
		for j := 2 + r.IntN(3); j > 0; j-- {
			s.blob(s.cws, x+sig*uni(r, -0.8, 0.8), y+sig*uni(r, -0.8, 0.8),
				sig*uni(r, 0.6, 1.2), sig*uni(r, 0.5, 1), r.Float64()*math.Pi, float32(uni(r, 0.75, 1)))
		}
	}
	if grade < 4 {
		return
	}
	// Proliferative: new vessels on/near the disc (NVD) and sometimes elsewhere (NVE).
	a := r.Float64() * 2 * math.Pi
	d := s.odr * uni(r, 0.3, 1.1)
	s.tangle(r, s.odx+d*math.Cos(a), s.ody+d*math.Sin(a), s.odr*uni(r, 0.8, 1.3))
	for k := p.nve.draw(r); k > 0; k-- {
		a := r.Float64() * 2 * math.Pi
		d := R * uni(r, 0.35, 0.7)
		x, y := s.odx+d*math.Cos(a), s.ody+d*math.Sin(a)
		if s.fundusDist(x, y) < 0.85 {
			s.tangle(r, x, y, s.odr*uni(r, 0.5, 0.9))
		}
	}
	if r.Float64() < p.preretinal {
		x, y := s.retinaPoint(r, 0.6)
		s.ellipse(s.haem, x, y, R*uni(r, 0.07, 0.12), R*uni(r, 0.05, 0.08),
			r.Float64()*math.Pi, 2.5*unit, 1)
	}
}

// tangle draws a cluster of fine, tortuous, looping new vessels of the given radius (pixels).
func (s *scene) tangle(r *rand.Rand, cx, cy, rad float64) {
	unit := s.R / 240
	for k := 20 + r.IntN(16); k > 0; k-- {
		x, y := cx+rad*0.5*r.NormFloat64(), cy+rad*0.5*r.NormFloat64()
		h := r.Float64() * 2 * math.Pi
		curv := uni(r, 0.06, 0.2)
		if r.IntN(2) == 0 {
			curv = -curv
		}
		w := unit * uni(r, 0.6, 1.0)
		n := int(s.R * uni(r, 0.05, 0.16) / unit)
		for j := 0; j < n; j++ {
			curv += r.NormFloat64() * 0.03
			curv = math.Max(-0.3, math.Min(0.3, curv))
			h += curv
			nx, ny := x+math.Cos(h)*unit, y+math.Sin(h)*unit
			// Keep the tangle together: steer back when it strays.
			if math.Hypot(nx-cx, ny-cy) > rad {
				h += 0.3 * wrap(math.Atan2(cy-y, cx-x)-h)
			}
			s.capsule(s.nv, x, y, nx, ny, w, 0.9)
			x, y = nx, ny
		}
	}
}
