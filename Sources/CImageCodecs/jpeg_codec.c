// JPEG through libjpeg(-turbo) with a setjmp error manager: libjpeg's fatal errors, a premature end of
// the data (which libjpeg only warns about, padding the image with gray) and runaway progressive scan
// counts all come back as status codes with libjpeg's message.

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "decoder.h"

typedef struct {
  ic_decoder base;
  struct jpeg_decompress_struct cinfo;
  struct jpeg_error_mgr errors;
  struct jpeg_progress_mgr progress;
  jmp_buf jump;
  int created;
  int truncated;
  int max_scans;
  char message[IC_MESSAGE_CAPACITY];
} jpeg_decoder;

static jpeg_decoder *owner(j_common_ptr cinfo) {
  return (jpeg_decoder *)((char *)cinfo - offsetof(jpeg_decoder, cinfo));
}

static void jpeg_destroy_decoder(ic_decoder *base) {
  jpeg_decoder *d = (jpeg_decoder *)base;
  if (d->created) jpeg_destroy_decompress(&d->cinfo);
  free(d);
}

static void on_error_exit(j_common_ptr cinfo) {
  jpeg_decoder *d = owner(cinfo);
  char text[JMSG_LENGTH_MAX];
  cinfo->err->format_message(cinfo, text);
  ic_set_message(d->message, text);
  longjmp(d->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level) {
  // Warnings (level -1) are ignored as Pillow ignores them, except the end of the data: libjpeg would
  // go on and fill the rest of the image with gray.
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
    jpeg_decoder *d = owner(cinfo);
    d->truncated = 1;
    ic_set_message(d->message, "JPEG data ends before the image does (Premature end of JPEG file)");
    longjmp(d->jump, 1);
  }
}

static void on_progress(j_common_ptr cinfo) {
  jpeg_decoder *d = owner(cinfo);
  if (cinfo->is_decompressor && d->cinfo.input_scan_number > d->max_scans) {
    snprintf(d->message, sizeof(d->message), "more than %d progressive scans", d->max_scans);
    longjmp(d->jump, 1);
  }
}

static ic_status failure(jpeg_decoder *d, char *message) {
  ic_set_message(message, d->message);
  if (d->truncated) return IC_TRUNCATED;
  switch (d->errors.msg_code) {
    case JERR_OUT_OF_MEMORY:
      return IC_NO_MEMORY;
    case JERR_BAD_PRECISION:  // 12- or 16-bit samples
    case JERR_SOF_UNSUPPORTED:  // lossless and hierarchical processes
    case JERR_NOT_COMPILED:
    case JERR_ARITH_NOTIMPL:
      return IC_UNSUPPORTED;
    default:
      return IC_CORRUPT;
  }
}

ic_status ic_jpeg_begin(
  const uint8_t *data, size_t size, ic_decoder **decoder, ic_header *header, char *message) {
  *decoder = NULL;
  jpeg_decoder *d = calloc(1, sizeof(jpeg_decoder));
  if (d == NULL) {
    ic_set_message(message, "out of memory");
    return IC_NO_MEMORY;
  }
  d->base.destroy = jpeg_destroy_decoder;
  d->max_scans = 1000;
  d->cinfo.err = jpeg_std_error(&d->errors);
  d->errors.error_exit = on_error_exit;
  d->errors.emit_message = on_message;
  if (setjmp(d->jump)) {
    ic_status status = failure(d, message);
    jpeg_destroy_decoder(&d->base);
    return status;
  }
  jpeg_create_decompress(&d->cinfo);
  d->created = 1;
  d->progress.progress_monitor = on_progress;
  d->cinfo.progress = &d->progress;
  jpeg_mem_src(&d->cinfo, data, (unsigned long)size);
  jpeg_save_markers(&d->cinfo, JPEG_APP0 + 1, 0xffff);
  jpeg_read_header(&d->cinfo, TRUE);

  memset(header, 0, sizeof(*header));
  header->width = d->cinfo.image_width;
  header->height = d->cinfo.image_height;
  header->bit_depth = d->cinfo.data_precision;
  header->color_type = d->cinfo.jpeg_color_space;
  header->interlaced = d->cinfo.progressive_mode;
  switch (d->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
      d->cinfo.out_color_space = JCS_GRAYSCALE;
      header->channels = 1;
      break;
    case JCS_YCbCr:
    case JCS_RGB:
      d->cinfo.out_color_space = JCS_RGB;
      header->channels = 3;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      d->cinfo.out_color_space = JCS_CMYK;
      header->channels = 4;
      break;
    default:
      snprintf(message, IC_MESSAGE_CAPACITY, "JPEG with %d components in an unknown colour space",
        d->cinfo.num_components);
      jpeg_destroy_decoder(&d->base);
      return IC_UNSUPPORTED;
  }
  for (jpeg_saved_marker_ptr m = d->cinfo.marker_list; m != NULL; m = m->next) {
    if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
      header->exif = m->data + 6;
      header->exif_length = m->data_length - 6;
      break;
    }
  }
  *decoder = &d->base;
  return IC_OK;
}

ic_status ic_jpeg_finish(ic_decoder *decoder, uint8_t *pixels, int32_t max_scans, char *message) {
  jpeg_decoder *d = (jpeg_decoder *)decoder;
  d->max_scans = max_scans;
  if (setjmp(d->jump)) return failure(d, message);
  jpeg_start_decompress(&d->cinfo);
  size_t stride = (size_t)d->cinfo.output_width * (size_t)d->cinfo.output_components;
  while (d->cinfo.output_scanline < d->cinfo.output_height) {
    JSAMPROW row = pixels + (size_t)d->cinfo.output_scanline * stride;
    jpeg_read_scanlines(&d->cinfo, &row, 1);
  }
  return IC_OK;
}
