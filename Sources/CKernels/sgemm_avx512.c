// AVX-512 micro-kernels: 8 x 32 tiles, 16 zmm accumulators (32 zmm registers in all, so no spills).
#include "CKernels.h"
#include "sgemm_families.h"

#if defined(__x86_64__)
#define RN_PREFIX avx512
#define RN_TARGET __attribute__((target("avx512f,avx512vl,fma")))
#define RN_W 16
#define RN_MR 8
#define RN_NV 2
#define RN_FMA(a, b, c) __builtin_elementwise_fma(a, b, c)
#include "sgemm_template.h"
#endif
