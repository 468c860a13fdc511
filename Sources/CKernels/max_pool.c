// Inference max pooling of a plane (Pooling.swift's maxPoolInference) in two passes, on the widest
// vectors the CPU has, AVX-512, AVX2 or the portable 16-float vector type: selections only, so all give
// the same bits.
// "First maximum": b replaces a where b is larger or NaN and a is not NaN — a window holding NaN gives
// its first NaN, and of equal values (±0 included) the first wins.
#include "CKernels.h"
#include "even_lanes.h"
#include "vector_level.h"

typedef float rn_p16 __attribute__((ext_vector_type(16), aligned(4)));
typedef int rn_pi16 __attribute__((ext_vector_type(16), aligned(4)));

// Lanes of x where mask m is set, else of y.
#define RN_SELECT(m, x, y) ((rn_p16)(((rn_pi16)(x) & (m)) | ((rn_pi16)(y) & ~(m))))
// Lane by lane, the first maximum of a and b (a first): b where it is larger, then b where it is NaN,
// then a where a is NaN — three selections by one comparison each (masks combined by logic lowered,
// on AVX2, to byte packing and unpacking between 8-lane halves).
#define RN_FIRST_MAX(a, b)                                                       \
  ({                                                                             \
    const rn_p16 a_ = (a), b_ = (b);                                             \
    rn_p16 t_ = RN_SELECT(b_ > a_, b_, a_);                                      \
    t_ = RN_SELECT(b_ != b_, b_, t_);                                            \
    RN_SELECT(a_ != a_, a_, t_);                                                 \
  })
#define RN_FIRST_MAX1(a, b) (((b) > (a) || (b) != (b)) && (a) == (a) ? (b) : (a))

#define RN_POOL_OPS(SFX, ATTR)                                                                         \
  ATTR static void rn_window_max_row_##SFX(const float *padded, ptrdiff_t out_width, ptrdiff_t kernel,  \
                                           ptrdiff_t stride, ptrdiff_t dilation, float *target) {      \
    ptrdiff_t ow = 0;                                                                                  \
    if (stride == 2 && dilation == 1 && out_width >= 16) {                                             \
      /* Tap k of windows ow ..< ow + 16 is padded[2·ow + k] ...: the even lanes of 32 floats. The */  \
      /* last 16 windows overlap the ones before (the same values written again). */                   \
      for (;; ow += 16) {                                                                              \
        if (ow > out_width - 16) ow = out_width - 16;                                                  \
        const float *at = padded + 2 * ow;                                                             \
        rn_p16 best = RN_EVENS16(at);                                                                  \
        for (ptrdiff_t k = 1; k < kernel; k++) {                                                       \
          best = RN_FIRST_MAX(best, RN_EVENS16(at + k));                                               \
        }                                                                                              \
        *(rn_p16 *)(target + ow) = best;                                                               \
        if (ow + 16 >= out_width) return;                                                              \
      }                                                                                                \
    }                                                                                                  \
    for (; ow < out_width; ow++) {                                                                     \
      const float *at = padded + ow * stride;                                                          \
      float best = at[0];                                                                              \
      for (ptrdiff_t k = 1; k < kernel; k++) best = RN_FIRST_MAX1(best, at[k * dilation]);             \
      target[ow] = best;                                                                               \
    }                                                                                                  \
  }                                                                                                    \
  ATTR static void rn_first_max_into_##SFX(float *target, const float *source, ptrdiff_t n) {          \
    ptrdiff_t i = 0;                                                                                   \
    if (n >= 16)                                                                                       \
      for (;; i += 16) { /* the last 16 overlapping the ones before (idempotent) */                    \
        if (i > n - 16) i = n - 16;                                                                    \
        *(rn_p16 *)(target + i) = RN_FIRST_MAX(*(const rn_p16 *)(target + i), *(const rn_p16 *)(source + i)); \
        if (i + 16 >= n) return;                                                                       \
      }                                                                                                \
    for (; i < n; i++) target[i] = RN_FIRST_MAX1(target[i], source[i]);                                \
  }                                                                                                    \
  ATTR static void rn_max_pool_plane_##SFX(const float *x, const rn_pool_geometry *g, float *padded,      \
                                           float *row_max, float *y) {                                 \
    for (ptrdiff_t h = 0; h < g->height; h++) {                                                        \
      __builtin_memcpy(padded + g->pad_w, x + h * g->width, (size_t)g->width * sizeof(float));          \
      rn_window_max_row_##SFX(padded, g->out_w, g->kernel_w, g->stride_w, g->dilation_w, row_max + h * g->out_w); \
    }                                                                                                  \
    for (ptrdiff_t oh = 0; oh < g->out_h; oh++) {                                                      \
      float *target = y + oh * g->out_w;                                                               \
      int first = 1;                                                                                   \
      ptrdiff_t h = oh * g->stride_h - g->pad_h;                                                       \
      for (ptrdiff_t k = 0; k < g->kernel_h; k++, h += g->dilation_h) {                                \
        if (h < 0 || h >= g->height) continue;                                                         \
        const float *source = row_max + h * g->out_w;                                                  \
        if (first) {                                                                                   \
          __builtin_memcpy(target, source, (size_t)g->out_w * sizeof(float));                          \
          first = 0;                                                                                   \
        } else {                                                                                       \
          rn_first_max_into_##SFX(target, source, g->out_w);                                           \
        }                                                                                              \
      }                                                                                                \
    }                                                                                                  \
  }

RN_POOL_OPS(portable, )
#if defined(__x86_64__)
RN_POOL_OPS(avx512, __attribute__((target("avx512f,avx512vl"))))
RN_POOL_OPS(avx2, RN_AVX2_TARGET)
#endif

void rn_max_pool_plane(const float *x, const rn_pool_geometry *g, float *padded, float *row_max, float *y) {
  RN_DISPATCH(rn_max_pool_plane, x, g, padded, row_max, y);
}
