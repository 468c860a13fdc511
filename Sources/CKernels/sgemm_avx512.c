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
// Packed A is prefetched 128 depths (4 KiB) ahead: a convolution on one image streams its packed weight
// from memory once, and the hardware's prefetchers fall behind that stream. AMD Zen 5, ResNet-18 at batch
// 1, 2 threads: its 512→512 Winograd layers on 7×7 planes 1.23–1.32 → 0.54–0.59 ms, 256→256 on 14×14
// 0.60–0.65 → 0.46–0.52 ms; 32 and 64 depths ahead gained less, 256 and 512 no more. (The AVX2 kernel,
// 6×16 tiles, ran at half its speed with the same prefetch, even from cache: 112 → 55 GFLOPS on one core.)
#define RN_A_PREFETCH_DEPTHS 128
#include "sgemm_template.h"
#endif
