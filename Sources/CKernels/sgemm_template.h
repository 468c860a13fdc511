// The SGEMM micro-kernel, written once and instantiated per ISA by the sgemm_*.c files, which define:
//   RN_PREFIX  name prefix (avx512, avx2, portable)
//   RN_TARGET  function attribute selecting the ISA (may be empty)
//   RN_W       floats per vector;  RN_MR  rows of the largest tile (<= 8);  RN_NV  vectors per row (1 or 2)
//   RN_FMA(a, b, c)  a * b + c on vectors, fused where the ISA has it
//   RN_A_PREFETCH_DEPTHS  (optional) how many depths ahead packed A (a_cs == RN_MR) is prefetched
// For each (m, nv) with 1 <= m <= RN_MR and 1 <= nv <= RN_NV it defines a kernel with that tile,
// and the table rn_<prefix>_table[RN_MR][RN_NV] of them. The m and nv are compile-time constants in
// each variant, so the accumulators live in registers and edge tiles do only the work they need.

#include "tile_store.h"

#define RN_CAT_(a, b) a##b
#define RN_CAT(a, b) RN_CAT_(a, b)
#define RN_NAME(s) RN_CAT(RN_CAT(rn_, RN_PREFIX), s)
#define RN_KNAME(M, V) RN_CAT(RN_NAME(_k), RN_CAT(M, RN_CAT(x, V)))
#define RN_NR (RN_W * RN_NV)

typedef float RN_NAME(_vec) __attribute__((ext_vector_type(RN_W), aligned(4)));
typedef int32_t RN_NAME(_mask) __attribute__((ext_vector_type(RN_W), aligned(4)));
#define RN_VEC RN_NAME(_vec)

// acc += A[0:m, 0:kc] * B[0:kc, 0:nv*W]. `prefetch`, and A's strides when the caller passes
// constants, are fixed at compile time in each copy of this loop that _body instantiates.
static inline __attribute__((always_inline)) RN_TARGET void RN_NAME(_loop)(
    const int m, const int nv, const int prefetch, ptrdiff_t kc, const float *restrict a,
    const ptrdiff_t a_rs, const ptrdiff_t a_cs, const float *restrict b, const ptrdiff_t b_rs,
    const float *b_prefetch, RN_VEC acc[RN_MR][RN_NV]) {
  const float *rows[RN_MR];  // A's rows when A is read in place (a_cs == 1): A[r][k] = rows[r][k]
  for (int r = 0; r < m; r++) rows[r] = a + r * a_rs;
  for (ptrdiff_t k = 0; k < kc; k++) {
    RN_VEC bv[RN_NV];  // row k of B
    for (int v = 0; v < nv; v++) bv[v] = *(const RN_VEC *)(b + v * RN_W);
    for (int r = 0; r < m; r++) {
      const RN_VEC ar = (RN_VEC)(a_cs == 1 ? rows[r][k] : a[r * a_rs]);
      for (int v = 0; v < nv; v++) acc[r][v] = RN_FMA(ar, bv[v], acc[r][v]);
    }
#ifdef RN_A_PREFETCH_DEPTHS
    if (a_cs == RN_MR) __builtin_prefetch(a + RN_A_PREFETCH_DEPTHS * RN_MR, 0, 3);
#endif
    if (prefetch) {
      __builtin_prefetch(b_prefetch, 0, 3);
      __builtin_prefetch(b_prefetch + RN_NR - 1, 0, 3);
      b_prefetch += b_rs;
    }
    a += a_cs;
    b += b_rs;
  }
}

// v through the epilogue's bias (row r), residual and ReLU, in rn_affine's order and arithmetic.
static inline __attribute__((always_inline)) RN_TARGET RN_VEC RN_NAME(_finish)(RN_VEC v, float bias,
                                                                             const float *residual, int32_t relu) {
  v = v + bias;
  if (residual) v = v + *(const RN_VEC *)residual;
  if (relu) v = (RN_VEC)((RN_NAME(_mask))v & ~(RN_NAME(_mask))(v < 0));
  return v;
}

static inline __attribute__((always_inline)) RN_TARGET void RN_NAME(_body)(
    const int m, const int nv, ptrdiff_t kc, const float *restrict a, ptrdiff_t a_rs, ptrdiff_t a_cs,
    const float *restrict b, ptrdiff_t b_rs, float *c, ptrdiff_t ldc, rn_scales scales, ptrdiff_t n,
    const float *b_prefetch, const rn_tile_epilogue *restrict e) {
  RN_VEC acc[RN_MR][RN_NV];  // m x nv live accumulators: the m x (nv * RN_W) tile of C
  for (int r = 0; r < m; r++)
    for (int v = 0; v < nv; v++) acc[r][v] = (RN_VEC)0.0f;

  rn_prefetch_tile_store(c, ldc, m, nv * RN_W, e);

  // Packed A (constant offsets), A in place (one base per row, indexed by k), or any strides; with
  // or without prefetching.
  const int packed = a_rs == 1 && a_cs == RN_MR;
  if (b_prefetch) {
    if (packed) RN_NAME(_loop)(m, nv, 1, kc, a, 1, RN_MR, b, b_rs, b_prefetch, acc);
    else if (a_cs == 1) RN_NAME(_loop)(m, nv, 1, kc, a, a_rs, 1, b, b_rs, b_prefetch, acc);
    else RN_NAME(_loop)(m, nv, 1, kc, a, a_rs, a_cs, b, b_rs, b_prefetch, acc);
  } else {
    if (packed) RN_NAME(_loop)(m, nv, 0, kc, a, 1, RN_MR, b, b_rs, b_prefetch, acc);
    else if (a_cs == 1) RN_NAME(_loop)(m, nv, 0, kc, a, a_rs, 1, b, b_rs, b_prefetch, acc);
    else RN_NAME(_loop)(m, nv, 0, kc, a, a_rs, a_cs, b, b_rs, b_prefetch, acc);
  }

  // The store does the same vector arithmetic for full and partial tiles, so an element's value
  // does not depend on where tile boundaries fall. The tile goes to C, or through the epilogue to its
  // out (which may be C, and may be its residual).
  const float alpha = scales.alpha, beta = scales.beta;
  const RN_VEC va = (RN_VEC)alpha, vb = (RN_VEC)beta;
  float *target = e ? e->out : c;
  const ptrdiff_t ldt = e ? e->ldo : ldc;
  if (n == nv * RN_W) {
    for (int r = 0; r < m; r++) {
      const float *row = c + r * ldc;
      float *out = target + r * ldt;
      for (int v = 0; v < nv; v++) {
        RN_VEC sum = va * acc[r][v];
        if (beta != 0.0f) sum = sum + vb * *(const RN_VEC *)(row + v * RN_W);
        if (e) sum = RN_NAME(_finish)(sum, e->bias[r], e->residual ? e->residual + r * ldt + v * RN_W : 0, e->relu);
        *(RN_VEC *)(out + v * RN_W) = sum;
      }
    }
  } else {
    float tile[RN_NR] __attribute__((aligned(64)));      // one row of C, n valid floats
    float shortcut[RN_NR] __attribute__((aligned(64)));  // its residual, n valid floats
    for (int r = 0; r < m; r++) {
      const float *row = c + r * ldc;
      float *out = target + r * ldt;
      if (beta != 0.0f)
        for (ptrdiff_t j = 0; j < n; j++) tile[j] = row[j];
      if (e && e->residual)
        for (ptrdiff_t j = 0; j < n; j++) shortcut[j] = e->residual[r * ldt + j];
      for (int v = 0; v < nv; v++) {
        RN_VEC sum = va * acc[r][v];
        if (beta != 0.0f) sum = sum + vb * *(const RN_VEC *)(tile + v * RN_W);
        if (e) sum = RN_NAME(_finish)(sum, e->bias[r], e->residual ? shortcut + v * RN_W : 0, e->relu);
        *(RN_VEC *)(tile + v * RN_W) = sum;
      }
      for (ptrdiff_t j = 0; j < n; j++) out[j] = tile[j];
    }
  }
}

#define RN_ARGS                                                                                  \
  ptrdiff_t kc, const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs, const float *b, ptrdiff_t b_rs, \
      float *c, ptrdiff_t ldc, rn_scales scales, ptrdiff_t n, const float *b_prefetch,           \
      const rn_tile_epilogue *epilogue
// Two copies of the body, so that a call without an epilogue tests nothing for it.
#define RN_DEF(M, V)                                                                                         \
  static RN_TARGET void RN_KNAME(M, V)(RN_ARGS) {                                                            \
    if (epilogue) RN_NAME(_body)(M, V, kc, a, a_rs, a_cs, b, b_rs, c, ldc, scales, n, b_prefetch, epilogue); \
    else RN_NAME(_body)(M, V, kc, a, a_rs, a_cs, b, b_rs, c, ldc, scales, n, b_prefetch, 0);                 \
  }

#if RN_NV == 1
#define RN_ROW(M) RN_DEF(M, 1)
#define RN_ENTRY(M) {RN_KNAME(M, 1)}
#elif RN_NV == 2
#define RN_ROW(M) RN_DEF(M, 1) RN_DEF(M, 2)
#define RN_ENTRY(M) {RN_KNAME(M, 1), RN_KNAME(M, 2)}
#else
#error "RN_NV must be 1 or 2"
#endif

RN_ROW(1)
RN_ROW(2)
RN_ROW(3)
RN_ROW(4)
#if RN_MR >= 5
RN_ROW(5)
#endif
#if RN_MR >= 6
RN_ROW(6)
#endif
#if RN_MR >= 7
RN_ROW(7)
#endif
#if RN_MR >= 8
RN_ROW(8)
#endif
#if RN_MR > 8 || RN_MR < 4
#error "RN_MR must be 4...8"
#endif

const rn_sgemm_ukernel_fn RN_NAME(_table)[RN_MR][RN_NV] = {
    RN_ENTRY(1), RN_ENTRY(2), RN_ENTRY(3), RN_ENTRY(4),
#if RN_MR >= 5
    RN_ENTRY(5),
#endif
#if RN_MR >= 6
    RN_ENTRY(6),
#endif
#if RN_MR >= 7
    RN_ENTRY(7),
#endif
#if RN_MR >= 8
    RN_ENTRY(8),
#endif
};
