// jpeg_region.c: see jpeg_region.h. The error handling mirrors TurboJPEG's (turbojpeg.c:
// my_error_exit, my_output_message, my_emit_message), so a region decode reports the same
// status and message tx_jpeg_decode would for the same data. Every call makes and frees its
// own decompressor and keeps no pointer to the caller's memory.
#include "jpeg.h"
#include "jpeg_region.h"

#include <setjmp.h>
#include <stdio.h>  // jpeglib.h needs FILE
#include <string.h>

#include <jpeglib.h>

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jmp;
  void (*std_emit)(j_common_ptr, int);
  int warning, stop_on_warning;
  char *msg;  // JMSG_LENGTH_MAX bytes: the last message output, as TurboJPEG's errStr
} region_err;

// region_error_exit: libjpeg's fatal error. The message is formatted, then control returns
// to the setjmp in the caller.
static void region_error_exit(j_common_ptr c) {
  region_err *e = (region_err *)c->err;
  (*c->err->output_message)(c);
  longjmp(e->jmp, 1);
}

static void region_output_message(j_common_ptr c) {
  region_err *e = (region_err *)c->err;
  (*c->err->format_message)(c, e->msg);
}

// region_emit_message keeps libjpeg's policy (only the first warning is output) and notes
// warnings, stopping at the first one when asked.
static void region_emit_message(j_common_ptr c, int level) {
  region_err *e = (region_err *)c->err;
  e->std_emit(c, level);
  if (level < 0) {
    e->warning = 1;
    if (e->stop_on_warning) longjmp(e->jmp, 1);
  }
}

static void region_err_init(struct jpeg_decompress_struct *d, region_err *e, char *msg,
                            int stop_on_warning) {
  memset(e, 0, sizeof *e);
  d->err = jpeg_std_error(&e->pub);
  e->pub.error_exit = region_error_exit;
  e->pub.output_message = region_output_message;
  e->std_emit = e->pub.emit_message;
  e->pub.emit_message = region_emit_message;
  e->stop_on_warning = stop_on_warning;
  e->msg = msg;
  msg[0] = 0;
}

static int is_regular(const struct jpeg_decompress_struct *d) {
  if (d->num_components != 3 ||
      (d->jpeg_color_space != JCS_YCbCr && d->jpeg_color_space != JCS_RGB))
    return 0;
  const jpeg_component_info *c = d->comp_info;
  if (c[0].h_samp_factor < 1 || c[0].h_samp_factor > 2 || c[0].v_samp_factor < 1 ||
      c[0].v_samp_factor > 2)
    return 0;
  for (int i = 1; i < 3; i++)
    if (c[i].h_samp_factor != 1 || c[i].v_samp_factor != 1) return 0;
  return 1;
}

void tx_jpeg_layout_read(const unsigned char *buf, size_t n, tx_jpeg_layout *l) {
  memset(l, 0, sizeof *l);
  struct jpeg_decompress_struct d;
  region_err e;
  region_err_init(&d, &e, l->msg, 0);
  if (setjmp(e.jmp)) {
    l->status = 2;
    jpeg_destroy_decompress(&d);
    return;
  }
  jpeg_create_decompress(&d);
  jpeg_mem_src(&d, buf, (unsigned long)n);
  jpeg_read_header(&d, TRUE);  // require_image: a tables-only datastream is an error
  l->width = (int)d.image_width;
  l->height = (int)d.image_height;
  l->colorspace = d.jpeg_color_space;
  l->num_components = d.num_components;
  for (int i = 0; i < d.num_components; i++) {
    if (d.comp_info[i].h_samp_factor > l->max_h) l->max_h = d.comp_info[i].h_samp_factor;
    if (d.comp_info[i].v_samp_factor > l->max_v) l->max_v = d.comp_info[i].v_samp_factor;
  }
  l->regular = is_regular(&d);
  l->status = e.warning ? 1 : 0;
  jpeg_destroy_decompress(&d);
}

void tx_jpeg_decode_region(const unsigned char *buf, size_t n, int x, int y, int w, int h,
                           unsigned char *dst, int stop_on_warning, tx_jpeg_result *r) {
  memset(r, 0, sizeof *r);
  r->subsamp = -1;
  r->colorspace = -1;
  struct jpeg_decompress_struct d;
  region_err e;
  region_err_init(&d, &e, r->msg, stop_on_warning);
  if (setjmp(e.jmp)) {
    // A fatal error, or a warning with stop_on_warning. As in TurboJPEG 2.x, any warning
    // before (or as) the end makes the status a warning.
    r->status = e.warning ? 1 : 2;
    jpeg_destroy_decompress(&d);
    return;
  }
  jpeg_create_decompress(&d);
  jpeg_mem_src(&d, buf, (unsigned long)n);
  jpeg_read_header(&d, TRUE);
  r->width = (int)d.image_width;
  r->height = (int)d.image_height;
  if (!is_regular(&d) || x < 0 || y < 0 || w <= 0 || h <= 0 ||
      (long)x + w > (long)d.image_width || (long)y + h > (long)d.image_height) {
    r->status = 2;
    snprintf(r->msg, sizeof r->msg,
             "region decode: not a 3-component JPEG with Y sampled 1 or 2 and chroma 1x1, "
             "or region %dx%d at (%d,%d) outside the %ux%u image",
             w, h, x, y, d.image_width, d.image_height);
    jpeg_destroy_decompress(&d);
    return;
  }
  // tjDecompress2's settings for TJPF_RGB: JCS_EXT_RGB output, JDCT_ISLOW (TJFLAG_ACCURATEDCT,
  // also the default), fancy upsampling on (no TJFLAG_FASTUPSAMPLE), full size.
  d.out_color_space = JCS_EXT_RGB;
  d.dct_method = JDCT_ISLOW;
  d.do_fancy_upsampling = TRUE;
  jpeg_start_decompress(&d);
  JDIMENSION xoff = (JDIMENSION)x, cw = (JDIMENSION)w;
  jpeg_crop_scanline(&d, &xoff, &cw);
  if (xoff != (JDIMENSION)x || cw != (JDIMENSION)w || d.output_width != (JDIMENSION)w) {
    r->status = 2;
    snprintf(r->msg, sizeof r->msg,
             "region decode: libjpeg cropped columns %u..%u, asked for %d..%d", xoff, xoff + cw,
             x, x + w);
    jpeg_destroy_decompress(&d);
    return;
  }
  if (y > 0 && jpeg_skip_scanlines(&d, (JDIMENSION)y) != (JDIMENSION)y) {
    r->status = 2;
    strncpy(r->msg, "region decode: jpeg_skip_scanlines stopped early", sizeof r->msg - 1);
    jpeg_destroy_decompress(&d);
    return;
  }
  size_t stride = (size_t)w * 3;
  while (d.output_scanline < (JDIMENSION)(y + h)) {
    JSAMPROW row = dst + (size_t)(d.output_scanline - (JDIMENSION)y) * stride;
    if (jpeg_read_scanlines(&d, &row, 1) != 1) {
      r->status = 2;
      strncpy(r->msg, "region decode: jpeg_read_scanlines returned no row", sizeof r->msg - 1);
      jpeg_destroy_decompress(&d);
      return;
    }
  }
  if (d.output_scanline == d.output_height) jpeg_finish_decompress(&d);
  r->status = e.warning ? 1 : 0;
  jpeg_destroy_decompress(&d);
}
