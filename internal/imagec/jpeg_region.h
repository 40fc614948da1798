// jpeg_region.h: decoding part of a JPEG through libjpeg-turbo's libjpeg API (see
// jpeg_region.go).
#pragma once

#include <stddef.h>

// What tx_jpeg_layout_read learns from a JPEG's header. status and msg as in tx_jpeg_result.
typedef struct {
  int status;
  int width, height;
  int colorspace;      // libjpeg's J_COLOR_SPACE of the data (jpeg_color_space)
  int num_components;
  int max_h, max_v;    // largest horizontal and vertical sampling factors
  int regular;         // 1: three components, Y sampled 1 or 2 each way, the others 1×1
  char msg[200];       // JMSG_LENGTH_MAX
} tx_jpeg_layout;

// tx_jpeg_layout_read reads the header of the n-byte JPEG at buf.
void tx_jpeg_layout_read(const unsigned char *buf, size_t n, tx_jpeg_layout *l);

// tx_jpeg_decode_region decodes columns [x, x+w) of rows [y, y+h) of a regular JPEG (see
// tx_jpeg_layout) as packed RGB into dst (w*h*3 bytes), with the settings of tx_jpeg_decode.
// x must be a multiple of the iMCU width (8*max_h) unless w is the image width (then x is 0).
// Rows below y+h are not decoded; when y+h is the image height the data is read to its end,
// as tx_jpeg_decode does. r->status and r->msg as in tx_jpeg_decode.
void tx_jpeg_decode_region(const unsigned char *buf, size_t n, int x, int y, int w, int h,
                           unsigned char *dst, int stop_on_warning, tx_jpeg_result *r);
