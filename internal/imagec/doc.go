// Package imagec is drgrade's C for images: JPEG decoding through libjpeg-turbo and the
// horizontal pass of Pillow's bilinear resize. It is a cgo package that links libjpeg-turbo
// (libturbojpeg and libjpeg) and libc only, never libtorch or gotch, so vision/imageio and
// vision/transforms decode and resize without pulling libtorch into a program
// (TestImageSideLinksNoLibtorch checks the import graph).
//
// What it mirrors, bit for bit:
//   - DecodeJPEGHeader and DecodeJPEG (jpeg.c): libjpeg-turbo's TurboJPEG API
//     (tjDecompressHeader3, tjDecompress2) with the settings Pillow's JpegDecoder
//     (libImaging/JpegDecode.c) leaves libjpeg with: the accurate integer IDCT and fancy
//     upsampling, at full size, into RGB, L or CMYK.
//   - ReadJPEGLayout and DecodeJPEGRegion (jpeg_region.c): the same decode through the
//     libjpeg API, restricted to a window (jpeg_crop_scanline, jpeg_skip_scanlines), with
//     TurboJPEG's error and warning reporting.
//   - ResampleHorizontalRGB (resample.c): Pillow's ImagingResampleHorizontal_8bpc
//     (libImaging/Resample.c) on 8-bit RGB lines, AVX2 when the CPU has it.
//
// Every function checks its slice bounds before C runs, keeps no pointer to the caller's
// memory once it returns, and is safe to call from any number of goroutines (each JPEG call
// makes and frees its own decompressor). vision/imageio and vision/transforms are its users;
// with -tags purego they leave it out and use their pure-Go paths.
package imagec
