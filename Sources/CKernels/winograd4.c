// The input and output transforms of Winograd's F(4×4, 3×3) (Lavin & Gray, 2016; interpolation points
// 0, ±1, ±2 and ∞), eight tiles of a tile row per vector: each transform is two 1-D passes, down the
// columns on whole vectors of the row, then along it on the four phases of the row (lane j of phase i:
// column 4·j + i), picked from the row by shuffles. Instantiated for AVX-512, AVX2 and the portable
// vector type like winograd.c; all do the same IEEE operations in the same order (no contraction), so
// results are bitwise the same whichever ISA runs.
#include "CKernels.h"
#include "vector_level.h"
#include "winograd_rows.h"

#pragma clang fp contract(off)
// The vector-typed helpers are static inline within one instantiation: no ABI crosses a boundary.
#pragma clang diagnostic ignored "-Wpsabi"

// Bᵀ·d for the six values d0 ... d5 (rows of Bᵀ: [4 0 −5 0 1 0], [0 −4 −4 1 1 0], [0 4 −4 −1 1 0],
// [0 −2 −1 2 1 0], [0 2 −1 −2 1 0], [0 4 0 −5 0 1]).
#define RN_BT(d0, d1, d2, d3, d4, d5, r)                                                                       \
  do {                                                                                                         \
    const rn_q8 p_ = (d4) - (d2), q_ = (d3) - (d1);                                                            \
    (r)[0] = (d0) * 4.0f - (d2) * 5.0f + (d4);                                                                 \
    (r)[1] = ((d4) + (d3)) - ((d1) + (d2)) * 4.0f;                                                             \
    (r)[2] = ((d4) - (d3)) + ((d1) - (d2)) * 4.0f;                                                             \
    (r)[3] = p_ + q_ * 2.0f;                                                                                   \
    (r)[4] = p_ - q_ * 2.0f;                                                                                   \
    (r)[5] = (d1) * 4.0f - (d3) * 5.0f + (d5);                                                                 \
  } while (0)

// Aᵀ·m for the six values m0 ... m5 (rows of Aᵀ: [1 1 1 1 1 0], [0 1 −1 2 −2 0], [0 1 1 4 4 0],
// [0 1 −1 8 −8 1]).
#define RN_AT(m0, m1, m2, m3, m4, m5, y)                                                                       \
  do {                                                                                                         \
    const rn_q8 a_ = (m1) + (m2), b_ = (m1) - (m2);                                                            \
    const rn_q8 c_ = (m3) + (m4), e_ = (m3) - (m4);                                                            \
    (y)[0] = (m0) + a_ + c_;                                                                                   \
    (y)[1] = b_ + e_ * 2.0f;                                                                                   \
    (y)[2] = a_ + c_ * 4.0f;                                                                                   \
    (y)[3] = b_ + e_ * 8.0f + (m5);                                                                            \
  } while (0)

#define RN_W4_OPS(SFX, ATTR)                                                                                   \
  ATTR static void rn_winograd4_input_##SFX(const float *sample, ptrdiff_t channels, ptrdiff_t height,         \
                                            ptrdiff_t width, ptrdiff_t first_tile, ptrdiff_t end_tile, float *v, \
                                            ptrdiff_t ldv, ptrdiff_t ms, float *line) {                        \
    const ptrdiff_t tiles_w = (width + 3) / 4, lw = rn_winograd4_line_floats(width) / 6;                       \
    const ptrdiff_t first_row = first_tile / tiles_w, last_row = (end_tile - 1) / tiles_w;                     \
    for (ptrdiff_t c = 0; c < channels; c++) {                                                                 \
      const float *plane = sample + c * height * width;                                                        \
      for (ptrdiff_t ty = first_row; ty <= last_row; ty++) {                                                   \
        /* The tile row's six input rows, from column −1, zero outside the plane. */                           \
        rn_frame_rows(plane, height, width, 4 * ty - 1, 6, line, lw);                                          \
        for (ptrdiff_t tx0 = 0; tx0 < tiles_w; tx0 += 8) {                                                     \
          ptrdiff_t lo, hi;                                                                                    \
          rn_tile_lanes(ty, tx0, tiles_w, first_tile, end_tile, &lo, &hi);                                     \
          if (hi <= lo) continue;                                                                              \
          /* Tile tx0 + j reads line columns 4·(tx0 + j) ... + 5: the 34 floats from 4·tx0, as 5 vectors. */   \
          rn_q8 t[6][5]; /* Bᵀ down the columns: t[k][q] = (Bᵀ·rows)[k], floats 8·q ... */                     \
          for (int q = 0; q < 5; q++) {                                                                        \
            const float *at = line + 4 * tx0 + 8 * q;                                                          \
            rn_q8 r[6];                                                                                        \
            RN_BT(*(const rn_q8 *)at, *(const rn_q8 *)(at + lw), *(const rn_q8 *)(at + 2 * lw),                \
                  *(const rn_q8 *)(at + 3 * lw), *(const rn_q8 *)(at + 4 * lw), *(const rn_q8 *)(at + 5 * lw), r); \
            for (int k = 0; k < 6; k++) t[k][q] = r[k];                                                        \
          }                                                                                                    \
          const ptrdiff_t column = ty * tiles_w + tx0 - first_tile;                                            \
          for (int k = 0; k < 6; k++) {                                                                        \
            /* The row's phases: d_i lane j = float 4·j + i. */                                                \
            rn_q8 d[5];                                                                                        \
            RN_ROW_PHASES(t[k][0], t[k][1], t[k][2], t[k][3], t[k][4], d);                                     \
            const rn_q8 d5 = __builtin_shufflevector(d[1], t[k][4], 1, 2, 3, 4, 5, 6, 7, 9);                   \
            rn_q8 r[6];                                                                                        \
            RN_BT(d[0], d[1], d[2], d[3], d[4], d5, r);                                                        \
            for (int l = 0; l < 6; l++) {                                                                      \
              float *target = v + (6 * k + l) * ms + c * ldv + column;                                         \
              RN_STORE_TILES(target, r[l], lo, hi);                                                            \
            }                                                                                                  \
          }                                                                                                    \
        }                                                                                                      \
      }                                                                                                        \
    }                                                                                                          \
  }                                                                                                            \
  ATTR static void rn_winograd4_output_##SFX(const float *m, ptrdiff_t channels, ptrdiff_t ldm, ptrdiff_t ms,  \
                                             const float *bias, const float *residual, int32_t relu,           \
                                             ptrdiff_t height, ptrdiff_t width, ptrdiff_t first_tile,          \
                                             ptrdiff_t end_tile, float *output) {                              \
    const ptrdiff_t tiles_w = (width + 3) / 4;                                                                 \
    const ptrdiff_t first_row = first_tile / tiles_w, last_row = (end_tile - 1) / tiles_w;                     \
    for (ptrdiff_t c = 0; c < channels; c++) {                                                                 \
      const float *s = m + c * ldm;                                                                            \
      float *plane = output + c * height * width;                                                              \
      const float *res = residual ? residual + c * height * width : 0;                                         \
      const float b = bias ? bias[c] : 0.0f;                                                                   \
      for (ptrdiff_t ty = first_row; ty <= last_row; ty++) {                                                   \
        for (ptrdiff_t tx0 = 0; tx0 < tiles_w; tx0 += 8) {                                                     \
          ptrdiff_t lo, hi;                                                                                    \
          rn_tile_lanes(ty, tx0, tiles_w, first_tile, end_tile, &lo, &hi);                                     \
          if (hi <= lo) continue;                                                                              \
          const float *at = s + ty * tiles_w + tx0 - first_tile; /* lanes outside lo ..< hi: not used */       \
          rn_q8 u[4][6]; /* Aᵀ down the columns: u[r][l] = (Aᵀ·M[·][l])[r] */                                  \
          for (int l = 0; l < 6; l++) {                                                                        \
            rn_q8 y[4];                                                                                        \
            RN_AT(*(const rn_q8 *)(at + l * ms), *(const rn_q8 *)(at + (6 + l) * ms),                          \
                  *(const rn_q8 *)(at + (12 + l) * ms), *(const rn_q8 *)(at + (18 + l) * ms),                  \
                  *(const rn_q8 *)(at + (24 + l) * ms), *(const rn_q8 *)(at + (30 + l) * ms), y);              \
            for (int r = 0; r < 4; r++) u[r][l] = y[r];                                                        \
          }                                                                                                    \
          const ptrdiff_t x0 = 4 * tx0, f_lo = 4 * lo, f_hi = 4 * hi < width - x0 ? 4 * hi : width - x0;       \
          for (int r = 0; r < 4; r++) {                                                                        \
            const ptrdiff_t h = 4 * ty + r;                                                                    \
            if (h >= height) break;                                                                            \
            rn_q8 y[4];                                                                                        \
            RN_AT(u[r][0], u[r][1], u[r][2], u[r][3], u[r][4], u[r][5], y);                                    \
            for (int k = 0; k < 4; k++) y[k] += b;                                                             \
            /* Interleaved: float 4·j + k of the row is y[k] lane j. */                                        \
            const rn_q8 e0 = __builtin_shufflevector(y[0], y[1], 0, 8, 1, 9, 2, 10, 3, 11);                    \
            const rn_q8 e1 = __builtin_shufflevector(y[2], y[3], 0, 8, 1, 9, 2, 10, 3, 11);                    \
            const rn_q8 e2 = __builtin_shufflevector(y[0], y[1], 4, 12, 5, 13, 6, 14, 7, 15);                  \
            const rn_q8 e3 = __builtin_shufflevector(y[2], y[3], 4, 12, 5, 13, 6, 14, 7, 15);                  \
            rn_q8 row[4] = {__builtin_shufflevector(e0, e1, 0, 1, 8, 9, 2, 3, 10, 11),                         \
                            __builtin_shufflevector(e0, e1, 4, 5, 12, 13, 6, 7, 14, 15),                       \
                            __builtin_shufflevector(e2, e3, 0, 1, 8, 9, 2, 3, 10, 11),                         \
                            __builtin_shufflevector(e2, e3, 4, 5, 12, 13, 6, 7, 14, 15)};                      \
            float *target = plane + h * width + x0;                                                            \
            const float *from = res ? res + h * width + x0 : 0;                                                \
            RN_STORE_ROW(row, 4, target, from, f_lo, f_hi, relu);                                              \
          }                                                                                                    \
        }                                                                                                      \
      }                                                                                                        \
    }                                                                                                          \
  }

ptrdiff_t rn_winograd4_line_floats(ptrdiff_t width) {
  const ptrdiff_t tiles_w = (width + 3) / 4;
  // Column −1, then up to 8 tiles past the last group's first tile (4·8 + 2 floats), in whole vectors.
  return 6 * ((4 * ((tiles_w + 7) / 8 * 8) + 2 + 8 + 7) / 8 * 8);
}

RN_W4_OPS(portable, )
#if defined(__x86_64__)
RN_W4_OPS(avx512, __attribute__((target("avx512f,avx512vl"))))
RN_W4_OPS(avx2, RN_AVX2_TARGET)
#endif

void rn_winograd4_input(const float *sample, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                        ptrdiff_t first_tile, ptrdiff_t end_tile, float *v, ptrdiff_t ldv, ptrdiff_t matrix_stride,
                        float *line) {
  RN_DISPATCH(rn_winograd4_input, sample, channels, height, width, first_tile, end_tile, v, ldv, matrix_stride, line);
}

void rn_winograd4_output(const float *m, ptrdiff_t channels, ptrdiff_t ldm, ptrdiff_t matrix_stride,
                         const float *bias, const float *residual, int32_t relu, ptrdiff_t height, ptrdiff_t width,
                         ptrdiff_t first_tile, ptrdiff_t end_tile, float *output) {
  RN_DISPATCH(rn_winograd4_output, m, channels, ldm, matrix_stride, bias, residual, relu, height, width, first_tile,
              end_tile, output);
}
