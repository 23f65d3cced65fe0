/* Q4_0 row kernels at AVX2 width (llorch_rows_fn and llorch_rows_multi_fn),
 * for CPUs without AVX-512.
 *
 * A step is two blocks of four rows. Two rows' blocks share a register
 * (row 0's 16 quant bytes in the low half, row 1's in the high one), so a
 * nibble mask and a shift unpack two rows at once, and x's half-block
 * quants are broadcast to both halves. Per vector, the low and high
 * nibbles' products are added in 16 bits (|sum| <= 2 * 2 * 15 * 127 fits)
 * before the one widening multiply-add; three horizontal adds then turn the
 * four registers of partial sums into the eight (row, block) sums, exact in
 * integers, with the nibbles' offset (-8 * sum(x) per block) added there;
 * the float work (convert, scale, multiply-add) is once per eight (row,
 * block) pairs instead of once per pair.
 *
 * Lanes of a step's sums: [r0 a, r2 a, r0 b, r2 b | r1 a, r3 a, r1 b, r3 b]
 * (a, b the step's two blocks); the rows' scales are gathered as fp16 in
 * that order by integer loads and shifts (the scalar pipes, which the
 * vector work leaves idle) and converted once.
 *
 * The vectors are taken two (or, for more than two, four) at a time over
 * a row group, the group's unpacked blocks serving them all; each (row,
 * vector) sum is the same operations in the same order whatever the
 * vector count is, so a row gives the same bits alone or in a batch.
 *
 * Against the kernel it replaced (one block of one row at a time, the
 * float work and a scalar offset correction per block), from L2 on this
 * machine (AVX2 level of a Zen 5; cycles at 4 GHz per 4 rows x 4 blocks,
 * 768-long rows): one vector 80 -> 35, two 126 -> 57, four 247 -> 111;
 * GPT-2 124M q4_0 decode on two threads 326-341 -> 496-512 tok/s, four
 * streams 434-446 -> 825-848. */
#include <immintrin.h>

#include "kernels_impl.h"
#include "vexp_avx2.h"

/* Block pairs per vector prepared per call: rows are given in segments of
 * at most LLORCH_SEG_VALUES values. */
#define PAIRS_MAX (LLORCH_SEG_VALUES / 64)

/* Per vector and pair of blocks: x's scales and the nibbles' offset in the
 * lanes of the step's sums. */
typedef struct {
	__m256 dx;     /* [da, da, db, db] in each half */
	__m256i off;   /* -8 * sum(q) of the same blocks, same lanes */
} xpair;

static inline int32_t sum_quants(const int8_t *q)
{
	return llorch_hsum8_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1),
			_mm256_loadu_si256((const __m256i *)(const void *)q)), _mm256_set1_epi16(1)));
}

static void prep(const llorch_block_q8a *x, int64_t xs, int n_x, int64_t np, xpair *xp)
{
	for (int t = 0; t < n_x; t++)
		for (int64_t i = 0; i < np; i++) {
			const llorch_block_q8a *b = x + t * xs + 2 * i;
			int32_t oa = -8 * sum_quants(b[0].qs), ob = -8 * sum_quants(b[1].qs);
			xp[t * PAIRS_MAX + i].dx = _mm256_setr_ps(b[0].d, b[0].d, b[1].d, b[1].d,
					b[0].d, b[0].d, b[1].d, b[1].d);
			xp[t * PAIRS_MAX + i].off = _mm256_setr_epi32(oa, oa, ob, ob, oa, oa, ob, ob);
		}
}

/* The quant bytes of two rows' blocks: p's in the low half, q's in the
 * high one. */
static inline __m256i load_rows2(const uint8_t *p, const uint8_t *q)
{
	return _mm256_inserti128_si256(_mm256_castsi128_si256(
			_mm_loadu_si128((const __m128i *)(const void *)(p + 2))),
			_mm_loadu_si128((const __m128i *)(const void *)(q + 2)), 1);
}

static inline uint64_t scale_words(const uint8_t *a, const uint8_t *b, const uint8_t *c,
		const uint8_t *d)
{
	return (uint64_t)llorch_kh_load16(a) | (uint64_t)llorch_kh_load16(b) << 16 |
		(uint64_t)llorch_kh_load16(c) << 32 | (uint64_t)llorch_kh_load16(d) << 48;
}

/* A step's weights: low and high nibbles of rows (0, 1) and (2, 3) for
 * blocks a and b, and the scales in the lanes of the sums. */
typedef struct {
	__m256i l01a, h01a, l23a, h23a, l01b, h01b, l23b, h23b;
	__m256 dw;
} wstep;

static inline __attribute__((always_inline)) void load_step(const uint8_t *const *w, size_t o,
		wstep *s)
{
	const size_t BS = sizeof(llorch_block_q4_0);
	const __m256i m = _mm256_set1_epi8(0x0f);
	__m256i v01a = load_rows2(w[0] + o, w[1] + o), v23a = load_rows2(w[2] + o, w[3] + o);
	__m256i v01b = load_rows2(w[0] + o + BS, w[1] + o + BS);
	__m256i v23b = load_rows2(w[2] + o + BS, w[3] + o + BS);

	s->l01a = _mm256_and_si256(v01a, m);
	s->h01a = _mm256_and_si256(_mm256_srli_epi16(v01a, 4), m);
	s->l23a = _mm256_and_si256(v23a, m);
	s->h23a = _mm256_and_si256(_mm256_srli_epi16(v23a, 4), m);
	s->l01b = _mm256_and_si256(v01b, m);
	s->h01b = _mm256_and_si256(_mm256_srli_epi16(v01b, 4), m);
	s->l23b = _mm256_and_si256(v23b, m);
	s->h23b = _mm256_and_si256(_mm256_srli_epi16(v23b, 4), m);
	uint64_t lo = scale_words(w[0] + o, w[2] + o, w[0] + o + BS, w[2] + o + BS);
	uint64_t hi = scale_words(w[1] + o, w[3] + o, w[1] + o + BS, w[3] + o + BS);
	s->dw = _mm256_cvtph_ps(_mm_set_epi64x((long long)hi, (long long)lo));
}

/* Two rows' sums for one block: [row p's four partial sums | row q's]. */
static inline __m256i dot2(__m256i lo, __m256i hi, __m256i xl, __m256i xh)
{
	return _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo, xl),
			_mm256_maddubs_epi16(hi, xh)), _mm256_set1_epi16(1));
}

/* _mm256_hadd_epi32(a, b) as two shuffles and an add: on Zen 3 (AVX2
 * only) the step took 15.6 -> 14.7 ns from L1 (one vector; four 48.0 ->
 * 45.5), the same sums. */
static inline __m256i hadd_epi32(__m256i a, __m256i b)
{
	__m256 fa = _mm256_castsi256_ps(a), fb = _mm256_castsi256_ps(b);

	return _mm256_add_epi32(_mm256_castps_si256(_mm256_shuffle_ps(fa, fb, 0x88)),
			_mm256_castps_si256(_mm256_shuffle_ps(fa, fb, 0xdd)));
}

static inline __m256i bcast16(const int8_t *q)
{
	return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)q));
}

/* acc += the step's eight (row, block) sums for one vector (xb: its blocks
 * a and b), scaled. */
static inline __attribute__((always_inline)) __m256 step(__m256 acc, const wstep *s,
		const llorch_block_q8a *xb, const xpair *p)
{
	__m256i xla = bcast16(xb[0].qs), xha = bcast16(xb[0].qs + 16);
	__m256i xlb = bcast16(xb[1].qs), xhb = bcast16(xb[1].qs + 16);
	__m256i ha = hadd_epi32(dot2(s->l01a, s->h01a, xla, xha), dot2(s->l23a, s->h23a, xla, xha));
	__m256i hb = hadd_epi32(dot2(s->l01b, s->h01b, xlb, xhb), dot2(s->l23b, s->h23b, xlb, xhb));
	__m256i g = _mm256_add_epi32(hadd_epi32(ha, hb), p->off);

	return _mm256_fmadd_ps(_mm256_mul_ps(s->dw, p->dx), _mm256_cvtepi32_ps(g), acc);
}

/* The four rows' sums of a step accumulator, row k's in v[k]. */
static inline void row_sums(__m256 acc, float v[LLORCH_ROWS])
{
	__m256 t = _mm256_add_ps(acc, _mm256_shuffle_ps(acc, acc, 0x4e));
	__m128 lo = _mm256_castps256_ps128(t), hi = _mm256_extractf128_ps(t, 1);

	_mm_storeu_ps(v, _mm_unpacklo_ps(lo, hi));   /* r0, r1, r2, r3 */
}

/* Block b of a row against one vector's block, for an odd block count. */
static inline float tail_block(const uint8_t *blk, const llorch_block_q8a *x)
{
	__m128i q = _mm_loadu_si128((const __m128i *)(const void *)(blk + 2));
	__m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q),
			_mm256_set1_epi8(0x0f));
	int32_t dot = llorch_hsum8_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(nib,
			_mm256_loadu_si256((const __m256i *)(const void *)x->qs)), _mm256_set1_epi16(1)));

	return _cvtsh_ss(llorch_kh_load16(blk)) * x->d * (float)(dot - 8 * sum_quants(x->qs));
}

/* NXS (2 or 4, a constant after inlining) vectors per pass over a row
 * group: four share one unpacking of the group's blocks, the steps' other
 * registers spilled to L1, which took four vectors from 48.6-65.3 to
 * 42.4-57.0 ns per 4 rows x 4 blocks from L1 on a Zen 3; one vector keeps
 * the two-wide loop, all in registers. */
__attribute__((always_inline)) static inline void rows_q4(const uint8_t *W, size_t rb,
		const llorch_block_q8a *x, int64_t xs, int n_x, int64_t n, float *y, int64_t ys,
		int64_t n_rows, const int NXS)
{
	const size_t BS = sizeof(llorch_block_q4_0);
	int64_t nb = n / 32, np = nb / 2;
	size_t pf = llorch_prefetch_distance(rb);
	bool lin = (size_t)nb * BS == rb;
	xpair xp[LLORCH_MULTI_MAX * PAIRS_MAX];

	prep(x, xs, n_x, np, xp);
	for (int64_t r = 0; r < n_rows; r += LLORCH_ROWS) {
		const uint8_t *w[LLORCH_ROWS];
		int nr = llorch_row_group(W, rb, r, n_rows, w);
		for (int t0 = 0; t0 < n_x; t0 += NXS) {
			int nt = n_x - t0 < NXS ? n_x - t0 : NXS;
			const llorch_block_q8a *xv[4];
			const xpair *pv[4];
			__m256 acc[4];
			_Pragma("GCC unroll 4")
			for (int t = 0; t < NXS; t++) {
				int u = t < nt ? t : 0;
				xv[t] = x + (t0 + u) * xs;
				pv[t] = xp + (t0 + u) * PAIRS_MAX;
				acc[t] = _mm256_setzero_ps();
			}
			for (int64_t i = 0; i < np; i++) {
				if (t0 == 0)
					llorch_prefetch_step(w, w[0], 2 * BS, i, pf, lin);
				wstep s;
				load_step(w, 2 * BS * (size_t)i, &s);
				_Pragma("GCC unroll 4")
				for (int t = 0; t < NXS; t++)
					if (t < nt)
						acc[t] = step(acc[t], &s, xv[t] + 2 * i, pv[t] + i);
			}
			for (int t = 0; t < nt; t++) {
				float v[LLORCH_ROWS];
				row_sums(acc[t], v);
				for (int k = 0; k < nr; k++) {
					if (nb % 2)
						v[k] += tail_block(w[k] + BS * (size_t)(nb - 1), xv[t] + nb - 1);
					y[(t0 + t) * ys + r + k] += v[k];
				}
			}
		}
	}
}

/* Rows longer than a segment (kernels.c gives none, but the kernel set's
 * contract allows them) are taken a segment at a time, each segment's
 * sums added to y. */
__attribute__((always_inline)) static inline void rows_q4_segs(const uint8_t *W, size_t rb,
		const llorch_block_q8a *x, int64_t xs, int n_x, int64_t n, float *y, int64_t ys,
		int64_t n_rows, const int NXS)
{
	for (int64_t s = 0; s < n; s += LLORCH_SEG_VALUES)
		rows_q4(W + sizeof(llorch_block_q4_0) * (size_t)(s / 32), rb, x + s / 32, xs, n_x,
				n - s < LLORCH_SEG_VALUES ? n - s : LLORCH_SEG_VALUES, y, ys, n_rows, NXS);
}

void llorch_rows_q4_0_avx2_multi(const uint8_t *W, size_t rb, const void *x, int64_t xs,
		int n_x, int64_t n, float *y, int64_t ys, int64_t n_rows)
{
	if (n_x > 2)
		rows_q4_segs(W, rb, x, xs, n_x, n, y, ys, n_rows, 4);
	else
		rows_q4_segs(W, rb, x, xs, n_x, n, y, ys, n_rows, 2);
}

void llorch_rows_q4_0_avx2(const uint8_t *W, size_t rb, const void *x, int64_t n, float *y,
		int64_t n_rows)
{
	rows_q4_segs(W, rb, x, 0, 1, n, y, 0, n_rows, 2);
}
