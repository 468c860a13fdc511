// PNG through libpng's full read API (so no gamma or colour management is applied, as in Pillow) with
// setjmp error handling; PNG encoding through libpng's simplified write API.

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"

typedef struct {
  ic_decoder base;
  png_structp png;
  png_infop info;
  const uint8_t *data;
  size_t size;
  size_t position;
  int truncated;
  char message[IC_MESSAGE_CAPACITY];
} png_decoder;

static void png_destroy(ic_decoder *base) {
  png_decoder *d = (png_decoder *)base;
  png_destroy_read_struct(&d->png, d->info != NULL ? &d->info : NULL, NULL);
  free(d);
}

static void on_error(png_structp png, png_const_charp text) {
  png_decoder *d = (png_decoder *)png_get_error_ptr(png);
  ic_set_message(d->message, text);
  png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp text) {
  (void)png;
  (void)text;  // Benign problems (a bad ancillary chunk) do not stop decoding, as in Pillow.
}

static void read_memory(png_structp png, png_bytep out, size_t count) {
  png_decoder *d = (png_decoder *)png_get_io_ptr(png);
  if (count > d->size - d->position) {
    d->truncated = 1;
    png_error(png, "PNG data ends before the image does");
  }
  memcpy(out, d->data + d->position, count);
  d->position += count;
}

static ic_status failure(png_decoder *d, char *message) {
  ic_set_message(message, d->message);
  if (d->truncated) return IC_TRUNCATED;
  if (strstr(d->message, "memory") != NULL) return IC_NO_MEMORY;
  return IC_CORRUPT;
}

// Walks the chunk lengths up to IEND and refuses one that runs past the end of the data. libpng
// allocates some chunks' buffers from their declared length before reading them (an eXIf chunk "of
// 1.6 GB" in a 147-byte file, found by Fuzz/run), so no declared length reaches libpng unchecked.
static ic_status check_chunk_lengths(const uint8_t *data, size_t size, char *message) {
  size_t at = 8;  // after the signature
  while (size - at >= 8) {
    uint32_t length = (uint32_t)data[at] << 24 | (uint32_t)data[at + 1] << 16 | (uint32_t)data[at + 2] << 8 |
                      (uint32_t)data[at + 3];
    char type[5];
    for (int i = 0; i < 4; i++) {
      uint8_t c = data[at + 4 + i];
      type[i] = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ? (char)c : '?';
    }
    type[4] = '\0';
    size_t remaining = size - at - 8;
    if (length > 0x7fffffffu || (size_t)length + 4 > remaining) {
      char text[IC_MESSAGE_CAPACITY];
      snprintf(text, sizeof text, "PNG chunk '%s' at byte %zu declares %u bytes, but %zu remain (truncated file?)",
               type, at, length, remaining);
      ic_set_message(message, text);
      return IC_TRUNCATED;
    }
    if (memcmp(type, "IEND", 4) == 0) break;
    at += 12 + (size_t)length;
  }
  return IC_OK;
}

ic_status ic_png_begin(
  const uint8_t *data, size_t size, ic_decoder **decoder, ic_header *header, char *message) {
  *decoder = NULL;
  if (size >= 8) {
    ic_status status = check_chunk_lengths(data, size, message);
    if (status != IC_OK) return status;
  }
  png_decoder *d = calloc(1, sizeof(png_decoder));
  if (d == NULL) {
    ic_set_message(message, "out of memory");
    return IC_NO_MEMORY;
  }
  d->base.destroy = png_destroy;
  d->data = data;
  d->size = size;
  d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, on_error, on_warning);
  if (d->png != NULL) d->info = png_create_info_struct(d->png);
  if (d->png == NULL || d->info == NULL) {
    png_destroy(&d->base);
    ic_set_message(message, "libpng could not start (out of memory)");
    return IC_NO_MEMORY;
  }
  if (setjmp(png_jmpbuf(d->png))) {
    ic_status status = failure(d, message);
    png_destroy(&d->base);
    return status;
  }
  // The caller checks width, height and pixel count against its own limits; libpng's defaults
  // (1,000,000 per side) would turn a large but valid image into a misleading "corrupt" error.
  png_set_user_limits(d->png, 0x7fffffff, 0x7fffffff);
  // Ancillary chunks this decoder never uses are skipped unparsed (less code run on untrusted bytes):
  // colour management and gamma are not applied, and text, times and physical sizes are not read.
  static const png_byte ignored[] = {
      'b', 'K', 'G', 'D', '\0', 'c', 'H', 'R', 'M', '\0', 'g', 'A', 'M', 'A', '\0', 'h', 'I', 'S', 'T', '\0',
      'i', 'C', 'C', 'P', '\0', 'i', 'T', 'X', 't', '\0', 'o', 'F', 'F', 's', '\0', 'p', 'C', 'A', 'L', '\0',
      'p', 'H', 'Y', 's', '\0', 's', 'B', 'I', 'T', '\0', 's', 'C', 'A', 'L', '\0', 's', 'P', 'L', 'T', '\0',
      's', 'R', 'G', 'B', '\0', 's', 'T', 'E', 'R', '\0', 't', 'E', 'X', 't', '\0', 't', 'I', 'M', 'E', '\0',
      'z', 'T', 'X', 't', '\0'};
  png_set_keep_unknown_chunks(d->png, PNG_HANDLE_CHUNK_NEVER, ignored, (int)(sizeof(ignored) / 5));
  // A wrong CRC on any chunk, ancillary ones included, means a damaged file, as in Pillow (libpng would
  // otherwise drop a damaged eXIf chunk and silently lose the orientation).
  png_set_crc_action(d->png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
  png_set_read_fn(d->png, d, read_memory);
  png_read_info(d->png, d->info);

  int color_type = png_get_color_type(d->png, d->info);
  memset(header, 0, sizeof(*header));
  header->width = png_get_image_width(d->png, d->info);
  header->height = png_get_image_height(d->png, d->info);
  header->channels = (color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
  header->bit_depth = png_get_bit_depth(d->png, d->info);
  header->color_type = color_type;
  header->interlaced = png_get_interlace_type(d->png, d->info) != PNG_INTERLACE_NONE;
#ifdef PNG_eXIf_SUPPORTED
  png_bytep exif = NULL;
  png_uint_32 exif_length = 0;
  if (png_get_eXIf_1(d->png, d->info, &exif_length, &exif) != 0 && exif != NULL) {
    header->exif = exif;
    header->exif_length = exif_length;
  }
#endif
  *decoder = &d->base;
  return IC_OK;
}

ic_status ic_png_finish(ic_decoder *decoder, uint8_t *pixels, char *message) {
  png_decoder *d = (png_decoder *)decoder;
  if (setjmp(png_jmpbuf(d->png))) return failure(d, message);

  int color_type = png_get_color_type(d->png, d->info);
  int bit_depth = png_get_bit_depth(d->png, d->info);
  int channels = (color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(d->png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(d->png);
  if (bit_depth == 16) png_set_strip_16(d->png);
  if ((color_type & PNG_COLOR_MASK_ALPHA) || color_type == PNG_COLOR_TYPE_PALETTE)
    png_set_strip_alpha(d->png);
  int passes = png_set_interlace_handling(d->png);
  png_read_update_info(d->png, d->info);

  size_t width = png_get_image_width(d->png, d->info);
  size_t height = png_get_image_height(d->png, d->info);
  if (png_get_channels(d->png, d->info) != channels || png_get_bit_depth(d->png, d->info) != 8
      || png_get_rowbytes(d->png, d->info) != width * (size_t)channels) {
    ic_set_message(message, "libpng did not produce 8-bit gray or RGB rows for this colour type");
    return IC_UNSUPPORTED;
  }
  for (int pass = 0; pass < passes; pass++)
    for (size_t y = 0; y < height; y++) png_read_row(d->png, pixels + y * width * channels, NULL);
  return IC_OK;
}

ic_status ic_png_encode(
  const uint8_t *pixels, uint32_t width, uint32_t height, int32_t channels, uint8_t **png,
  size_t *png_size, char *message) {
  *png = NULL;
  *png_size = 0;
  if (channels != 1 && channels != 3) {
    ic_set_message(message, "PNG encoding takes 1 (gray) or 3 (RGB) channels");
    return IC_UNSUPPORTED;
  }
  png_image image;
  memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  png_int_32 stride = (png_int_32)(width * (uint32_t)channels);
  if (!png_image_write_to_memory(&image, NULL, &size, 0, pixels, stride, NULL)) {
    ic_set_message(message, image.message);
    png_image_free(&image);
    return IC_CORRUPT;
  }
  uint8_t *buffer = malloc(size);
  if (buffer == NULL) {
    ic_set_message(message, "out of memory");
    return IC_NO_MEMORY;
  }
  if (!png_image_write_to_memory(&image, buffer, &size, 0, pixels, stride, NULL)) {
    ic_set_message(message, image.message);
    png_image_free(&image);
    free(buffer);
    return IC_CORRUPT;
  }
  *png = buffer;
  *png_size = size;
  return IC_OK;
}
