// jpeg.h: drgrade's thin C layer over libjpeg-turbo's TurboJPEG API (see jpeg.go).
#pragma once

#include <stddef.h>

// What tx_jpeg_header / tx_jpeg_decode report. status: 0 ok, 1 libjpeg warning (the image
// may be incomplete), 2 fatal error; msg is libjpeg's message (empty when status is 0).
typedef struct {
  int status;
  int width, height;
  int colorspace;  // TJCS_*
  int subsamp;     // TJSAMP_*, -1 when TurboJPEG does not name the sampling factors
  char msg[200];   // JMSG_LENGTH_MAX
} tx_jpeg_result;

// tx_jpeg_header reads the frame header of the n-byte JPEG at buf.
void tx_jpeg_header(const unsigned char *buf, size_t n, tx_jpeg_result *r);

// tx_jpeg_decode decodes the whole image into dst (width*height*tjPixelSize[pf] bytes, rows
// packed) as TurboJPEG pixel format pf, with libjpeg's accurate integer IDCT and fancy
// upsampling; stop_on_warning makes the first libjpeg warning end the decode.
void tx_jpeg_decode(const unsigned char *buf, size_t n, unsigned char *dst, int width,
                    int height, int pf, int stop_on_warning, tx_jpeg_result *r);
