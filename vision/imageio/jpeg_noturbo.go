//go:build !cgo || purego

package imageio

import (
	"errors"
	"image"
)

// haveLibjpegTurbo says whether the LibjpegTurbo decoder is compiled in: not in this build
// (-tags purego or no cgo), so Decoder.jpegDecoder never selects it.
const haveLibjpegTurbo = false

var errNoTurbo = errors.New("libjpeg-turbo decoder not compiled in")

func turboSize([]byte) (int, int, error) { return 0, 0, errNoTurbo }

func decodeJPEGTurbo([]byte) (*RGB, error) { return nil, errNoTurbo }

func checkJPEGTurbo([]byte) error { return errNoTurbo }

func turboWindowLayout([]byte) (int, int, regionLayout, bool) { return 0, 0, nil, false }

func decodeRegionTurbo([]byte, image.Rectangle, []uint8) error { return errNoTurbo }
