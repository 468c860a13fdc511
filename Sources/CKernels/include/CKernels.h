// CKernels: the ISA-specific SGEMM micro-kernels and the few CPU helpers Swift cannot express.
// Everything else (blocking, packing, threading) lives in the Swift target ResNetKernels.
#ifndef RESNET_CKERNELS_H
#define RESNET_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The scalars of a GEMM update C = alpha·A·B + beta·C, passed by value.
typedef struct {
  float alpha, beta;
} rn_scales;

/// How far past the end of a row (or a buffer) the kernels' whole-vector loads and stores may reach,
/// in floats: one 16-float vector. A buffer that a kernel reads or writes by whole vectors carries
/// this much slack after its last valid float (each function's comment says which rows need it).
#define RN_VECTOR_SLACK 16
/// How far before a row's first tile and after its last rn_winograd_output reads, in floats.
#define RN_WINOGRAD_OUTPUT_READ_SLACK 32

/// A convolution's epilogue applied to a finished tile of C by a micro-kernel (float32 or bf16) as it
/// stores it, in rn_affine's arithmetic with scale 1: out[r][j] = relu?(C[r][j] + bias[r] (+
/// residual[r][j])), where relu keeps NaN and -0. Pointers are at the tile's first row and column;
/// `residual` may be `out` (read before it is written) or NULL; `out` may be C.
typedef struct {
  const float *bias;      // one per row of the tile
  const float *residual;  // rows ldo apart, or NULL
  float *out;             // rows ldo apart
  ptrdiff_t ldo;
  int32_t relu;
} rn_tile_epilogue;

/// A micro-kernel computes one m x n tile of C (m and the vector count fixed by the variant):
///   C[0:m, 0:n] = scales.alpha * A[0:m, 0:kc] * B[0:kc, 0:nr] (first n columns) + scales.beta * C[0:m, 0:n]
/// A[r][k] is read at a[r * a_rs + k * a_cs] (in place or packed); row k of B is the nr floats at
/// b + k * b_rs (a packed panel with b_rs == nr, zero-padded past n, or B in place); C is row-major
/// with row stride ldc. With beta == 0, C is never read (it may hold NaN). While it runs, the kernel
/// prefetches the nr floats at b_prefetch + k * b_rs for each k (the next panel of B), unless
/// b_prefetch is NULL. With an `epilogue`, the tile goes through it to its `out` instead of to C.
typedef void (*rn_sgemm_ukernel_fn)(ptrdiff_t kc, const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                                    const float *b, ptrdiff_t b_rs, float *c, ptrdiff_t ldc,
                                    rn_scales scales, ptrdiff_t n, const float *b_prefetch,
                                    const rn_tile_epilogue *epilogue);

/// What a kernel family computes per call: at most mr rows and nr = vectors * width columns.
typedef struct {
  const char *name;  // "avx512", "avx2", "portable"
  int32_t mr;        // rows of the largest tile
  int32_t width;     // floats per SIMD vector
  int32_t vectors;   // SIMD vectors per tile row (nr = vectors * width)
} rn_sgemm_family_info;

/// Number of kernel families compiled in (supported by this CPU or not), best first.
int32_t rn_sgemm_family_count(void);
/// Whether this CPU (and OS) can run family `family`.
int32_t rn_sgemm_family_supported(int32_t family);
/// The tile shape and name of family `family`.
rn_sgemm_family_info rn_sgemm_family(int32_t family);
/// The variant of family `family` for `m` rows (1...mr) and `vectors` SIMD vectors (1...vectors).
rn_sgemm_ukernel_fn rn_sgemm_ukernel(int32_t family, int32_t m, int32_t vectors);

/// Scatters one row of B into GEMM panels: for p in 0..<panels, copies the `nr` floats at
/// `source + p * nr` to `target + p * panel_stride`, and prefetches the same span of the row at
/// `ahead` (a later row of B), one cache line per line copied, so that B's short row streams arrive
/// from memory in time. `nr` is a multiple of 8.
void rn_pack_row(const float *source, ptrdiff_t panels, ptrdiff_t nr, float *target,
                 ptrdiff_t panel_stride, const float *ahead);

/// Cuts a row of `n` floats into runs of `width` (the last one shorter when `width` does not divide
/// `n`): run r, the floats at `source + r·width`, goes to `target + r·stride`.
void rn_pack_runs(const float *source, ptrdiff_t n, ptrdiff_t width, float *target, ptrdiff_t stride);

/// Packs the transpose of B stored n × k as one GEMM panel: panel[kk·nr + j] = b[j·ldb + kk] for
/// kk < depth and j < width (≤ nr), zero for width ≤ j < nr; by 16×16 blocks transposed in registers.
void rn_pack_columns(const float *b, ptrdiff_t ldb, ptrdiff_t width, ptrdiff_t depth, ptrdiff_t nr, float *panel);
/// Transposes `planes` planes of `pixels` floats (planes × pixels) into pixels × planes at target.
void rn_transpose_planes(const float *source, ptrdiff_t planes, ptrdiff_t pixels, float *target);

/// A spin-wait hint (x86 `pause`, arm64 `yield`).
void rn_cpu_relax(void);
/// Does nothing with `p`: a call the Swift optimizer cannot see through, which keeps a buffer alive.
void rn_keep(const void *p);

/// BatchNorm's plane passes and col2im's adds on the widest vectors the CPU has (channel_ops.c).
/// Σ x[0..<n], summed in 16 lanes, then across them.
float rn_plane_sum(const float *x, ptrdiff_t n);
/// Σ (x[i] − mean)², in the order of rn_plane_sum.
float rn_plane_squared_deviations(const float *x, ptrdiff_t n, float mean);
/// Zeroes g where mask (if not null) is not positive, then returns Σ g and Σ g·(x − mean).
void rn_plane_gradient_sums(float *g, const float *x, const float *mask, ptrdiff_t n, float mean, float *sum_g,
                            float *sum_gx);
/// dx = scale·g − shift − a·(x − mean).
void rn_plane_bn_input_gradient(const float *g, const float *x, float *dx, ptrdiff_t n, float scale, float shift,
                                float a, float mean);
/// y = x·scale + shift (+ residual, if not null), then max(·, 0) keeping NaN when relu is non-zero.
void rn_plane_affine(const float *x, const float *residual, float *y, ptrdiff_t n, float scale, float shift,
                     int32_t relu);
/// target[i] += source[i] for i < n.
void rn_add_floats(const float *source, float *target, ptrdiff_t n);
/// y[i] = a[i] + b[i] for i < n; y may be a or b (not otherwise overlapping either).
void rn_sum_floats(const float *a, const float *b, float *y, ptrdiff_t n);

/// A max pooling's plane geometry for rn_max_pool_plane: the input plane, the window (kernel, stride,
/// padding, dilation) and the output plane.
typedef struct {
  ptrdiff_t height, width;
  ptrdiff_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  ptrdiff_t out_h, out_w;
} rn_pool_geometry;

/// Max pooling of one plane for inference (max_pool.c): y[oh][ow] = the first maximum (NaN counting as
/// the largest; of equal values the first in row-major order) of the window's input values, the
/// padding excluded. Two passes: each input row's window maxima go to `row_max` (height × out_w) —
/// for stride 2 and dilation 1 read from the row itself, 16 windows at a time, otherwise from a copy
/// of the row in `padded` at offset pad_w (whose other floats the caller sets to −∞ once: at least
/// pad_w + width and (out_w − 1)·stride_w + (kernel_w − 1)·dilation_w + 1 floats); then each output
/// row is the first maximum of its window's rows there. An output row whose window holds no input
/// row is not written.
void rn_max_pool_plane(const float *x, const rn_pool_geometry *g, float *padded, float *row_max, float *y);

/// A convolution's plane geometry for rn_im2col_plane and rn_col2im_stride1 (im2col.c). Paddings are
/// not negative; output_width = (width + 2·pad_width − dilation_width·(kernel_width − 1) − 1) /
/// stride_width + 1, and the same for the height.
typedef struct {
  ptrdiff_t height, width, kernel_height, kernel_width, pad_height, pad_width;
  ptrdiff_t dilation_height, dilation_width, stride_height, stride_width, output_height, output_width;
} rn_unfold_geometry;

/// im2col of one plane (height × width): tap (i, j)'s row, output_height × output_width floats, goes
/// to out + (i·kernel_width + j)·ldc. `padded` is scratch of height × (width + 2·pad_width) + RN_VECTOR_SLACK floats.
/// The plane at `next` (the next one to unfold, or NULL) is prefetched meanwhile.
void rn_im2col_plane(const float *plane, const rn_unfold_geometry *g, float *out, ptrdiff_t ldc, float *padded,
                     const float *next);
/// Pair rows (as rn_bf16_pair_rows writes them) `first ..< first + count` of one sample's im2col matrix
/// (channels × kernel_height × kernel_width rows; output pixels p0 ..< p0 + n as its columns), without
/// the float32 matrix: pair row first + q goes to dst + q·ldd words. `lines` is scratch of 2·n +
/// RN_VECTOR_SLACK floats.
void rn_im2col_pairs(const float *sample, ptrdiff_t channels, const rn_unfold_geometry *g, ptrdiff_t first,
                     ptrdiff_t count, ptrdiff_t p0, ptrdiff_t n, void *dst, ptrdiff_t ldd, float *lines);
/// Rows `first ..< first + count` of one sample's im2col matrix at output pixels p0 ..< p0 + n, row
/// first + q to dst + q·ldd (n floats each, nothing past them). Values are moved, never computed on, so
/// the same unfolds any 32-bit words, such as bf16 pairs.
void rn_im2col_rows(const float *sample, const rn_unfold_geometry *g, ptrdiff_t first, ptrdiff_t count,
                    ptrdiff_t p0, ptrdiff_t n, float *dst, ptrdiff_t ldd);
/// Rows `first ..< first + count` of one sample's im2col matrix (the sample: `channels` planes) at
/// output pixels p0 ..< p0 + n, packed as a GEMM's B panels: column x of the range goes to block
/// column `column` + x, i.e. to panel (column + x) / nr (panels `panel_stride` floats apart, rows nr
/// floats apart) at lane (column + x) % nr, and row first + q to that panel's row q. Only those floats
/// are written. `line` is scratch of n + RN_VECTOR_SLACK floats, where each row is unfolded first (in L1).
void rn_im2col_pack(const float *sample, ptrdiff_t channels, const rn_unfold_geometry *g, ptrdiff_t first,
                    ptrdiff_t count, ptrdiff_t p0, ptrdiff_t n, ptrdiff_t column, ptrdiff_t nr, float *packed,
                    ptrdiff_t panel_stride, float *line);
/// col2im of one plane of a stride-1 convolution, the adjoint of rn_im2col_plane: each plane entry
/// is its taps' column entries summed in tap order (starting from the entry itself when `accumulate` is non-zero, else from
/// 0). `padded` is scratch as for rn_im2col_plane.
void rn_col2im_stride1(const float *columns, ptrdiff_t ldc, const rn_unfold_geometry *g, float *plane,
                       int32_t accumulate, float *padded);

/// Copies the `channels` planes of one sample (height × width each) to `padded`, each plane framed by
/// pad_height zero rows and pad_width zero columns on every side:
/// channels × (height + 2·pad_height) × (width + 2·pad_width) floats. The sample at `next` (the next
/// one to pad, or NULL) is prefetched into L2 meanwhile.
void rn_pad_sample(const float *sample, ptrdiff_t channels, const rn_unfold_geometry *g, float *padded,
                   const float *next);
/// Packs kcur rows, columns p0..<p0+ncols of the im2col matrix of one sample, read from its
/// rn_pad_sample copy, as a GEMM B panel: kcur rows of nr floats, zero past ncols (ncols ≤ nr). Row kk
/// reads output pixel (oh, ow) at padded[offsets[kk] + oh·(width + 2·pad_width) + ow]. Copies are whole
/// 16-float vectors: up to 15 floats past a row's last run are read from `padded`, and written past the
/// panel's end, so both need RN_VECTOR_SLACK floats of slack.
void rn_pack_unfolded(const float *padded, const ptrdiff_t *offsets, ptrdiff_t kcur, const rn_unfold_geometry *g,
                      ptrdiff_t p0, ptrdiff_t ncols, ptrdiff_t nr, float *panel);

/// Copies `planes` planes (height × width, `source_stride` floats apart) into planes of
/// (height + 1) × (width + 1) floats (`target_stride` apart) with row stride width + 1, zero elsewhere:
/// with lead 0 the data starts at the plane's first float (a zero column on the right, a zero row
/// below); with lead 1 it starts one row and one column in (a zero row above, a zero column on the
/// left), so that consecutive such planes share their zero rows and columns as a 3×3 window's padding.
void rn_frame_planes(const float *source, ptrdiff_t planes, ptrdiff_t source_stride, ptrdiff_t height,
                     ptrdiff_t width, ptrdiff_t lead, float *target, ptrdiff_t target_stride);

/// The input transform of Winograd's F(2×2, 3×3) for tiles first_tile ..< end_tile of one sample
/// (winograd.c): for each of `channels` planes (height × width, NCHW) and each 4×4 tile
/// t = ty·tiles_w + tx in the range (rows 2·ty − 1 ... 2·ty + 2, columns 2·tx − 1 ... 2·tx + 2, zero
/// outside the plane; tiles_w = ⌈width / 2⌉), writes V = Bᵀ·d·B: element ξ = 4i + j to
/// v[ξ·matrix_stride + c·ldv + t − first_tile]. Stores are whole 16-float vectors: up to 15 floats
/// past a row's last tile (t = end_tile − 1) are written too (garbage), so rows need RN_VECTOR_SLACK floats of
/// slack, and tiles are written in order, so that a later call for the following tiles overwrites
/// what spilled onto them. Nothing outside the sample is read.
void rn_winograd_input(const float *sample, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                       ptrdiff_t first_tile, ptrdiff_t end_tile, float *v, ptrdiff_t ldv, ptrdiff_t matrix_stride);
/// rn_winograd_input with V in bf16 pair rows: V[ξ] row c's value goes, rounded to bf16 as rn_bf16_round
/// does, into the low (c even) or high (c odd) half of the 32-bit word at v[ξ·matrix_stride + (c/2)·ldv +
/// t − first_tile] (in words; the high halves of an odd channel count's last pair are zero): the pair rows
/// rn_bf16_pair_rows makes of rn_winograd_input's V, without V in float32. Writes past the tiles as
/// rn_winograd_input does (ldv needs its slack). With `native` (and AVX-512 with AVX512_BF16) the
/// rounding is vcvtneps2bf16's, which gives the same bits faster.
void rn_winograd_input_bf16(const float *sample, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                            ptrdiff_t first_tile, ptrdiff_t end_tile, void *v, ptrdiff_t ldv, ptrdiff_t matrix_stride,
                            int32_t native);
/// rn_winograd_input with V in bf16 rows: V[ξ] row c's value, rounded to bf16 as rn_bf16_round does, goes
/// to the half v[ξ·matrix_stride + c·ldv + t − first_tile] (ldv and matrix_stride in halves, matrix_stride
/// even): rn_bf16_round_row of rn_winograd_input's V, without V in float32. Stores are whole 16-half
/// vectors, written past the tiles as rn_winograd_input does (rows need RN_VECTOR_SLACK halves of slack).
/// `native` as for rn_winograd_input_bf16.
void rn_winograd_input_bf16_rows(const float *sample, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                                 ptrdiff_t first_tile, ptrdiff_t end_tile, uint16_t *v, ptrdiff_t ldv,
                                 ptrdiff_t matrix_stride, int32_t native);
/// The output transform of F(2×2, 3×3) for tiles first_tile ..< end_tile: for each of `channels`
/// planes and each tile t (as above), y = Aᵀ·m·A (+ bias[c] when bias is not NULL), m[ξ] read at
/// m[ξ·matrix_stride + c·ldm + t − first_tile], then + residual (when not NULL: planes laid out as the
/// output's, read at the same places), then max(y, 0) keeping NaN (when relu is non-zero), written to the
/// output planes (height × width, NCHW) with the tiles' rows and columns past the plane dropped. Reads
/// are whole 16-tile vectors around the tiles: up to RN_WINOGRAD_OUTPUT_READ_SLACK floats before each
/// row's first tile and after its last are read (not used).
void rn_winograd_output(const float *m, ptrdiff_t channels, ptrdiff_t ldm, ptrdiff_t matrix_stride,
                        const float *bias, const float *residual, int32_t relu, ptrdiff_t height, ptrdiff_t width,
                        ptrdiff_t first_tile, ptrdiff_t end_tile, float *output);
/// The input transform of Winograd's F(4×4, 3×3) (winograd4.c) for tiles first_tile ..< end_tile of one
/// sample: for each of `channels` planes (height × width, NCHW) and each 6×6 tile t = ty·tiles_w + tx
/// in the range (rows 4·ty − 1 ... 4·ty + 4, columns 4·tx − 1 ... 4·tx + 4, zero outside the plane;
/// tiles_w = ⌈width / 4⌉), writes V = Bᵀ·d·B: element ξ = 6i + j to v[ξ·matrix_stride + c·ldv + t −
/// first_tile]. Stores are whole 8-float vectors: up to 7 floats past a tile row's last tile in the
/// range are written too (garbage), so rows need RN_VECTOR_SLACK floats of slack, and tiles are
/// written in order, so that a later call for the following tiles overwrites what spilled onto them.
/// `line` is scratch of rn_winograd4_line_floats(width) floats. Nothing outside the sample is read.
void rn_winograd4_input(const float *sample, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                        ptrdiff_t first_tile, ptrdiff_t end_tile, float *v, ptrdiff_t ldv, ptrdiff_t matrix_stride,
                        float *line);
/// Floats of the scratch rn_winograd4_input needs for planes `width` wide: six zero-framed input rows.
ptrdiff_t rn_winograd4_line_floats(ptrdiff_t width);
/// The output transform of F(4×4, 3×3) for tiles first_tile ..< end_tile, as rn_winograd_output does
/// for F(2×2, 3×3): y = Aᵀ·m·A (+ bias[c]), m[ξ] (ξ < 36) read at m[ξ·matrix_stride + c·ldm + t −
/// first_tile], + residual, ReLU, the tiles' rows and columns past the plane dropped. Reads whole
/// 8-tile vectors: up to 7 floats before a tile row's first tile and after its last (not used).
void rn_winograd4_output(const float *m, ptrdiff_t channels, ptrdiff_t ldm, ptrdiff_t matrix_stride,
                         const float *bias, const float *residual, int32_t relu, ptrdiff_t height, ptrdiff_t width,
                         ptrdiff_t first_tile, ptrdiff_t end_tile, float *output);
/// The input transform of a 3×3, stride-2, padding-1 convolution as F(2×2, 2×2) on its input's four
/// phases (winograd_stride2.c) for output tiles first_tile ..< end_tile of one sample: for each of
/// `channels` planes (height × width, NCHW, the input's) and each tile t = ty·tiles_w + tx (2×2 outputs
/// at row 2·ty, column 2·tx; tiles_w = ⌈width / 4⌉) reading input rows 4·ty − 1 ... 4·ty + 3 and columns
/// 4·tx − 1 ... 4·tx + 3 (zero outside the plane), writes its 25 transformed values, pair (a, b) to
/// v[rn_winograd_s2_slot(a, b)·matrix_stride + c·ldv + t − first_tile]. Stores are whole 8-float
/// vectors: up to 7 floats past a tile row's last tile in the range are written too (garbage), so rows
/// need RN_VECTOR_SLACK floats of slack, and tiles are written in order. `line` is scratch of
/// rn_winograd_s2_line_floats(width) floats. Nothing outside the sample is read.
void rn_winograd_s2_input(const float *sample, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                          ptrdiff_t first_tile, ptrdiff_t end_tile, float *v, ptrdiff_t ldv, ptrdiff_t matrix_stride,
                          float *line);
/// Floats of the scratch rn_winograd_s2_input needs for planes `width` wide: five zero-framed input rows.
ptrdiff_t rn_winograd_s2_line_floats(ptrdiff_t width);
/// The matrix of rn_winograd_s2_input's V that holds axis pair (a, b) (a, b < 5): the 25 are grouped by
/// Winograd element (r, s), row-major, elements starting at matrices 0, 4, 8, 10, 14, 18, 20, 22, 24.
int32_t rn_winograd_s2_slot(int32_t a, int32_t b);
/// The output transform of rn_winograd_s2_input's convolution for tiles first_tile ..< end_tile, as
/// rn_winograd4_output does: y = Aᵀ·m·A (+ bias[c]), m's element (r, s) read at m[(3r + s)·matrix_stride +
/// c·ldm + t − first_tile], + residual, ReLU, into the output planes (height × width, NCHW, the
/// output's; tiles_w = ⌈width / 2⌉) with the tiles' rows and columns past the plane dropped. Reads
/// whole 8-tile vectors: up to 7 floats before a tile row's first tile and after its last (not used).
void rn_winograd_s2_output(const float *m, ptrdiff_t channels, ptrdiff_t ldm, ptrdiff_t matrix_stride,
                           const float *bias, const float *residual, int32_t relu, ptrdiff_t height, ptrdiff_t width,
                           ptrdiff_t first_tile, ptrdiff_t end_tile, float *output);
/// The output-gradient side of the F(2×2, 3×3) weight gradient for tiles first_tile ..< end_tile:
/// with the output gradient of one sample laid out pixel by pixel (height × width × channels), writes
/// each tile's A·dY·Aᵀ (dY its 2×2 block at rows 2·ty, 2·ty + 1 and columns 2·tx, 2·tx + 1, zero past
/// the plane; A = [[1, 0], [1, 1], [1, −1], [0, −1]]), element ξ of channel o to
/// dm[ξ·matrix_stride + (t − first_tile)·channels + o]: per ξ a tiles × channels matrix, channels
/// contiguous (the GEMM's B). Nothing else is written.
void rn_winograd_gradient_output(const float *gradient, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                                 ptrdiff_t first_tile, ptrdiff_t end_tile, float *dm, ptrdiff_t matrix_stride);
/// rn_winograd_gradient_output with dM in bf16 pair rows, as the micro-kernels read B: tile t's element ξ
/// of channel o, rounded to bf16 as rn_bf16_round does, goes into the low (column even) or high (column
/// odd) half of the 32-bit word at dm[ξ·matrix_stride + (column / 2)·channels + o] (in words), column =
/// first_column + t − first_tile: the pair rows rn_bf16_pair_rows makes of rn_winograd_gradient_output's
/// dM, without dM in float32. An even column writes whole words (high halves zero) and an odd one adds its
/// halves to them, so a column's even partner must be written first (calls in column order). `native` as
/// for rn_winograd_input_bf16.
void rn_winograd_gradient_output_bf16(const float *gradient, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                                      ptrdiff_t first_tile, ptrdiff_t end_tile, void *dm, ptrdiff_t matrix_stride,
                                      ptrdiff_t first_column, int32_t native);
/// Prefetches the `count` floats at p into L2, a cache line at a time.
void rn_prefetch(const float *p, ptrdiff_t count);

/// bfloat16 GEMM (bf16_gemm.c): operands rounded to bf16, products accumulated in float32 as AVX512_BF16's
/// vdpbf16ps does — natively where the CPU has it, else by an emulation that gives the same bits.
/// `x` rounded to bf16, to nearest with ties to even; a float32 denormal becomes a zero of its sign (the
/// instruction reads denormals as zero), NaN stays NaN, and a carry may round to infinity.
uint16_t rn_bf16_round(float x);
/// The float32 value of bf16 `h`.
float rn_bf16_value(uint16_t h);
/// dst[i] = rn_bf16_round(src[i]) for i < n: a row-major float32 matrix with an even row length becomes
/// the bf16 rows the micro-kernels read as A in place (each 32-bit word a pair of adjacent k).
void rn_bf16_round_row(const float *src, ptrdiff_t n, uint16_t *dst);
/// Pair rows: for p < (k + 1) / 2 and j < n, the 32-bit word dst[p * ldd + j] holds rows 2p (low half)
/// and 2p + 1 (high half; zero when 2p + 1 == k) of column j of src (k x n, row stride lds), rounded to
/// bf16. The B operand of the micro-kernels, and (read down its columns) a packed A.
void rn_bf16_pair_rows(const float *src, ptrdiff_t lds, ptrdiff_t k, ptrdiff_t n, void *dst, ptrdiff_t ldd);
/// dst[i] = src[i] rounded to bf16 as rn_bf16_round does, kept as a float32 (its low 16 bits zero), for
/// i < n; dst may be src. Products of such values are exact in float32.
void rn_bf16_round_floats(const float *src, ptrdiff_t n, float *dst);
/// A bf16 micro-kernel computes one m x n tile of C (m <= 8 and the vector count, 1 or 2 of 16 floats,
/// fixed by the variant), in 32-bit words that each hold a pair of bf16 values (k even, k odd):
///   C[0:m, 0:n] = A[0:m, 0:2·pairs] · B[0:2·pairs, 0:nr] (first n columns) [+ C[0:m, 0:n] if accumulate]
/// Pair p of row r of A is the word a[r * a_rs + p * a_cs]; pair row p of B is the nr words at
/// b + p * b_rs (read as whole vectors: up to nr - 1 words past column n). Without accumulate, C is
/// never read. With an `epilogue`, the tile goes through it to its `out` instead of to C.
typedef void (*rn_bf16_ukernel_fn)(ptrdiff_t pairs, const void *a, ptrdiff_t a_rs, ptrdiff_t a_cs, const void *b,
                                   ptrdiff_t b_rs, float *c, ptrdiff_t ldc, int32_t accumulate, ptrdiff_t n,
                                   const rn_tile_epilogue *epilogue);
/// The micro-kernel for m (1...8) rows and `vectors` (1, 2) vectors: vdpbf16ps when `native` and the CPU
/// has AVX512_BF16, else the emulation (AVX2 + FMA where the CPU has them). NULL outside those ranges.
rn_bf16_ukernel_fn rn_bf16_ukernel(int32_t native, int32_t m, int32_t vectors);
/// 1 when the CPU has AVX512_BF16 (and AVX-512 F).
int32_t rn_bf16_native_supported(void);

#ifdef __cplusplus
}
#endif

#endif
