// Which vector instantiation the plane kernels (channel_ops.c, im2col.c, winograd.c, …) run.
#ifndef RESNET_VECTOR_LEVEL_H
#define RESNET_VECTOR_LEVEL_H

/// 2 when the CPU has AVX-512 F and VL (the avx512 instantiations run), 1 when it has AVX2 (the avx2
/// ones), else 0 (the portable ones); the environment variable RESNET_VECTOR_LEVEL caps it ("avx2" or
/// "portable"). Decided on the first call (channel_ops.c).
int rn_vector_level(void);

/// Whether the avx512bf16 instantiations (rounding by AVX512_BF16's instructions) run: the avx512 level
/// on a CPU with AVX512_BF16 (channel_ops.c).
int rn_vector_level_bf16(void);

/// The function attribute of the avx2 instantiations.
#define RN_AVX2_TARGET __attribute__((target("avx2,fma")))

#if defined(__x86_64__)
#define RN_DISPATCH(name, ...)                \
  switch (rn_vector_level()) {                \
    case 2:                                   \
      return name##_avx512(__VA_ARGS__);      \
    case 1:                                   \
      return name##_avx2(__VA_ARGS__);        \
    default:                                  \
      return name##_portable(__VA_ARGS__);    \
  }
#else
#define RN_DISPATCH(name, ...) return name##_portable(__VA_ARGS__)
#endif

#endif
