// The system libjpeg-turbo (libjpeg-dev / brew jpeg-turbo), found through pkg-config "libjpeg".
#include <stddef.h>
#include <stdio.h>
#include <jpeglib.h>
