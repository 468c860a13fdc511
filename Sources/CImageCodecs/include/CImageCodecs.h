// The C face of libpng and libjpeg-turbo. Both libraries report errors by longjmp, which Swift cannot
// catch, so every call into them happens here behind setjmp, and comes back as a status code plus the
// library's own message. Decoding is two steps so the caller can check the header's size against its
// limits before any pixel buffer exists: `*_begin` reads the header, `*_finish` decodes into the
// caller's buffer, `ic_decoder_free` releases the library state (always, after a successful begin).

#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What a codec call ended with.
typedef enum {
  IC_OK = 0,
  /// The data is not valid PNG/JPEG (the message is the library's).
  IC_CORRUPT = 1,
  /// The data ends before the image does.
  IC_TRUNCATED = 2,
  /// Valid, but a variant this decoder does not handle.
  IC_UNSUPPORTED = 3,
  /// The library could not allocate memory.
  IC_NO_MEMORY = 4,
} ic_status;

/// The longest message a call writes, terminating NUL included.
#define IC_MESSAGE_CAPACITY 256

/// The header of an image being decoded.
typedef struct {
  uint32_t width;
  uint32_t height;
  /// Channels `*_finish` writes per pixel: 1 (gray), 3 (RGB), or 4 (CMYK as stored in an Adobe JPEG,
  /// that is inverted: 255 means no ink).
  int32_t channels;
  /// The file's own description, for `dataset info`: bits per sample and PNG colour type or JPEG
  /// colour space, whether it is interlaced / progressive.
  int32_t bit_depth;
  int32_t color_type;
  int32_t interlaced;
  /// The raw EXIF block (starting at the TIFF header, after "Exif\0\0" in JPEG), or NULL. Valid until
  /// `ic_decoder_free`.
  const uint8_t *exif;
  size_t exif_length;
} ic_header;

/// Library state between `*_begin` and `ic_decoder_free`.
typedef struct ic_decoder ic_decoder;

/// Reads a PNG header from memory. On IC_OK, `*decoder` must later be freed.
ic_status ic_png_begin(
  const uint8_t *data, size_t size, ic_decoder **decoder, ic_header *header, char *message);

/// Decodes the whole PNG into `pixels` (height × width × header.channels bytes, row-major): 8 bits per
/// sample (16-bit samples keep their high byte), palettes expanded, alpha dropped, interlacing undone.
ic_status ic_png_finish(ic_decoder *decoder, uint8_t *pixels, char *message);

/// Reads a JPEG header from memory. On IC_OK, `*decoder` must later be freed.
ic_status ic_jpeg_begin(
  const uint8_t *data, size_t size, ic_decoder **decoder, ic_header *header, char *message);

/// Decodes the whole JPEG into `pixels` (height × width × header.channels bytes, row-major) with
/// libjpeg's defaults (accurate integer DCT, fancy upsampling), as Pillow does. Fails with
/// IC_TRUNCATED when the data ends early, and IC_CORRUPT after `max_scans` progressive scans.
ic_status ic_jpeg_finish(ic_decoder *decoder, uint8_t *pixels, int32_t max_scans, char *message);

/// Releases a decoder (NULL is allowed).
void ic_decoder_free(ic_decoder *decoder);

/// Encodes 8-bit gray (channels 1) or RGB (channels 3) pixels, rows of width × channels bytes, as a
/// PNG in memory. On IC_OK `*png` holds `*png_size` bytes to release with `ic_free`.
ic_status ic_png_encode(
  const uint8_t *pixels, uint32_t width, uint32_t height, int32_t channels, uint8_t **png,
  size_t *png_size, char *message);

/// Releases memory returned by this library.
void ic_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif
