// Elementwise passes and per-plane reductions of BatchNorm and col2im on the widest vectors the CPU
// has: each is written once as a macro body and instantiated for AVX-512, AVX2 and the portable
// 16-float vector type; the first call picks one with __builtin_cpu_supports. Sums run in 16 lanes,
// then across the lanes in order.
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "CKernels.h"
#include "vector_level.h"

// No fused multiply-adds: every instantiation then does the same IEEE operations in the same order,
// so results are bitwise the same whichever ISA is chosen.
#pragma clang fp contract(off)

typedef float rn_f16 __attribute__((ext_vector_type(16), aligned(4)));
typedef int rn_i16 __attribute__((ext_vector_type(16), aligned(4)));

// The lanes of a 16-float vector added in order (a macro: a vector argument would cross ISAs).
#define RN_LANES_SUM(v, t)                 \
  do {                                     \
    t = 0;                                 \
    for (int l = 0; l < 16; l++) t += v[l]; \
  } while (0)

#define RN_CHANNEL_OPS(SFX, ATTR)                                                                      \
  ATTR static float rn_sum_##SFX(const float *x, ptrdiff_t n) {                                        \
    rn_f16 acc = 0;                                                                                    \
    ptrdiff_t i = 0;                                                                                   \
    for (; i + 16 <= n; i += 16) acc += *(const rn_f16 *)(x + i);                                      \
    float t;                                                                                           \
    RN_LANES_SUM(acc, t);                                                                              \
    for (; i < n; i++) t += x[i];                                                                      \
    return t;                                                                                          \
  }                                                                                                    \
  ATTR static float rn_squares_##SFX(const float *x, ptrdiff_t n, float mean) {                        \
    rn_f16 acc = 0;                                                                                    \
    ptrdiff_t i = 0;                                                                                   \
    for (; i + 16 <= n; i += 16) {                                                                     \
      rn_f16 d = *(const rn_f16 *)(x + i) - mean;                                                      \
      acc += d * d;                                                                                    \
    }                                                                                                  \
    float t;                                                                                           \
    RN_LANES_SUM(acc, t);                                                                              \
    for (; i < n; i++) t += (x[i] - mean) * (x[i] - mean);                                             \
    return t;                                                                                          \
  }                                                                                                    \
  ATTR static void rn_gradient_sums_##SFX(float *g, const float *x, const float *mask, ptrdiff_t n,    \
                                          float mean, float *sum_g, float *sum_gx) {                   \
    rn_f16 ag = 0, agx = 0;                                                                            \
    ptrdiff_t i = 0;                                                                                   \
    for (; i + 16 <= n; i += 16) {                                                                     \
      rn_f16 gv = *(const rn_f16 *)(g + i);                                                            \
      if (mask) {                                                                                      \
        rn_i16 keep = *(const rn_f16 *)(mask + i) > 0;                                                 \
        gv = (rn_f16)((rn_i16)gv & keep);                                                              \
        *(rn_f16 *)(g + i) = gv;                                                                       \
      }                                                                                                \
      ag += gv;                                                                                        \
      agx += gv * (*(const rn_f16 *)(x + i) - mean);                                                   \
    }                                                                                                  \
    float tg, tgx;                                                                                     \
    RN_LANES_SUM(ag, tg);                                                                              \
    RN_LANES_SUM(agx, tgx);                                                                            \
    for (; i < n; i++) {                                                                               \
      if (mask && !(mask[i] > 0)) g[i] = 0;                                                            \
      tg += g[i];                                                                                      \
      tgx += g[i] * (x[i] - mean);                                                                     \
    }                                                                                                  \
    *sum_g = tg;                                                                                       \
    *sum_gx = tgx;                                                                                     \
  }                                                                                                    \
  ATTR static void rn_bn_input_gradient_##SFX(const float *g, const float *x, float *dx, ptrdiff_t n,  \
                                              float scale, float shift, float a, float mean) {         \
    ptrdiff_t i = 0;                                                                                   \
    for (; i + 16 <= n; i += 16) {                                                                     \
      rn_f16 xv = *(const rn_f16 *)(x + i) - mean;                                                     \
      *(rn_f16 *)(dx + i) = scale * *(const rn_f16 *)(g + i) - shift - a * xv;                         \
    }                                                                                                  \
    for (; i < n; i++) dx[i] = scale * g[i] - shift - a * (x[i] - mean);                               \
  }                                                                                                    \
  ATTR static void rn_affine_##SFX(const float *x, const float *residual, float *y, ptrdiff_t n,       \
                                   float scale, float shift, int relu) {                               \
    ptrdiff_t i = 0;                                                                                   \
    for (; i + 16 <= n; i += 16) {                                                                     \
      rn_f16 v = *(const rn_f16 *)(x + i) * scale + shift;                                             \
      if (residual) v += *(const rn_f16 *)(residual + i);                                              \
      if (relu) v = (rn_f16)((rn_i16)v & ~(v < 0));                                                    \
      *(rn_f16 *)(y + i) = v;                                                                          \
    }                                                                                                  \
    for (; i < n; i++) {                                                                               \
      float v = x[i] * scale + shift;                                                                  \
      if (residual) v += residual[i];                                                                  \
      y[i] = relu && v < 0 ? 0 : v;                                                                    \
    }                                                                                                  \
  }                                                                                                    \
  ATTR static void rn_add_##SFX(const float *source, float *target, ptrdiff_t n) {                     \
    ptrdiff_t i = 0;                                                                                   \
    for (; i + 16 <= n; i += 16) *(rn_f16 *)(target + i) += *(const rn_f16 *)(source + i);            \
    for (; i < n; i++) target[i] += source[i];                                                         \
  }                                                                                                    \
  ATTR static void rn_sum_of_##SFX(const float *a, const float *b, float *y, ptrdiff_t n) {             \
    ptrdiff_t i = 0;                                                                                   \
    for (; i + 16 <= n; i += 16) *(rn_f16 *)(y + i) = *(const rn_f16 *)(a + i) + *(const rn_f16 *)(b + i); \
    for (; i < n; i++) y[i] = a[i] + b[i];                                                             \
  }

RN_CHANNEL_OPS(portable, )
#if defined(__x86_64__)
RN_CHANNEL_OPS(avx512, __attribute__((target("avx512f,avx512vl"))))
RN_CHANNEL_OPS(avx2, RN_AVX2_TARGET)
#endif

// 2: AVX-512; 1: AVX2; 0: portable; -1: not decided yet. Threads may decide at once (they decide the
// same); the atomic makes that a defined race (ThreadSanitizer reported the plain int).
static _Atomic int rn_level = -1;

int rn_vector_level(void) {
#if defined(__x86_64__)
  int level = atomic_load_explicit(&rn_level, memory_order_relaxed);
  if (level < 0) {
    __builtin_cpu_init();
    level = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") ? 2
            : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")       ? 1
                                                                                     : 0;
    // RESNET_VECTOR_LEVEL caps the level (to check that the instantiations agree).
    const char *cap = getenv("RESNET_VECTOR_LEVEL");
    if (cap && strcmp(cap, "portable") == 0) level = 0;
    if (cap && strcmp(cap, "avx2") == 0 && level > 1) level = 1;
    atomic_store_explicit(&rn_level, level, memory_order_relaxed);
  }
  return level;
#else
  return 0;
#endif
}

int rn_vector_level_bf16(void) { return rn_vector_level() == 2 && rn_bf16_native_supported(); }

float rn_plane_sum(const float *x, ptrdiff_t n) { RN_DISPATCH(rn_sum, x, n); }

float rn_plane_squared_deviations(const float *x, ptrdiff_t n, float mean) {
  RN_DISPATCH(rn_squares, x, n, mean);
}

void rn_plane_gradient_sums(float *g, const float *x, const float *mask, ptrdiff_t n, float mean, float *sum_g,
                            float *sum_gx) {
  RN_DISPATCH(rn_gradient_sums, g, x, mask, n, mean, sum_g, sum_gx);
}

void rn_plane_bn_input_gradient(const float *g, const float *x, float *dx, ptrdiff_t n, float scale, float shift,
                                float a, float mean) {
  RN_DISPATCH(rn_bn_input_gradient, g, x, dx, n, scale, shift, a, mean);
}

void rn_plane_affine(const float *x, const float *residual, float *y, ptrdiff_t n, float scale, float shift,
                     int32_t relu) {
  RN_DISPATCH(rn_affine, x, residual, y, n, scale, shift, relu);
}

void rn_add_floats(const float *source, float *target, ptrdiff_t n) { RN_DISPATCH(rn_add, source, target, n); }

void rn_sum_floats(const float *a, const float *b, float *y, ptrdiff_t n) { RN_DISPATCH(rn_sum_of, a, b, y, n); }
