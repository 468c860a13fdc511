// The system libpng (libpng-dev / brew libpng), found through pkg-config "libpng".
#include <png.h>
