// What the PNG and JPEG halves share: the opaque decoder handle and message copying.

#ifndef CIMAGECODECS_DECODER_H
#define CIMAGECODECS_DECODER_H

#include "CImageCodecs.h"

struct ic_decoder {
  /// Releases the codec's state and the handle itself.
  void (*destroy)(struct ic_decoder *decoder);
};

/// Copies `text` into a caller's message buffer (IC_MESSAGE_CAPACITY bytes), truncating.
void ic_set_message(char *message, const char *text);

#endif
