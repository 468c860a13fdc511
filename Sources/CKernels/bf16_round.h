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
// The same rounding kept as float32 bits: bf16's 16 bits above 16 zero bits.
#define RN_ROUND16_FLOAT_BITS(u) (RN_ROUND16(u) << 16)

#endif
