package imageio

import (
	"fmt"
	"image"
	"image/color"
)

// toRGB converts a decoded image to RGB with Pillow's per-mode rules (see the package doc).
// gray16 says the source is 16-bit greyscale (Pillow mode I;16) even when Go returned a
// colour type for it (a PNG with a tRNS chunk decodes to NRGBA64).
func toRGB(m image.Image, gray16 bool) (*RGB, error) {
	w, h, x0, y0 := bounded(m)
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("image size %dx%d", w, h)
	}
	out := NewRGB(w, h)
	p := out.Pix
	switch m := m.(type) {
	case *image.Gray:
		for y := range h {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := range w {
				v := row[x]
				i := 3 * (y*w + x)
				p[i], p[i+1], p[i+2] = v, v, v
			}
		}
	case *image.Gray16:
		for y := range h {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := range w {
				v := clipI16(uint16(row[2*x])<<8 | uint16(row[2*x+1]))
				i := 3 * (y*w + x)
				p[i], p[i+1], p[i+2] = v, v, v
			}
		}
	case *image.NRGBA:
		for y := range h {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := range w {
				i := 3 * (y*w + x)
				p[i], p[i+1], p[i+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.RGBA:
		// Opaque for every source but TIFF with associated alpha, where Pillow's RGBa
		// unpacker un-premultiplies.
		for y := range h {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := range w {
				i := 3 * (y*w + x)
				p[i], p[i+1], p[i+2] = unpremultiply(row[4*x], row[4*x+1], row[4*x+2], row[4*x+3])
			}
		}
	case *image.NRGBA64:
		for y := range h {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := range w {
				i := 3 * (y*w + x)
				if gray16 {
					v := clipI16(uint16(row[8*x])<<8 | uint16(row[8*x+1]))
					p[i], p[i+1], p[i+2] = v, v, v
				} else { // RGB;16B / RGBA;16B / LA;16B: the high byte
					p[i], p[i+1], p[i+2] = row[8*x], row[8*x+2], row[8*x+4]
				}
			}
		}
	case *image.RGBA64:
		for y := range h {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := range w {
				i := 3 * (y*w + x)
				p[i], p[i+1], p[i+2] = unpremultiply(row[8*x], row[8*x+2], row[8*x+4], row[8*x+6])
			}
		}
	case *image.Paletted:
		var lut [256][3]uint8
		for k, c := range m.Palette {
			if k < 256 {
				lut[k] = paletteRGB(c)
			}
		}
		for y := range h {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := range w {
				i := 3 * (y*w + x)
				c := lut[row[x]]
				p[i], p[i+1], p[i+2] = c[0], c[1], c[2]
			}
		}
	case *image.CMYK:
		for y := range h {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := range w {
				i := 3 * (y*w + x)
				p[i], p[i+1], p[i+2] = cmykToRGB(row[4*x], row[4*x+1], row[4*x+2], row[4*x+3])
			}
		}
	default:
		// Not produced by the decoders we use; Go's own conversion is the best available.
		for y := range h {
			for x := range w {
				c := color.NRGBAModel.Convert(m.At(x0+x, y0+y)).(color.NRGBA)
				out.Set(x, y, c.R, c.G, c.B)
			}
		}
	}
	return out, nil
}

// clipI16 mirrors Pillow's I;16 → L/RGB conversion, which clips instead of scaling.
func clipI16(v uint16) uint8 {
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// unpremultiply mirrors Pillow's unpackRGBa: a premultiplied pixel becomes c*255/a (integer
// division, clipped), fully transparent becomes black, opaque is unchanged.
func unpremultiply(r, g, b, a uint8) (uint8, uint8, uint8) {
	switch a {
	case 255:
		return r, g, b
	case 0:
		return 0, 0, 0
	}
	f := func(c uint8) uint8 { return uint8(min(int(c)*255/int(a), 255)) }
	return f(r), f(g), f(b)
}

// paletteRGB is a palette entry's colour without its alpha (Pillow's P → RGB ignores
// transparency). TIFF colour maps are 16-bit; Pillow keeps their high byte.
func paletteRGB(c color.Color) [3]uint8 {
	switch c := c.(type) {
	case color.RGBA:
		if c.A == 255 {
			return [3]uint8{c.R, c.G, c.B}
		}
	case color.NRGBA:
		return [3]uint8{c.R, c.G, c.B}
	case color.RGBA64:
		if c.A == 0xffff {
			return [3]uint8{uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8)}
		}
	}
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return [3]uint8{n.R, n.G, n.B}
}

// cmykToRGB mirrors Pillow's cmyk2rgb (libImaging/Convert.c): with nk = 255-k,
// channel = clip(nk - c*nk/255), where the product is Pillow's rounded MULDIV255.
func cmykToRGB(c, m, y, k uint8) (uint8, uint8, uint8) {
	nk := 255 - int(k)
	f := func(v uint8) uint8 {
		t := int(v)*nk + 128
		return uint8(nk - ((t>>8)+t)>>8)
	}
	return f(c), f(m), f(y)
}
