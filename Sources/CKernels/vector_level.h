// Which vector instantiation the plane kernels (channel_ops.c, im2col.c) run.
#ifndef RESNET_VECTOR_LEVEL_H
#define RESNET_VECTOR_LEVEL_H

/// 1 when the CPU has AVX-512 F and VL (the avx512 instantiations run), else 0 (also when the
/// environment variable RESNET_VECTOR_LEVEL is "portable"); decided on the first call (channel_ops.c).
int rn_vector_level(void);

#if defined(__x86_64__)
#define RN_DISPATCH(name, ...) return rn_vector_level() ? name##_avx512(__VA_ARGS__) : name##_portable(__VA_ARGS__)
#else
#define RN_DISPATCH(name, ...) return name##_portable(__VA_ARGS__)
#endif

#endif
