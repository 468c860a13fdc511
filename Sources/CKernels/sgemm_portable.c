// Portable micro-kernels: 6 x 8 tiles of 4-float vectors, for any CPU clang targets (SSE2 on x86-64,
// NEON on arm64, scalar code elsewhere). `a * b + c` is fused where the baseline ISA has FMA.
#include "CKernels.h"
#include "sgemm_families.h"

#define RN_PREFIX portable
#define RN_TARGET
#define RN_W 4
#define RN_MR 6
#define RN_NV 2
#define RN_FMA(a, b, c) ((a) * (b) + (c))
#include "sgemm_template.h"
