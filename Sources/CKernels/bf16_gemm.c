// bfloat16 GEMM kernels: operands rounded to bf16 (round to nearest even), products accumulated in
// float32. The native micro-kernels use AVX512_BF16's vdpbf16ps; the emulated ones compute, lane by
// lane, what that instruction computes, so both give the same bits. Per lane and pair (k, k+1) the
// instruction does, with bf16 and float32 denormals read as zero and denormal results flushed to zero:
//     t   = round(acc + a[k+1] * b[k+1])      (the odd element's product first)
//     acc = round(t   + a[k]   * b[k])
// Each product of two bf16 values is exact in float32. This order was measured on AMD Zen 4: it matched
// vdpbf16ps on 3.2 million random lanes (normal, tiny and zero operands), where adding the even product
// first, adding the pair before the accumulator, or rounding once each disagreed on ~4% of lanes.
#include "CKernels.h"
#include "bf16_round.h"

#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

uint16_t rn_bf16_round(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // NaN stays a (quiet) NaN
  if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);       // a denormal: a signed zero
  u += 0x7fffu + ((u >> 16) & 1u);  // to nearest, ties to even (a carry may reach infinity, as it should)
  return (uint16_t)(u >> 16);
}

float rn_bf16_value(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

typedef uint16_t rn_u16x16 __attribute__((ext_vector_type(16), aligned(2)));

// The rounded values as bf16, 16 at a time, then the rest.
#define RN_ROUND_ROW_BODY                                                                             \
  ptrdiff_t i = 0;                                                                                    \
  for (; i + 16 <= n; i += 16) {                                                                      \
    rn_u32x16 u;                                                                                      \
    memcpy(&u, src + i, 64);                                                                          \
    const rn_u16x16 halves = __builtin_convertvector(RN_ROUND16(u), rn_u16x16);                       \
    memcpy(dst + i, &halves, 32);                                                                     \
  }                                                                                                   \
  for (; i < n; i++) dst[i] = rn_bf16_round(src[i]);

// The rounded values kept as float32 (bf16's 16 bits above 16 zero bits), 16 at a time, then the rest.
#define RN_ROUND_FLOATS_BODY                                                                          \
  ptrdiff_t i = 0;                                                                                    \
  for (; i + 16 <= n; i += 16) {                                                                      \
    rn_u32x16 u;                                                                                      \
    memcpy(&u, src + i, 64);                                                                          \
    const rn_u32x16 rounded = RN_ROUND16_FLOAT_BITS(u);                                               \
    memcpy(dst + i, &rounded, 64);                                                                    \
  }                                                                                                   \
  for (; i < n; i++) dst[i] = rn_bf16_value(rn_bf16_round(src[i]));

// Pair rows, one after another.
#define RN_PAIR_ROWS_BODY                                                                             \
  for (ptrdiff_t p = 0; p < (k + 1) / 2; p++) {                                                       \
    const float *even = src + 2 * p * lds;                                                            \
    const float *odd = 2 * p + 1 < k ? even + lds : 0;                                                \
    RN_PAIR_ROW((uint32_t *)dst + p * ldd, even, odd, n);                                             \
  }

#define RN_PAIR_ROWS_PARAMS (const float *src, ptrdiff_t lds, ptrdiff_t k, ptrdiff_t n, void *dst, ptrdiff_t ldd)
#define RN_ROUND_FLOATS_PARAMS (const float *src, ptrdiff_t n, float *dst)
#define RN_ROUND_ROW_PARAMS (const float *src, ptrdiff_t n, uint16_t *dst)

// The three rounding entry points in one form (name_suffix), their bodies expanded where this is used,
// so with the RN_ROUND16 defined there.
#define RN_ROUNDING_FORMS(suffix, attr)                                                                \
  attr static void rn_bf16_pair_rows_##suffix RN_PAIR_ROWS_PARAMS { RN_PAIR_ROWS_BODY }                \
  attr static void rn_bf16_round_floats_##suffix RN_ROUND_FLOATS_PARAMS { RN_ROUND_FLOATS_BODY }       \
  attr static void rn_bf16_round_row_##suffix RN_ROUND_ROW_PARAMS { RN_ROUND_ROW_BODY }

#if defined(__x86_64__)
RN_ROUNDING_FORMS(avx512, __attribute__((target("avx512f,avx512bw"))))
// With AVX512_BF16: RN_ROUND16_NATIVE's one instruction (bf16_round.h) where RN_ROUND16 takes a dozen.
#pragma push_macro("RN_ROUND16")
#undef RN_ROUND16
#define RN_ROUND16(u) RN_ROUND16_NATIVE(u)
RN_ROUNDING_FORMS(avx512bf16, __attribute__((target("avx512f,avx512bw,avx512bf16"))))
#pragma pop_macro("RN_ROUND16")
#endif
RN_ROUNDING_FORMS(portable, )

#if defined(__x86_64__)
// `decide()`, asked once and kept in `slot` (-1 until then); threads may decide at once (they decide the
// same), and the atomic makes that a defined race.
static int32_t rn_decided_once(_Atomic int32_t *slot, int32_t (*decide)(void)) {
  int32_t value = atomic_load_explicit(slot, memory_order_relaxed);
  if (value < 0) {
    value = decide();
    atomic_store_explicit(slot, value, memory_order_relaxed);
  }
  return value;
}
static int32_t rn_cpu_has_avx512(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}
static int32_t rn_cpu_has_avx512_bf16(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
}
#endif

// 1: AVX-512 (F and BW); 0: portable. Decided once.
static int32_t rn_has_avx512(void) {
#if defined(__x86_64__)
  static _Atomic int32_t decided = -1;
  return rn_decided_once(&decided, rn_cpu_has_avx512);
#else
  return 0;
#endif
}

// Calls the form of `name` the CPU runs best with `args`: AVX512_BF16's, else AVX-512's, else portable.
#if defined(__x86_64__)
#define RN_ROUNDING_DISPATCH(name, args) \
  do {                                   \
    if (rn_bf16_native_supported()) {    \
      name##_avx512bf16 args;            \
      return;                            \
    }                                    \
    if (rn_has_avx512()) {               \
      name##_avx512 args;                \
      return;                            \
    }                                    \
    name##_portable args;                \
  } while (0)
#else
#define RN_ROUNDING_DISPATCH(name, args) name##_portable args
#endif

void rn_bf16_pair_rows RN_PAIR_ROWS_PARAMS { RN_ROUNDING_DISPATCH(rn_bf16_pair_rows, (src, lds, k, n, dst, ldd)); }
void rn_bf16_round_floats RN_ROUND_FLOATS_PARAMS { RN_ROUNDING_DISPATCH(rn_bf16_round_floats, (src, n, dst)); }
void rn_bf16_round_row RN_ROUND_ROW_PARAMS { RN_ROUNDING_DISPATCH(rn_bf16_round_row, (src, n, dst)); }

int32_t rn_bf16_native_supported(void) {
#if defined(__x86_64__)
  static _Atomic int32_t decided = -1;
  return rn_decided_once(&decided, rn_cpu_has_avx512_bf16);
#else
  return 0;
#endif
}

// The emulated kernels work on 16-lane vectors without AVX-512; their helpers are always inlined, so no
// call passes such a vector across the ABI that -Wpsabi warns about.
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpsabi"
#if defined(__x86_64__)
#define RN_BPREFIX native
#define RN_BTARGET __attribute__((target("avx512f,avx512bf16")))
#define RN_BNATIVE 1
#include "bf16_template.h"
#undef RN_BPREFIX
#undef RN_BTARGET
#undef RN_BNATIVE

#define RN_BPREFIX emulated_avx2
#define RN_BTARGET __attribute__((target("avx2,fma")))
#define RN_BNATIVE 0
#include "bf16_template.h"
#undef RN_BPREFIX
#undef RN_BTARGET
#undef RN_BNATIVE
#endif

#define RN_BPREFIX emulated
#define RN_BTARGET
#define RN_BNATIVE 0
#include "bf16_template.h"
#undef RN_BPREFIX
#undef RN_BTARGET
#undef RN_BNATIVE
#pragma clang diagnostic pop

rn_bf16_ukernel_fn rn_bf16_ukernel(int32_t native, int32_t m, int32_t vectors) {
  if (m < 1 || m > 8 || vectors < 1 || vectors > 2) return 0;
#if defined(__x86_64__)
  if (native && rn_bf16_native_supported()) return rn_bf16_native_table[m - 1][vectors - 1];
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return rn_bf16_emulated_avx2_table[m - 1][vectors - 1];
#endif
  (void)native;
  return rn_bf16_emulated_table[m - 1][vectors - 1];
}
