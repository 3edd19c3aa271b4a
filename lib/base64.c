/* base64.c: RFC 4648 section 4 base64 encoding and strict decoding for
 * the SASL exchanges of smtpd, the smtp client, pop3d and imapd.
 * SECURITY: decodes text from the network: every character is checked
 * against the alphabet; the output is bounded by the caller's buf limit. */
#include "base64.h"

#include <stdbool.h>

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encoded_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

int base64_encode(const void *data, size_t len, struct buf *out)
{
	const unsigned char *p = data;
	char quad[4];

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;

		if (n > 1)
			v |= (unsigned)p[i + 1] << 8;
		if (n > 2)
			v |= p[i + 2];
		quad[0] = base64_alphabet[v >> 18 & 63];
		quad[1] = base64_alphabet[v >> 12 & 63];
		quad[2] = n > 1 ? base64_alphabet[v >> 6 & 63] : '=';
		quad[3] = n > 2 ? base64_alphabet[v & 63] : '=';
		if (buf_append(out, quad, 4) < 0)
			return -1;
	}
	return 0;
}

/* The value of c in the alphabet, or -1. */
static int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(const char *text, size_t len, struct buf *out)
{
	unsigned char bytes[3];

	/* RFC 4648 3.2: padded to a multiple of four characters. */
	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int pad = 0;
		unsigned v = 0;

		for (size_t k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)text[i + k];
			int d;

			if (c == '=' && last && k >= 2) {
				pad++;
				continue;
			}
			/* Nothing but '=' may follow a '='. */
			if (pad > 0 || (d = base64_value(c)) < 0)
				return -1;
			v |= (unsigned)d << (18 - 6 * k);
		}
		/* RFC 4648 3.5: the bits the padding leaves over must be 0. */
		if ((pad == 1 && (v & 0xff) != 0) ||
		    (pad == 2 && (v & 0xffff) != 0))
			return -1;
		bytes[0] = (unsigned char)(v >> 16);
		bytes[1] = (unsigned char)(v >> 8);
		bytes[2] = (unsigned char)v;
		if (buf_append(out, bytes, 3 - (size_t)pad) < 0)
			return -1;
	}
	return 0;
}
