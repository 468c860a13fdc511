// Writes a YCCK JPEG (Adobe transform 2) from Adobe-inverted CMYK samples, which Pillow cannot do.
// Built and run by make_image_fixtures.py: make_ycck OUT.jpg WIDTH HEIGHT < samples (W*H*4 bytes).
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  int width = atoi(argv[2]), height = atoi(argv[3]);
  unsigned char *samples = malloc((size_t)width * height * 4);
  if (fread(samples, 4, (size_t)width * height, stdin) != (size_t)width * height) return 3;
  FILE *out = fopen(argv[1], "wb");
  if (out == NULL) return 4;
  struct jpeg_compress_struct cinfo;
  struct jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, out);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = 4;
  cinfo.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  jpeg_set_colorspace(&cinfo, JCS_YCCK);
  jpeg_set_quality(&cinfo, 95, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = samples + (size_t)cinfo.next_scanline * width * 4;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  fclose(out);
  return 0;
}
