// The two passes of inference max pooling (Pooling.swift's maxPoolInference) on the widest vectors the
// CPU has, AVX-512, AVX2 or the portable 16-float vector type: selections only, so all give the same bits.
// "First maximum": b replaces a where b is larger or NaN and a is not NaN — a window holding NaN gives
// its first NaN, and of equal values (±0 included) the first wins.
#include "CKernels.h"
#include "even_lanes.h"
#include "vector_level.h"

typedef float rn_p16 __attribute__((ext_vector_type(16), aligned(4)));
typedef int rn_pi16 __attribute__((ext_vector_type(16), aligned(4)));

// Lane by lane, the first maximum of a and b (a first).
#define RN_FIRST_MAX(a, b)                                                       \
  ({                                                                             \
    const rn_p16 a_ = (a), b_ = (b);                                             \
    const rn_pi16 take_ = ((b_ > a_) | (b_ != b_)) & (a_ == a_);                 \
    (rn_p16)(((rn_pi16)b_ & take_) | ((rn_pi16)a_ & ~take_));                    \
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
  }

RN_POOL_OPS(portable, )
#if defined(__x86_64__)
RN_POOL_OPS(avx512, __attribute__((target("avx512f,avx512vl"))))
RN_POOL_OPS(avx2, RN_AVX2_TARGET)
#endif

void rn_window_max_row(const float *padded, ptrdiff_t out_width, ptrdiff_t kernel, ptrdiff_t stride,
                       ptrdiff_t dilation, float *target) {
  RN_DISPATCH(rn_window_max_row, padded, out_width, kernel, stride, dilation, target);
}

void rn_first_max_into(float *target, const float *source, ptrdiff_t n) {
  RN_DISPATCH(rn_first_max_into, target, source, n);
}
