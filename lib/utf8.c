/* UTF-8 validation, decoding and encoding; see utf8.h. */
#include "utf8.h"

/* The range allowed for the second byte after a lead byte, which is what
 * excludes overlong forms, surrogates and code points past U+10FFFF. */
static int second_byte_range(unsigned char lead, unsigned char *lo, unsigned char *hi)
{
	*lo = 0x80;
	*hi = 0xBF;
	if (lead >= 0xC2 && lead <= 0xDF)
		return 2;
	if (lead >= 0xE0 && lead <= 0xEF) {
		if (lead == 0xE0)
			*lo = 0xA0;
		else if (lead == 0xED)
			*hi = 0x9F;
		return 3;
	}
	if (lead >= 0xF0 && lead <= 0xF4) {
		if (lead == 0xF0)
			*lo = 0x90;
		else if (lead == 0xF4)
			*hi = 0x8F;
		return 4;
	}
	return 0;
}

/* How many bytes from s (at most n) follow the rules of a character starting
 * there; *need is the character's full length (0 if s[0] cannot start one). */
static size_t valid_prefix(const unsigned char *s, size_t n, size_t *need)
{
	unsigned char lo, hi;
	size_t k, i;

	if (n == 0) {
		*need = 0;
		return 0;
	}
	if (s[0] < 0x80) {
		*need = 1;
		return 1;
	}
	k = (size_t)second_byte_range(s[0], &lo, &hi);
	*need = k;
	if (k == 0)
		return 0;
	for (i = 1; i < k && i < n; i++) {
		unsigned char c = s[i];

		if (i == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF))
			return i;
	}
	return i;
}

size_t utf8_char_len(const unsigned char *s, size_t n)
{
	size_t need, got = valid_prefix(s, n, &need);

	return need != 0 && got == need ? need : 0;
}

size_t utf8_partial_len(const unsigned char *s, size_t n)
{
	size_t need, got = valid_prefix(s, n, &need);

	return n > 0 && got == n && need > n ? n : 0;
}

size_t utf8_bad_len(const unsigned char *s, size_t n)
{
	size_t need, got = valid_prefix(s, n, &need);

	return got ? got : 1;
}

uint32_t utf8_decode(const unsigned char *s, size_t len)
{
	switch (len) {
	case 1: return s[0];
	case 2: return (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
	case 3: return (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
	default:
		return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
			(uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
	}
}

size_t utf8_encode(uint32_t cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xC0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xE0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (unsigned char)(0xF0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t k;

		if (s[i] < 0x80) {
			i++;
			continue;
		}
		k = utf8_char_len(s + i, n - i);
		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}
