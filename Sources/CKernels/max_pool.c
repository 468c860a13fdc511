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
  /* Window ow's first maximum over the taps inside the row (the padding is −∞, which never wins: the */  \
  /* same bits as reading it). */                                                                      \
  ATTR static float rn_window_max_one_##SFX(const float *row, ptrdiff_t ow, const rn_pool_geometry *g) {  \
    float best = -__builtin_inff();                                                                    \
    for (ptrdiff_t k = 0; k < g->kernel_w; k++) {                                                      \
      const ptrdiff_t col = ow * g->stride_w - g->pad_w + k * g->dilation_w;                           \
      if (col >= 0 && col < g->width) best = RN_FIRST_MAX1(best, row[col]);                            \
    }                                                                                                  \
    return best;                                                                                       \
  }                                                                                                    \
  /* One input row's window maxima into target (out_w floats). Stride 2, dilation 1: 16 windows at a */ \
  /* time read straight from the row where every tap's 32 floats lie inside it (the last 16 windows */  \
  /* overlapping the ones before: the same values written again), the windows at the edges one by */    \
  /* one. Otherwise from a copy of the row framed in −∞ (padded). */                                   \
  ATTR static void rn_window_max_row_##SFX(const float *row, const rn_pool_geometry *g, float *padded,  \
                                           float *target) {                                            \
    const ptrdiff_t width = g->width, out_w = g->out_w, kernel = g->kernel_w, pad = g->pad_w;          \
    if (g->stride_w == 2 && g->dilation_w == 1) {                                                      \
      const ptrdiff_t lo = (pad + 1) / 2;                        /* first window with tap 0 inside */   \
      const ptrdiff_t last = (width - 32 + pad - (kernel - 1)) / 2; /* last vector's first window */   \
      ptrdiff_t hi = lo;                                         /* the vectors cover lo ..< hi */      \
      if (width - 32 + pad - (kernel - 1) >= 0 && last >= lo) {                                        \
        for (ptrdiff_t ow = lo;; ow += 16) {                                                           \
          if (ow > last) ow = last;                                                                    \
          const float *at = row + 2 * ow - pad;                                                        \
          rn_p16 best = RN_EVENS16(at);                                                                \
          for (ptrdiff_t k = 1; k < kernel; k++) best = RN_FIRST_MAX(best, RN_EVENS16(at + k));        \
          *(rn_p16 *)(target + ow) = best;                                                             \
          if (ow == last) break;                                                                       \
        }                                                                                              \
        hi = last + 16 < out_w ? last + 16 : out_w;                                                    \
      }                                                                                                \
      for (ptrdiff_t ow = 0; ow < lo && ow < out_w; ow++) target[ow] = rn_window_max_one_##SFX(row, ow, g); \
      for (ptrdiff_t ow = hi; ow < out_w; ow++) target[ow] = rn_window_max_one_##SFX(row, ow, g); \
      return;                                                                                          \
    }                                                                                                  \
    __builtin_memcpy(padded + pad, row, (size_t)width * sizeof(float));                                \
    for (ptrdiff_t ow = 0; ow < out_w; ow++) {                                                         \
      const float *at = padded + ow * g->stride_w;                                                     \
      float best = at[0];                                                                              \
      for (ptrdiff_t k = 1; k < kernel; k++) best = RN_FIRST_MAX1(best, at[k * g->dilation_w]);        \
      target[ow] = best;                                                                               \
    }                                                                                                  \
  }                                                                                                    \
  ATTR static void rn_max_pool_plane_##SFX(const float *x, const rn_pool_geometry *g, float *padded,      \
                                           float *row_max, float *y) {                                 \
    const ptrdiff_t out_w = g->out_w;                                                                  \
    for (ptrdiff_t h = 0; h < g->height; h++)                                                          \
      rn_window_max_row_##SFX(x + h * g->width, g, padded, row_max + h * out_w);                       \
    /* Each output row from its window's rows of row_max, in their order, in registers: one store per */ \
    /* vector (the last 16 overlapping the ones before), never a read of the output. */                \
    for (ptrdiff_t oh = 0; oh < g->out_h; oh++) {                                                      \
      const ptrdiff_t h0 = oh * g->stride_h - g->pad_h, dh = g->dilation_h, kernel = g->kernel_h;      \
      ptrdiff_t k0 = 0; /* the window's first row inside the plane */                                  \
      while (k0 < kernel && (h0 + k0 * dh < 0 || h0 + k0 * dh >= g->height)) k0++;                     \
      if (k0 == kernel) continue;                                                                      \
      const float *first = row_max + (h0 + k0 * dh) * out_w;                                           \
      float *target = y + oh * out_w;                                                                  \
      ptrdiff_t i = 0;                                                                                 \
      if (out_w >= 16)                                                                                 \
        for (;; i += 16) {                                                                             \
          if (i > out_w - 16) i = out_w - 16;                                                          \
          rn_p16 best = *(const rn_p16 *)(first + i);                                                  \
          for (ptrdiff_t k = k0 + 1, h = h0 + k * dh; k < kernel; k++, h += dh)                        \
            if (h >= 0 && h < g->height) best = RN_FIRST_MAX(best, *(const rn_p16 *)(row_max + h * out_w + i)); \
          *(rn_p16 *)(target + i) = best;                                                              \
          if (i + 16 >= out_w) break;                                                                  \
        }                                                                                              \
      for (i = out_w >= 16 ? out_w : 0; i < out_w; i++) {                                              \
        float best = first[i];                                                                         \
        for (ptrdiff_t k = k0 + 1, h = h0 + k * dh; k < kernel; k++, h += dh)                          \
          if (h >= 0 && h < g->height) best = RN_FIRST_MAX1(best, row_max[h * out_w + i]);             \
        target[i] = best;                                                                              \
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
