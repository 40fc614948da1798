package imagec

// Region decoding through libjpeg-turbo's libjpeg API (jpeg_region.c): jpeg_crop_scanline for
// the columns, jpeg_skip_scanlines for the rows above, and nothing below. vision/imageio uses
// it to decode only the part of a photo the first transform reads.

/*
#cgo LDFLAGS: -ljpeg
#include "jpeg.h"
#include "jpeg_region.h"
*/
import "C"

import (
	"fmt"
	"image"
	"unsafe"
)

// JPEGLayout is what libjpeg's jpeg_read_header learns about a JPEG's geometry.
type JPEGLayout struct {
	Width, Height int
	Components    int
	MaxH, MaxV    int // largest horizontal and vertical sampling factors
	// Regular: three components in YCbCr or RGB, Y sampled 1 or 2 times each way and the
	// other two once (4:4:4, 4:2:2, 4:2:0, 4:4:0). DecodeJPEGRegion decodes only these; they
	// are the layouts its exactness is tested on.
	Regular bool
}

// ReadJPEGLayout reads a JPEG's header with libjpeg (jpeg_read_header). A header that drew
// only warnings is accepted: decoding reports them.
func ReadJPEGLayout(data []byte) (JPEGLayout, error) {
	if len(data) == 0 {
		return JPEGLayout{}, &JPEGError{Msg: "empty JPEG data"}
	}
	var l C.tx_jpeg_layout
	C.tx_jpeg_layout_read((*C.uchar)(unsafe.Pointer(&data[0])), C.size_t(len(data)), &l)
	if l.status == 2 {
		return JPEGLayout{}, &JPEGError{Msg: C.GoString(&l.msg[0])}
	}
	return JPEGLayout{Width: int(l.width), Height: int(l.height), Components: int(l.num_components),
		MaxH: int(l.max_h), MaxV: int(l.max_v), Regular: l.regular != 0}, nil
}

// MCUWidth is the width of an iMCU column (8 pixels per horizontal sampling step), the grid
// jpeg_crop_scanline aligns a region's left edge to.
func (l JPEGLayout) MCUWidth() int { return 8 * l.MaxH }

// RegionFor returns the region DecodeJPEGRegion must decode for the pixels of window r (inside
// the image) to equal a full decode's. libjpeg's fancy chroma upsampling treats a cropped
// region's left and right edges as image edges (libjpeg.txt, "Decompressing partial
// scanlines"), which changes the pixels beside them; so the columns are widened by one iMCU
// column each side (clipped to the image; the left edge then moved down to the iMCU grid, as
// jpeg_crop_scanline requires). Rows need no margin: jpeg_skip_scanlines keeps the upsampler's
// context rows (TestDecodeJPEGRegionExact checks both with and without margins).
func (l JPEGLayout) RegionFor(r image.Rectangle) image.Rectangle {
	return l.regionFor(r, l.MCUWidth(), 0)
}

// regionFor widens r by mx columns and my rows above, clipped, left edge on the iMCU grid.
func (l JPEGLayout) regionFor(r image.Rectangle, mx, my int) image.Rectangle {
	m := l.MCUWidth()
	x0 := max(r.Min.X-mx, 0) / m * m
	x1 := min(r.Max.X+mx, l.Width)
	return image.Rect(x0, max(r.Min.Y-my, 0), x1, r.Max.Y)
}

// DecodeJPEGRegion decodes region of a Regular JPEG into dst (region.Dx()·region.Dy()·3 bytes,
// RGB, rows packed) with DecodeJPEG's settings (islow IDCT, fancy upsampling, RGB output) and
// its error reporting (stopOnWarning, JPEGError). region's left edge must be on the iMCU grid
// (RegionFor gives such regions). Only the data up to the region's last row is read (all of
// it for a progressive JPEG, whose scans libjpeg reads up front), so damage below the region
// goes unnoticed; a region that reaches the last row reads to the end, as DecodeJPEG does.
// Pixels in the outer iMCU column of a side that is not an image edge may differ from a full
// decode (see RegionFor).
func DecodeJPEGRegion(data, dst []byte, region image.Rectangle, stopOnWarning bool) error {
	if len(data) == 0 {
		return &JPEGError{Msg: "empty JPEG data"}
	}
	if region.Empty() || region.Min.X < 0 || region.Min.Y < 0 {
		return fmt.Errorf("imagec: DecodeJPEGRegion: bad region %v", region)
	}
	if need := int64(region.Dx()) * int64(region.Dy()) * 3; int64(len(dst)) < need {
		return fmt.Errorf("imagec: DecodeJPEGRegion: dst has %d bytes, region %v needs %d", len(dst), region, need)
	}
	stop := C.int(0)
	if stopOnWarning {
		stop = 1
	}
	var r C.tx_jpeg_result
	C.tx_jpeg_decode_region((*C.uchar)(unsafe.Pointer(&data[0])), C.size_t(len(data)),
		C.int(region.Min.X), C.int(region.Min.Y), C.int(region.Dx()), C.int(region.Dy()),
		(*C.uchar)(unsafe.Pointer(&dst[0])), stop, &r)
	return resultError(&r)
}
