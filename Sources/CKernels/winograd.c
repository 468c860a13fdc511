// The input and output transforms of Winograd's F(2×2, 3×3) (Lavin & Gray, 2016) on the widest
// vectors the CPU has, 16 tiles per vector (winograd_template.h): each is two 1-D passes, down the
// columns on whole vectors, then along the rows (even and odd lanes picked from pairs of vectors).
// Instantiated for AVX-512, AVX2 and the portable 16-float vector type like channel_ops.c; all do the
// same IEEE operations in the same order, so results are bitwise the same whichever ISA runs.
#include "CKernels.h"
#include "bf16_round.h"
#include "vector_level.h"

#include <string.h>

#pragma clang fp contract(off)
// The vector-typed helpers are static inline within one instantiation: no ABI crosses a boundary.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float rn_w16 __attribute__((ext_vector_type(16), aligned(4)));
typedef float rn_w8 __attribute__((ext_vector_type(8), aligned(4)));
typedef int32_t rn_wi16 __attribute__((ext_vector_type(16), aligned(4)));
typedef int32_t rn_wi8 __attribute__((ext_vector_type(8), aligned(4)));
typedef uint16_t rn_u16x16 __attribute__((ext_vector_type(16), aligned(2)));

#define RN_EVENS(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define RN_ODDS(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)
#define RN_LOW_PAIRS(a, b) __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define RN_HIGH_PAIRS(a, b) \
  __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)

// Lanes lo..<hi of a 16-lane mask.
#define RN_LANES(lo, hi) ((uint32_t)((1u << (hi)) - 1) & ~(uint32_t)((1u << (lo)) - 1))

// Tile rows per vector for planes `tiles_w` tiles wide (winograd_template.h).
static inline int rn_winograd_groups(ptrdiff_t tiles_w) { return tiles_w > 8 ? 1 : tiles_w > 4 ? 2 : 4; }

// CALL(groups, contiguous) with the layout of planes `tiles_w` tiles wide as compile-time constants:
// the tile rows per vector, and whether lanes map to consecutive tiles (one row per vector, or rows
// exactly as wide as their lanes).
#define RN_BY_LAYOUT(tiles_w, CALL)            \
  do {                                         \
    switch (rn_winograd_groups(tiles_w)) {     \
      case 1:                                  \
        CALL(1, 1);                            \
        break;                                 \
      case 2:                                  \
        if ((tiles_w) == 8)                    \
          CALL(2, 1);                          \
        else                                   \
          CALL(2, 0);                          \
        break;                                 \
      default:                                 \
        if ((tiles_w) == 4)                    \
          CALL(4, 1);                          \
        else                                   \
          CALL(4, 0);                          \
        break;                                 \
    }                                          \
  } while (0)

// The portable instantiation's partial loads and stores: lane by lane.
static inline void rn_store_mask_portable(float *p, rn_w16 value, uint32_t mask) {
  for (int i = 0; i < 16; i++)
    if (mask >> i & 1) p[i] = value[i];
}
static inline rn_w16 rn_load_mask_portable(const float *p, uint32_t mask) {
  rn_w16 value = 0;
  for (int i = 0; i < 16; i++)
    if (mask >> i & 1) value[i] = p[i];
  return value;
}
enum { rn_masked_loads_cheap_portable = 0 };
static inline rn_w16 rn_pack_lanes_portable(rn_w16 value, uint32_t mask) {
  rn_w16 packed = 0;
  int j = 0;
  for (int i = 0; i < 16; i++)
    if (mask >> i & 1) packed[j++] = value[i];
  return packed;
}
static inline rn_w8 rn_load_mask8_portable(const float *p, uint32_t mask) {
  rn_w8 value = 0;
  for (int i = 0; i < 8; i++)
    if (mask >> i & 1) value[i] = p[i];
  return value;
}
#define RN_WSFX portable
#define RN_WATTR
#include "winograd_template.h"
#undef RN_WSFX
#undef RN_WATTR

#if defined(__x86_64__)
#include <immintrin.h>
// The avx512 instantiation's: masked, so nothing outside the lanes is touched.
#define RN_AVX512 __attribute__((target("avx512f,avx512vl")))
RN_AVX512 static inline void rn_store_mask_avx512(float *p, rn_w16 value, uint32_t mask) {
  _mm512_mask_storeu_ps(p, (__mmask16)mask, (__m512)value);
}
RN_AVX512 static inline rn_w16 rn_load_mask_avx512(const float *p, uint32_t mask) {
  return (rn_w16)_mm512_maskz_loadu_ps((__mmask16)mask, p);
}
enum { rn_masked_loads_cheap_avx512 = 1 };  // and they never touch the lanes masked off
// In a register (the compressing store to memory is slow on Zen 4).
RN_AVX512 static inline rn_w16 rn_pack_lanes_avx512(rn_w16 value, uint32_t mask) {
  return (rn_w16)_mm512_maskz_compress_ps((__mmask16)mask, (__m512)value);
}
RN_AVX512 static inline rn_w8 rn_load_mask8_avx512(const float *p, uint32_t mask) {
  return (rn_w8)_mm256_maskz_loadu_ps((__mmask8)mask, p);
}
#define RN_WSFX avx512
#define RN_WATTR RN_AVX512
#include "winograd_template.h"
#undef RN_WSFX
#undef RN_WATTR

// The avx512bf16 instantiation: the avx512 one with AVX512_BF16's vcvtneps2bf16 rounding to bf16
// (RN_ROUND16_NATIVE; the bf16 input transforms only, the others go unused).
#define RN_AVX512BF16 __attribute__((target("avx512f,avx512vl,avx512bf16")))
#define rn_store_mask_avx512bf16 rn_store_mask_avx512
#define rn_load_mask_avx512bf16 rn_load_mask_avx512
#define rn_masked_loads_cheap_avx512bf16 rn_masked_loads_cheap_avx512
#define rn_pack_lanes_avx512bf16 rn_pack_lanes_avx512
#define rn_load_mask8_avx512bf16 rn_load_mask8_avx512
#pragma push_macro("RN_ROUND16")
#undef RN_ROUND16
#define RN_ROUND16(u) RN_ROUND16_NATIVE(u)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-function"
#define RN_WSFX avx512bf16
#define RN_WATTR RN_AVX512BF16
#include "winograd_template.h"
#undef RN_WSFX
#undef RN_WATTR
#pragma clang diagnostic pop
#pragma pop_macro("RN_ROUND16")

// The avx2 instantiation's: masked loads by halves (vmaskmovps), lanes packed by
// permutes within each half (rn_compress8) and the halves joined by rotations.
#define RN_AVX2 RN_AVX2_TARGET
// The 8 lanes whose bits are set in `bits`, as a vector mask.
RN_AVX2 static inline __m256i rn_mask8_avx2(uint32_t bits) {
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), bit), bit);
}
RN_AVX2 static inline rn_w16 rn_join_avx2(__m256 low, __m256 high) {
  return __builtin_shufflevector((rn_w8)low, (rn_w8)high, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
// The masks the template stores with are ranges of lanes (RN_LANES): the range copied from the vector
// laid out on the stack by 8, 4, 2 and 1 floats (masked stores, vmaskmovps, are slow on AMD's cores).
RN_AVX2 static inline void rn_store_mask_avx2(float *p, rn_w16 value, uint32_t mask) {
  if (!mask) return;
  float lanes[16] __attribute__((aligned(64)));
  *(rn_w16 *)lanes = value;
  int i = __builtin_ctz(mask);
  const int end = 32 - __builtin_clz(mask);
  while (end - i >= 8) {
    _mm256_storeu_ps(p + i, _mm256_loadu_ps(lanes + i));
    i += 8;
  }
  if (end - i >= 4) {
    _mm_storeu_ps(p + i, _mm_loadu_ps(lanes + i));
    i += 4;
  }
  if (end - i >= 2) {
    _mm_storel_pi((__m64 *)(p + i), _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(lanes + i)));
    i += 2;
  }
  if (i < end) p[i] = lanes[i];
}
RN_AVX2 static inline rn_w16 rn_load_mask_avx2(const float *p, uint32_t mask) {
  return rn_join_avx2(_mm256_maskload_ps(p, rn_mask8_avx2(mask & 0xFF)),
                      _mm256_maskload_ps(p + 8, rn_mask8_avx2(mask >> 8 & 0xFF)));
}
enum { rn_masked_loads_cheap_avx2 = 0 };
RN_AVX2 static inline rn_w8 rn_load_mask8_avx2(const float *p, uint32_t mask) {
  return (rn_w8)_mm256_maskload_ps(p, rn_mask8_avx2(mask & 0xFF));
}
// For each 8-bit mask, the lanes whose bits are set, in order, as 4-bit lane numbers (lowest first).
#define RN_SLOT(m, i) ((m) >> (i) & 1 ? (uint32_t)(i) << (4 * __builtin_popcount((m) & ((1u << (i)) - 1))) : 0u)
#define RN_COMPRESS(m) \
  (RN_SLOT(m, 0) | RN_SLOT(m, 1) | RN_SLOT(m, 2) | RN_SLOT(m, 3) | RN_SLOT(m, 4) | RN_SLOT(m, 5) | RN_SLOT(m, 6) | RN_SLOT(m, 7))
#define RN_COMPRESS4(m) RN_COMPRESS(m), RN_COMPRESS(m + 1), RN_COMPRESS(m + 2), RN_COMPRESS(m + 3)
#define RN_COMPRESS16(m) RN_COMPRESS4(m), RN_COMPRESS4(m + 4), RN_COMPRESS4(m + 8), RN_COMPRESS4(m + 12)
#define RN_COMPRESS64(m) RN_COMPRESS16(m), RN_COMPRESS16(m + 16), RN_COMPRESS16(m + 32), RN_COMPRESS16(m + 48)
static const uint32_t rn_compress8[256] = {RN_COMPRESS64(0u), RN_COMPRESS64(64u), RN_COMPRESS64(128u),
                                           RN_COMPRESS64(192u)};
#undef RN_COMPRESS64
#undef RN_COMPRESS16
#undef RN_COMPRESS4
#undef RN_COMPRESS
#undef RN_SLOT
// The lanes of an 8-lane half whose bits are set, moved to its first lanes (others: any lanes).
RN_AVX2 static inline __m256 rn_compress_half_avx2(__m256 half, uint32_t bits) {
  const __m256i slots = _mm256_srlv_epi32(_mm256_set1_epi32((int)rn_compress8[bits]),
                                          _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28));
  return _mm256_permutevar8x32_ps(half, _mm256_and_si256(slots, _mm256_set1_epi32(15)));
}
RN_AVX2 static inline rn_w16 rn_pack_lanes_avx2(rn_w16 value, uint32_t mask) {
  const uint32_t low_bits = mask & 0xFF, high_bits = mask >> 8 & 0xFF;
  const int n0 = __builtin_popcount(low_bits), n = n0 + __builtin_popcount(high_bits);
  const __m256 low = rn_compress_half_avx2((__m256)__builtin_shufflevector(value, value, 0, 1, 2, 3, 4, 5, 6, 7),
                                           low_bits);
  const __m256 high = rn_compress_half_avx2(
      (__m256)__builtin_shufflevector(value, value, 8, 9, 10, 11, 12, 13, 14, 15), high_bits);
  // Lane i of the result: low's lane i for i < n0, then high's lane i − n0, then zeros from lane n.
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), seven = _mm256_set1_epi32(7);
  const __m256i from_high = _mm256_sub_epi32(lane, _mm256_set1_epi32(n0));  // i − n0
  const __m256i from_high8 = _mm256_add_epi32(from_high, _mm256_set1_epi32(8));  // i + 8 − n0
  const __m256 first = _mm256_blendv_ps(
      low, _mm256_permutevar8x32_ps(high, _mm256_and_si256(from_high, seven)),
      _mm256_castsi256_ps(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(n0 - 1))));
  const __m256 second = _mm256_permutevar8x32_ps(high, _mm256_and_si256(from_high8, seven));
  const __m256i count = _mm256_set1_epi32(n);
  return rn_join_avx2(
      _mm256_and_ps(first, _mm256_castsi256_ps(_mm256_cmpgt_epi32(count, lane))),
      _mm256_and_ps(second, _mm256_castsi256_ps(_mm256_cmpgt_epi32(count, _mm256_add_epi32(lane, _mm256_set1_epi32(8))))));
}
#define RN_WSFX avx2
#define RN_WATTR RN_AVX2
#include "winograd_template.h"
#undef RN_WSFX
#undef RN_WATTR
#endif

void rn_winograd_input(const float *sample, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                       ptrdiff_t first_tile, ptrdiff_t end_tile, float *v, ptrdiff_t ldv, ptrdiff_t matrix_stride) {
  RN_DISPATCH(rn_winograd_input, sample, channels, height, width, first_tile, end_tile, v, ldv, matrix_stride);
}

// Whether the bf16 input transforms round by vcvtneps2bf16: asked for (`native`), on the avx512 level, on a
// CPU with AVX512_BF16.
static int rn_native_rounding(int32_t native) {
  return native && rn_vector_level_bf16();
}

void rn_winograd_input_bf16(const float *sample, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                            ptrdiff_t first_tile, ptrdiff_t end_tile, void *v, ptrdiff_t ldv, ptrdiff_t matrix_stride,
                            int32_t native) {
#if defined(__x86_64__)
  if (rn_native_rounding(native)) {
    rn_winograd_input_bf16_avx512bf16(sample, channels, height, width, first_tile, end_tile, v, ldv, matrix_stride);
    return;
  }
#endif
  RN_DISPATCH(rn_winograd_input_bf16, sample, channels, height, width, first_tile, end_tile, v, ldv, matrix_stride);
}

void rn_winograd_input_bf16_rows(const float *sample, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                                 ptrdiff_t first_tile, ptrdiff_t end_tile, uint16_t *v, ptrdiff_t ldv,
                                 ptrdiff_t matrix_stride, int32_t native) {
#if defined(__x86_64__)
  if (rn_native_rounding(native)) {
    rn_winograd_input_bf16_rows_avx512bf16(sample, channels, height, width, first_tile, end_tile, v, ldv,
                                           matrix_stride);
    return;
  }
#endif
  RN_DISPATCH(rn_winograd_input_bf16_rows, sample, channels, height, width, first_tile, end_tile, v, ldv,
              matrix_stride);
}

void rn_winograd_output(const float *m, ptrdiff_t channels, ptrdiff_t ldm, ptrdiff_t matrix_stride,
                        const float *bias, const float *residual, int32_t relu, ptrdiff_t height, ptrdiff_t width,
                        ptrdiff_t first_tile, ptrdiff_t end_tile, float *output) {
  RN_DISPATCH(rn_winograd_output, m, channels, ldm, matrix_stride, bias, residual, relu, height, width, first_tile,
              end_tile, output);
}

void rn_winograd_gradient_output(const float *gradient, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                                 ptrdiff_t first_tile, ptrdiff_t end_tile, float *dm, ptrdiff_t matrix_stride) {
  RN_DISPATCH(rn_winograd_gradient_output, gradient, channels, height, width, first_tile, end_tile, dm,
              matrix_stride);
}

void rn_winograd_gradient_output_bf16(const float *gradient, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                                      ptrdiff_t first_tile, ptrdiff_t end_tile, void *dm, ptrdiff_t matrix_stride,
                                      ptrdiff_t first_column, int32_t native) {
#if defined(__x86_64__)
  if (rn_native_rounding(native)) {
    rn_winograd_gradient_output_bf16_avx512bf16(gradient, channels, height, width, first_tile, end_tile, dm,
                                                matrix_stride, first_column);
    return;
  }
#endif
  RN_DISPATCH(rn_winograd_gradient_output_bf16, gradient, channels, height, width, first_tile, end_tile, dm,
              matrix_stride, first_column);
}

void rn_prefetch(const float *p, ptrdiff_t count) {
  for (ptrdiff_t x = 0; x < count; x += 16) __builtin_prefetch(p + x, 0, 2);
}
