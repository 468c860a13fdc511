// The input and output transforms of a 3×3, stride-2, padding-1 convolution as four stride-1
// convolutions of its input's phases (rows and columns even or odd), each by Winograd's F(2×2, 2×2)
// (points 0, 1 and ∞; Bᵀ = [1 −1 0; 0 1 0; 0 −1 1], G = [1 0; 1 1; 0 1], Aᵀ = [1 1 0; 0 1 1]).
// Along one axis a tile of two outputs reads the five inputs e0 ... e4 from 4·t − 1; the even phase
// (e0, e2, e4) meets the kernel's taps 0 and 2, the odd one (e1, e3) its tap 1 alone, whose third
// Winograd element is zero. So each axis has five transformed values a = 0 ... 4:
//   V: e0 − e2, e2, e4 − e2 (even phase, elements 0, 1, 2), e1 − e3, e3 (odd phase, elements 0, 1)
//   U: w0, w0 + w2, w2, w1, w1
// and a tile's 2×2 outputs are Aᵀ·M·A of the 3×3 elements M[r][s] = Σ U·V over the pairs (a, b) whose
// elements are (r, s): 25 products per input channel for four outputs, against 36 directly.
// Eight tiles of a tile row per vector, as in winograd4.c; the same IEEE operations in the same order
// on every ISA (no contraction), so results are bitwise the same whichever runs.
#include "CKernels.h"
#include "vector_level.h"
#include "winograd_rows.h"

#pragma clang fp contract(off)
// The vector-typed helpers are static inline within one instantiation: no ABI crosses a boundary.
#pragma clang diagnostic ignored "-Wpsabi"

// The 1-D input transform of e0 ... e4 into r[0 ... 4].
#define RN_S2_BT(e0, e1, e2, e3, e4, r)                                                                        \
  do {                                                                                                         \
    (r)[0] = (e0) - (e2);                                                                                      \
    (r)[1] = (e2);                                                                                             \
    (r)[2] = (e4) - (e2);                                                                                      \
    (r)[3] = (e1) - (e3);                                                                                      \
    (r)[4] = (e3);                                                                                             \
  } while (0)

// Where the value of the axis pairs (a, b) goes: its matrix, the 25 grouped by element (r, s) in
// row-major order, each element's pairs a outer (rows of V stacked as the GEMM of that element reads
// them): elements (0, 0) ... (2, 2) start at matrices 0, 4, 8, 10, 14, 18, 20, 22, 24.
static const int8_t rn_s2_slots[5][5] = {
    {0, 4, 8, 1, 5}, {10, 14, 18, 11, 15}, {20, 22, 24, 21, 23}, {2, 6, 9, 3, 7}, {12, 16, 19, 13, 17},
};

int32_t rn_winograd_s2_slot(int32_t a, int32_t b) { return rn_s2_slots[a][b]; }

#define RN_S2_OPS(SFX, ATTR)                                                                                   \
  ATTR static void rn_winograd_s2_input_##SFX(const float *sample, ptrdiff_t channels, ptrdiff_t height,       \
                                              ptrdiff_t width, ptrdiff_t first_tile, ptrdiff_t end_tile,       \
                                              float *v, ptrdiff_t ldv, ptrdiff_t ms, float *line) {            \
    const ptrdiff_t tiles_w = (width + 3) / 4, lw = rn_winograd_s2_line_floats(width) / 5;                     \
    const ptrdiff_t first_row = first_tile / tiles_w, last_row = (end_tile - 1) / tiles_w;                     \
    for (ptrdiff_t c = 0; c < channels; c++) {                                                                 \
      const float *plane = sample + c * height * width;                                                        \
      for (ptrdiff_t ty = first_row; ty <= last_row; ty++) {                                                   \
        /* The tile row's five input rows, from column −1, zero outside the plane. */                          \
        rn_frame_rows(plane, height, width, 4 * ty - 1, 5, line, lw);                                          \
        for (ptrdiff_t tx0 = 0; tx0 < tiles_w; tx0 += 8) {                                                     \
          ptrdiff_t lo, hi;                                                                                    \
          rn_tile_lanes(ty, tx0, tiles_w, first_tile, end_tile, &lo, &hi);                                     \
          if (hi <= lo) continue;                                                                              \
          /* Tile tx0 + j reads line columns 4·(tx0 + j) ... + 4: the 33 floats from 4·tx0, as 5 vectors. */   \
          rn_q8 t[5][5]; /* down the columns: t[a][q] = (Bᵀ·rows)[a], floats 8·q ... */                        \
          for (int q = 0; q < 5; q++) {                                                                        \
            const float *at = line + 4 * tx0 + 8 * q;                                                          \
            rn_q8 r[5];                                                                                        \
            RN_S2_BT(*(const rn_q8 *)at, *(const rn_q8 *)(at + lw), *(const rn_q8 *)(at + 2 * lw),             \
                     *(const rn_q8 *)(at + 3 * lw), *(const rn_q8 *)(at + 4 * lw), r);                         \
            for (int a = 0; a < 5; a++) t[a][q] = r[a];                                                        \
          }                                                                                                    \
          const ptrdiff_t column = ty * tiles_w + tx0 - first_tile;                                            \
          for (int a = 0; a < 5; a++) {                                                                        \
            /* The row's phases: d_i lane j = float 4·j + i. */                                                \
            rn_q8 d[5];                                                                                        \
            RN_ROW_PHASES(t[a][0], t[a][1], t[a][2], t[a][3], t[a][4], d);                                     \
            rn_q8 r[5];                                                                                        \
            RN_S2_BT(d[0], d[1], d[2], d[3], d[4], r);                                                         \
            for (int b = 0; b < 5; b++) {                                                                      \
              float *target = v + rn_s2_slots[a][b] * ms + c * ldv + column;                                   \
              RN_STORE_TILES(target, r[b], lo, hi);                                                            \
            }                                                                                                  \
          }                                                                                                    \
        }                                                                                                      \
      }                                                                                                        \
    }                                                                                                          \
  }                                                                                                            \
  ATTR static void rn_winograd_s2_output_##SFX(const float *m, ptrdiff_t channels, ptrdiff_t ldm, ptrdiff_t ms, \
                                               const float *bias, const float *residual, int32_t relu,         \
                                               ptrdiff_t height, ptrdiff_t width, ptrdiff_t first_tile,        \
                                               ptrdiff_t end_tile, float *output) {                            \
    const ptrdiff_t tiles_w = (width + 1) / 2;                                                                 \
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
          const rn_q8 m00 = *(const rn_q8 *)at, m01 = *(const rn_q8 *)(at + ms),                               \
                      m02 = *(const rn_q8 *)(at + 2 * ms), m10 = *(const rn_q8 *)(at + 3 * ms),                \
                      m11 = *(const rn_q8 *)(at + 4 * ms), m12 = *(const rn_q8 *)(at + 5 * ms),                \
                      m20 = *(const rn_q8 *)(at + 6 * ms), m21 = *(const rn_q8 *)(at + 7 * ms),                \
                      m22 = *(const rn_q8 *)(at + 8 * ms);                                                     \
          /* Aᵀ down the columns, then along the rows. */                                                      \
          const rn_q8 u00 = m00 + m10, u01 = m01 + m11, u02 = m02 + m12;                                       \
          const rn_q8 u10 = m10 + m20, u11 = m11 + m21, u12 = m12 + m22;                                       \
          const rn_q8 y[2][2] = {{(u00 + u01) + b, (u01 + u02) + b}, {(u10 + u11) + b, (u11 + u12) + b}};      \
          const ptrdiff_t x0 = 2 * tx0, f_lo = 2 * lo, f_hi = 2 * hi < width - x0 ? 2 * hi : width - x0;       \
          for (int r = 0; r < 2; r++) {                                                                        \
            const ptrdiff_t h = 2 * ty + r;                                                                    \
            if (h >= height) break;                                                                            \
            /* Interleaved: float 2·j + k of the row is y[r][k] lane j. */                                     \
            const rn_q8 row[2] = {__builtin_shufflevector(y[r][0], y[r][1], 0, 8, 1, 9, 2, 10, 3, 11),         \
                                  __builtin_shufflevector(y[r][0], y[r][1], 4, 12, 5, 13, 6, 14, 7, 15)};      \
            float *target = plane + h * width + x0;                                                            \
            const float *from = res ? res + h * width + x0 : 0;                                                \
            RN_STORE_ROW(row, 2, target, from, f_lo, f_hi, relu);                                              \
          }                                                                                                    \
        }                                                                                                      \
      }                                                                                                        \
    }                                                                                                          \
  }

ptrdiff_t rn_winograd_s2_line_floats(ptrdiff_t width) {
  const ptrdiff_t tiles_w = (width + 3) / 4;
  // Column −1, then up to 8 tiles past the last group's first tile (4·8 + 1 floats), in whole vectors.
  return 5 * ((4 * ((tiles_w + 7) / 8 * 8) + 1 + 8 + 7) / 8 * 8);
}

RN_S2_OPS(portable, )
#if defined(__x86_64__)
RN_S2_OPS(avx512, __attribute__((target("avx512f,avx512vl"))))
RN_S2_OPS(avx2, RN_AVX2_TARGET)
#endif

void rn_winograd_s2_input(const float *sample, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                          ptrdiff_t first_tile, ptrdiff_t end_tile, float *v, ptrdiff_t ldv, ptrdiff_t matrix_stride,
                          float *line) {
  RN_DISPATCH(rn_winograd_s2_input, sample, channels, height, width, first_tile, end_tile, v, ldv, matrix_stride,
              line);
}

void rn_winograd_s2_output(const float *m, ptrdiff_t channels, ptrdiff_t ldm, ptrdiff_t matrix_stride,
                           const float *bias, const float *residual, int32_t relu, ptrdiff_t height, ptrdiff_t width,
                           ptrdiff_t first_tile, ptrdiff_t end_tile, float *output) {
  RN_DISPATCH(rn_winograd_s2_output, m, channels, ldm, matrix_stride, bias, residual, relu, height, width, first_tile,
              end_tile, output);
}
