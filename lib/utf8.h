/* UTF-8 helpers shared by the tokenizers (internal). Validity follows
 * RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. */
#ifndef LLORCH_UTF8_H
#define LLORCH_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define UTF8_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

/* Length (1..4) of the valid character at s (n bytes available), or 0 when
 * the bytes there do not start a complete valid character. */
size_t utf8_char_len(const unsigned char *s, size_t n);

/* Length of a valid but incomplete character prefix at s that fills all n
 * bytes (it could be completed by more bytes), or 0. */
size_t utf8_partial_len(const unsigned char *s, size_t n);

/* Length (>= 1) of the invalid bytes at s that one U+FFFD stands for: the
 * maximal subpart of an ill-formed sequence (Unicode 15, section 3.9). */
size_t utf8_bad_len(const unsigned char *s, size_t n);

/* The code point of the valid character of length len at s. */
uint32_t utf8_decode(const unsigned char *s, size_t len);

/* Writes the UTF-8 form of cp (<= U+10FFFF, no surrogate) to out; returns
 * its length (1..4). */
size_t utf8_encode(uint32_t cp, unsigned char out[4]);

/* True when all n bytes are valid UTF-8. */
int utf8_valid(const unsigned char *s, size_t n);

#endif
