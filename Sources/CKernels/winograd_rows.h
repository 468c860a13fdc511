// Pieces shared by the transforms that take eight tiles of a tile row per vector (winograd4.c,
// winograd_stride2.c): tiles 4 input columns apart, read from zero-framed copies of the tile row's
// input rows, and output rows written back from interleaved vectors.
#ifndef RN_WINOGRAD_ROWS_H
#define RN_WINOGRAD_ROWS_H

#include <stddef.h>
#include <stdint.h>

typedef float rn_q8 __attribute__((ext_vector_type(8), aligned(4)));
typedef int32_t rn_qi8 __attribute__((ext_vector_type(8), aligned(4)));

// The tiles tx0 + j (j < 8) of tile row ty that lie in first ..< end and in the row: lanes lo ..< hi.
static inline void rn_tile_lanes(ptrdiff_t ty, ptrdiff_t tx0, ptrdiff_t tiles_w, ptrdiff_t first, ptrdiff_t end,
                                 ptrdiff_t *lo, ptrdiff_t *hi) {
  const ptrdiff_t t0 = ty * tiles_w + tx0;
  ptrdiff_t a = first - t0, b = end - t0;
  if (a < 0) a = 0;
  if (b > 8) b = 8;
  if (b > tiles_w - tx0) b = tiles_w - tx0;
  if (b < a) b = a;
  *lo = a;
  *hi = b;
}

// Input rows top ... top + count − 1 of a plane (height × width), each from column −1 into `line`
// (rows lw floats apart, lw > width): zero outside the plane.
static inline void rn_frame_rows(const float *plane, ptrdiff_t height, ptrdiff_t width, ptrdiff_t top, int count,
                                 float *line, ptrdiff_t lw) {
  for (int i = 0; i < count; i++) {
    float *row = line + i * lw;
    const ptrdiff_t h = top + i;
    if (h < 0 || h >= height) {
      __builtin_memset(row, 0, (size_t)lw * sizeof(float));
      continue;
    }
    row[0] = 0;
    __builtin_memcpy(row + 1, plane + h * width, (size_t)width * sizeof(float));
    __builtin_memset(row + 1 + width, 0, (size_t)(lw - 1 - width) * sizeof(float));
  }
}

// The four phases of 32 floats t0 ... t3 (lane j of d_i: float 4·j + i), as d[0 ... 3], and d[4], the
// phase of floats 4·j + 4 (t4: the next 8 floats).
#define RN_ROW_PHASES(t0, t1, t2, t3, t4, d)                                         \
  do {                                                                               \
    const rn_q8 s0_ = __builtin_shufflevector(t0, t1, 0, 4, 8, 12, 1, 5, 9, 13);      \
    const rn_q8 s1_ = __builtin_shufflevector(t0, t1, 2, 6, 10, 14, 3, 7, 11, 15);    \
    const rn_q8 s2_ = __builtin_shufflevector(t2, t3, 0, 4, 8, 12, 1, 5, 9, 13);      \
    const rn_q8 s3_ = __builtin_shufflevector(t2, t3, 2, 6, 10, 14, 3, 7, 11, 15);    \
    (d)[0] = __builtin_shufflevector(s0_, s2_, 0, 1, 2, 3, 8, 9, 10, 11);            \
    (d)[1] = __builtin_shufflevector(s0_, s2_, 4, 5, 6, 7, 12, 13, 14, 15);          \
    (d)[2] = __builtin_shufflevector(s1_, s3_, 0, 1, 2, 3, 8, 9, 10, 11);            \
    (d)[3] = __builtin_shufflevector(s1_, s3_, 4, 5, 6, 7, 12, 13, 14, 15);          \
    (d)[4] = __builtin_shufflevector((d)[0], t4, 1, 2, 3, 4, 5, 6, 7, 8);             \
  } while (0)

// Lanes lo ..< hi of `value` to target[lo ..< hi]: the whole vector when lo is 0 (the lanes past hi
// land on columns written later, or on the rows' slack).
#define RN_STORE_TILES(target, value, lo, hi)                 \
  do {                                                        \
    if ((lo) == 0) {                                          \
      *(rn_q8 *)(target) = (value);                           \
    } else {                                                  \
      for (ptrdiff_t j_ = (lo); j_ < (hi); j_++) (target)[j_] = (value)[j_]; \
    }                                                         \
  } while (0)

// Floats f_lo ..< f_hi of an output row whose values are the vectors row[0 ... vectors − 1], written
// to target (+ from, the residual's row, when not NULL; then max(·, 0) when relu): whole vectors where
// they lie inside, else float by float.
#define RN_STORE_ROW(row, vectors, target, from, f_lo, f_hi, relu)                                  \
  do {                                                                                            \
    for (int q_ = 0; q_ < (vectors); q_++) {                                                      \
      const ptrdiff_t a_ = (f_lo) > 8 * q_ ? (f_lo) : 8 * q_, e_ = (f_hi) < 8 * q_ + 8 ? (f_hi) : 8 * q_ + 8; \
      if (a_ >= e_) continue;                                                                     \
      if (e_ - a_ == 8) {                                                                         \
        rn_q8 value_ = (row)[q_];                                                                 \
        if (from) value_ += *(const rn_q8 *)((from) + 8 * q_);                                     \
        if (relu) value_ = (rn_q8)((rn_qi8)value_ & ~(value_ < 0));                                \
        *(rn_q8 *)((target) + 8 * q_) = value_;                                                    \
        continue;                                                                                 \
      }                                                                                           \
      for (ptrdiff_t f_ = a_; f_ < e_; f_++) {                                                    \
        float value_ = (row)[q_][f_ - 8 * q_];                                                    \
        if (from) value_ += (from)[f_];                                                           \
        if ((relu) && value_ < 0) value_ = 0;                                                     \
        (target)[f_] = value_;                                                                    \
      }                                                                                           \
    }                                                                                             \
  } while (0)

#endif
