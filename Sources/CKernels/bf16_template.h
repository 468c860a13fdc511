// The bf16 micro-kernel, written once and instantiated by bf16_gemm.c, which defines:
//   RN_BPREFIX  name prefix (native, emulated_avx2, emulated)
//   RN_BTARGET  function attribute selecting the ISA (may be empty)
//   RN_BNATIVE  1: AVX512_BF16's vdpbf16ps; 0: the emulation of it (same bits)
// Tiles are up to 8 rows by one or two vectors of 16 float32 columns; the table
// rn_bf16_<prefix>_table[8][2] holds them. See rn_bf16_ukernel_fn (CKernels.h) for the operands.

#include "tile_store.h"

#define RN_BCAT_(a, b) a##b
#define RN_BCAT(a, b) RN_BCAT_(a, b)
#define RN_BNAME(s) RN_BCAT(RN_BCAT(rn_bf16_, RN_BPREFIX), s)
#define RN_BKNAME(M, V) RN_BCAT(RN_BNAME(_k), RN_BCAT(M, RN_BCAT(x, V)))

typedef float RN_BNAME(_vec) __attribute__((ext_vector_type(16), aligned(4)));
typedef uint32_t RN_BNAME(_uvec) __attribute__((ext_vector_type(16), aligned(4)));
#define RN_BVEC RN_BNAME(_vec)
#define RN_BUVEC RN_BNAME(_uvec)

#if !RN_BNATIVE
// A float32 denormal as a zero of its sign, lane by lane.
static inline __attribute__((always_inline)) RN_BTARGET RN_BVEC RN_BNAME(_flush)(RN_BVEC x) {
  RN_BUVEC u = (RN_BUVEC)x;
  const RN_BUVEC tiny = (RN_BUVEC)((u & 0x7f800000u) == 0);  // all ones where the exponent is 0
  return (RN_BVEC)(u & ~(tiny & 0x7fffffffu));
}
#endif

// acc + (pair a) · (pairs b), lane by lane, as vdpbf16ps computes it: the odd products first, each
// addition rounded to nearest even, denormal results flushed. The operands are never denormal (the
// rounding to bf16 flushes them), and each product of two bf16 values is exact, so a fused
// multiply-add rounds exactly once where the instruction does.
static inline __attribute__((always_inline)) RN_BTARGET RN_BVEC RN_BNAME(_dot)(RN_BVEC acc, uint32_t a,
                                                                            RN_BUVEC b) {
#if RN_BNATIVE
  return (RN_BVEC)_mm512_dpbf16_ps((__m512)acc, (__m512bh)_mm512_set1_epi32((int)a), (__m512bh)(__m512i)b);
#else
  const RN_BVEC a0 = (RN_BVEC)(RN_BUVEC)(a << 16), a1 = (RN_BVEC)(RN_BUVEC)(a & 0xffff0000u);
  const RN_BVEC b0 = (RN_BVEC)(b << 16), b1 = (RN_BVEC)(b & 0xffff0000u);
  const RN_BVEC t = RN_BNAME(_flush)(__builtin_elementwise_fma(a1, b1, acc));
  return RN_BNAME(_flush)(__builtin_elementwise_fma(a0, b0, t));
#endif
}

// The native kernels prefetch (the emulations, several times slower, do not: measured only natively).
// A read in place (a_cs == 1: the weight's rows) is prefetched this many pairs (4 KiB) ahead, one row per
// pair in turn: a convolution on one image streams its weight from memory once, in as many streams as
// the tile has rows, and the hardware's prefetchers fall behind them. AMD Zen 5, ResNet-18 at batch 1,
// 2 threads: its 256→256 Winograd layers on 14×14 planes 0.234–0.239 → 0.204–0.207 ms (256 and 512
// pairs ahead gained less).
#define RN_A_PREFETCH_PAIRS 1024
// With A a packed pair-row matrix (a_rs == 1: the packed-weight path's unfolded input), B is the packed
// weight, streamed from memory once per image: its pair rows are prefetched this many ahead. AMD Zen 5,
// ResNet-50 bf16 at batch 1: its 7×7 and 14×14 packed-weight layers 5–10% faster (0.397 → 0.365 ms for
// 1024→2048 at stride 2); B prefetched on every path slowed the GEMM path's layers (B in cache there).
#define RN_B_PREFETCH_PAIRS 16

static inline __attribute__((always_inline)) RN_BTARGET void RN_BNAME(_loop)(
    const int m, const int nv, ptrdiff_t pairs, const uint32_t *restrict a, const ptrdiff_t a_rs,
    const ptrdiff_t a_cs, const uint32_t *restrict b, const ptrdiff_t b_rs, RN_BVEC acc[8][2]) {
  for (ptrdiff_t p = 0; p < pairs; p++) {
    RN_BUVEC bv[2];  // pair row p of B: 16 or 32 columns
    for (int v = 0; v < nv; v++) bv[v] = *(const RN_BUVEC *)(b + v * 16);
#if RN_BNATIVE
    if (a_cs == 1 && (p & 7) < m) __builtin_prefetch(a + (p & 7) * a_rs + RN_A_PREFETCH_PAIRS, 0, 3);
    if (a_rs == 1 && a_cs != 1) {  // A packed: B is the packed weight, streamed
      __builtin_prefetch(b + RN_B_PREFETCH_PAIRS * b_rs, 0, 3);
      if (nv == 2) __builtin_prefetch(b + RN_B_PREFETCH_PAIRS * b_rs + 16, 0, 3);
    }
#endif
    for (int r = 0; r < m; r++) {
      const uint32_t ar = a[r * a_rs];
      for (int v = 0; v < nv; v++) acc[r][v] = RN_BNAME(_dot)(acc[r][v], ar, bv[v]);
    }
    a += a_cs;
    b += b_rs;
  }
}

// v through the epilogue's bias (row r), residual and ReLU, in rn_affine's order and arithmetic.
static inline __attribute__((always_inline)) RN_BTARGET RN_BVEC RN_BNAME(_finish)(RN_BVEC v, float bias,
                                                                               const float *residual,
                                                                               int32_t relu) {
  v = v + bias;
  if (residual) v = v + *(const RN_BVEC *)residual;
  if (relu) v = (RN_BVEC)((RN_BUVEC)v & ~(RN_BUVEC)(v < 0));
  return v;
}

static inline __attribute__((always_inline)) RN_BTARGET void RN_BNAME(_body)(
    const int m, const int nv, ptrdiff_t pairs, const uint32_t *restrict a, ptrdiff_t a_rs, ptrdiff_t a_cs,
    const uint32_t *restrict b, ptrdiff_t b_rs, float *c, ptrdiff_t ldc, int32_t accumulate, ptrdiff_t n,
    const rn_tile_epilogue *restrict e) {
  RN_BVEC acc[8][2];  // m x nv live accumulators: the m x (nv * 16) tile of C
  for (int r = 0; r < m; r++)
    for (int v = 0; v < nv; v++) acc[r][v] = (RN_BVEC)0.0f;
#if RN_BNATIVE
  rn_prefetch_tile_store(c, ldc, m, nv * 16, e);
#endif
  // A's rows in place (pairs adjacent) or a pair-row matrix read down its columns.
  if (a_cs == 1) RN_BNAME(_loop)(m, nv, pairs, a, a_rs, 1, b, b_rs, acc);
  else if (a_rs == 1) RN_BNAME(_loop)(m, nv, pairs, a, 1, a_cs, b, b_rs, acc);
  else RN_BNAME(_loop)(m, nv, pairs, a, a_rs, a_cs, b, b_rs, acc);

  // Where the tile goes: C, or the epilogue's out (which may be C, and may be its residual).
  float *target = e ? e->out : c;
  const ptrdiff_t ldt = e ? e->ldo : ldc;
  // The same float32 arithmetic for full and partial tiles, natively or not.
  if (n == nv * 16) {
    for (int r = 0; r < m; r++) {
      const float *row = c + r * ldc;
      float *out = target + r * ldt;
      for (int v = 0; v < nv; v++) {
        RN_BVEC sum = acc[r][v];
        if (accumulate) sum = sum + *(const RN_BVEC *)(row + v * 16);
        if (e) sum = RN_BNAME(_finish)(sum, e->bias[r], e->residual ? e->residual + r * ldt + v * 16 : 0, e->relu);
        *(RN_BVEC *)(out + v * 16) = sum;
      }
    }
  } else {
    float tile[32] __attribute__((aligned(64)));    // one row of C, n valid floats
    float shortcut[32] __attribute__((aligned(64)));  // its residual, n valid floats
    for (int r = 0; r < m; r++) {
      const float *row = c + r * ldc;
      float *out = target + r * ldt;
      if (accumulate)
        for (ptrdiff_t j = 0; j < n; j++) tile[j] = row[j];
      if (e && e->residual)
        for (ptrdiff_t j = 0; j < n; j++) shortcut[j] = e->residual[r * ldt + j];
      for (int v = 0; v < nv; v++) {
        RN_BVEC sum = acc[r][v];
        if (accumulate) sum = sum + *(const RN_BVEC *)(tile + v * 16);
        if (e) sum = RN_BNAME(_finish)(sum, e->bias[r], e->residual ? shortcut + v * 16 : 0, e->relu);
        *(RN_BVEC *)(tile + v * 16) = sum;
      }
      for (ptrdiff_t j = 0; j < n; j++) out[j] = tile[j];
    }
  }
}

#define RN_BARGS                                                                                       \
  ptrdiff_t pairs, const void *a, ptrdiff_t a_rs, ptrdiff_t a_cs, const void *b, ptrdiff_t b_rs, float *c, \
      ptrdiff_t ldc, int32_t accumulate, ptrdiff_t n, const rn_tile_epilogue *epilogue
#define RN_BDEF(M, V)                                                                                   \
  static RN_BTARGET void RN_BKNAME(M, V)(RN_BARGS) {                                                  \
    if (epilogue)                                                                                     \
      RN_BNAME(_body)(M, V, pairs, (const uint32_t *)a, a_rs, a_cs, (const uint32_t *)b, b_rs, c, ldc,  \
                      accumulate, n, epilogue);                                                         \
    else                                                                                                \
      RN_BNAME(_body)(M, V, pairs, (const uint32_t *)a, a_rs, a_cs, (const uint32_t *)b, b_rs, c, ldc,  \
                      accumulate, n, 0);                                                                \
  }
#define RN_BROW(M) RN_BDEF(M, 1) RN_BDEF(M, 2)
#define RN_BENTRY(M) {RN_BKNAME(M, 1), RN_BKNAME(M, 2)}

RN_BROW(1)
RN_BROW(2)
RN_BROW(3)
RN_BROW(4)
RN_BROW(5)
RN_BROW(6)
RN_BROW(7)
RN_BROW(8)

static const rn_bf16_ukernel_fn RN_BNAME(_table)[8][2] = {
    RN_BENTRY(1), RN_BENTRY(2), RN_BENTRY(3), RN_BENTRY(4),
    RN_BENTRY(5), RN_BENTRY(6), RN_BENTRY(7), RN_BENTRY(8),
};

#undef RN_BVEC
#undef RN_BUVEC
#undef RN_BARGS
#undef RN_BDEF
#undef RN_BROW
#undef RN_BENTRY
