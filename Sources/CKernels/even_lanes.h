// The even lanes of 32 consecutive floats as one 16-float vector: a stride-2 row's 16 values (im2col.c)
// or 16 stride-2 windows' taps (max_pool.c), from two whole-vector loads.
#ifndef RN_EVEN_LANES_H
#define RN_EVEN_LANES_H

typedef float rn_e16 __attribute__((ext_vector_type(16), aligned(4)));
#define RN_EVENS16(from)                                                                                      \
  __builtin_shufflevector(*(const rn_e16 *)(from), *(const rn_e16 *)((from) + 16), 0, 2, 4, 6, 8, 10, 12, 14, \
                          16, 18, 20, 22, 24, 26, 28, 30)

#endif
