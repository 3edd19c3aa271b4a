/* smtp_reply.h: the SMTP client's reader of server replies (RFC 5321
 * 4.2): one- and multi-line replies, their 3-digit code, the RFC 3463
 * enhanced status code (RFC 2034) and the text, under limits on the
 * number and length of lines. Also the EHLO keyword parser. */
#ifndef POSTHORN_SMTP_REPLY_H
#define POSTHORN_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "stream.h"

/* At most this many lines in one reply (more is a protocol error). */
#define SMTP_REPLY_MAX_LINES 100
/* Longest reply line read (RFC 5321 4.5.3.1.5 says 512 with CRLF; longer
 * lines are cut here, the rest discarded). */
#define SMTP_REPLY_LINE_MAX 2048
/* At most this many bytes of reply text are kept (for logs and DSNs). */
#define SMTP_REPLY_TEXT_MAX 2000

struct smtp_reply {
	int code; /* 200..599; 0 while empty */
	char dsn[16]; /* "5.1.1" from the first line, or derived from the
			  * code ("5.0.0") when the server sent none */
	bool has_dsn; /* the server sent an enhanced status code */
	size_t nlines;
	bool complete; /* the last line was seen */
	struct buf *text; /* lines as sent ("250-a 250 b"), joined by a space,
			   * cut at SMTP_REPLY_TEXT_MAX */
	struct buf *lines; /* each line's text after "250-"/"250 ", one per
			    * '\n' (EHLO keywords), same cap */
};

/* Results of smtp_reply_add_line and smtp_reply_read. */
enum smtp_reply_status {
	SMTP_REPLY_DONE = 0, /* the reply is complete */
	SMTP_REPLY_MORE = 1, /* more lines follow */
	SMTP_REPLY_MALFORMED = -1, /* not a reply line, mixed codes, too
				    * many lines */
	SMTP_REPLY_TIMEOUT = -2, /* deadline passed (reader only) */
	SMTP_REPLY_LOST = -3, /* EOF or I/O error (reader only) */
};

void smtp_reply_init(struct smtp_reply *r);
void smtp_reply_deinit(struct smtp_reply *r);
/* Empty r for the next reply. */
void smtp_reply_reset(struct smtp_reply *r);
/* Add one line (without its CRLF; any bytes, not NUL-terminated). Returns
 * an enum smtp_reply_status; after MALFORMED r holds what came before. */
int smtp_reply_add_line(struct smtp_reply *r, const char *line, size_t len);
/* Read one whole reply from s (the caller set the deadline with
 * stream_set_timeouts). Returns DONE, MALFORMED, TIMEOUT or LOST. */
int smtp_reply_read(struct stream *s, struct smtp_reply *r);
/* The reply's class: 2, 3, 4 or 5. */
int smtp_reply_class(const struct smtp_reply *r);

/* EHLO extensions (RFC 5321 4.1.1.1) the client cares about. */
#define SMTP_EXT_PIPELINING 0x01u /* RFC 2920 */
#define SMTP_EXT_SIZE 0x02u /* RFC 1870 */
#define SMTP_EXT_8BITMIME 0x04u /* RFC 6152 */
#define SMTP_EXT_DSN 0x08u /* RFC 3461 */
#define SMTP_EXT_SMTPUTF8 0x10u /* RFC 6531 */
#define SMTP_EXT_STARTTLS 0x20u /* RFC 3207 */
#define SMTP_EXT_ENHANCEDSTATUSCODES 0x40u /* RFC 2034 */
#define SMTP_EXT_CHUNKING 0x80u /* RFC 3030 */
#define SMTP_EXT_AUTH 0x100u /* RFC 4954 ("AUTH" or the old "AUTH=") */

/* The extensions announced in an EHLO reply (keyword lines after the
 * first), and the SIZE limit (0: none given; capped at max_size). */
unsigned smtp_reply_ehlo_features(const struct smtp_reply *r,
                                  long long *size_limit);
/* The SASL mechanisms of every "AUTH mech ..." and old-style "AUTH=mech
 * ..." line of an EHLO reply (RFC 4954 3), upper-cased, separated by one
 * space, each once, onto mechs (emptied first). Names that are not RFC
 * 4422 3.1 sasl-mech syntax (1-20 of A-Z 0-9 - _) are skipped; what
 * does not fit mechs's limit is dropped. Returns the number of names. */
size_t smtp_reply_ehlo_auth(const struct smtp_reply *r, struct buf *mechs);

#endif
