// The kernel tables each sgemm_<isa>.c defines, for the dispatcher in sgemm_dispatch.c.
#ifndef RESNET_SGEMM_FAMILIES_H
#define RESNET_SGEMM_FAMILIES_H
#include "CKernels.h"

#if defined(__x86_64__)
extern const rn_sgemm_ukernel_fn rn_avx512_table[8][2];
#endif
#if defined(__x86_64__) || defined(__i386__)
extern const rn_sgemm_ukernel_fn rn_avx2_table[6][2];
#endif
extern const rn_sgemm_ukernel_fn rn_portable_table[6][2];

#endif
