// AVX2 + FMA micro-kernels: 6 x 16 tiles, 12 ymm accumulators (16 ymm registers in all).
#include "CKernels.h"
#include "sgemm_families.h"

#if defined(__x86_64__) || defined(__i386__)
#define RN_PREFIX avx2
#define RN_TARGET __attribute__((target("avx2,fma")))
#define RN_W 8
#define RN_MR 6
#define RN_NV 2
#define RN_FMA(a, b, c) __builtin_elementwise_fma(a, b, c)
#include "sgemm_template.h"
#endif
