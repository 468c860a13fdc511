// Runtime choice of SGEMM micro-kernel family: the list of families compiled for this architecture,
// best first, and whether the running CPU supports each.
#include "CKernels.h"
#include "sgemm_families.h"

typedef struct {
  rn_sgemm_family_info info;
  const rn_sgemm_ukernel_fn *table;  // info.mr rows of info.vectors kernels
} rn_family;

static const rn_family families[] = {
#if defined(__x86_64__)
    {{"avx512", 8, 16, 2}, &rn_avx512_table[0][0]},
#endif
#if defined(__x86_64__) || defined(__i386__)
    {{"avx2", 6, 8, 2}, &rn_avx2_table[0][0]},
#endif
    {{"portable", 6, 4, 2}, &rn_portable_table[0][0]},
};

static const int32_t family_count = (int32_t)(sizeof(families) / sizeof(families[0]));

int32_t rn_sgemm_family_count(void) { return family_count; }

int32_t rn_sgemm_family_supported(int32_t family) {
  if (family < 0 || family >= family_count) return 0;
  const char *name = families[family].info.name;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (name[0] == 'a' && name[3] == '5')  // "avx512"
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("fma");
  if (name[0] == 'a' && name[3] == '2')  // "avx2"
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  (void)name;
  return 1;  // portable
}

rn_sgemm_family_info rn_sgemm_family(int32_t family) {
  if (family < 0 || family >= family_count) {
    rn_sgemm_family_info none = {"", 0, 0, 0};
    return none;
  }
  return families[family].info;
}

rn_sgemm_ukernel_fn rn_sgemm_ukernel(int32_t family, int32_t m, int32_t vectors) {
  if (family < 0 || family >= family_count) return 0;
  const rn_family *f = &families[family];
  if (m < 1 || m > f->info.mr || vectors < 1 || vectors > f->info.vectors) return 0;
  return f->table[(m - 1) * f->info.vectors + (vectors - 1)];
}

void rn_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

void rn_keep(const void *p) { (void)p; }
