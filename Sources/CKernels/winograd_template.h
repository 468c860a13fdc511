// The F(2×2, 3×3) transforms, written once and instantiated per ISA by winograd.c, which defines:
//   RN_WSFX   name suffix (avx512, avx2, portable)
//   RN_WATTR  function attribute selecting the ISA (may be empty)
// and, before including this, rn_store_mask_<suffix>(float *p, rn_w16 v, uint32_t mask), which stores
// the lanes of v whose mask bit is set to p[lane], and rn_load_mask_<suffix> / rn_load_mask8_<suffix>
// (const float *p, uint32_t mask), which load them (the others zero); neither touches other lanes;
// and rn_pack_lanes_<suffix>(rn_w16 v, uint32_t mask), which returns the lanes of v whose mask bit
// is set, in lane order, in its first lanes (zeros after them); and the constant
// rn_masked_loads_cheap_<suffix>: whether the masked loads cost no more than whole ones (then they
// are used for every load, without branching on the mask).
//
// Tiles go 16 to a vector: p lanes per tile row (16, 8 or 4: the fewest that hold a row of tiles,
// which must be a power of two) and R = 16 / p consecutive tile rows per vector, so that narrow
// planes (8×8: 4 tiles a row) still fill the vectors. A chunk is R tile rows from ty, tiles tx ... of
// each; group k of its lanes (lanes k·p ..< (k+1)·p) is tile row ty + k.

#define RN_W_CAT_(a, b) a##_##b
#define RN_W_CAT(a, b) RN_W_CAT_(a, b)
#define RN_W(name) RN_W_CAT(name, RN_WSFX)

// Columns x ..< x + n (n = 16 or 8) of an input row, as lanes of a mask: those inside 0 ..< width.
static inline uint32_t RN_W(rn_column_mask)(ptrdiff_t x, ptrdiff_t n, ptrdiff_t width) {
  const ptrdiff_t lo = x < 0 ? -x : 0, hi = width - x < n ? width - x : n;
  return hi > lo ? RN_LANES(lo, hi) : 0;
}

// The 16 (or 8) floats at p, those outside `mask` read as zeros (and not read).
RN_WATTR static inline __attribute__((always_inline)) rn_w16 RN_W(rn_load16)(const float *p, uint32_t mask) {
  if (RN_W(rn_masked_loads_cheap)) return RN_W(rn_load_mask)(p, mask);  // no branches
  if (mask == 0xFFFF) return *(const rn_w16 *)p;
  if (!mask) return (rn_w16)0;
  return RN_W(rn_load_mask)(p, mask);
}
RN_WATTR static inline __attribute__((always_inline)) rn_w8 RN_W(rn_load8)(const float *p, uint32_t mask) {
  if (RN_W(rn_masked_loads_cheap)) return RN_W(rn_load_mask8)(p, mask);
  if (mask == 0xFF) return *(const rn_w8 *)p;
  if (!mask) return (rn_w8)0;
  return RN_W(rn_load_mask8)(p, mask);
}

// Which tiles of a chunk lie in first_tile ..< end_tile and in the plane: group k's tiles
// tx + lo[k] ..< tx + hi[k]. Returns whether there are any.
static inline int RN_W(rn_chunk_range)(ptrdiff_t ty, ptrdiff_t tx, ptrdiff_t p, ptrdiff_t groups, ptrdiff_t tiles_w,
                                       ptrdiff_t tiles_h, ptrdiff_t first_tile, ptrdiff_t end_tile, ptrdiff_t *lo,
                                       ptrdiff_t *hi) {
  int any = 0;
  for (ptrdiff_t k = 0; k < groups; k++) {
    const ptrdiff_t row = (ty + k) * tiles_w;
    ptrdiff_t a = first_tile - row - tx, b = end_tile - row - tx;
    if (a < 0) a = 0;
    if (b > p) b = p;
    if (b > tiles_w - tx) b = tiles_w - tx;
    if (ty + k >= tiles_h || b < a) b = a;
    lo[k] = a;
    hi[k] = b;
    any |= b > a;
  }
  return any;
}

// Stores a chunk's 16 tiles of one V[ξ] row (`row`: its column 0) as one whole vector from column
// `packed_at`, the first valid tile: the lanes as they are when they run from lane 0 to consecutive
// tiles, else the lanes of `packed_mask` packed together in lane order (a chunk starting mid-range,
// or tile rows narrower than their lanes). Lanes past the valid ones land on columns a later chunk
// writes, or on the 16 floats of slack past the row's last tile (masked stores are slow on Zen 4).
//
// In bf16 (`pair` non-zero), `row` is a pair row (32-bit words, the same units) and the values are
// rounded to bf16: pair 1, an even channel with a partner, keeps them in `pending` (the low halves);
// pair 3, the odd channel after it, stores them in the high halves over `pending`; pair 2, a channel
// count's last, unpaired even channel, stores them with the high halves zero. Pair 4: `row` is a row of
// bf16 halves (its address in floats, offsets from it in halves) and the rounded values are stored there.
RN_WATTR static inline __attribute__((always_inline)) void RN_W(rn_store_tiles)(
    float *row, rn_w16 value, const int contiguous, uint32_t packed_mask, ptrdiff_t packed_at, const int pair,
    rn_u32x16 *pending) {
  const rn_w16 packed = contiguous && (packed_mask & 1) ? value : RN_W(rn_pack_lanes)(value, packed_mask);
  if (!pair) {
    *(rn_w16 *)(row + packed_at) = packed;
    return;
  }
  rn_u32x16 bits;
  memcpy(&bits, &packed, 64);
  const rn_u32x16 rounded = RN_ROUND16(bits);
  if (pair == 4) {
    const rn_u16x16 halves = __builtin_convertvector(rounded, rn_u16x16);
    memcpy((uint16_t *)row + packed_at, &halves, 32);
    return;
  }
  if (pair == 1) {
    *pending = rounded;
    return;
  }
  const rn_u32x16 words = pair == 3 ? *pending | rounded << 16 : rounded;
  memcpy(row + packed_at, &words, 64);
}

// The input transform for R = groups, lanes mapping to consecutive tiles or not (compile-time
// constants in each inlined copy).
RN_WATTR static inline __attribute__((always_inline)) void RN_W(rn_winograd_input_groups)(
    const int groups, const int contiguous, const int bf16, const float *sample, ptrdiff_t channels,
    ptrdiff_t height, ptrdiff_t width, ptrdiff_t first_tile, ptrdiff_t end_tile, float *v, ptrdiff_t ldv,
    ptrdiff_t ms) {
  const ptrdiff_t tiles_w = (width + 1) / 2, tiles_h = (height + 1) / 2;
  const ptrdiff_t plane_size = height * width, p = 16 / groups;
  const ptrdiff_t first_row = first_tile / tiles_w, last_row = (end_tile - 1) / tiles_w;
  for (ptrdiff_t ty = first_row; ty <= last_row; ty += groups) {
    for (ptrdiff_t tx = 0; tx < tiles_w; tx += p) {
      ptrdiff_t lo[4], hi[4];
      if (!RN_W(rn_chunk_range)(ty, tx, p, groups, tiles_w, tiles_h, first_tile, end_tile, lo, hi)) continue;
      // The valid lanes, in lane order, are consecutive tiles of the range from packed_at (with tile
      // rows narrower than their lanes, p > tiles_w: tx = 0 and each group runs to its row's end).
      uint32_t packed_mask = 0;
      ptrdiff_t packed_at = -1;
      for (ptrdiff_t k = 0; k < groups; k++) {
        if (hi[k] <= lo[k]) continue;
        packed_mask |= RN_LANES(k * p + lo[k], k * p + hi[k]);
        if (packed_at < 0) packed_at = (ty + k) * tiles_w + tx + lo[k] - first_tile;
      }
      // Tile (ty + k, tx + j) reads input rows 2·(ty + k) − 1 + i (i = 0 ..< 4), columns 2·(tx + j) − 1 ...
      // 2·(tx + j) + 2: the even and odd lanes of the columns from 2·tx − 1 (d0, d1) and from 2·tx + 1
      // (d2, d3), in two halves (the low and high 16 columns of one row for R = 1, else groups
      // 0 ..< R/2 and R/2 ..< R). Rows and columns outside the plane read as zeros: row (i, k)'s offset
      // in the plane and whether it is inside, and each piece's column mask.
      ptrdiff_t offset[4][4];
      uint32_t inside[4][4];  // all ones (inside the plane) or 0
      for (int i = 0; i < 4; i++)
        for (int k = 0; k < groups; k++) {
          const ptrdiff_t h = 2 * (ty + k) - 1 + i;
          inside[i][k] = h >= 0 && h < height ? 0xFFFF : 0;
          offset[i][k] = h * width;
        }
      uint32_t columns[4];  // piece q = 2·shift + half
      for (int q = 0; q < 4; q++) {
        const ptrdiff_t x = 2 * tx - 1 + (q >> 1) * 2 + (groups == 1 ? (q & 1) * 16 : 0);
        columns[q] = RN_W(rn_column_mask)(x, groups == 4 ? 8 : 16, width);
      }
      rn_u32x16 pending[16];  // bf16: an even channel's 16 rounded rows, until its odd partner's
      // Planes at most 32 columns wide: the input rows the next chunk reads and this one does not, 2·R
      // whole rows (at most 64 floats from `ahead` in each plane), prefetched a channel at a time.
      const ptrdiff_t ahead = (2 * (ty + groups) + 1) * width;
      const int prefetch = tiles_w <= 16;
      for (ptrdiff_t c = 0; c < channels; c++) {
        const float *plane = sample + c * plane_size;
        if (prefetch) {
          const char *next = (const char *)(plane + ahead);
          __builtin_prefetch(next);
          __builtin_prefetch(next + 64);
          __builtin_prefetch(next + 128);
          __builtin_prefetch(next + 192);
          __builtin_prefetch(next + 252);
        }
#define RN_AT(i, k, q) (plane + offset[i][k] + 2 * tx - 1 + ((q) >> 1) * 2)
#define RN_PIECE(i, q)                                                                                    \
  (groups == 1   ? RN_W(rn_load16)(RN_AT(i, 0, q) + ((q) & 1) * 16, columns[q] & inside[i][0])                \
   : groups == 2 ? RN_W(rn_load16)(RN_AT(i, (q) & 1, q), columns[q] & inside[i][(q) & 1])                      \
                 : __builtin_shufflevector(                                                                    \
                     RN_W(rn_load8)(RN_AT(i, 2 * ((q) & 1), q), columns[q] & inside[i][2 * ((q) & 1)]),       \
                     RN_W(rn_load8)(RN_AT(i, 2 * ((q) & 1) + 1, q), columns[q] & inside[i][2 * ((q) & 1) + 1]), \
                     0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
        const rn_w16 a0 = RN_PIECE(0, 0), a1 = RN_PIECE(0, 1), a2 = RN_PIECE(0, 2), a3 = RN_PIECE(0, 3);
        const rn_w16 b0 = RN_PIECE(1, 0), b1 = RN_PIECE(1, 1), b2 = RN_PIECE(1, 2), b3 = RN_PIECE(1, 3);
        const rn_w16 c0 = RN_PIECE(2, 0), c1 = RN_PIECE(2, 1), c2 = RN_PIECE(2, 2), c3 = RN_PIECE(2, 3);
        const rn_w16 d0 = RN_PIECE(3, 0), d1 = RN_PIECE(3, 1), d2 = RN_PIECE(3, 2), d3 = RN_PIECE(3, 3);
#undef RN_PIECE
#undef RN_AT
        // bf16 2: rows of halves, ldv and ms counted in halves (ms even).
        float *row = bf16 == 2 ? (float *)((uint16_t *)v + c * ldv) : v + (bf16 ? c / 2 : c) * ldv;
        const ptrdiff_t row_ms = bf16 == 2 ? ms / 2 : ms;
        const int pair = !bf16 ? 0 : bf16 == 2 ? 4 : (c & 1) ? 3 : c + 1 < channels ? 1 : 2;
        // Row i of Bᵀ·d (its four pieces), then ·B along it: V[4i + j] for j = 0 ..< 4.
#define RN_ROW(i, e0, e1, e2, e3)                                                         \
  do {                                                                                    \
    const rn_w16 t0 = RN_EVENS(e0, e1), t1 = RN_ODDS(e0, e1);                             \
    const rn_w16 t2 = RN_EVENS(e2, e3), t3 = RN_ODDS(e2, e3);                             \
    RN_W(rn_store_tiles)(row + 4 * (i) * row_ms, t0 - t2, contiguous, packed_mask, packed_at, pair, pending + 4 * (i)); \
    RN_W(rn_store_tiles)(row + (4 * (i) + 1) * row_ms, t1 + t2, contiguous, packed_mask, packed_at, pair,               \
                         pending + 4 * (i) + 1);                                                                   \
    RN_W(rn_store_tiles)(row + (4 * (i) + 2) * row_ms, t2 - t1, contiguous, packed_mask, packed_at, pair,               \
                         pending + 4 * (i) + 2);                                                                   \
    RN_W(rn_store_tiles)(row + (4 * (i) + 3) * row_ms, t1 - t3, contiguous, packed_mask, packed_at, pair,               \
                         pending + 4 * (i) + 3);                                                                   \
  } while (0)
        RN_ROW(0, a0 - c0, a1 - c1, a2 - c2, a3 - c3);
        RN_ROW(1, b0 + c0, b1 + c1, b2 + c2, b3 + c3);
        RN_ROW(2, c0 - b0, c1 - b1, c2 - b2, c3 - b3);
        RN_ROW(3, b0 - d0, b1 - d1, b2 - d2, b3 - d3);
#undef RN_ROW
      }
    }
  }
}

// The entry points: float32 V; V in bf16 pair rows; V in bf16 rows.
#define RN_INPUT_ENTRY(name, bf16, vtype)                                                                     \
  RN_WATTR static void RN_W(name)(const float *sample, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width, \
                                  ptrdiff_t first_tile, ptrdiff_t end_tile, vtype *v, ptrdiff_t ldv,          \
                                  ptrdiff_t ms) {                                                             \
    RN_BY_LAYOUT((width + 1) / 2, RN_INPUT_CALL_##bf16);                                                      \
  }
#define RN_INPUT_GROUPS(groups, contiguous, bf16)                                                              \
  RN_W(rn_winograd_input_groups)(groups, contiguous, bf16, sample, channels, height, width, first_tile, end_tile, \
                                 (float *)v, ldv, ms)
#define RN_INPUT_CALL_0(groups, contiguous) RN_INPUT_GROUPS(groups, contiguous, 0)
#define RN_INPUT_CALL_1(groups, contiguous) RN_INPUT_GROUPS(groups, contiguous, 1)
#define RN_INPUT_CALL_2(groups, contiguous) RN_INPUT_GROUPS(groups, contiguous, 2)
RN_INPUT_ENTRY(rn_winograd_input, 0, float)
RN_INPUT_ENTRY(rn_winograd_input_bf16, 1, void)
RN_INPUT_ENTRY(rn_winograd_input_bf16_rows, 2, void)
#undef RN_INPUT_CALL_0
#undef RN_INPUT_CALL_1
#undef RN_INPUT_CALL_2
#undef RN_INPUT_GROUPS
#undef RN_INPUT_ENTRY

// The 16 tiles of a chunk from row `m` of one M[ξ] (tile t at m[t − first_tile]), lane k·p + j
// holding tile (ty + k, tx + j). Reads whole vectors around the tiles.
RN_WATTR static inline __attribute__((always_inline)) rn_w16 RN_W(rn_load_chunk)(const float *m, const int groups,
                                                                               const int contiguous, ptrdiff_t at,
                                                                               ptrdiff_t tiles_w) {
  if (contiguous) return *(const rn_w16 *)(m + at);
  // Group k's tiles start at at + k·(tiles_w − p): read there, shifted so that they land in its lanes.
  const ptrdiff_t p = 16 / groups, step = tiles_w - p;
  const rn_w16 l0 = *(const rn_w16 *)(m + at), l1 = *(const rn_w16 *)(m + at + step);
  if (groups == 2)
    return __builtin_shufflevector(l0, l1, 0, 1, 2, 3, 4, 5, 6, 7, 24, 25, 26, 27, 28, 29, 30, 31);
  const rn_w16 l2 = *(const rn_w16 *)(m + at + 2 * step), l3 = *(const rn_w16 *)(m + at + 3 * step);
  const rn_w16 a = __builtin_shufflevector(l0, l1, 0, 1, 2, 3, 20, 21, 22, 23, 8, 9, 10, 11, 12, 13, 14, 15);
  const rn_w16 b = __builtin_shufflevector(l2, l3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 28, 29, 30, 31);
  return __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 24, 25, 26, 27, 28, 29, 30, 31);
}

// The output epilogue of 16 (or 8) floats bound for `target`: plus the residual at the same place
// in `residual`'s planes (when not NULL), then max(·, 0) keeping NaN (when relu).
#define RN_EPILOGUE(type, itype, v, target)                                                        \
  do {                                                                                             \
    if (residual) v += *(const type *)(residual + ((target) - output));                            \
    if (relu) v = (type)((itype)v & ~(v < 0));                                                     \
  } while (0)

// Lanes `mask` (a range of lanes, RN_LANES) of v with the epilogue — plus the residual's same lanes from
// residual_base (when not NULL), then max(·, 0) keeping NaN (when relu) — lane L to base[L]; all 16 as one
// whole store.
RN_WATTR static inline __attribute__((always_inline)) void RN_W(rn_store_mask_epilogue)(
    float *base, rn_w16 v, uint32_t mask, const float *residual_base, int relu) {
  if (residual_base) v += RN_W(rn_load16)(residual_base, mask);
  if (relu) v = (rn_w16)((rn_wi16)v & ~(v < 0));
  if (mask == 0xFFFF)
    *(rn_w16 *)base = v;
  else
    RN_W(rn_store_mask)(base, v, mask);
}

// rn_store_mask_epilogue of lanes lo ..< hi (clamped to 0 ..< 16).
RN_WATTR static inline void RN_W(rn_store_range_epilogue)(float *base, rn_w16 v, ptrdiff_t lo, ptrdiff_t hi,
                                                          const float *residual_base, int relu) {
  if (lo < 0) lo = 0;
  if (hi > 16) hi = 16;
  if (hi <= lo) return;
  RN_W(rn_store_mask_epilogue)(base, v, RN_LANES(lo, hi), residual_base, relu);
}

RN_WATTR static inline __attribute__((always_inline)) void RN_W(rn_winograd_output_groups)(
    const int groups, const int contiguous, const float *m, ptrdiff_t channels, ptrdiff_t ldm, ptrdiff_t ms, const float *bias,
    const float *residual, int relu, ptrdiff_t height, ptrdiff_t width, ptrdiff_t first_tile, ptrdiff_t end_tile,
    float *output) {
  const ptrdiff_t tiles_w = (width + 1) / 2, tiles_h = (height + 1) / 2, p = 16 / groups;
  const ptrdiff_t first_row = first_tile / tiles_w, last_row = (end_tile - 1) / tiles_w;
  for (ptrdiff_t ty = first_row; ty <= last_row; ty += groups) {
    for (ptrdiff_t tx = 0; tx < tiles_w; tx += p) {
      ptrdiff_t lo[4], hi[4];
      if (!RN_W(rn_chunk_range)(ty, tx, p, groups, tiles_w, tiles_h, first_tile, end_tile, lo, hi)) continue;
      const ptrdiff_t at = ty * tiles_w + tx - first_tile;
      // Every group whole, inside the plane's columns, with both its output rows in the plane.
      int full = 2 * (tx + p) <= width && 2 * (ty + groups) <= height;
      for (ptrdiff_t k = 0; k < groups; k++) full &= lo[k] == 0 && hi[k] == p;
      // Otherwise, every group in the plane whole up to the plane's right edge (the chunk cut only by the
      // plane's edges): its output rows, the first `rows` of 2·R, each hold `columns` floats from column
      // 2·tx, the lanes of `edge_mask` (groups 2 and 4; groups 1: of edge_mask and edge_mask_high for the
      // row's two halves).
      int edge = !full;
      const ptrdiff_t in_row = tiles_w - tx < p ? tiles_w - tx : p;
      for (ptrdiff_t k = 0; k < groups; k++) edge &= ty + k >= tiles_h || (lo[k] == 0 && hi[k] == in_row);
      const ptrdiff_t columns = width - 2 * tx < 2 * p ? width - 2 * tx : 2 * p;
      const ptrdiff_t rows = height - 2 * ty < 2 * groups ? height - 2 * ty : 2 * groups;
      const uint32_t edge_mask = RN_LANES(0, columns < 16 ? columns : 16);
      const uint32_t edge_mask_high = columns > 16 ? RN_LANES(0, columns - 16) : 0;
      for (ptrdiff_t c = 0; c < channels; c++) {
        const float *s = m + c * ldm;
        // Aᵀ·m down the columns (j), then ·A along the rows.
        rn_w16 s0[4], s1[4];
        for (int j = 0; j < 4; j++) {
          const rn_w16 m1 = RN_W(rn_load_chunk)(s + (4 + j) * ms, groups, contiguous, at, tiles_w);
          const rn_w16 m2 = RN_W(rn_load_chunk)(s + (8 + j) * ms, groups, contiguous, at, tiles_w);
          s0[j] = RN_W(rn_load_chunk)(s + j * ms, groups, contiguous, at, tiles_w) + m1 + m2;
          s1[j] = m1 - m2 - RN_W(rn_load_chunk)(s + (12 + j) * ms, groups, contiguous, at, tiles_w);
        }
        rn_w16 y00 = s0[0] + s0[1] + s0[2], y01 = s0[1] - s0[2] - s0[3];
        rn_w16 y10 = s1[0] + s1[1] + s1[2], y11 = s1[1] - s1[2] - s1[3];
        if (bias) {
          const float b = bias[c];
          y00 += b;
          y01 += b;
          y10 += b;
          y11 += b;
        }
        // Output rows as 32 floats (two halves): float f = 2·lane + column of the tile, so group k
        // holds floats 2·k·p ..< 2·(k+1)·p, float f going to column 2·tx + f − 2·k·p of its rows.
        const rn_w16 top[2] = {RN_LOW_PAIRS(y00, y01), RN_HIGH_PAIRS(y00, y01)};
        const rn_w16 bottom[2] = {RN_LOW_PAIRS(y10, y11), RN_HIGH_PAIRS(y10, y11)};
        float *plane = output + c * height * width;
        if (full) {
          // Group k's 2·p floats go to columns 2·tx ... of rows 2·(ty + k) and 2·(ty + k) + 1.
          float *row = plane + 2 * ty * width + 2 * tx;
#define RN_STORE16(target, value)                   \
  do {                                              \
    rn_w16 v16 = (value);                           \
    RN_EPILOGUE(rn_w16, rn_wi16, v16, (target));    \
    *(rn_w16 *)(target) = v16;                      \
  } while (0)
#define RN_STORE8(target, value)                    \
  do {                                              \
    rn_w8 v8 = (value);                             \
    RN_EPILOGUE(rn_w8, rn_wi8, v8, (target));       \
    *(rn_w8 *)(target) = v8;                        \
  } while (0)
          if (groups == 1) {
            RN_STORE16(row, top[0]);
            RN_STORE16(row + 16, top[1]);
            RN_STORE16(row + width, bottom[0]);
            RN_STORE16(row + width + 16, bottom[1]);
          } else if (groups == 2) {
            RN_STORE16(row, top[0]);
            RN_STORE16(row + width, bottom[0]);
            RN_STORE16(row + 2 * width, top[1]);
            RN_STORE16(row + 3 * width, bottom[1]);
          } else {
            for (int half = 0; half < 2; half++) {
              float *pair = row + 4 * half * width;  // groups 2·half and 2·half + 1
              RN_STORE8(pair, __builtin_shufflevector(top[half], top[half], 0, 1, 2, 3, 4, 5, 6, 7));
              RN_STORE8(pair + width, __builtin_shufflevector(bottom[half], bottom[half], 0, 1, 2, 3, 4, 5, 6, 7));
              RN_STORE8(pair + 2 * width, __builtin_shufflevector(top[half], top[half], 8, 9, 10, 11, 12, 13, 14, 15));
              RN_STORE8(pair + 3 * width,
                        __builtin_shufflevector(bottom[half], bottom[half], 8, 9, 10, 11, 12, 13, 14, 15));
            }
          }
#undef RN_STORE16
#undef RN_STORE8
          continue;
        }
        if (edge) {
          // Row r of the chunk's output rows (r < rows) from lanes `mask` of `value`, with the epilogue.
          float *row = plane + 2 * ty * width + 2 * tx;
#define RN_STORE_ROW(r, offset, value, mask)                                                          \
  do {                                                                                                \
    if ((r) < rows) {                                                                                 \
      float *target_ = row + (r) * width + (offset);                                                  \
      RN_W(rn_store_mask_epilogue)(target_, (value), (mask), residual ? residual + (target_ - output) : NULL, \
                                   relu);                                                             \
    }                                                                                                 \
  } while (0)
#define RN_LANES8(v, first)                                                                      \
  __builtin_shufflevector(v, v, first, first + 1, first + 2, first + 3, first + 4, first + 5, first + 6, \
                          first + 7, 0, 1, 2, 3, 4, 5, 6, 7)
          if (groups == 1) {
            RN_STORE_ROW(0, 0, top[0], edge_mask);
            if (edge_mask_high) RN_STORE_ROW(0, 16, top[1], edge_mask_high);
            RN_STORE_ROW(1, 0, bottom[0], edge_mask);
            if (edge_mask_high) RN_STORE_ROW(1, 16, bottom[1], edge_mask_high);
          } else if (groups == 2) {
            RN_STORE_ROW(0, 0, top[0], edge_mask);
            RN_STORE_ROW(1, 0, bottom[0], edge_mask);
            RN_STORE_ROW(2, 0, top[1], edge_mask);
            RN_STORE_ROW(3, 0, bottom[1], edge_mask);
          } else {
            // Group k's 8 floats: lanes 8·(k mod 2) ... of top and bottom [k / 2].
            RN_STORE_ROW(0, 0, RN_LANES8(top[0], 0), edge_mask);
            RN_STORE_ROW(1, 0, RN_LANES8(bottom[0], 0), edge_mask);
            RN_STORE_ROW(2, 0, RN_LANES8(top[0], 8), edge_mask);
            RN_STORE_ROW(3, 0, RN_LANES8(bottom[0], 8), edge_mask);
            RN_STORE_ROW(4, 0, RN_LANES8(top[1], 0), edge_mask);
            RN_STORE_ROW(5, 0, RN_LANES8(bottom[1], 0), edge_mask);
            RN_STORE_ROW(6, 0, RN_LANES8(top[1], 8), edge_mask);
            RN_STORE_ROW(7, 0, RN_LANES8(bottom[1], 8), edge_mask);
          }
#undef RN_LANES8
#undef RN_STORE_ROW
          continue;
        }
        for (ptrdiff_t k = 0; k < groups; k++) {
          if (hi[k] <= lo[k]) continue;
          const ptrdiff_t h = 2 * (ty + k), first = 2 * k * p;
          const ptrdiff_t f_lo = first + 2 * lo[k];
          const ptrdiff_t f_hi = first + (2 * hi[k] < width - 2 * tx ? 2 * hi[k] : width - 2 * tx);
          float *row = plane + h * width + 2 * tx - first;  // where float 0 would go
          for (int half = 0; half < 2; half++) {
            if (f_hi <= 16 * half || f_lo >= 16 * (half + 1)) continue;
            float *target = row + 16 * half;
            RN_W(rn_store_range_epilogue)(target, top[half], f_lo - 16 * half, f_hi - 16 * half,
                                          residual ? residual + (target - output) : NULL, relu);
            if (h + 1 < height)
              RN_W(rn_store_range_epilogue)(target + width, bottom[half], f_lo - 16 * half, f_hi - 16 * half,
                                            residual ? residual + (target + width - output) : NULL, relu);
          }
        }
      }
    }
  }
}

RN_WATTR static void RN_W(rn_winograd_output)(const float *m, ptrdiff_t channels, ptrdiff_t ldm, ptrdiff_t ms,
                                              const float *bias, const float *residual, int relu, ptrdiff_t height,
                                              ptrdiff_t width, ptrdiff_t first_tile, ptrdiff_t end_tile,
                                              float *output) {
#define RN_OUTPUT(groups, contiguous)                                                                      \
  RN_W(rn_winograd_output_groups)(groups, contiguous, m, channels, ldm, ms, bias, residual, relu, height, \
                                  width, first_tile, end_tile, output)
  RN_BY_LAYOUT((width + 1) / 2, RN_OUTPUT);
#undef RN_OUTPUT
}

// One tile's output-gradient transform on `n` channels (a vector or a scalar tail), the rows and
// columns present as compile-time constants: dm[ξ·ms + o] = (A·dY·Aᵀ)[ξ] for o < n.
#define RN_GRADIENT_TILE(T, LOAD, STORE)                                                               \
  do {                                                                                                 \
    const T p_ = LOAD(top), q_ = has_column ? LOAD(top + channels) : (T)0;                             \
    const T r_ = has_row ? LOAD(top + row_stride) : (T)0;                                              \
    const T s_ = has_row && has_column ? LOAD(top + row_stride + channels) : (T)0;                     \
    /* Down the columns: row i of A·dY, as its two columns (e, f). */                                  \
    const T e[4] = {p_, p_ + r_, p_ - r_, -r_}, f[4] = {q_, q_ + s_, q_ - s_, -s_};                     \
    for (int i = 0; i < 4; i++) {                                                                      \
      STORE(out + (4 * i) * ms, e[i]);                                                                 \
      STORE(out + (4 * i + 1) * ms, e[i] + f[i]);                                                      \
      STORE(out + (4 * i + 2) * ms, e[i] - f[i]);                                                      \
      STORE(out + (4 * i + 3) * ms, -f[i]);                                                            \
    }                                                                                                  \
  } while (0)
#define RN_LOAD_VECTOR(p) (*(const rn_w16 *)(p))
#define RN_STORE_VECTOR(p, v) (*(rn_w16 *)(p) = (v))
#define RN_LOAD_SCALAR(p) (*(p))
#define RN_STORE_SCALAR(p, v) (*(p) = (v))
// RN_GRADIENT_TILE for every channel of a tile (`pixel`, `channels`, `dm` of type OUT *): 16 at a time on
// vectors, then the rest one by one.
#define RN_GRADIENT_CHANNELS(OUT, STORE_VECTOR, STORE_SCALAR)        \
  do {                                                              \
    ptrdiff_t o = 0;                                                \
    for (; o + 16 <= channels; o += 16) {                           \
      const float *const top = pixel + o;                           \
      OUT *const out = dm + o;                                      \
      RN_GRADIENT_TILE(rn_w16, RN_LOAD_VECTOR, STORE_VECTOR);       \
    }                                                               \
    for (; o < channels; o++) {                                     \
      const float *const top = pixel + o;                           \
      OUT *const out = dm + o;                                      \
      RN_GRADIENT_TILE(float, RN_LOAD_SCALAR, STORE_SCALAR);        \
    }                                                               \
  } while (0)

RN_WATTR static inline __attribute__((always_inline)) void RN_W(rn_winograd_gradient_tile)(
    const int has_row, const int has_column, const float *pixel, ptrdiff_t channels, ptrdiff_t row_stride,
    float *dm, ptrdiff_t ms) {
  RN_GRADIENT_CHANNELS(float, RN_STORE_VECTOR, RN_STORE_SCALAR);
}

RN_WATTR static void RN_W(rn_winograd_gradient_output)(const float *gradient, ptrdiff_t channels,
                                                       ptrdiff_t height, ptrdiff_t width, ptrdiff_t first_tile,
                                                       ptrdiff_t end_tile, float *dm, ptrdiff_t ms) {
  const ptrdiff_t tiles_w = (width + 1) / 2, row_stride = width * channels;
  for (ptrdiff_t t = first_tile; t < end_tile; t++) {
    const ptrdiff_t ty = t / tiles_w, tx = t % tiles_w;
    const float *top = gradient + (2 * ty * width + 2 * tx) * channels;  // pixel (2·ty, 2·tx)
    float *out = dm + (t - first_tile) * channels;
    const int has_row = 2 * ty + 1 < height, has_column = 2 * tx + 1 < width;
    if (has_row && has_column) RN_W(rn_winograd_gradient_tile)(1, 1, top, channels, row_stride, out, ms);
    else if (has_row) RN_W(rn_winograd_gradient_tile)(1, 0, top, channels, row_stride, out, ms);
    else if (has_column) RN_W(rn_winograd_gradient_tile)(0, 1, top, channels, row_stride, out, ms);
    else RN_W(rn_winograd_gradient_tile)(0, 0, top, channels, row_stride, out, ms);
  }
}

// rn_winograd_gradient_output into bf16 pair rows: tile t's values rounded to bf16 go to the low (column
// even) or high (column odd) halves of the words of pair row column / 2, column = first_column + t −
// first_tile. An even column stores whole words with the high halves zero, an odd one adds its halves to
// them (so tiles go in column order, an even column before the odd one after it).
#define RN_STORE_PAIR_VECTOR(p, v)                    \
  do {                                                \
    rn_u32x16 bits_;                                  \
    const rn_w16 v_ = (v);                            \
    memcpy(&bits_, &v_, 64);                          \
    const rn_u32x16 rounded_ = RN_ROUND16(bits_);     \
    uint32_t *const word_ = (uint32_t *)(p);          \
    rn_u32x16 pair_;                                  \
    if (high) {                                       \
      memcpy(&pair_, word_, 64);                      \
      pair_ |= rounded_ << 16;                        \
    } else {                                          \
      pair_ = rounded_;                               \
    }                                                 \
    memcpy(word_, &pair_, 64);                        \
  } while (0)
#define RN_STORE_PAIR_SCALAR(p, v)                                          \
  do {                                                                      \
    uint32_t *const word_ = (uint32_t *)(p);                                \
    const uint32_t rounded_ = rn_bf16_round(v);                             \
    *word_ = high ? *word_ | rounded_ << 16 : rounded_;                     \
  } while (0)

RN_WATTR static inline __attribute__((always_inline)) void RN_W(rn_winograd_gradient_tile_bf16)(
    const int has_row, const int has_column, const int high, const float *pixel, ptrdiff_t channels,
    ptrdiff_t row_stride, uint32_t *dm, ptrdiff_t ms) {
  RN_GRADIENT_CHANNELS(uint32_t, RN_STORE_PAIR_VECTOR, RN_STORE_PAIR_SCALAR);
}

RN_WATTR static void RN_W(rn_winograd_gradient_output_bf16)(const float *gradient, ptrdiff_t channels,
                                                            ptrdiff_t height, ptrdiff_t width, ptrdiff_t first_tile,
                                                            ptrdiff_t end_tile, void *dm, ptrdiff_t ms,
                                                            ptrdiff_t first_column) {
  const ptrdiff_t tiles_w = (width + 1) / 2, row_stride = width * channels;
  for (ptrdiff_t t = first_tile; t < end_tile; t++) {
    const ptrdiff_t ty = t / tiles_w, tx = t % tiles_w, column = first_column + t - first_tile;
    const float *top = gradient + (2 * ty * width + 2 * tx) * channels;  // pixel (2·ty, 2·tx)
    uint32_t *out = (uint32_t *)dm + column / 2 * channels;
    const int has_row = 2 * ty + 1 < height, has_column = 2 * tx + 1 < width, high = column & 1;
#define RN_TILE(r, c)                                                                                    \
  (high ? RN_W(rn_winograd_gradient_tile_bf16)(r, c, 1, top, channels, row_stride, out, ms)              \
        : RN_W(rn_winograd_gradient_tile_bf16)(r, c, 0, top, channels, row_stride, out, ms))
    if (has_row && has_column) RN_TILE(1, 1);
    else if (has_row) RN_TILE(1, 0);
    else if (has_column) RN_TILE(0, 1);
    else RN_TILE(0, 0);
#undef RN_TILE
  }
}
#undef RN_STORE_PAIR_VECTOR
#undef RN_STORE_PAIR_SCALAR
#undef RN_GRADIENT_CHANNELS
#undef RN_GRADIENT_TILE
#undef RN_LOAD_VECTOR
#undef RN_STORE_VECTOR
#undef RN_LOAD_SCALAR
#undef RN_STORE_SCALAR

#undef RN_W
#undef RN_W_CAT
#undef RN_W_CAT_
