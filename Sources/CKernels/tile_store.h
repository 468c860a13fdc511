// What the GEMM micro-kernels (sgemm_template.h, bf16_template.h) share about storing a tile.
#ifndef RN_TILE_STORE_H
#define RN_TILE_STORE_H

#include "CKernels.h"

// Fetches the lines a tile's store will touch, to be called before its products are summed: its `rows`
// rows of `floats` floats at `c` (row stride ldc), or with an epilogue at its `out` (for writing), and
// the same places of the epilogue's residual (for reading) when that is another buffer. At batch 32
// these rows are in memory, not in cache, and the store would wait on them.
static inline __attribute__((always_inline)) void rn_prefetch_tile_store(const float *c, ptrdiff_t ldc, int rows,
                                                                         int floats, const rn_tile_epilogue *e) {
  const float *target = e ? e->out : c;
  const ptrdiff_t ldt = e ? e->ldo : ldc;
  const float *residual = e && e->residual != e->out ? e->residual : 0;
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < floats; j += 16) {  // a cache line at a time
      __builtin_prefetch(target + r * ldt + j, 1, 3);
      if (residual) __builtin_prefetch(residual + r * ldt + j, 0, 3);
    }
}

#endif
