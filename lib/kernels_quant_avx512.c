/* AVX-512 (F, BW, VL, DQ) row kernels for Q8_0 and Q4_0 weights against
 * activations quantized to int8 per 32-block: one body for one vector
 * (llorch_rows_fn) and for up to LLORCH_MULTI_MAX vectors
 * (llorch_rows_multi_fn), so that a row dotted with a vector gives the same
 * bits alone or in a batch. Where the CPU has AVX-512 VNNI, the integer dot
 * products use vpdpbusd, one instruction for the u8 x s8 products that
 * otherwise take two; that variant is compiled with a target attribute and
 * chosen at run time.
 *
 * Work per step (Q8_0: a pair of blocks, 64 values in one register; Q4_0:
 * a quad of blocks, whose 128 nibbles make two registers):
 *  - per row of a group of four: load, unpack (Q4_0 nibbles), scales to
 *    float;
 *  - per vector: its quants in the lane order of the weights, the seed of
 *    the sums (Q4_0: -8 * sum(x) for the nibbles' offset; Q8_0 with VNNI:
 *    -128 * sum(x), the weights being offset to unsigned), its scales
 *    (Q4_0: all vectors' in one register); prepared once per call for all
 *    rows (NAME##_prep), so the inner loop only loads them;
 *  - per (row, vector): the integer dot products, then in float
 *    acc += (dx * dw) * sum, with 4 x 4 accumulators in 16 of the 32
 *    registers (Q4_0: per vector, the four rows' sums of each block
 *    gathered into one register first, then one multiply-add, with one
 *    accumulator per vector).
 * The rows' work is shared by up to MULTI_NX vectors and the vectors' by
 * four rows; with one vector (decode) the rows' work is most of the cost,
 * which is why it is kept to a few instructions (whole blocks loaded at
 * once and rearranged with one word permute). Q4_0 went from pairs to
 * quads: the float work per block halves, and decode from memory went
 * from 33-35 to 42 GB/s on two threads (a first quad body, with two
 * overlapping 64-byte loads per quad instead of two masked pair loads, had
 * been slower from memory than the pairs). A third entry (NAME##_long,
 * a rows_long kernel) takes one vector over rows of several segments,
 * each row group read whole, segment after segment: its quants fill the
 * room of the four vectors'.
 *
 * Tried and not kept: Q4_0 by groups of sixteen blocks regrouped with
 * 128-bit shuffles so that each 32-bit lane holds one block and the float
 * work is done once per sixteen blocks instead of four. It cut the float
 * operations per (row, vector) by two thirds yet ran slower, from L2 and
 * from memory, with one vector and with four (four: 51 against 50 cycles
 * per four rows and four blocks from L2; one: 25 against 22). */
#include <immintrin.h>

#include "kernels_impl.h"
#include "vexp_avx2.h"

/* Prefetching (LLORCH_PREFETCH_BYTES): the lines asked for are those of the
 * row group at least that many bytes on. When the rows are read whole,
 * they are asked for in memory order (the four rows of a group are
 * adjacent): one sequential stream of requests instead of four interleaved
 * ones took Q8_0 decode from 22 to 27 GB/s on one core and from 31-33 to
 * 36-39 GB/s on two. A row longer than a segment is not
 * read in one pass, so there each row's lines are asked for at the same
 * place in the group ahead. */

/* Vectors per pass over a group of rows: 4 rows x 4 vectors accumulators. */
#define MULTI_NX 4

/* Block pairs prepared per pass (Q4_0: half as many quads, in two
 * registers each): rows longer than LLORCH_SEG_VALUES are taken in pieces
 * of that length. */
#define SEG_PAIRS (LLORCH_SEG_VALUES / 64)

/* Two 32-byte quant arrays (blocks b and b + 1) in one register. */
static inline __m512i load2(const int8_t *lo, const int8_t *hi)
{
	__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)lo);
	__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)hi);
	return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
}

/* The two fp16 scales of a Q8_0 pair (words 0 and 17) as 16 floats in the
 * lanes of the dot product: [d0 x 8 | d1 x 8]. */
static inline __m512 scales2_q8(__m512i pair)
{
	__m512i idx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			17, 17, 17, 17, 17, 17, 17, 17, 0, 0, 0, 0, 0, 0, 0, 0);
	return _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(idx, pair)));
}

/* The first words of a pair of blocks (all 18 of Q4_0's, 32 of Q8_0's 34);
 * the mask keeps the load inside the pair, which may end an allocation. */
static inline __m512i load_pair(const uint8_t *p, unsigned words)
{
	return _mm512_maskz_loadu_epi16(words >= 32 ? 0xffffffffu : (1u << words) - 1, p);
}

/* u8 x s8 products of 64 pairs summed in groups of four onto acc: 16 int32
 * lanes, 0..7 from the first block, 8..15 from the second (for Q4_0 in
 * nibble order, blocks alternate every four lanes). */
static inline __m512i dot_u8s8_bw(__m512i acc, __m512i u, __m512i s)
{
	return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)));
}

__attribute__((target("avx512vnni")))
static inline __m512i dot_u8s8_vnni(__m512i acc, __m512i u, __m512i s)
{
	return _mm512_dpbusd_epi32(acc, u, s);
}

/* x with w's sign, so that |w| * sign_x(x, w) = w * x (x is never -128). */
static inline __m512i sign_x(__m512i x, __m512i w)
{
	return _mm512_mask_sub_epi8(x, _mm512_movepi8_mask(w), _mm512_setzero_si512(), x);
}

/* The last block of an odd block count, at AVX2 width: its contribution
 * dw * dx * sum(w * q) (for Q4_0 with the nibble offset of 8 removed). */
static inline float tail_block(bool q4, const uint8_t *blk, const llorch_block_q8a *x)
{
	__m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)x->qs);
	__m256i p;
	float dw = _cvtsh_ss(llorch_kh_load16(blk));

	if (q4) {
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(blk + 2));
		__m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b),
				_mm256_set1_epi8(0x0f));
		p = _mm256_maddubs_epi16(nib, xv);
	} else {
		__m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 2));
		p = _mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv));
	}
	float dot = (float)llorch_hsum8_epi32(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
	return q4 ? dw * (x->d * dot - 8.0f * x->s) : dw * x->d * dot;
}

/* A group of up to MULTI_NX vectors, prepared for one pass over a piece of
 * every row, so that the inner loops only load them. Q8_0, per pair of
 * blocks: the quants, (with VNNI) the seed -128 * sum(x) per four bytes,
 * the scales in the lanes of the sums. Q4_0, per quad of blocks: the
 * quants that meet the low nibbles (q[2i]) and the high ones (q[2i + 1]),
 * the seed -8 * sum(x) per lane for the nibbles' offset, the scales. */
typedef struct {
	__m512i q[MULTI_NX * SEG_PAIRS];     /* vector t's step i at t * SEG_PAIRS + i */
	__m512i off[MULTI_NX * SEG_PAIRS];
	__m512 d[MULTI_NX * SEG_PAIRS];
} xprep;

/* The sums of four rows over NX vectors, accumulated in float per group of
 * blocks (acc += (dx * dw) * sum, 4 x NX accumulators in registers), then
 * reduced (reduce4_ps, a vector's four rows at once) and added to y with
 * the blocks left over after the last whole group (tail_block). */
#define ACC_INIT(acc, NX)                                                                 \
	_Pragma("GCC unroll 4")                                                           \
	for (int k = 0; k < LLORCH_ROWS; k++)                                             \
		_Pragma("GCC unroll 4")                                                   \
		for (int t = 0; t < NX; t++)                                              \
			acc[k][t] = _mm512_setzero_ps()

/* The sums of four accumulators, a's in lane 0, each with the additions of
 * _mm512_reduce_add_ps in its order (halves, quarters, then pairs within
 * 128 bits), so the bits are the same; done for four at once, it is 14
 * instructions instead of about 40, which on rows of 768 values (six quads)
 * was a tenth of a four-vector pass (57 -> 51 cycles a step from L2). */
static inline __m128 reduce4_ps(__m512 a, __m512 b, __m512 c, __m512 d)
{
	__m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0xee), _mm512_shuffle_f32x4(a, b, 0x44));
	__m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0xee), _mm512_shuffle_f32x4(c, d, 0x44));
	__m512 q = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0xdd), _mm512_shuffle_f32x4(ab, cd, 0x88));
	q = _mm512_add_ps(q, _mm512_permute_ps(q, 0x4e));
	q = _mm512_add_ps(q, _mm512_permute_ps(q, 0xb1));
	return _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12,
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), q));
}

/* y[k] += s[k] + the blocks [first, nb) of row k left over after the last
 * whole group (tail_block), for the nr live rows of a group. */
static inline void add_rows(__m128 s, float *y, int nr, bool q4, const uint8_t *const *w, size_t bs,
		const llorch_block_q8a *x, int64_t first, int64_t nb)
{
	__mmask8 live = (__mmask8)((1u << nr) - 1);

	if (first < nb) {
		float v[LLORCH_ROWS];
		_mm_storeu_ps(v, s);
		for (int k = 0; k < nr; k++)
			for (int64_t b = first; b < nb; b++)
				v[k] += tail_block(q4, w[k] + bs * (size_t)b, &x[b]);
		s = _mm_loadu_ps(v);
	}
	_mm_mask_storeu_ps(y, live, _mm_add_ps(_mm_maskz_loadu_ps(live, y), s));
}

#define ACC_STORE(acc, NX, Q4, BS, first)                                                 \
	_Pragma("GCC unroll 4")                                                           \
	for (int t = 0; t < NX; t++)                                                      \
		add_rows(reduce4_ps(acc[0][t], acc[1][t], acc[2][t], acc[3][t]), y + t * ys, nr, \
				Q4, w, BS, x + t * xs, first, nb)

/* Q8_0, with and without VNNI (DOT; XU: with VNNI the weights become the
 * unsigned operand, w + 128, and the sum is seeded with -128 * sum(x),
 * prepared once per vector; without, maddubs' int16 pairs would overflow,
 * so w's sign moves onto x per row and vector). The integer sums are exact
 * either way, so both give the same bits. NAME##_prep prepares NX vectors'
 * pairs [0, np); NAME##_rows runs them over four rows. */
#define Q8_KERNEL(NAME, DOT, XU, ATTR)                                                    \
	ATTR static void NAME##_prep(const llorch_block_q8a *x, int64_t xs, int nx,       \
			int64_t np, xprep *xp)                                            \
	{                                                                                 \
		for (int t = 0; t < nx; t++)                                              \
			for (int64_t i = 0; i < np; i++) {                                \
				const llorch_block_q8a *xb = x + t * xs + 2 * i;          \
				int64_t xi = t * SEG_PAIRS + i;                           \
				__m512i q = load2(xb[0].qs, xb[1].qs);                    \
				xp->d[xi] = _mm512_insertf32x8(_mm512_set1_ps(xb[0].d),   \
						_mm256_set1_ps(xb[1].d), 1);              \
				if (XU)                                                   \
					xp->off[xi] = _mm512_sub_epi32(_mm512_setzero_si512(), \
						DOT(_mm512_setzero_si512(), _mm512_set1_epi8(-128), q)); \
				xp->q[xi] = q;                                            \
			}                                                                 \
	}                                                                                 \
                                                                                          \
	ATTR __attribute__((always_inline)) static inline void NAME##_rows(               \
			const uint8_t *const *w, const uint8_t *lp, const xprep *xp, int64_t i0, \
			const llorch_block_q8a *x, int64_t xs, const int NX, int64_t nb,  \
			float *y, int64_t ys, int nr, size_t pf, bool lin)                \
	{                                                                                 \
		const size_t BS = sizeof(llorch_block_q8_0);                              \
		__m512 acc[LLORCH_ROWS][MULTI_NX];                                        \
		ACC_INIT(acc, NX);                                                        \
		for (int64_t i = 0; i < nb / 2; i++) {                                    \
			__m512i wq[LLORCH_ROWS], wa[LLORCH_ROWS];                         \
			__m512 d[LLORCH_ROWS];                                            \
			llorch_prefetch_step(w, lp, 2 * BS, i, pf, lin);                  \
			_Pragma("GCC unroll 4")                                           \
			for (int k = 0; k < LLORCH_ROWS; k++) {                           \
				const uint8_t *b0 = w[k] + 2 * BS * (size_t)i;            \
				d[k] = scales2_q8(load_pair(b0, 32));                     \
				wq[k] = load2((const int8_t *)b0 + 2, (const int8_t *)b0 + BS + 2); \
				wa[k] = XU ? _mm512_xor_si512(wq[k], _mm512_set1_epi8(-128)) \
					: _mm512_abs_epi8(wq[k]);                         \
			}                                                                 \
			_Pragma("GCC unroll 4")                                           \
			for (int t = 0; t < NX; t++) {                                    \
				int64_t xi = t * SEG_PAIRS + i0 + i;                      \
				__m512i xq = xp->q[xi];                                   \
				_Pragma("GCC unroll 4")                                   \
				for (int k = 0; k < LLORCH_ROWS; k++) {                   \
					__m512i p = XU ? DOT(xp->off[xi], wa[k], xq)      \
						: DOT(_mm512_setzero_si512(), wa[k], sign_x(xq, wq[k])); \
					acc[k][t] = _mm512_fmadd_ps(_mm512_mul_ps(xp->d[xi], d[k]), \
							_mm512_cvtepi32_ps(p), acc[k][t]); \
				}                                                         \
			}                                                                 \
		}                                                                         \
		ACC_STORE(acc, NX, false, BS, nb / 2 * 2);                                \
	}

/* Q4_0 by quads of blocks: two pairs of blocks loaded (36 bytes each,
 * masked to stay inside them), their 64 quant bytes gathered into one
 * register with a two-source word permute; the low nibbles (elements
 * 0..15) and the high ones (16..31) are two dot products into the same 16
 * lanes, four per block, so that the float work (scale, convert, add) is
 * per quad rather than per pair.
 *
 * Block b of the quad is 128-bit lane b, in its own order. Per vector, the
 * four rows' integer sums are reduced to whole blocks and gathered into
 * one register, row k's block b in lane 4b + k (block_sums4: integer, so
 * exact), converted once and scaled by one multiply by the rows' and the
 * vector's scales in the same layout: per step of 4 rows x 4 blocks x 4
 * vectors, 4 conversions and 8 float operations where each (row, vector)
 * had taken a conversion, a scale broadcast and a multiply-add (48 of
 * them, on the two pipes the dot products use, and where this CPU's
 * two-source word permutes go too): 57 -> 51 cycles a step from L2 at four
 * vectors, 26 -> 24.5 at one (kq microbenchmark, at 4 GHz). The reduction
 * was first a transpose of 128-bit lanes (blocks interleaved by 32-bit
 * lane); within 128-bit lanes, it runs on pipes the dot products do not
 * use: 48.3-48.8 -> 47.0-47.4 cycles at four vectors, 23.4-23.7 ->
 * 23.1-23.4 at one (three interleaved rounds). Not kept: the rows' quants
 * transposed by 32-bit word once per step (shared by the vectors), each
 * vector then making its four words per block with in-lane broadcasts
 * (eight dot products into two sums, no reduction): 48.4-49.6 cycles,
 * although it removes the per-vector transpose. The scales of the four rows
 * are gathered as fp16 words (one masked move each) and converted once. */
static inline __m512i q4_quad_quants(__m512i a, __m512i b)
{
	const __m512i idx = _mm512_set_epi16(
			49, 48, 47, 46, 45, 44, 43, 42, 40, 39, 38, 37, 36, 35, 34, 33,
			17, 16, 15, 14, 13, 12, 11, 10, 8, 7, 6, 5, 4, 3, 2, 1);
	return _mm512_permutex2var_epi16(a, idx, b);
}

/* The quad's four fp16 scales (words 0 and 9 of each pair), block b's in
 * words 4b .. 4b + 3. */
static inline __m256i q4_quad_scale_words(__m512i a, __m512i b)
{
	const __m512i idx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			41, 41, 41, 41, 32, 32, 32, 32, 9, 9, 9, 9, 0, 0, 0, 0);
	return _mm512_castsi512_si256(_mm512_permutex2var_epi16(a, idx, b));
}

/* Four rows' dot products of a quad (128-bit lane b: block b's four
 * partial sums) to each block's whole sum, row k's block b in lane 4b + k:
 * a 4 x 4 transpose within each 128-bit lane, added as it goes, 6 unpacks
 * and 3 additions for the four rows. In-lane unpacks run on more pipes
 * than the dot products, where lane-crossing shuffles share theirs.
 * Integer sums: exact in any order. */
static inline __m512i block_sums4(__m512i p0, __m512i p1, __m512i p2, __m512i p3)
{
	__m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(p0, p1), _mm512_unpackhi_epi32(p0, p1));
	__m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(p2, p3), _mm512_unpackhi_epi32(p2, p3));
	return _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
}

/* The sums of lane k of each 128-bit lane, in lane k. */
static inline __m128 lane_sums4(__m512 a)
{
	__m256 h = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
	return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* Four 16-byte arrays in one register, a in bytes 0..15. */
static inline __m512i cat4_128(const int8_t *a, const int8_t *b, const int8_t *c, const int8_t *d)
{
	__m256i ab = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)(const void *)b),
			_mm_loadu_si128((const __m128i *)(const void *)a));
	__m256i cd = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)(const void *)d),
			_mm_loadu_si128((const __m128i *)(const void *)c));
	return _mm512_inserti64x4(_mm512_castsi256_si512(ab), cd, 1);
}

#define Q4_KERNEL(NAME, DOT, ATTR)                                                        \
	ATTR static void NAME##_prep(const llorch_block_q8a *x, int64_t xs, int nx,       \
			int64_t nq, xprep *xp)                                            \
	{                                                                                 \
		for (int t = 0; t < nx; t++)                                              \
			for (int64_t i = 0; i < nq; i++) {                                \
				const llorch_block_q8a *xb = x + t * xs + 4 * i;          \
				int64_t xi = t * SEG_PAIRS + i;                           \
				__m512i lo = cat4_128(xb[0].qs, xb[1].qs, xb[2].qs, xb[3].qs); \
				__m512i hi = cat4_128(xb[0].qs + 16, xb[1].qs + 16,       \
						xb[2].qs + 16, xb[3].qs + 16);            \
				__m512i eight = _mm512_set1_epi8(8);                      \
				xp->q[t * SEG_PAIRS + 2 * i] = lo;                        \
				xp->q[t * SEG_PAIRS + 2 * i + 1] = hi;                    \
				xp->off[xi] = _mm512_sub_epi32(_mm512_setzero_si512(),    \
						DOT(DOT(_mm512_setzero_si512(), eight, lo), eight, hi)); \
			}                                                                 \
		/* vector t's four scales of quad i, block b's in lanes 4b .. 4b + 3 */  \
		for (int t = 0; t < nx; t++)                                              \
			for (int64_t i = 0; i < nq; i++) {                                \
				const llorch_block_q8a *xb = x + t * xs + 4 * i;          \
				xp->d[t * SEG_PAIRS + i] = _mm512_permutexvar_ps(         \
						_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, \
							2, 2, 2, 2, 3, 3, 3, 3),          \
						_mm512_castps128_ps512(_mm_setr_ps(xb[0].d, \
							xb[1].d, xb[2].d, xb[3].d)));     \
			}                                                                 \
	}                                                                                 \
                                                                                          \
	ATTR __attribute__((always_inline)) static inline void NAME##_rows(               \
			const uint8_t *const *w, const uint8_t *lp, const xprep *xp, int64_t i0, \
			const llorch_block_q8a *x, int64_t xs, const int NX, int64_t nb,  \
			float *y, int64_t ys, int nr, size_t pf, bool lin)                \
	{                                                                                 \
		const size_t BS = sizeof(llorch_block_q4_0);                              \
		const __m512i mask = _mm512_set1_epi8(0x0f);                              \
		/* vector t's sums: row k's block b of the quad in lane 4b + k */        \
		__m512 acc[MULTI_NX];                                                     \
		_Pragma("GCC unroll 4")                                                   \
		for (int t = 0; t < NX; t++)                                              \
			acc[t] = _mm512_setzero_ps();                                     \
		for (int64_t i = 0; i < nb / 4; i++) {                                    \
			__m512i wl[LLORCH_ROWS], wh[LLORCH_ROWS];                         \
			/* the four rows' scales, row k's block b in word 4b + k */           \
			__m256i wsc = _mm256_setzero_si256();                             \
			llorch_prefetch_step(w, lp, 4 * BS, i, pf, lin);                  \
			_Pragma("GCC unroll 4")                                           \
			for (int k = 0; k < LLORCH_ROWS; k++) {                           \
				const uint8_t *b0 = w[k] + 4 * BS * (size_t)i;            \
				__m512i a = load_pair(b0, 18), b = load_pair(b0 + 2 * BS, 18); \
				__m512i q = q4_quad_quants(a, b);                         \
				wsc = _mm256_mask_mov_epi16(wsc, (__mmask16)(0x1111u << k), \
						q4_quad_scale_words(a, b));               \
				wl[k] = _mm512_and_si512(q, mask);                        \
				wh[k] = _mm512_and_si512(_mm512_srli_epi16(q, 4), mask);  \
			}                                                                 \
			__m512 wd = _mm512_cvtph_ps(wsc);                                 \
			_Pragma("GCC unroll 4")                                           \
			for (int t = 0; t < NX; t++) {                                    \
				int64_t xi = t * SEG_PAIRS + i0 + i;                      \
				int64_t qi = t * SEG_PAIRS + 2 * (i0 + i);                \
				__m512i xl = xp->q[qi], xh = xp->q[qi + 1], p[LLORCH_ROWS]; \
				_Pragma("GCC unroll 4")                                   \
				for (int k = 0; k < LLORCH_ROWS; k++)                     \
					p[k] = DOT(DOT(xp->off[xi], wl[k], xl), wh[k], xh); \
				acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(wd, xp->d[xi]),    \
						_mm512_cvtepi32_ps(block_sums4(p[0], p[1], p[2], p[3])), \
						acc[t]);                                  \
			}                                                                 \
		}                                                                         \
		_Pragma("GCC unroll 4")                                                   \
		for (int t = 0; t < NX; t++)                                              \
			add_rows(lane_sums4(acc[t]), y + t * ys, nr, true, w, BS, x + t * xs, \
					nb / 4 * 4, nb);                                  \
	}

/* NAME##_multi (a llorch_rows_multi_fn) and NAME (a llorch_rows_fn) over a
 * kernel's _prep and _rows; GROUP blocks per step. */
#define Q_DRIVER(NAME, BLOCK, GROUP, ATTR)                                                \
	ATTR void NAME##_multi(const uint8_t *W, size_t rb, const void *xv, int64_t xs,   \
			int n_x, int64_t n, float *y, int64_t ys, int64_t n_rows)         \
	{                                                                                 \
		const llorch_block_q8a *x = xv;                                           \
		const size_t BS = sizeof(BLOCK);                                          \
		size_t pf = llorch_prefetch_distance(rb);                                 \
		bool lin = (size_t)(n / 32) * BS == rb;                                   \
		xprep xp;                                                                 \
		for (int64_t s = 0; s < n; s += LLORCH_SEG_VALUES) {                      \
			int64_t nb = (n - s < LLORCH_SEG_VALUES ? n - s : LLORCH_SEG_VALUES) / 32; \
			for (int t0 = 0; t0 < n_x; t0 += MULTI_NX) {                      \
				int nx = n_x - t0 < MULTI_NX ? n_x - t0 : MULTI_NX;       \
				const llorch_block_q8a *xt = x + t0 * xs + s / 32;        \
				NAME##_prep(xt, xs, nx, nb / (GROUP), &xp);               \
				for (int64_t r = 0; r < n_rows; r += LLORCH_ROWS) {       \
					const uint8_t *w[LLORCH_ROWS];                    \
					int nr = llorch_row_group(W + BS * (size_t)(s / 32), rb, r, n_rows, w); \
					float *yt = y + t0 * ys + r;                      \
					switch (nx) {                                     \
					case 1: NAME##_rows(w, w[0], &xp, 0, xt, xs, 1, nb, yt, ys, nr, pf, lin); break; \
					case 2: NAME##_rows(w, w[0], &xp, 0, xt, xs, 2, nb, yt, ys, nr, pf, lin); break; \
					case 3: NAME##_rows(w, w[0], &xp, 0, xt, xs, 3, nb, yt, ys, nr, pf, lin); break; \
					default: NAME##_rows(w, w[0], &xp, 0, xt, xs, 4, nb, yt, ys, nr, pf, lin); break; \
					}                                                 \
				}                                                         \
			}                                                                 \
		}                                                                         \
	}                                                                                 \
                                                                                          \
	ATTR void NAME(const uint8_t *W, size_t rb, const void *x, int64_t n, float *y,   \
			int64_t n_rows)                                                   \
	{                                                                                 \
		NAME##_multi(W, rb, x, 0, 1, n, y, 0, n_rows);                            \
	}                                                                                 \
                                                                                          \
	/* One vector over rows of up to LLORCH_LONG_ROW_VALUES (the prepared             \
	 * quants of all its segments fill the room of MULTI_NX vectors'): each           \
	 * row group is read whole, segment after segment, as one linear stream           \
	 * of prefetches, with each segment's sum added to y as NAME##_multi              \
	 * adds it. */                                                                    \
	ATTR void NAME##_long(const uint8_t *W, size_t rb, const void *xv, int64_t n,     \
			float *y, int64_t n_rows)                                         \
	{                                                                                 \
		const llorch_block_q8a *x = xv;                                           \
		const size_t BS = sizeof(BLOCK);                                          \
		size_t pf = llorch_prefetch_distance(rb);                                 \
		if (n > LLORCH_LONG_ROW_VALUES) {                                         \
			NAME##_multi(W, rb, xv, 0, 1, n, y, 0, n_rows);                   \
			return;                                                           \
		}                                                                         \
		xprep xp;                                                                 \
		/* segments are whole groups but the last: the steps of all of them */    \
		NAME##_prep(x, 0, 1, n / 32 / (GROUP), &xp);                              \
		for (int64_t r = 0; r < n_rows; r += LLORCH_ROWS) {                       \
			const uint8_t *w[LLORCH_ROWS];                                    \
			int nr = llorch_row_group(W, rb, r, n_rows, w);                   \
			for (int64_t s = 0; s < n; s += LLORCH_SEG_VALUES) {              \
				int64_t nb = (n - s < LLORCH_SEG_VALUES ? n - s : LLORCH_SEG_VALUES) / 32; \
				const uint8_t *ws[LLORCH_ROWS];                           \
				for (int k = 0; k < LLORCH_ROWS; k++)                     \
					ws[k] = w[k] + BS * (size_t)(s / 32);             \
				NAME##_rows(ws, w[0] + LLORCH_ROWS * BS * (size_t)(s / 32), &xp, \
						s / 32 / (GROUP), x + s / 32, 0, 1, nb, y + r, 0, nr, \
						pf, true);                                \
			}                                                                 \
		}                                                                         \
	}

#define VNNI_ATTR __attribute__((target("avx512vnni")))
Q8_KERNEL(llorch_rows_q8_0_avx512, dot_u8s8_bw, 0, )
Q_DRIVER(llorch_rows_q8_0_avx512, llorch_block_q8_0, 2, )
Q4_KERNEL(llorch_rows_q4_0_avx512, dot_u8s8_bw, )
Q_DRIVER(llorch_rows_q4_0_avx512, llorch_block_q4_0, 4, )
Q8_KERNEL(llorch_rows_q8_0_vnni, dot_u8s8_vnni, 1, VNNI_ATTR)
Q_DRIVER(llorch_rows_q8_0_vnni, llorch_block_q8_0, 2, VNNI_ATTR)
Q4_KERNEL(llorch_rows_q4_0_vnni, dot_u8s8_vnni, VNNI_ATTR)
Q_DRIVER(llorch_rows_q4_0_vnni, llorch_block_q4_0, 4, VNNI_ATTR)
