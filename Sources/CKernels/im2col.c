// im2col and col2im of one plane for stride-1 convolutions, on the widest vectors the CPU has. The
// plane is first laid out in a row-padded copy, so every kernel tap's output row is one unbroken copy
// (or add) of the output width: no per-row edge cases, no short calls. Instantiated for AVX-512 and
// for the portable 16-float vector type like channel_ops.c; both do the same IEEE operations in the
// same order (copies, and adds in tap order), so results are bitwise the same whichever ISA runs.
#include "CKernels.h"
#include "vector_level.h"

#pragma clang fp contract(off)

typedef float rn_c16 __attribute__((ext_vector_type(16), aligned(4)));
typedef float rn_c4 __attribute__((ext_vector_type(4), aligned(4)));

// to[0..<n] = from[0..<n] (n small: a row), by vectors, then singles.
#define RN_ROW_COPY(to, from, n)                                                        \
  do {                                                                                  \
    ptrdiff_t x_ = 0;                                                                   \
    for (; x_ + 16 <= (n); x_ += 16) *(rn_c16 *)((to) + x_) = *(const rn_c16 *)((from) + x_); \
    for (; x_ + 4 <= (n); x_ += 4) *(rn_c4 *)((to) + x_) = *(const rn_c4 *)((from) + x_);    \
    for (; x_ < (n); x_++) (to)[x_] = (from)[x_];                                       \
  } while (0)

// to[0..<n] += from[0..<n].
#define RN_ROW_ADD(to, from, n)                                                          \
  do {                                                                                   \
    ptrdiff_t x_ = 0;                                                                    \
    for (; x_ + 16 <= (n); x_ += 16) *(rn_c16 *)((to) + x_) += *(const rn_c16 *)((from) + x_); \
    for (; x_ + 4 <= (n); x_ += 4) *(rn_c4 *)((to) + x_) += *(const rn_c4 *)((from) + x_);     \
    for (; x_ < (n); x_++) (to)[x_] += (from)[x_];                                       \
  } while (0)

#define RN_UNFOLD_OPS(SFX, ATTR)                                                                       \
  ATTR static void rn_im2col_s1_##SFX(const float *plane, const rn_unfold_geometry *g, float *out,    \
                                      ptrdiff_t ldc, float *padded) {                                 \
    const ptrdiff_t pw = g->width + 2 * g->pad_width;                                                  \
    for (ptrdiff_t h = 0; h < g->height; h++) {                                                        \
      float *row = padded + h * pw;                                                                    \
      for (ptrdiff_t x = 0; x < g->pad_width; x++) row[x] = row[pw - 1 - x] = 0;                       \
      RN_ROW_COPY(row + g->pad_width, plane + h * g->width, g->width);                                 \
    }                                                                                                  \
    const ptrdiff_t wo = g->output_width;                                                              \
    for (ptrdiff_t i = 0; i < g->kernel_height; i++) {                                                 \
      for (ptrdiff_t j = 0; j < g->kernel_width; j++) {                                                \
        float *tap = out + (i * g->kernel_width + j) * ldc; /* Ho × Wo */                              \
        const float *source = padded + j * g->dilation_width;                                          \
        for (ptrdiff_t oh = 0; oh < g->output_height; oh++) {                                          \
          const ptrdiff_t ih = oh + i * g->dilation_height - g->pad_height;                            \
          float *target = tap + oh * wo;                                                               \
          if (ih < 0 || ih >= g->height) {                                                             \
            for (ptrdiff_t x = 0; x < wo; x++) target[x] = 0;                                          \
          } else {                                                                                     \
            RN_ROW_COPY(target, source + ih * pw, wo);                                                 \
          }                                                                                            \
        }                                                                                              \
      }                                                                                                \
    }                                                                                                  \
  }                                                                                                    \
  ATTR static void rn_col2im_s1_##SFX(const float *columns, ptrdiff_t ldc, const rn_unfold_geometry *g, \
                                      float *plane, int32_t accumulate, float *padded) {              \
    const ptrdiff_t pw = g->width + 2 * g->pad_width;                                                  \
    for (ptrdiff_t x = 0; x < g->height * pw; x++) padded[x] = 0;                                      \
    if (accumulate) {                                                                                  \
      for (ptrdiff_t h = 0; h < g->height; h++)                                                        \
        RN_ROW_COPY(padded + h * pw + g->pad_width, plane + h * g->width, g->width);                   \
    }                                                                                                  \
    const ptrdiff_t wo = g->output_width;                                                              \
    for (ptrdiff_t i = 0; i < g->kernel_height; i++) {                                                 \
      for (ptrdiff_t j = 0; j < g->kernel_width; j++) {                                                \
        const float *tap = columns + (i * g->kernel_width + j) * ldc; /* Ho × Wo */                    \
        float *target = padded + j * g->dilation_width;                                                \
        for (ptrdiff_t oh = 0; oh < g->output_height; oh++) {                                          \
          const ptrdiff_t ih = oh + i * g->dilation_height - g->pad_height;                            \
          if (ih < 0 || ih >= g->height) continue;                                                     \
          RN_ROW_ADD(target + ih * pw, tap + oh * wo, wo);                                             \
        }                                                                                              \
      }                                                                                                \
    }                                                                                                  \
    for (ptrdiff_t h = 0; h < g->height; h++)                                                          \
      RN_ROW_COPY(plane + h * g->width, padded + h * pw + g->pad_width, g->width);                     \
  }

RN_UNFOLD_OPS(portable, )
#if defined(__x86_64__)
RN_UNFOLD_OPS(avx512, __attribute__((target("avx512f,avx512vl"))))
#endif

void rn_im2col_stride1(const float *plane, const rn_unfold_geometry *g, float *out, ptrdiff_t ldc, float *padded) {
  RN_DISPATCH(rn_im2col_s1, plane, g, out, ldc, padded);
}

void rn_col2im_stride1(const float *columns, ptrdiff_t ldc, const rn_unfold_geometry *g, float *plane,
                       int32_t accumulate, float *padded) {
  RN_DISPATCH(rn_col2im_s1, columns, ldc, g, plane, accumulate, padded);
}
