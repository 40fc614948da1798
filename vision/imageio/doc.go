// Package imageio decodes image files into 8-bit RGB the way PIL's
// `Image.open(p)` followed by `.convert('RGB')` does (dataload_DR_grading.py converts every
// image whose mode is not RGB), so every later transform starts from the same pixels as the
// PyTorch pipeline.
//
// Formats are recognised by content, never by file extension: JPEG, PNG, BMP, TIFF, WebP and
// DICOM (not GIF). JPEG goes through libjpeg-turbo, Pillow's own JPEG library, by default (see
// below); the other decoders are Go ones (image/png, golang.org/x/image/{bmp,tiff,webp}). This
// package adds what Pillow does on top of its C libraries, and matches Pillow 13 bit for bit
// on every image of the parity corpus (testdata/images_gen.py):
//
//   - Colour conversion follows Pillow's convert('RGB') per mode: L/LA/1 replicate the grey
//     value; P looks up the palette and ignores transparency; RGBA and LA drop alpha without
//     compositing; CMYK uses Pillow's cmyk2rgb; 16-bit grey (mode I;16) clips to 255; 16-bit
//     colour keeps the high byte (Pillow's RGB;16B/RGBA;16B unpackers); premultiplied TIFF
//     alpha is un-premultiplied the way Pillow's RGBa unpacker does.
//   - JPEG has two decoders (JPEGDecoder; Decoder picks one, Decode uses the default). The
//     default, LibjpegTurbo, runs libjpeg-turbo's TurboJPEG API through internal/imagec
//     with Pillow's settings (islow IDCT, fancy upsampling, RGB/grey/CMYK output as Pillow's
//     JpegDecoder asks for): bit-exact. PureGo (the only one with -tags purego or without
//     cgo) is Go's image/jpeg finished with libjpeg's fancy triangle-filter chroma upsampling
//     (jdsample.c) and fixed-point YCbCr→RGB (jdcolor.c): at most 3 levels off (mean 0.028,
//     2.4% of values differ over the corpus's colour JPEGs; Go's IDCT is not libjpeg's), where
//     plain image/jpeg is up to 57 off. On a 2048×1536 4:2:0 JPEG libjpeg-turbo is about 5×
//     faster than PureGo (BenchmarkDecodeJPEG2048x1536). Both read CMYK with Adobe polarity
//     and Pillow's cmyk2rgb, as Pillow does.
//   - EXIF orientation is ignored, as Pillow's convert('RGB') ignores it (a camera JPEG tagged
//     "rotate 90" decodes unrotated in both; TestParityRealJPEGShapes).
//   - Lossy WebP is upsampled and converted with libwebp's fancy upsampler and fixed-point
//     YUV→RGB, which makes it bit-exact with Pillow.
//   - DICOM (Part 10 files; dicom.go) is parsed with github.com/suyashkumar/dicom and gives
//     pydicom 2.4's pixel_array as Pillow converts it to RGB: uncompressed or JPEG baseline;
//     RGB, YBR_FULL, YBR_FULL_422, MONOCHROME2 (TestParityDICOM). Patient elements are never
//     read into anything this package returns or prints.
//   - Like Pillow (ImageFile.LOAD_TRUNCATED_IMAGES = False) a truncated file is an error; a
//     PNG missing only its IEND chunk decodes, as in Pillow. Unlike Pillow, a JPEG whose
//     entropy-coded data is corrupt is an error (libjpeg only warns and decodes what it can);
//     libjpeg's harmless warnings (e.g. junk bytes before a marker) are ignored, as in Pillow.
//
// Windows: Encoded holds an encoded file (recycling its buffers across files) and can decode
// just a window of a colour JPEG (4:4:4, 4:2:2, 4:2:0 or 4:4:0, baseline or progressive) with
// LibjpegTurbo: libjpeg-turbo decodes only the needed columns (jpeg_crop_scanline, with one
// iMCU column of margin, because fancy upsampling at a cut edge differs from a full decode)
// and the rows down to the window's last, skipping those above. The window's pixels equal the
// full decode's byte for byte (tested on every window shape and subsampling). Data below the
// window is not read, so damage there is not reported; trainer.Preflight (--check_images, on
// by default) decodes every image in full before training, which catches it. Other images
// are decoded whole. transforms.Pipeline.RunSource uses this so the loader decodes only what
// the first transform reads.
//
// Build: the default build is cgo and links libturbojpeg and libjpeg through internal/imagec,
// never libtorch; setup-libtorch.sh installs libturbojpeg0-dev and libjpeg62-turbo-dev. Build
// with -tags purego for a pure-Go package with only the PureGo JPEG decoder (and no window
// decoding).
//
// Errors are *Error values naming the file and the kind of failure (ErrEmpty,
// ErrUnknownFormat, ErrTruncated, ErrCorrupt, ErrUnsupported, ErrTooLarge; test with
// errors.Is). Images above Pillow's decompression-bomb limit (MaxPixels) are refused before
// decoding, as Pillow does.
//
// Everything here is safe for concurrent use (the decoders keep no shared state), except an
// Encoded, which belongs to one goroutine at a time.
package imageio
