// Packing's one inner loop that needs what Swift cannot express: a software prefetch per line.
#include "CKernels.h"

typedef float rn_v8 __attribute__((ext_vector_type(8), aligned(4)));

void rn_pack_row(const float *source, ptrdiff_t panels, ptrdiff_t nr, float *target,
                 ptrdiff_t panel_stride, const float *ahead) {
  for (ptrdiff_t p = 0; p < panels; p++) {
    for (ptrdiff_t j = 0; j < nr; j += 16) __builtin_prefetch(ahead + j, 0, 3);
    for (ptrdiff_t j = 0; j < nr; j += 8) *(rn_v8 *)(target + j) = *(const rn_v8 *)(source + j);
    source += nr;
    ahead += nr;
    target += panel_stride;
  }
}
