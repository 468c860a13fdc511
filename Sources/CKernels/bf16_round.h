// rn_bf16_round (bf16_gemm.c) on 16 lanes of float32 bits, for the kernels that round while they pack
// (bf16_gemm.c, winograd.c): the same bits as the scalar function, lane by lane.
#ifndef RN_BF16_ROUND_H
#define RN_BF16_ROUND_H

#include <stdint.h>

typedef uint32_t rn_u32x16 __attribute__((ext_vector_type(16), aligned(4)));
#define RN_ROUND16(u)                                                                                 \
  ({                                                                                                  \
    const rn_u32x16 u_ = (u);                                                                         \
    const rn_u32x16 nan_ = (rn_u32x16)((u_ & 0x7fffffffu) > 0x7f800000u);                            \
    const rn_u32x16 tiny_ = (rn_u32x16)((u_ & 0x7f800000u) == 0);                                     \
    const rn_u32x16 near_ = (u_ + 0x7fffu + ((u_ >> 16) & 1u)) >> 16;                                \
    (nan_ & ((u_ >> 16) | 0x40u)) | (tiny_ & ((u_ >> 16) & 0x8000u)) | (~(nan_ | tiny_) & near_);   \
  })
// row[j] = rounded even[j] | rounded odd[j] << 16 for j < n (odd null: high halves zero), 16 columns at a
// time, then the rest one by one (the same rounding either way): a pair row of the micro-kernels' B.
// Needs rn_bf16_round (CKernels.h).
#define RN_PAIR_ROW(row, even, odd, n)                                                                \
  do {                                                                                                \
    ptrdiff_t j_ = 0;                                                                                 \
    for (; j_ + 16 <= (n); j_ += 16) {                                                                \
      rn_u32x16 e_, o_ = 0;                                                                           \
      __builtin_memcpy(&e_, (even) + j_, 64);                                                         \
      if (odd) __builtin_memcpy(&o_, (odd) + j_, 64);                                                 \
      const rn_u32x16 pair_ = RN_ROUND16(e_) | ((odd) ? RN_ROUND16(o_) << 16 : (rn_u32x16)0);         \
      __builtin_memcpy((row) + j_, &pair_, 64);                                                       \
    }                                                                                                 \
    for (; j_ < (n); j_++)                                                                            \
      (row)[j_] = (uint32_t)rn_bf16_round((even)[j_]) | ((odd) ? (uint32_t)rn_bf16_round((odd)[j_]) << 16 : 0u); \
  } while (0)
// RN_ROUND16 in one instruction, AVX512_BF16's vcvtneps2bf16, for functions compiled for that target (the
// file includes immintrin.h): it rounds as rn_bf16_round does — to nearest even, NaN quieted by bit 6, a
// denormal to a zero of its sign (Intel's definition, which that function follows). A file redefines
// RN_ROUND16 as this around the instantiations it compiles for AVX512_BF16.
#define RN_ROUND16_NATIVE(u) ((rn_u32x16)_mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh((__m512)(u))))
// The same rounding kept as float32 bits: bf16's 16 bits above 16 zero bits.
#define RN_ROUND16_FLOAT_BITS(u) (RN_ROUND16(u) << 16)

#endif
