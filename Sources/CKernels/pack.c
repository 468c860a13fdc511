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

// Whole runs of W floats; W a constant where the call site makes it one, so that a run's copy is a few moves.
#define RN_PACK_RUNS(W)                                                                               \
  for (; n >= W; n -= W, source += W, target += stride) __builtin_memcpy(target, source, (size_t)(W) * sizeof(float));
void rn_pack_runs(const float *source, ptrdiff_t n, ptrdiff_t width, float *target, ptrdiff_t stride) {
  switch (width) {  // the register tiles' row counts (mr)
  case 6: RN_PACK_RUNS(6) break;
  case 8: RN_PACK_RUNS(8) break;
  default: RN_PACK_RUNS(width)
  }
  if (n > 0) __builtin_memcpy(target, source, (size_t)n * sizeof(float));
}

// Transposes — the transposing pack and plane transposes — by 16×16 blocks transposed in registers
// (three rounds of interleaves), on the widest vectors the CPU has; pure copies, so every
// instantiation gives the same bits.
#include "vector_level.h"

typedef float rn_p16 __attribute__((ext_vector_type(16), aligned(4)));

// rn_transpose16_SFX(in, ld_in, out, ld_out): out[i][j] = in[j][i] for a 16×16 block, rows of `in`
// 16 floats at in + j·ld_in, rows of `out` at out + i·ld_out. On 16-float vectors:
#define RN_TRANSPOSE16(SFX, ATTR)                                                                      \
  ATTR static inline void rn_transpose16_##SFX(const float *in, ptrdiff_t ld_in, float *out, ptrdiff_t ld_out) { \
    rn_p16 r[16], a[16], b[16];                                                                        \
    for (int j = 0; j < 16; j++) r[j] = *(const rn_p16 *)(in + j * ld_in);                             \
    for (int i = 0; i < 16; i += 2) {                                                                  \
      a[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28, 13, 29); \
      a[i + 1] =                                                                                       \
        __builtin_shufflevector(r[i], r[i + 1], 2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11, 27, 14, 30, 15, 31); \
    }                                                                                                  \
    for (int i = 0; i < 16; i += 4) {                                                                  \
      b[i] = __builtin_shufflevector(a[i], a[i + 2], 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29); \
      b[i + 1] =                                                                                       \
        __builtin_shufflevector(a[i], a[i + 2], 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31); \
      b[i + 2] =                                                                                       \
        __builtin_shufflevector(a[i + 1], a[i + 3], 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29); \
      b[i + 3] =                                                                                       \
        __builtin_shufflevector(a[i + 1], a[i + 3], 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31); \
    }                                                                                                  \
    /* b[4q + m], 128-bit lane L: rows 4q ... 4q + 3 at column 4L + m. */                               \
    for (int m = 0; m < 4; m++) {                                                                      \
      const rn_p16 x0 = __builtin_shufflevector(b[m], b[4 + m], 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23); \
      const rn_p16 y0 =                                                                                \
        __builtin_shufflevector(b[8 + m], b[12 + m], 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23); \
      const rn_p16 x1 =                                                                                \
        __builtin_shufflevector(b[m], b[4 + m], 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31); \
      const rn_p16 y1 =                                                                                \
        __builtin_shufflevector(b[8 + m], b[12 + m], 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31); \
      *(rn_p16 *)(out + m * ld_out) =                                                                  \
        __builtin_shufflevector(x0, y0, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);        \
      *(rn_p16 *)(out + (4 + m) * ld_out) =                                                            \
        __builtin_shufflevector(x0, y0, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);  \
      *(rn_p16 *)(out + (8 + m) * ld_out) =                                                            \
        __builtin_shufflevector(x1, y1, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);        \
      *(rn_p16 *)(out + (12 + m) * ld_out) =                                                           \
        __builtin_shufflevector(x1, y1, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);  \
    }                                                                                                  \
  }
// As four 8×8 blocks on 8-float vectors (AVX2 has no shuffles across 16 floats; the 16-float code
// compiled for it runs ~30% slower).
#define RN_TRANSPOSE16_BY_8(SFX, ATTR)                                                                 \
  ATTR static inline void rn_transpose8_##SFX(const float *in, ptrdiff_t ld_in, float *out, ptrdiff_t ld_out) { \
    rn_v8 r[8], a[8], b[8];                                                                            \
    for (int j = 0; j < 8; j++) r[j] = *(const rn_v8 *)(in + j * ld_in);                               \
    for (int i = 0; i < 8; i += 2) {                                                                   \
      a[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);                        \
      a[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);                  \
    }                                                                                                  \
    for (int i = 0; i < 8; i += 4) {                                                                   \
      b[i] = __builtin_shufflevector(a[i], a[i + 2], 0, 1, 8, 9, 4, 5, 12, 13);                        \
      b[i + 1] = __builtin_shufflevector(a[i], a[i + 2], 2, 3, 10, 11, 6, 7, 14, 15);                  \
      b[i + 2] = __builtin_shufflevector(a[i + 1], a[i + 3], 0, 1, 8, 9, 4, 5, 12, 13);                \
      b[i + 3] = __builtin_shufflevector(a[i + 1], a[i + 3], 2, 3, 10, 11, 6, 7, 14, 15);              \
    }                                                                                                  \
    /* b[m] for m < 4: rows 0 ... 3 of column m in its low half, of column 4 + m in its high half; */   \
    /* b[4 + m]: rows 4 ... 7 of the same columns. */                                                  \
    for (int m = 0; m < 4; m++) {                                                                      \
      *(rn_v8 *)(out + m * ld_out) = __builtin_shufflevector(b[m], b[m + 4], 0, 1, 2, 3, 8, 9, 10, 11); \
      *(rn_v8 *)(out + (m + 4) * ld_out) = __builtin_shufflevector(b[m], b[m + 4], 4, 5, 6, 7, 12, 13, 14, 15); \
    }                                                                                                  \
  }                                                                                                    \
  ATTR static inline void rn_transpose16_##SFX(const float *in, ptrdiff_t ld_in, float *out, ptrdiff_t ld_out) { \
    for (int j = 0; j < 16; j += 8)                                                                    \
      for (int i = 0; i < 16; i += 8) rn_transpose8_##SFX(in + j * ld_in + i, ld_in, out + i * ld_out + j, ld_out); \
  }

// The pack and the plane transpose on an instantiation's rn_transpose16.
#define RN_TRANSPOSE_OPS(SFX, ATTR)                                                                    \
  ATTR static void rn_pack_columns_##SFX(const float *b, ptrdiff_t ldb, ptrdiff_t width, ptrdiff_t depth, \
                                         ptrdiff_t nr, float *panel) {                                 \
    ptrdiff_t k0 = 0;                                                                                  \
    for (ptrdiff_t j0 = 0; j0 + 16 <= width; j0 += 16)                                                 \
      for (k0 = 0; k0 + 16 <= depth; k0 += 16) rn_transpose16_##SFX(b + j0 * ldb + k0, ldb, panel + k0 * nr + j0, nr); \
    const ptrdiff_t whole = width / 16 * 16;                                                           \
    /* The rows past the whole blocks (the depth's tail, or all of it when width < 16), then the */    \
    /* columns past them: one by one. */                                                               \
    for (ptrdiff_t kk = whole > 0 ? depth / 16 * 16 : 0; kk < depth; kk++)                             \
      for (ptrdiff_t j = 0; j < whole; j++) panel[kk * nr + j] = b[j * ldb + kk];                      \
    for (ptrdiff_t kk = 0; kk < depth; kk++) {                                                         \
      for (ptrdiff_t j = whole; j < width; j++) panel[kk * nr + j] = b[j * ldb + kk];                  \
      for (ptrdiff_t j = width; j < nr; j++) panel[kk * nr + j] = 0;                                   \
    }                                                                                                  \
  }                                                                                                    \
  /* planes × pixels → pixels × planes: whole 16×16 blocks in registers, the edges float by float. */  \
  ATTR static void rn_transpose_planes_##SFX(const float *source, ptrdiff_t planes, ptrdiff_t pixels, float *target) { \
    for (ptrdiff_t p0 = 0; p0 < pixels; p0 += 16) {                                                    \
      const ptrdiff_t pn = pixels - p0 < 16 ? pixels - p0 : 16;                                        \
      for (ptrdiff_t c0 = 0; c0 < planes; c0 += 16) {                                                  \
        const ptrdiff_t cn = planes - c0 < 16 ? planes - c0 : 16;                                      \
        if (pn == 16 && cn == 16) {                                                                    \
          rn_transpose16_##SFX(source + c0 * pixels + p0, pixels, target + p0 * planes + c0, planes);  \
        } else {                                                                                       \
          for (ptrdiff_t p = 0; p < pn; p++)                                                           \
            for (ptrdiff_t c = 0; c < cn; c++)                                                         \
              target[(p0 + p) * planes + c0 + c] = source[(c0 + c) * pixels + p0 + p];                 \
        }                                                                                              \
      }                                                                                                \
    }                                                                                                  \
  }

RN_TRANSPOSE16(portable, )
RN_TRANSPOSE_OPS(portable, )
#if defined(__x86_64__)
RN_TRANSPOSE16(avx512, __attribute__((target("avx512f,avx512vl"))))
RN_TRANSPOSE_OPS(avx512, __attribute__((target("avx512f,avx512vl"))))
RN_TRANSPOSE16_BY_8(avx2, RN_AVX2_TARGET)
RN_TRANSPOSE_OPS(avx2, RN_AVX2_TARGET)
#endif

void rn_pack_columns(const float *b, ptrdiff_t ldb, ptrdiff_t width, ptrdiff_t depth, ptrdiff_t nr, float *panel) {
  RN_DISPATCH(rn_pack_columns, b, ldb, width, depth, nr, panel);
}

void rn_transpose_planes(const float *source, ptrdiff_t planes, ptrdiff_t pixels, float *target) {
  RN_DISPATCH(rn_transpose_planes, source, planes, pixels, target);
}
