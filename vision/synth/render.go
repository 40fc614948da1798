package synth

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/drgrade/drgrade/vision/imageio"
)

// NumGrades is the number of DR grades (0 No DR .. 4 Proliferative).
const NumGrades = 5

// GradeNames are DDR's class names, indexed by grade.
var GradeNames = [NumGrades]string{"No DR", "Mild", "Moderate", "Severe", "Proliferative"}

// Limits on the rendered size: below MinSize lesions fall under a pixel; above MaxSize one
// image needs more than a gigabyte of working memory.
const (
	MinSize = 32
	MaxSize = 8192
)

// Stream identifiers: each image seed feeds three independent PCG streams so that the anatomy
// does not change when lesions are added (and hence brightness cannot leak the grade).
const (
	streamAnatomy = 0x616e61746f6d79 // "anatomy"
	streamLesions = 0x6c6573696f6e73 // "lesions"
	streamNoise   = 0x6e6f697365     // "noise"
)

// scene is one image under construction: geometry in pixels, float planes and lesion masks.
type scene struct {
	size int
	// fundus centre and radius; optic disc centre, radius and aspect; macula centre.
	cx, cy, R          float64
	odx, ody, odr, odE float64
	mx, my             float64
	ax, ay             float64 // unit vector optic disc → macula
	nx, ny             float64 // unit normal to it
	bright             float64 // global brightness factor (grade independent)
	base               [3]float64
	vigK, vigP         float64
	vigLUT             []float64
	odCol, cupCol      [3]float64
	cupR               float64
	r, g, b            []float32
	// Masks, coverage 0..1, combined with max so overlaps do not darken twice.
	vein, artery, nv, haem, exud, cws []float32
}

// Render draws one synthetic fundus image of the given grade (0..4), size×size pixels, as a pure
// function of its arguments.
func Render(grade, size int, seed uint64) (*imageio.RGB, error) {
	s, err := renderScene(grade, size, seed)
	if err != nil {
		return nil, err
	}
	return s.quantize(rand.New(rand.NewPCG(seed, streamNoise))), nil
}

// renderScene builds the float image and its masks (tests read the masks to exclude vessels).
func renderScene(grade, size int, seed uint64) (*scene, error) {
	if grade < 0 || grade >= NumGrades {
		return nil, fmt.Errorf("synth: grade %d out of range 0..%d", grade, NumGrades-1)
	}
	if size < MinSize || size > MaxSize {
		return nil, fmt.Errorf("synth: size %d out of range %d..%d", size, MinSize, MaxSize)
	}
	anat := rand.New(rand.NewPCG(seed, streamAnatomy))
	s := newScene(size, anat)
	s.shade(anat)
	s.growVessels(anat)
	s.addLesions(grade, rand.New(rand.NewPCG(seed, streamLesions)))
	s.composite()
	return s, nil
}

func uni(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// newScene draws the per-image anatomy: position, rotation, size and colour of everything.
func newScene(size int, r *rand.Rand) *scene {
	fs := float64(size)
	n := size * size
	s := &scene{size: size}
	s.R = fs * uni(r, 0.43, 0.49)
	s.cx = fs/2 + fs*uni(r, -0.02, 0.02)
	s.cy = fs/2 + fs*uni(r, -0.02, 0.02)
	// Left or right eye, then a rotation of the disc–macula axis.
	theta := uni(r, -0.28, 0.28)
	if r.IntN(2) == 1 {
		theta += math.Pi
	}
	s.ax, s.ay = math.Cos(theta), math.Sin(theta)
	s.nx, s.ny = -s.ay, s.ax
	s.mx = s.cx + s.R*uni(r, -0.06, 0.06)
	s.my = s.cy + s.R*uni(r, -0.06, 0.06)
	dOD := s.R * uni(r, 0.46, 0.56)
	s.odx, s.ody = s.mx-dOD*s.ax, s.my-dOD*s.ay
	s.odr = s.R * uni(r, 0.12, 0.15)
	s.odE = uni(r, 0.88, 1.05) // vertical stretch of the disc
	s.cupR = uni(r, 0.3, 0.55)

	s.bright = uni(r, 0.72, 1.12)
	s.base = [3]float64{0.88 * uni(r, 0.9, 1.05), 0.38 * uni(r, 0.78, 1.22), 0.13 * uni(r, 0.7, 1.5)}
	s.vigK, s.vigP = uni(r, 0.3, 0.55), uni(r, 1.8, 3.0)
	s.odCol = [3]float64{1.0, 0.84 * uni(r, 0.92, 1.06), 0.52 * uni(r, 0.8, 1.2)}
	s.cupCol = [3]float64{1.0, 0.95, 0.8 * uni(r, 0.85, 1.1)}

	s.r, s.g, s.b = make([]float32, n), make([]float32, n), make([]float32, n)
	s.vein, s.artery, s.nv = make([]float32, n), make([]float32, n), make([]float32, n)
	s.haem, s.exud, s.cws = make([]float32, n), make([]float32, n), make([]float32, n)
	return s
}

// valueNoise is smooth random noise on a coarse grid, interpolated with smoothstep weights.
type valueNoise struct {
	g    int
	v    []float64
	cell float64
}

func newValueNoise(r *rand.Rand, grid int, size int) *valueNoise {
	v := make([]float64, (grid+2)*(grid+2))
	for i := range v {
		v[i] = 2*r.Float64() - 1
	}
	return &valueNoise{g: grid, v: v, cell: float64(size) / float64(grid)}
}

func (vn *valueNoise) at(x, y float64) float64 {
	fx, fy := x/vn.cell, y/vn.cell
	ix, iy := int(fx), int(fy)
	tx, ty := fx-float64(ix), fy-float64(iy)
	tx, ty = tx*tx*(3-2*tx), ty*ty*(3-2*ty)
	w := vn.g + 2
	a := vn.v[iy*w+ix]*(1-tx) + vn.v[iy*w+ix+1]*tx
	b := vn.v[(iy+1)*w+ix]*(1-tx) + vn.v[(iy+1)*w+ix+1]*tx
	return a*(1-ty) + b*ty
}

func smoothstep(e0, e1, x float64) float64 {
	t := (x - e0) / (e1 - e0)
	if t <= 0 {
		return 0
	}
	if t >= 1 {
		return 1
	}
	return t * t * (3 - 2*t)
}

// shade paints the lesion-free background: retina with vignetting, mottling and macula, and the
// optic disc with its cup and a faint peripapillary glow.
func (s *scene) shade(r *rand.Rand) {
	coarse := newValueNoise(r, 6, s.size)
	fine := newValueNoise(r, 28, s.size)
	hueN := newValueNoise(r, 4, s.size)
	texA, texB := uni(r, 0.04, 0.09), uni(r, 0.02, 0.045)
	macA := uni(r, 0.18, 0.32)
	sigM, sigF := s.R*uni(r, 0.13, 0.19), s.R*uni(r, 0.03, 0.05)
	for y := 0; y < s.size; y++ {
		py := float64(y) + 0.5
		for x := 0; x < s.size; x++ {
			px := float64(x) + 0.5
			i := y*s.size + x
			dx, dy := px-s.cx, py-s.cy
			d := math.Sqrt(dx*dx+dy*dy) / s.R
			if d > 1.02 {
				continue
			}
			vig := s.vignette(d)
			if d > 0.88 {
				t := (math.Min(d, 1) - 0.88) / 0.12
				vig *= 1 - 0.35*t*t
			}
			tex := 1 + texA*coarse.at(px, py) + texB*fine.at(px, py)
			mdx, mdy := px-s.mx, py-s.my
			md2 := mdx*mdx + mdy*mdy
			mac := 1.0
			if md2 < 16*sigM*sigM {
				mac -= macA*math.Exp(-md2/(2*sigM*sigM)) + 0.12*math.Exp(-md2/(2*sigF*sigF))
			}
			hue := hueN.at(px, py)
			k := s.bright * vig * tex * mac
			cr := s.base[0] * k
			cg := s.base[1] * k * (1 + 0.08*hue - 0.12*d*d)
			cb := s.base[2] * k * (1 - 0.1*hue)

			// Optic disc: a slightly elliptical bright yellow disc and a paler cup.
			odx, ody := px-s.odx, (py-s.ody)/s.odE
			od := math.Sqrt(odx*odx+ody*ody) / s.odr
			if od < 7 {
				glow := 1 + 0.18*math.Exp(-od*od/4.5)
				cr, cg, cb = cr*glow, cg*glow, cb*glow
			}
			if od < 1.3 {
				ob := math.Min(1, s.bright*1.05) * (1 + 0.06*fine.at(px, py))
				p := 0.9 * smoothstep(1.12, 0.82, od)
				cr += p * (s.odCol[0]*ob - cr)
				cg += p * (s.odCol[1]*ob - cg)
				cb += p * (s.odCol[2]*ob - cb)
				q := 0.75 * smoothstep(s.cupR+0.12, s.cupR-0.15, od)
				cr += q * (s.cupCol[0]*ob - cr)
				cg += q * (s.cupCol[1]*ob - cg)
				cb += q * (s.cupCol[2]*ob - cb)
			}
			s.r[i], s.g[i], s.b[i] = float32(cr), float32(cg), float32(cb)
		}
	}
}

// fundusDist returns the distance of (x, y) from the fundus centre in fundus radii.
func (s *scene) fundusDist(x, y float64) float64 {
	return math.Hypot(x-s.cx, y-s.cy) / s.R
}

// composite applies the masks to the background planes: vessels and haemorrhages darken
// multiplicatively, exudates and cotton-wool spots blend towards their own colours.
func (s *scene) composite() {
	vein := [3]float32{0.55, 0.27, 0.24}
	art := [3]float32{0.74, 0.45, 0.4}
	nv := [3]float32{0.52, 0.2, 0.2}
	haem := [3]float32{0.46, 0.16, 0.2}
	br := float32(s.bright)
	ex := [3]float32{1.0 * br * 1.12, 0.92 * br * 1.12, 0.45 * br}
	cw := [3]float32{0.97 * br, 0.92 * br, 0.82 * br}
	for i := range s.r {
		c := [3]float32{s.r[i], s.g[i], s.b[i]}
		if c[0] == 0 && c[1] == 0 && c[2] == 0 {
			continue
		}
		// Exudates and cotton wool are lit like the retina around them (vignetting).
		var sh float32
		if s.exud[i] > 0 || s.cws[i] > 0 {
			sh = shadeOf(s, i)
		}
		for k := 0; k < 3; k++ {
			c[k] *= 1 - s.vein[i]*(1-vein[k])
			c[k] *= 1 - s.artery[i]*(1-art[k])
			c[k] *= 1 - s.nv[i]*(1-nv[k])
			c[k] *= 1 - s.haem[i]*(1-haem[k])
			c[k] += s.exud[i] * (ex[k]*sh - c[k])
			c[k] += 0.8 * s.cws[i] * (cw[k]*sh - c[k])
		}
		s.r[i], s.g[i], s.b[i] = c[0], c[1], c[2]
	}
}

// shadeOf is the vignetting factor at pixel i, so bright lesions dim towards the rim too.
func shadeOf(s *scene, i int) float32 {
	x := float64(i%s.size) + 0.5
	y := float64(i/s.size) + 0.5
	return float32(1 - 0.8*(1-s.vignette(s.fundusDist(x, y))))
}

// vigSteps is the resolution of the vignetting lookup table over d in [0, 1].
const vigSteps = 1024

// vignette is 1 - vigK·min(d,1)^vigP, the radial fall-off of illumination, read from a table
// (math.Pow per pixel dominated the render time).
func (s *scene) vignette(d float64) float64 {
	if s.vigLUT == nil {
		s.vigLUT = make([]float64, vigSteps+2)
		for i := range s.vigLUT {
			s.vigLUT[i] = 1 - s.vigK*math.Pow(math.Min(float64(i)/vigSteps, 1), s.vigP)
		}
	}
	f := math.Min(d, 1) * vigSteps
	i := int(f)
	t := f - float64(i)
	return s.vigLUT[i]*(1-t) + s.vigLUT[i+1]*t
}

// quantize crops the retina to its circle (anti-aliased), adds sensor noise on a dark surround
// and rounds to 8 bits.
func (s *scene) quantize(r *rand.Rand) *imageio.RGB {
	out := imageio.NewRGB(s.size, s.size)
	sigma := uni(r, 0.006, 0.016)
	for y := 0; y < s.size; y++ {
		for x := 0; x < s.size; x++ {
			i := y*s.size + x
			dx, dy := float64(x)+0.5-s.cx, float64(y)+0.5-s.cy
			d2 := dx*dx + dy*dy
			var a float32
			switch {
			case d2 < (s.R-1)*(s.R-1):
				a = 1
			case d2 < (s.R+1)*(s.R+1):
				a = float32(math.Max(0, math.Min(1, s.R-math.Sqrt(d2)+0.5)))
			}
			bg := float32(0.012)
			c := [3]float32{s.r[i], s.g[i], s.b[i]}
			for k := 0; k < 3; k++ {
				v := a*c[k] + (1-a)*bg
				v += float32(r.NormFloat64()) * float32(sigma) * (0.25 + 0.75*a)
				q := math.Round(float64(v) * 255)
				if q < 0 {
					q = 0
				} else if q > 255 {
					q = 255
				}
				out.Pix[3*i+k] = uint8(q)
			}
		}
	}
	return out
}
