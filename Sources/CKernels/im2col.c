// im2col of one plane (any stride) and col2im (stride 1), on the widest vectors the CPU has. The
// plane is first laid out in a row-padded copy, so every kernel tap's output row is one unbroken copy
// (or add) of the output width (for stride 2, even lanes picked from pairs of vectors): no per-row edge
// cases, no short calls. Instantiated for AVX-512, AVX2 and the portable
// 16-float vector type like channel_ops.c; all do the same IEEE operations in the same
// order (copies, and adds in tap order), so results are bitwise the same whichever ISA runs.
#include "CKernels.h"
#include "bf16_round.h"
#include "even_lanes.h"
#include "vector_level.h"

#pragma clang fp contract(off)

// The most output-row runs one packed panel spans (nr ≤ this, so one per column at worst).
#define RN_PACK_MAX_RUNS 128

typedef float rn_c16 __attribute__((ext_vector_type(16), aligned(4)));
typedef float rn_c8 __attribute__((ext_vector_type(8), aligned(4)));
typedef float rn_c4 __attribute__((ext_vector_type(4), aligned(4)));

// The last n < 16 floats of a row copy: one masked vector on AVX-512, else by 8, 4 and singles.
#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx512f,avx512vl"))) static inline void rn_copy_tail_avx512(float *to, const float *from,
                                                                                  ptrdiff_t n) {
  const __mmask16 mask = (__mmask16)((1u << n) - 1);
  _mm512_mask_storeu_ps(to, mask, _mm512_maskz_loadu_ps(mask, from));
}
// to[i] = from[2i] for i < n (1 ≤ n ≤ 16), reading from[0 ..< 2n − 1] only: two masked vectors on
// AVX-512, else one by one.
__attribute__((target("avx512f,avx512vl"))) static inline void rn_even_tail_avx512(float *to, const float *from,
                                                                                  ptrdiff_t n) {
  const ptrdiff_t reads = 2 * n - 1;
  const __mmask16 low = reads >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << reads) - 1);
  const __mmask16 high = reads > 16 ? (__mmask16)((1u << (reads - 16)) - 1) : (__mmask16)0;
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512 picked =
      _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(low, from), evens, _mm512_maskz_loadu_ps(high, from + 16));
  _mm512_mask_storeu_ps(to, (__mmask16)((1u << n) - 1), picked);
}
#endif
static inline void rn_even_tail_portable(float *to, const float *from, ptrdiff_t n) {
  for (ptrdiff_t x = 0; x < n; x++) to[x] = from[2 * x];
}
static inline void rn_copy_tail_portable(float *to, const float *from, ptrdiff_t n) {
  ptrdiff_t x = 0;
  if (x + 8 <= n) {
    *(rn_c8 *)(to + x) = *(const rn_c8 *)(from + x);
    x += 8;
  }
  for (; x + 4 <= n; x += 4) *(rn_c4 *)(to + x) = *(const rn_c4 *)(from + x);
  for (; x < n; x++) to[x] = from[x];
}
// The avx2 instantiation's: the portable ones (inlined, so on AVX2 vectors).
#define rn_even_tail_avx2 rn_even_tail_portable
#define rn_copy_tail_avx2 rn_copy_tail_portable

// to[0..<n] = from[0..<n] (n small: a row), by vectors, then the tail.
#define RN_ROW_COPY(SFX, to, from, n)                                                                \
  do {                                                                                               \
    ptrdiff_t x_ = 0;                                                                                \
    for (; x_ + 16 <= (n); x_ += 16) *(rn_c16 *)((to) + x_) = *(const rn_c16 *)((from) + x_);        \
    if (x_ < (n)) rn_copy_tail_##SFX((to) + x_, (from) + x_, (n) - x_);                              \
  } while (0)

// row[pad..<pad+n] = from[0..<n], with `pad` zeros on each side (row holds n + 2·pad floats).
#define RN_PADDED_ROW(SFX, row, from, n, pad)                                                \
  do {                                                                                       \
    for (ptrdiff_t x_ = 0; x_ < (pad); x_++) (row)[x_] = (row)[(n) + 2 * (pad) - 1 - x_] = 0; \
    RN_ROW_COPY(SFX, (row) + (pad), from, n);                                                \
  } while (0)

// to[0..<n] += from[0..<n].
#define RN_ROW_ADD(to, from, n)                                                          \
  do {                                                                                   \
    ptrdiff_t x_ = 0;                                                                    \
    for (; x_ + 16 <= (n); x_ += 16) *(rn_c16 *)((to) + x_) += *(const rn_c16 *)((from) + x_); \
    for (; x_ + 4 <= (n); x_ += 4) *(rn_c4 *)((to) + x_) += *(const rn_c4 *)((from) + x_);     \
    for (; x_ < (n); x_++) (to)[x_] += (from)[x_];                                       \
  } while (0)

#define RN_UNFOLD_OPS(SFX, ATTR)                                                                       \
  ATTR static void rn_im2col_plane_##SFX(const float *plane, const rn_unfold_geometry *g, float *out,    \
                                         ptrdiff_t ldc, float *padded, const float *next) {            \
    const ptrdiff_t pw = g->width + 2 * g->pad_width;                                                  \
    if (next)                                                                                          \
      for (ptrdiff_t x = 0; x < g->height * g->width; x += 16) __builtin_prefetch(next + x, 0, 3);     \
    for (ptrdiff_t h = 0; h < g->height; h++)                                                          \
      RN_PADDED_ROW(SFX, padded + h * pw, plane + h * g->width, g->width, g->pad_width);                    \
    const ptrdiff_t wo = g->output_width;                                                              \
    for (ptrdiff_t i = 0; i < g->kernel_height; i++) {                                                 \
      for (ptrdiff_t j = 0; j < g->kernel_width; j++) {                                                \
        float *tap = out + (i * g->kernel_width + j) * ldc; /* Ho × Wo */                              \
        const float *source = padded + j * g->dilation_width;                                          \
        for (ptrdiff_t oh = 0; oh < g->output_height; oh++) {                                          \
          const ptrdiff_t ih = oh * g->stride_height + i * g->dilation_height - g->pad_height;         \
          float *target = tap + oh * wo;                                                               \
          const float *line = source + ih * pw;                                                        \
          if (ih < 0 || ih >= g->height) {                                                             \
            for (ptrdiff_t x = 0; x < wo; x++) target[x] = 0;                                          \
          } else if (g->stride_width == 1) {                                                           \
            RN_ROW_COPY(SFX, target, line, wo);                                                             \
          } else if (g->stride_width == 2) {                                                           \
            ptrdiff_t x = 0;                                                                           \
            for (; x + 16 <= wo; x += 16) {                                                            \
              *(rn_c16 *)(target + x) = RN_EVENS16(line + 2 * x);                                      \
            }                                                                                          \
            if (x < wo) rn_even_tail_##SFX(target + x, line + 2 * x, wo - x);                           \
          } else {                                                                                     \
            for (ptrdiff_t x = 0; x < wo; x++) target[x] = line[x * g->stride_width];                  \
          }                                                                                            \
        }                                                                                              \
      }                                                                                                \
    }                                                                                                  \
  }                                                                                                    \
  ATTR static void rn_col2im_s1_##SFX(const float *columns, ptrdiff_t ldc, const rn_unfold_geometry *g, \
                                      float *plane, int32_t accumulate, float *padded) {              \
    const ptrdiff_t pw = g->width + 2 * g->pad_width;                                                  \
    for (ptrdiff_t x = 0; x < g->height * pw; x++) padded[x] = 0;                                      \
    if (accumulate) {                                                                                  \
      for (ptrdiff_t h = 0; h < g->height; h++)                                                        \
        RN_ROW_COPY(SFX, padded + h * pw + g->pad_width, plane + h * g->width, g->width);                   \
    }                                                                                                  \
    const ptrdiff_t wo = g->output_width;                                                              \
    for (ptrdiff_t i = 0; i < g->kernel_height; i++) {                                                 \
      for (ptrdiff_t j = 0; j < g->kernel_width; j++) {                                                \
        const float *tap = columns + (i * g->kernel_width + j) * ldc; /* Ho × Wo */                    \
        float *target = padded + j * g->dilation_width;                                                \
        for (ptrdiff_t oh = 0; oh < g->output_height; oh++) {                                          \
          const ptrdiff_t ih = oh + i * g->dilation_height - g->pad_height;                            \
          if (ih < 0 || ih >= g->height) continue;                                                     \
          RN_ROW_ADD(target + ih * pw, tap + oh * wo, wo);                                             \
        }                                                                                              \
      }                                                                                                \
    }                                                                                                  \
    for (ptrdiff_t h = 0; h < g->height; h++)                                                          \
      RN_ROW_COPY(SFX, plane + h * g->width, padded + h * pw + g->pad_width, g->width);                     \
  }

#define RN_IMPLICIT_OPS(SFX, ATTR)                                                                     \
  ATTR static void rn_pad_sample_##SFX(const float *sample, ptrdiff_t channels, const rn_unfold_geometry *g, \
                                       float *padded, const float *next) {                             \
    const ptrdiff_t pw = g->width + 2 * g->pad_width;                                                  \
    if (next)                                                                                          \
      for (ptrdiff_t x = 0; x < channels * g->height * g->width; x += 16) __builtin_prefetch(next + x, 0, 2); \
    const ptrdiff_t ph = g->height + 2 * g->pad_height;                                                \
    for (ptrdiff_t c = 0; c < channels; c++) {                                                         \
      float *plane = padded + c * ph * pw;                                                             \
      const float *source = sample + c * g->height * g->width;                                         \
      for (ptrdiff_t x = 0; x < g->pad_height * pw; x++) plane[x] = plane[(ph - g->pad_height) * pw + x] = 0; \
      for (ptrdiff_t h = 0; h < g->height; h++)                                                        \
        RN_PADDED_ROW(SFX, plane + (h + g->pad_height) * pw, source + h * g->width, g->width, g->pad_width); \
    }                                                                                                  \
  }                                                                                                    \
  ATTR static void rn_pack_unfolded_##SFX(const float *padded, const ptrdiff_t *offsets, ptrdiff_t kcur,      \
                                          const rn_unfold_geometry *g, ptrdiff_t p0, ptrdiff_t ncols,  \
                                          ptrdiff_t nr, float *panel) {                                \
    const ptrdiff_t pw = g->width + 2 * g->pad_width;                                                  \
    const ptrdiff_t wo = g->output_width;                                                              \
    /* The panel's columns as runs along output rows: run r copies len[r] floats from source[r] (in */ \
    /* a row's view of the padded sample) to target[r] (in the panel row). */                          \
    ptrdiff_t source[RN_PACK_MAX_RUNS], target[RN_PACK_MAX_RUNS], length[RN_PACK_MAX_RUNS];            \
    ptrdiff_t runs = 0, uniform = 0;                                                                   \
    for (ptrdiff_t done = 0, oh = p0 / wo, ow = p0 % wo; done < ncols && runs < RN_PACK_MAX_RUNS; oh++, ow = 0) { \
      const ptrdiff_t run = wo - ow < ncols - done ? wo - ow : ncols - done;                           \
      source[runs] = oh * pw + ow;                                                                     \
      target[runs] = done;                                                                             \
      length[runs++] = run;                                                                            \
      done += run;                                                                                     \
    }                                                                                                  \
    uniform = length[0];                                                                               \
    for (ptrdiff_t r = 1; r < runs; r++)                                                               \
      if (length[r] != uniform) uniform = 0;                                                           \
    for (ptrdiff_t kk = 0; kk < kcur; kk++) {                                                          \
      const float *base = padded + offsets[kk];                                                        \
      float *row = panel + kk * nr;                                                                    \
      if (uniform == 16) {                                                                             \
        for (ptrdiff_t r = 0; r < runs; r++) *(rn_c16 *)(row + target[r]) = *(const rn_c16 *)(base + source[r]); \
      } else if (uniform == 32) {                                                                      \
        for (ptrdiff_t r = 0; r < runs; r++) {                                                         \
          *(rn_c16 *)(row + target[r]) = *(const rn_c16 *)(base + source[r]);                         \
          *(rn_c16 *)(row + target[r] + 16) = *(const rn_c16 *)(base + source[r] + 16);                \
        }                                                                                              \
      } else if (uniform == 8) {                                                                       \
        for (ptrdiff_t r = 0; r < runs; r++) *(rn_c8 *)(row + target[r]) = *(const rn_c8 *)(base + source[r]); \
      } else {                                                                                         \
        /* Whole vectors: a run's overhang is overwritten by the next run, or row, copied after it. */ \
        for (ptrdiff_t r = 0; r < runs; r++)                                                           \
          for (ptrdiff_t x = 0; x < length[r]; x += 16)                                                \
            *(rn_c16 *)(row + target[r] + x) = *(const rn_c16 *)(base + source[r] + x);               \
      }                                                                                                \
      for (ptrdiff_t x = ncols; x < nr; x++) row[x] = 0;                                               \
    }                                                                                                  \
  }

#define RN_FRAME_OPS(SFX, ATTR)                                                                        \
  ATTR static void rn_frame_planes_##SFX(const float *source, ptrdiff_t planes, ptrdiff_t source_stride,  \
                                         ptrdiff_t height, ptrdiff_t width, ptrdiff_t lead, float *target, \
                                         ptrdiff_t target_stride) {                                    \
    const ptrdiff_t wq = width + 1;                                                                    \
    for (ptrdiff_t p = 0; p < planes; p++) {                                                           \
      float *plane = target + p * target_stride;                                                       \
      const float *from = source + p * source_stride;                                                  \
      /* Lead 0: each row, then its zero; then a zero row. Lead 1: a zero row; then each row's zero, */ \
      /* then the row. Every float of the plane is written once. */                                    \
      float *zero_row = plane + (lead ? 0 : height * wq);                                              \
      for (ptrdiff_t x = 0; x < wq; x++) zero_row[x] = 0;                                              \
      float *data = plane + lead * (wq + 1);                                                           \
      for (ptrdiff_t h = 0; h < height; h++) {                                                         \
        data[h * wq + (lead ? -1 : width)] = 0;                                                        \
        RN_ROW_COPY(SFX, data + h * wq, from + h * width, width);                                      \
      }                                                                                                \
    }                                                                                                  \
  }

// Where row `row` of a sample's im2col matrix reads: its plane, its kernel row i, and the input column
// x·sw + shift that output column x reads, inside the input row for x in lo ..< hi (≤ the output width).
typedef struct {
  const float *plane;
  ptrdiff_t i, shift, lo, hi;
} rn_line_source;
static inline rn_line_source rn_line_source_of(const float *sample, const rn_unfold_geometry *g, ptrdiff_t row) {
  const ptrdiff_t taps = g->kernel_height * g->kernel_width, sw = g->stride_width;
  rn_line_source r;
  r.plane = sample + row / taps * g->height * g->width;
  r.i = row % taps / g->kernel_width;
  r.shift = row % g->kernel_width * g->dilation_width - g->pad_width;
  r.lo = r.shift >= 0 ? 0 : (-r.shift + sw - 1) / sw;
  r.hi = g->width - 1 - r.shift < 0 ? 0 : (g->width - 1 - r.shift) / sw + 1;
  if (r.hi > g->output_width) r.hi = g->output_width;
  return r;
}

// Row `row` of the im2col matrix at output pixels p0 ..< p0 + n into out[0 ..< n], for planes at most
// 16 outputs wide when the range is whole output rows: each output row one masked vector load (two and
// a permute for stride 2) and one vector store (masked where it would reach past out[n − 1], so that
// nothing past it is written).
// rn_im2col_line handles such rows run by run, with its bounds and edge cases per run — most of the
// unfolding's time on 7×7 and 14×14 planes. Returns 0, writing nothing, where it does not apply.
#if defined(__x86_64__)
__attribute__((target("avx512f,avx512vl"))) static int rn_im2col_small_line_avx512(
    const float *sample, const rn_unfold_geometry *g, ptrdiff_t row, ptrdiff_t p0, ptrdiff_t n, float *out) {
  const ptrdiff_t wo = g->output_width, sw = g->stride_width;
  if (wo > 16 || sw > 2 || p0 % wo != 0 || n % wo != 0) return 0;
  const rn_line_source source = rn_line_source_of(sample, g, row);
  const ptrdiff_t i = source.i, shift = source.shift, lo = source.lo, hi = source.hi;
  const float *plane = source.plane;
  // Bit x: output column x reads inside the row. Stride 2: input lanes 2·lo ..< 2·hi − 1 of 32 floats (the
  // odd ones among them are dropped by the permute).
  const uint32_t columns = lo < hi ? ((1u << hi) - 1) & ~((1u << lo) - 1) : 0;
  const uint32_t lanes = lo < hi ? (uint32_t)(((1ull << (2 * hi - 1)) - 1) & ~((1ull << (2 * lo)) - 1)) : 0;
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (ptrdiff_t r = 0, oh = p0 / wo; r < n / wo; r++, oh++) {
    const ptrdiff_t ih = oh * g->stride_height + i * g->dilation_height - g->pad_height;
    __m512 v = _mm512_setzero_ps();
    if (ih >= 0 && ih < g->height && columns != 0) {
      const float *line = plane + ih * g->width + shift;  // line[x·sw] for the columns' bits
      if (sw == 1) {
        v = _mm512_maskz_loadu_ps((__mmask16)columns, line);
      } else {
        v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps((__mmask16)lanes, line), evens,
                                   _mm512_maskz_loadu_ps((__mmask16)(lanes >> 16), line + 16));
      }
    }
    const ptrdiff_t left = n - r * wo;  // floats from this output row to out[n − 1]
    if (left >= 16) _mm512_storeu_ps(out + r * wo, v);
    else _mm512_mask_storeu_ps(out + r * wo, (__mmask16)((1u << left) - 1), v);
  }
  return 1;
}
#endif
#define rn_im2col_small_line_avx2(sample, g, row, p0, n, out) 0
#define rn_im2col_small_line_portable(sample, g, row, p0, n, out) 0

typedef uint64_t rn_u64x8 __attribute__((ext_vector_type(8), aligned(4)));
typedef uint32_t rn_u32x8 __attribute__((ext_vector_type(8), aligned(4)));
// 16 words of a pair row from 32 consecutive floats f[0 ..< 32]: word j is f[2j] rounded (low half) and
// f[2j + 1] rounded (high half).
#define RN_ADJACENT_WORDS16(f)                                                                         \
  ({                                                                                                  \
    rn_u32x16 a_, b_;                                                                                 \
    __builtin_memcpy(&a_, (f), 64);                                                                   \
    __builtin_memcpy(&b_, (f) + 16, 64);                                                              \
    const rn_u64x8 x_ = (rn_u64x8)RN_ROUND16(a_), y_ = (rn_u64x8)RN_ROUND16(b_);                      \
    const rn_u64x8 px_ = (x_ & 0xffffu) | ((x_ >> 16) & 0xffff0000u);                                 \
    const rn_u64x8 py_ = (y_ & 0xffffu) | ((y_ >> 16) & 0xffff0000u);                                 \
    const rn_u32x8 lo_ = __builtin_convertvector(px_, rn_u32x8);                                      \
    const rn_u32x8 hi_ = __builtin_convertvector(py_, rn_u32x8);                                      \
    (rn_u32x16) __builtin_shufflevector(lo_, hi_, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); \
  })

// Pair row p of one sample's im2col matrix at output pixels p0 ..< p0 + n, when its two rows are
// adjacent taps of one kernel row of a stride-2, undilated convolution: at each output pixel the two
// values are neighbours in the input row, so 16 columns' 32 floats are rounded and paired where they
// lie, with no gather (only blocks at the row's edges gather their taps, zero outside the plane). The
// same words as gathering the two rows and pairing them. Returns 0, writing nothing, where it does not
// apply.
#define RN_ADJACENT_OPS(SFX, ATTR)                                                                          \
  /* Columns x ..< x + m (m <= 16) one by one: their taps gathered, zero outside the row. */                \
  ATTR static void rn_adjacent_edge_##SFX(const float *line, rn_line_source even, rn_line_source odd,       \
                                          ptrdiff_t x, ptrdiff_t m, uint32_t *target) {                     \
    float f[32] = {0};                                                                                      \
    for (ptrdiff_t c = 0; c < m; c++) {                                                                     \
      const ptrdiff_t xc = x + c;                                                                           \
      if (xc >= even.lo && xc < even.hi) f[2 * c] = line[2 * xc];                                           \
      if (xc >= odd.lo && xc < odd.hi) f[2 * c + 1] = line[2 * xc + 1];                                     \
    }                                                                                                       \
    const rn_u32x16 words = RN_ADJACENT_WORDS16(f);                                                         \
    for (ptrdiff_t c = 0; c < m; c++) target[x + c] = words[c];                                             \
  }                                                                                                         \
  ATTR static int rn_adjacent_pair_row_##SFX(const float *sample, const rn_unfold_geometry *g, ptrdiff_t p, \
                                            ptrdiff_t p0, ptrdiff_t n, uint32_t *row) {                     \
    const ptrdiff_t taps = g->kernel_height * g->kernel_width;                                              \
    if (g->stride_width != 2 || g->dilation_width != 1 || (2 * p) / taps != (2 * p + 1) / taps ||           \
        (2 * p) % g->kernel_width == g->kernel_width - 1)                                                   \
      return 0;                                                                                             \
    const rn_line_source even = rn_line_source_of(sample, g, 2 * p);                                        \
    const rn_line_source odd = rn_line_source_of(sample, g, 2 * p + 1);                                     \
    const ptrdiff_t wo = g->output_width;                                                                   \
    /* Output columns whose two taps are both inside the row. */                                            \
    const ptrdiff_t lo = even.lo > odd.lo ? even.lo : odd.lo, hi = odd.hi < even.hi ? odd.hi : even.hi;     \
    for (ptrdiff_t done = 0, oh = p0 / wo, ow = p0 % wo; done < n; oh++, ow = 0) {                          \
      const ptrdiff_t run = wo - ow < n - done ? wo - ow : n - done;                                        \
      uint32_t *target = row + done - ow; /* target[x] for output column x */                               \
      const ptrdiff_t ih = oh * g->stride_height + even.i * g->dilation_height - g->pad_height;             \
      const ptrdiff_t end = ow + run;                                                                       \
      if (ih < 0 || ih >= g->height) {                                                                      \
        for (ptrdiff_t x = ow; x < end; x++) target[x] = 0;                                                 \
      } else {                                                                                              \
        const float *line = even.plane + ih * g->width + even.shift; /* line[2x], line[2x + 1]: column x */ \
        const ptrdiff_t a = lo > end ? end : (lo > ow ? lo : ow), b = hi < a ? a : (hi < end ? hi : end);   \
        ptrdiff_t x = ow;                                                                                   \
        for (; x < a; x += 16) rn_adjacent_edge_##SFX(line, even, odd, x, a - x < 16 ? a - x : 16, target); \
        /* Inside: 16 columns at a time, reading line[2x ..< 2x + 32]; the last block ends at b, */         \
        /* overlapping the one before. */                                                                   \
        for (x = a; x < b; x += 16) {                                                                       \
          const ptrdiff_t at = x + 16 <= b ? x : (b - 16 >= a ? b - 16 : -1);                               \
          if (at < 0) {                                                                                     \
            rn_adjacent_edge_##SFX(line, even, odd, x, b - x, target);                                      \
            break;                                                                                          \
          }                                                                                                 \
          const rn_u32x16 words = RN_ADJACENT_WORDS16(line + 2 * at);                                       \
          __builtin_memcpy(target + at, &words, 64);                                                        \
        }                                                                                                   \
        for (x = b; x < end; x += 16)                                                                       \
          rn_adjacent_edge_##SFX(line, even, odd, x, end - x < 16 ? end - x : 16, target);                  \
      }                                                                                                     \
      done += run;                                                                                          \
    }                                                                                                       \
    return 1;                                                                                               \
  }

// im2col straight into bf16 pair rows (bf16 convolutions): each row of the column range is gathered
// into a float32 line in L1, and two lines are rounded and paired as rn_bf16_pair_rows pairs them.
#define RN_PAIR_OPS(SFX, ATTR)                                                                         \
  /* out[0..<n] = row `row` of the sample's im2col matrix, columns p0..<p0+n (output pixels). */      \
  ATTR static void rn_im2col_line_##SFX(const float *sample, const rn_unfold_geometry *g, ptrdiff_t row, \
                                        ptrdiff_t p0, ptrdiff_t n, float *out) {                       \
    const ptrdiff_t wo = g->output_width, sw = g->stride_width;                                        \
    const rn_line_source source = rn_line_source_of(sample, g, row);                                   \
    const ptrdiff_t i = source.i, shift = source.shift, lo = source.lo, hi = source.hi;                \
    const float *plane = source.plane;                                                                 \
    for (ptrdiff_t done = 0, oh = p0 / wo, ow = p0 % wo; done < n; oh++, ow = 0) {                     \
      const ptrdiff_t run = wo - ow < n - done ? wo - ow : n - done;                                   \
      float *target = out + done - ow; /* target[x] for output column x */                             \
      const ptrdiff_t ih = oh * g->stride_height + i * g->dilation_height - g->pad_height;             \
      /* Inside the row: a..<b, within this run's ow..<ow + run. */                                    \
      const ptrdiff_t end = ow + run;                                                                  \
      const ptrdiff_t a = ih < 0 || ih >= g->height ? end : (lo > end ? end : (lo > ow ? lo : ow));    \
      const ptrdiff_t b = hi < a ? a : (hi < end ? hi : end);                                          \
      for (ptrdiff_t x = ow; x < a; x++) target[x] = 0;                                                \
      for (ptrdiff_t x = b; x < end; x++) target[x] = 0;                                               \
      const float *line = plane + ih * g->width + shift; /* line[x·sw] for x in a..<b */               \
      if (a >= b) {                                                                                    \
      } else if (sw == 1) {                                                                            \
        RN_ROW_COPY(SFX, target + a, line + a, b - a);                                                 \
      } else if (sw == 2) {                                                                            \
        ptrdiff_t x = a;                                                                               \
        /* Reads up to line[2x + 31], inside the row while x + 16 < b. */                              \
        for (; x + 16 < b; x += 16) {                                                                  \
          *(rn_c16 *)(target + x) = RN_EVENS16(line + 2 * x);                                          \
        }                                                                                              \
        if (x < b) rn_even_tail_##SFX(target + x, line + 2 * x, b - x);                                \
      } else {                                                                                         \
        for (ptrdiff_t x = a; x < b; x++) target[x] = line[x * sw];                                    \
      }                                                                                                \
      done += run;                                                                                     \
    }                                                                                                  \
  }                                                                                                    \
  ATTR static void rn_im2col_pack_##SFX(const float *sample, ptrdiff_t channels, const rn_unfold_geometry *g, \
                                        ptrdiff_t first, ptrdiff_t count, ptrdiff_t p0, ptrdiff_t n,   \
                                        ptrdiff_t column, ptrdiff_t nr, float *packed, ptrdiff_t panel_stride, \
                                        float *line) {                                                 \
    const ptrdiff_t height = g->height, width = g->width, wo = g->output_width;                        \
    const ptrdiff_t kh = g->kernel_height, kw = g->kernel_width, sw = g->stride_width;                  \
    const float *end = sample + channels * height * width; /* whole-vector reads stay below it */      \
    /* Kernel column j: output column x reads input column x·sw + shift[j], inside the row for */     \
    /* x in lo[j] ..< hi[j]. */                                                                        \
    ptrdiff_t shift[kw], lo[kw], hi[kw];                                                               \
    for (ptrdiff_t j = 0; j < kw; j++) {                                                               \
      shift[j] = j * g->dilation_width - g->pad_width;                                                 \
      lo[j] = shift[j] >= 0 ? 0 : (-shift[j] + sw - 1) / sw;                                           \
      hi[j] = width - 1 - shift[j] < 0 ? 0 : (width - 1 - shift[j]) / sw + 1;                          \
      if (hi[j] > wo) hi[j] = wo;                                                                      \
      if (lo[j] > hi[j]) lo[j] = hi[j];                                                                \
    }                                                                                                  \
    const ptrdiff_t oh0 = p0 / wo, ow0 = p0 % wo;                                                      \
    const ptrdiff_t lane0 = column % nr; /* the first panel's first lane */                            \
    float *const start = packed + column / nr * panel_stride + lane0;                                  \
    ptrdiff_t c = first / (kh * kw), i = first % (kh * kw) / kw, j = first % kw;                       \
    for (ptrdiff_t r = 0; r < count; r++) {                                                            \
      const float *plane = sample + c * height * width;                                                \
      /* The row into `line`, run by run along output rows; a run's data may overhang up to 15 */     \
      /* floats, overwritten by what follows it (its zeros, the next run) or in line's slack. */      \
      for (ptrdiff_t done = 0, oh = oh0, ow = ow0; done < n; oh++, ow = 0) {                           \
        const ptrdiff_t run = wo - ow < n - done ? wo - ow : n - done, stop = ow + run;                \
        float *target = line + done - ow; /* target[x] for output column x */                          \
        const ptrdiff_t ih = oh * g->stride_height + i * g->dilation_height - g->pad_height;           \
        ptrdiff_t a = stop, b = stop; /* columns a ..< b read inside the row */                        \
        if (ih >= 0 && ih < height) {                                                                  \
          a = lo[j] > ow ? (lo[j] < stop ? lo[j] : stop) : ow;                                         \
          b = hi[j] < a ? a : (hi[j] < stop ? hi[j] : stop);                                           \
        }                                                                                              \
        for (ptrdiff_t x = ow; x < a; x++) target[x] = 0;                                              \
        const float *source = plane + ih * width + shift[j]; /* source[x·sw] for x in a ..< b */       \
        if (a >= b) {                                                                                  \
        } else if (sw == 1) {                                                                          \
          RN_ROW_COPY(SFX, target + a, source + a, b - a);                                             \
        } else if (sw == 2) {                                                                          \
          for (ptrdiff_t x = a; x < b; x += 16) {                                                      \
            if (source + 2 * x + 32 <= end)                                                            \
              *(rn_c16 *)(target + x) = RN_EVENS16(source + 2 * x);                                    \
            else                                                                                       \
              rn_even_tail_##SFX(target + x, source + 2 * x, b - x < 16 ? b - x : 16);                 \
          }                                                                                            \
        } else {                                                                                       \
          for (ptrdiff_t x = a; x < b; x++) target[x] = source[x * sw];                                \
        }                                                                                              \
        for (ptrdiff_t x = b; x < stop; x++) target[x] = 0;                                            \
        done += run;                                                                                   \
      }                                                                                                \
      /* The line to its panels: a partial first panel, whole panels, a partial last one. */           \
      float *to = start + r * nr;                                                                      \
      ptrdiff_t x = 0;                                                                                 \
      if (lane0 > 0) {                                                                                 \
        x = nr - lane0 < n ? nr - lane0 : n;                                                           \
        RN_ROW_COPY(SFX, to, line, x);                                                                 \
        to += panel_stride - lane0;                                                                    \
      }                                                                                                \
      if (nr == 16) {                                                                                  \
        for (; x + 16 <= n; x += 16, to += panel_stride) *(rn_c16 *)to = *(const rn_c16 *)(line + x);  \
      } else {                                                                                         \
        for (; x + nr <= n; x += nr, to += panel_stride) RN_ROW_COPY(SFX, to, line + x, nr);           \
      }                                                                                                \
      if (x < n) RN_ROW_COPY(SFX, to, line + x, n - x);                                                \
      if (++j == kw) {                                                                                 \
        j = 0;                                                                                         \
        if (++i == kh) i = 0, c++;                                                                     \
      }                                                                                                \
    }                                                                                                  \
  }                                                                                                    \
  ATTR static void rn_im2col_rows_##SFX(const float *sample, const rn_unfold_geometry *g, ptrdiff_t first,  \
                                        ptrdiff_t count, ptrdiff_t p0, ptrdiff_t n, float *dst, ptrdiff_t ldd) { \
    for (ptrdiff_t r = first; r < first + count; r++)                                                  \
      if (!rn_im2col_small_line_##SFX(sample, g, r, p0, n, dst + (r - first) * ldd))                   \
        rn_im2col_line_##SFX(sample, g, r, p0, n, dst + (r - first) * ldd);                            \
  }                                                                                                    \
  ATTR static void rn_im2col_pairs_##SFX(const float *sample, ptrdiff_t channels, const rn_unfold_geometry *g, \
                                         ptrdiff_t first, ptrdiff_t count, ptrdiff_t p0, ptrdiff_t n,  \
                                         void *dst, ptrdiff_t ldd, float *lines) {                     \
    const ptrdiff_t k = channels * g->kernel_height * g->kernel_width;                                 \
    /* A pointwise stride-1 convolution's rows are the input's planes: paired where they are. */       \
    const int in_place = g->kernel_height == 1 && g->kernel_width == 1 && g->stride_height == 1 &&     \
                         g->stride_width == 1 && g->pad_height == 0 && g->pad_width == 0;              \
    const ptrdiff_t plane = g->height * g->width;                                                      \
    for (ptrdiff_t p = first; p < first + count; p++) {                                                \
      const float *even = lines, *odd = 2 * p + 1 < k ? lines + n : 0;                                 \
      uint32_t *const target = (uint32_t *)dst + (p - first) * ldd;                                    \
      if (odd && !in_place && rn_adjacent_pair_row_##SFX(sample, g, p, p0, n, target)) continue;       \
      if (in_place) {                                                                                  \
        even = sample + 2 * p * plane + p0;                                                            \
        if (odd) odd = even + plane;                                                                   \
      } else {                                                                                         \
        if (!rn_im2col_small_line_##SFX(sample, g, 2 * p, p0, n, lines))                              \
          rn_im2col_line_##SFX(sample, g, 2 * p, p0, n, lines);                                        \
        if (odd && !rn_im2col_small_line_##SFX(sample, g, 2 * p + 1, p0, n, lines + n))                \
          rn_im2col_line_##SFX(sample, g, 2 * p + 1, p0, n, lines + n);                                \
      }                                                                                                \
      RN_PAIR_ROW(target, even, odd, n);                                                               \
    }                                                                                                  \
  }

RN_UNFOLD_OPS(portable, )
RN_ADJACENT_OPS(portable, )
RN_PAIR_OPS(portable, )
RN_IMPLICIT_OPS(portable, )
RN_FRAME_OPS(portable, )
#if defined(__x86_64__)
RN_UNFOLD_OPS(avx512, __attribute__((target("avx512f,avx512vl"))))
RN_UNFOLD_OPS(avx2, RN_AVX2_TARGET)
RN_ADJACENT_OPS(avx512, __attribute__((target("avx512f,avx512vl"))))
// With AVX512_BF16, vcvtne2ps2bf16 rounds 32 floats to 32 halves in order — 16 pair words — in one
// instruction, as rn_bf16_round rounds (as RN_ROUND16_NATIVE, bf16_round.h, does for 16).
#pragma push_macro("RN_ADJACENT_WORDS16")
#undef RN_ADJACENT_WORDS16
#define RN_ADJACENT_WORDS16(f)                                                                         \
  ({                                                                                                  \
    __m512 a_, b_;                                                                                    \
    __builtin_memcpy(&a_, (f), 64);                                                                   \
    __builtin_memcpy(&b_, (f) + 16, 64);                                                              \
    (rn_u32x16) _mm512_cvtne2ps_pbh(b_, a_);                                                          \
  })
RN_ADJACENT_OPS(avx512bf16, __attribute__((target("avx512f,avx512vl,avx512bf16"))))
#pragma pop_macro("RN_ADJACENT_WORDS16")
RN_ADJACENT_OPS(avx2, RN_AVX2_TARGET)
RN_PAIR_OPS(avx512, __attribute__((target("avx512f,avx512vl"))))
RN_PAIR_OPS(avx2, RN_AVX2_TARGET)
// The avx512bf16 instantiation of the pair-row unfolding: the avx512 one with AVX512_BF16's vcvtneps2bf16
// rounding each 16 floats (RN_ROUND16_NATIVE, bf16_round.h). rn_im2col_pairs uses it wherever the CPU
// has the instruction.
#define rn_even_tail_avx512bf16 rn_even_tail_avx512
#define rn_copy_tail_avx512bf16 rn_copy_tail_avx512
#define rn_im2col_small_line_avx512bf16 rn_im2col_small_line_avx512
#pragma push_macro("RN_ROUND16")
#undef RN_ROUND16
#define RN_ROUND16(u) RN_ROUND16_NATIVE(u)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-function"
RN_PAIR_OPS(avx512bf16, __attribute__((target("avx512f,avx512vl,avx512bf16"))))
#pragma clang diagnostic pop
#pragma pop_macro("RN_ROUND16")
RN_IMPLICIT_OPS(avx512, __attribute__((target("avx512f,avx512vl"))))
RN_IMPLICIT_OPS(avx2, RN_AVX2_TARGET)
RN_FRAME_OPS(avx512, __attribute__((target("avx512f,avx512vl"))))
RN_FRAME_OPS(avx2, RN_AVX2_TARGET)
#endif

void rn_im2col_plane(const float *plane, const rn_unfold_geometry *g, float *out, ptrdiff_t ldc, float *padded,
                     const float *next) {
  RN_DISPATCH(rn_im2col_plane, plane, g, out, ldc, padded, next);
}

void rn_im2col_pairs(const float *sample, ptrdiff_t channels, const rn_unfold_geometry *g, ptrdiff_t first,
                     ptrdiff_t count, ptrdiff_t p0, ptrdiff_t n, void *dst, ptrdiff_t ldd, float *lines) {
#if defined(__x86_64__)
  if (rn_vector_level_bf16())
    return rn_im2col_pairs_avx512bf16(sample, channels, g, first, count, p0, n, dst, ldd, lines);
#endif
  RN_DISPATCH(rn_im2col_pairs, sample, channels, g, first, count, p0, n, dst, ldd, lines);
}

void rn_im2col_rows(const float *sample, const rn_unfold_geometry *g, ptrdiff_t first, ptrdiff_t count,
                    ptrdiff_t p0, ptrdiff_t n, float *dst, ptrdiff_t ldd) {
  RN_DISPATCH(rn_im2col_rows, sample, g, first, count, p0, n, dst, ldd);
}

void rn_im2col_pack(const float *sample, ptrdiff_t channels, const rn_unfold_geometry *g, ptrdiff_t first,
                    ptrdiff_t count, ptrdiff_t p0, ptrdiff_t n, ptrdiff_t column, ptrdiff_t nr, float *packed,
                    ptrdiff_t panel_stride, float *line) {
  RN_DISPATCH(rn_im2col_pack, sample, channels, g, first, count, p0, n, column, nr, packed, panel_stride, line);
}

void rn_col2im_stride1(const float *columns, ptrdiff_t ldc, const rn_unfold_geometry *g, float *plane,
                       int32_t accumulate, float *padded) {
  RN_DISPATCH(rn_col2im_s1, columns, ldc, g, plane, accumulate, padded);
}

void rn_pad_sample(const float *sample, ptrdiff_t channels, const rn_unfold_geometry *g, float *padded,
                   const float *next) {
  RN_DISPATCH(rn_pad_sample, sample, channels, g, padded, next);
}

void rn_pack_unfolded(const float *padded, const ptrdiff_t *offsets, ptrdiff_t kcur, const rn_unfold_geometry *g,
                      ptrdiff_t p0, ptrdiff_t ncols, ptrdiff_t nr, float *panel) {
  RN_DISPATCH(rn_pack_unfolded, padded, offsets, kcur, g, p0, ncols, nr, panel);
}

void rn_frame_planes(const float *source, ptrdiff_t planes, ptrdiff_t source_stride, ptrdiff_t height,
                     ptrdiff_t width, ptrdiff_t lead, float *target, ptrdiff_t target_stride) {
  RN_DISPATCH(rn_frame_planes, source, planes, source_stride, height, width, lead, target, target_stride);
}
