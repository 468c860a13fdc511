#include <stdlib.h>
#include <string.h>

#include "decoder.h"

void ic_set_message(char *message, const char *text) {
  if (message == NULL) return;
  size_t length = strlen(text);
  if (length >= IC_MESSAGE_CAPACITY) length = IC_MESSAGE_CAPACITY - 1;
  memcpy(message, text, length);
  message[length] = '\0';
}

void ic_decoder_free(ic_decoder *decoder) {
  if (decoder != NULL) decoder->destroy(decoder);
}

void ic_free(void *pointer) { free(pointer); }
