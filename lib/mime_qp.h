/* mime_qp.h: 8-bit to 7-bit MIME downgrade (RFC 6152 3, RFC 2045 6.7)
 * for an SMTP client whose server lacks 8BITMIME. Two passes over the
 * message's lines (LF-free, as kept in the queue): the scan finds the
 * MIME entities whose body holds 8-bit bytes, the conversion rewrites
 * them as quoted-printable (Content-Transfer-Encoding changed or added)
 * and marks multipart/message containers declared 8bit as 7bit. Headers
 * with 8-bit bytes are passed on as they are (no charset to encode them
 * with). */
#ifndef POSTHORN_MIME_QP_H
#define POSTHORN_MIME_QP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Nesting of multiparts followed (deeper ones are passed on as they
 * are), and entities tracked per message. */
#define MIME_QP_MAX_DEPTH 32
#define MIME_QP_MAX_ENTITIES 4096
/* Longest header field kept for parsing (the rest still passes). */
#define MIME_QP_FIELD_MAX 8192
/* RFC 2045 6.7 (5): encoded lines are at most 76 characters. */
#define MIME_QP_LINE_MAX 76

struct mime_qp;

struct mime_qp *mime_qp_create(void);
void mime_qp_destroy(struct mime_qp **mp);

/* Pass 1: one line of the message (without its LF). */
void mime_qp_scan(struct mime_qp *m, const char *line, size_t len);
/* After pass 1: does the message hold any 8-bit byte (headers or body)? */
bool mime_qp_has_8bit(const struct mime_qp *m);
/* After pass 1: does any header line hold an 8-bit byte? */
bool mime_qp_headers_8bit(const struct mime_qp *m);

/* Pass 2 (after every line went through pass 1): append the converted
 * form of one line to out, as zero or more lines each ending in "\n". */
void mime_qp_convert(struct mime_qp *m, const char *line, size_t len,
                     struct buf *out);

/* Quoted-printable encoding of one line of text (RFC 2045 6.7) onto out,
 * with soft line breaks ("=\n") keeping lines at MIME_QP_LINE_MAX, ending
 * in "\n". */
void mime_qp_encode_line(const char *line, size_t len, struct buf *out);

#endif
