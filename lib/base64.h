/* base64.h: RFC 4648 section 4 base64, as SASL exchanges use it (RFC 4954
 * 4: AUTH challenges and responses). Strict decoding: the standard
 * alphabet only, padding required, no white space, nothing after the
 * padding. */
#ifndef POSTHORN_BASE64_H
#define POSTHORN_BASE64_H

#include <stddef.h>

#include "buf.h"

/* The encoded length of len bytes (without a terminating NUL). */
size_t base64_encoded_len(size_t len);
/* Append the encoding of data (len bytes) to out. -1 when out's limit
 * would be passed (out then holds what fitted: callers discard it). */
int base64_encode(const void *data, size_t len, struct buf *out);
/* Decode text (len characters) and append the bytes to out (which may
 * then hold NUL bytes: use buf_len). -1 for anything that is not strict
 * base64, or when out's limit would be passed. */
int base64_decode(const char *text, size_t len, struct buf *out);

#endif
