// jpeg.c: see jpeg.h. Every call makes and frees its own TurboJPEG handle, so the functions
// are safe to call from any number of threads and keep no pointer to the caller's memory.
#include "jpeg.h"

#include <string.h>
#include <turbojpeg.h>

// finish records the handle's status and message in r.
static void finish(tjhandle h, int rc, tx_jpeg_result *r) {
  if (rc == 0) {
    r->status = 0;
    r->msg[0] = 0;
    return;
  }
  r->status = tjGetErrorCode(h) == TJERR_WARNING ? 1 : 2;
  strncpy(r->msg, tjGetErrorStr2(h), sizeof r->msg - 1);
  r->msg[sizeof r->msg - 1] = 0;
}

void tx_jpeg_header(const unsigned char *buf, size_t n, tx_jpeg_result *r) {
  memset(r, 0, sizeof *r);
  r->subsamp = -1;
  r->colorspace = -1;
  tjhandle h = tjInitDecompress();
  if (h == NULL) {
    r->status = 2;
    strncpy(r->msg, tjGetErrorStr2(NULL), sizeof r->msg - 1);
    return;
  }
  int rc = tjDecompressHeader3(h, buf, (unsigned long)n, &r->width, &r->height, &r->subsamp,
                               &r->colorspace);
  finish(h, rc, r);
  tjDestroy(h);
}

void tx_jpeg_decode(const unsigned char *buf, size_t n, unsigned char *dst, int width,
                    int height, int pf, int stop_on_warning, tx_jpeg_result *r) {
  memset(r, 0, sizeof *r);
  r->width = width;
  r->height = height;
  r->subsamp = -1;
  r->colorspace = -1;
  tjhandle h = tjInitDecompress();
  if (h == NULL) {
    r->status = 2;
    strncpy(r->msg, tjGetErrorStr2(NULL), sizeof r->msg - 1);
    return;
  }
  // TJFLAG_ACCURATEDCT: JDCT_ISLOW (also TurboJPEG's decompression default, libjpeg's
  // JDCT_DEFAULT and what Pillow's JpegDecode leaves set). No TJFLAG_FASTUPSAMPLE: fancy
  // upsampling stays on, as in Pillow.
  int flags = TJFLAG_ACCURATEDCT | (stop_on_warning ? TJFLAG_STOPONWARNING : 0);
  int rc = tjDecompress2(h, buf, (unsigned long)n, dst, width, width * tjPixelSize[pf], height,
                         pf, flags);
  finish(h, rc, r);
  tjDestroy(h);
}
