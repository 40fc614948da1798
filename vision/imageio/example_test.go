package imageio_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"

	"github.com/drgrade/drgrade/vision/imageio"
)

// PIL's Image.open(path).convert('RGB'), as dataload_DR_grading.py does for every image that
// is not RGB already: here a greyscale (mode L) PNG, written with Go's image/png, whose grey
// value is replicated into R, G and B.
func ExampleDecode() {
	dir, err := os.MkdirTemp("", "imageio-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	grey := image.NewGray(image.Rect(0, 0, 4, 3))
	for y := 0; y < 3; y++ {
		for x := 0; x < 4; x++ {
			grey.SetGray(x, y, color.Gray{Y: uint8(60*y + 10*x)})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, grey); err != nil {
		fmt.Println(err)
		return
	}
	path := filepath.Join(dir, "fundus.png")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		fmt.Println(err)
		return
	}

	img, err := imageio.Decode(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	r, g, b := img.At(3, 2)
	fmt.Printf("%s %d×%d, 3 channels (%d bytes)\n", imageio.Sniff(buf.Bytes()), img.W, img.H, len(img.Pix))
	fmt.Println("pixel (3,2):", r, g, b)
	// Output:
	// PNG 4×3, 3 channels (36 bytes)
	// pixel (3,2): 150 150 150
}

// Check reads an image without keeping its pixels (drgrade's --check_images); a damaged file is
// an *Error that names it, and errors.Is tells what kind of damage it is.
func ExampleCheck() {
	dir, err := os.MkdirTemp("", "imageio-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 64, 48)), &jpeg.Options{Quality: 90}); err != nil {
		fmt.Println(err)
		return
	}
	good, cut, text := filepath.Join(dir, "good.jpg"), filepath.Join(dir, "cut.jpg"), filepath.Join(dir, "notes.jpg")
	for path, data := range map[string][]byte{good: buf.Bytes(), cut: buf.Bytes()[:buf.Len()/2], text: []byte("not an image")} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			fmt.Println(err)
			return
		}
	}

	for _, path := range []string{good, cut, text} {
		w, h, err := imageio.Check(path)
		var ie *imageio.Error
		switch {
		case err == nil:
			fmt.Printf("%s: %d×%d\n", filepath.Base(path), w, h)
		case errors.As(err, &ie):
			fmt.Printf("%s: format %q, truncated %v, unknown format %v\n", filepath.Base(ie.Path), ie.Format,
				errors.Is(err, imageio.ErrTruncated), errors.Is(err, imageio.ErrUnknownFormat))
		default:
			fmt.Println(err)
		}
	}
	// Output:
	// good.jpg: 64×48
	// cut.jpg: format "JPEG", truncated true, unknown format false
	// notes.jpg: format "", truncated false, unknown format true
}

// An Encoded holds a file in memory and decodes just the part a transform reads (the data
// loader's random crop); inside the window the pixels are those of the full decode. (Where
// libjpeg-turbo cannot decode a window, e.g. in a -tags purego build, DecodeWindow decodes the
// whole image at (0, 0); the pixels inside the window are the same either way.)
func ExampleEncoded_DecodeWindow() {
	src := image.NewRGBA(image.Rect(0, 0, 96, 80))
	for y := 0; y < 80; y++ {
		for x := 0; x < 96; x++ {
			src.Set(x, y, color.RGBA{uint8(2 * x), uint8(3 * y), uint8(x + y), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
		fmt.Println(err)
		return
	}

	var enc imageio.Encoded
	enc.Reset("", buf.Bytes())
	full, err := enc.Decode()
	if err != nil {
		fmt.Println(err)
		return
	}
	r := image.Rect(40, 24, 72, 56) // a 32×32 crop
	win, at, err := enc.DecodeWindow(r)
	if err != nil {
		fmt.Println(err)
		return
	}
	same := true
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1 := full.At(x, y)
			r2, g2, b2 := win.At(x-at.X, y-at.Y)
			same = same && r1 == r2 && g1 == g2 && b1 == b2
		}
	}
	fmt.Printf("full image %d×%d; window %v covered: %v; same pixels inside it: %v\n",
		full.W, full.H, r, image.Rect(at.X, at.Y, at.X+win.W, at.Y+win.H).Intersect(r) == r, same)
	// Output:
	// full image 96×80; window (40,24)-(72,56) covered: true; same pixels inside it: true
}
