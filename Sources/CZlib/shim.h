// The system zlib (zlib1g-dev / brew zlib), found through pkg-config "zlib": gzip-compressed IDX files.
#include <zlib.h>
