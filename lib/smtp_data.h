/* smtp_data.h: the SMTP message-content decoder, as an incremental byte
 * stream parser (no I/O): DATA (RFC 5321 4.1.1.4, 4.5.2) with
 * end-of-data detection and dot-unstuffing, and BDAT chunks (RFC 3030),
 * both turned into posthorn's canonical form (lines end in a bare LF).
 *
 * DATA, precisely (the rules that close SMTP smuggling, CVE-2023-51764):
 * - A line ends only at CRLF. The content starts at the beginning of a
 *   line (the DATA command's own CRLF came before it).
 * - End of data is CRLF "." CRLF, i.e. a line holding only "." after a
 *   CRLF, and nothing else: "<LF>.<LF>", "<LF>.<CR><LF>", "<CR>.<CR>"
 *   and "<CR><LF>.<LF>" are content.
 * - A line (in the CRLF sense) starting with "." loses that dot (RFC
 *   5321 4.5.2). A dot after a bare LF or bare CR is not at the start of
 *   a line and stays.
 * - CRLF becomes LF. A bare LF (not after CR) stays LF; a bare CR (not
 *   before LF) stays CR. Both are reported (smtp_data_flags): what to do
 *   about them is the caller's policy (smtpd_forbid_bare_newline).
 * BDAT: exactly the chunk bytes, no dots, no end marker; CRLF becomes
 * LF (also across chunk boundaries), bare CR and bare LF stay as they are
 * and are not reported (the chunk length, not a line end, delimits the
 * content, so nothing in it can be smuggled).
 * Fuzzed by tests/fuzz/fuzz_smtp_data.c against a one-shot reference. */
#ifndef POSTHORN_SMTP_DATA_H
#define POSTHORN_SMTP_DATA_H

#include <stddef.h>

#include "buf.h"

enum smtp_data_mode {
	SMTP_DATA_DOT, /* DATA: dot-terminated, dot-stuffed */
	SMTP_DATA_CHUNK, /* BDAT: length-delimited chunks */
};

/* smtp_data_flags bits: what the DATA content held. */
#define SMTP_DATA_BARE_LF 1u /* an LF without CR before it */
#define SMTP_DATA_BARE_CR 2u /* a CR without LF after it */

/* Results of smtp_data_feed. */
#define SMTP_DATA_MORE 0 /* all input used, the end not seen yet */
#define SMTP_DATA_END 1 /* the end-of-data line was consumed */

struct smtp_data;

/* A decoder for one message. */
struct smtp_data *smtp_data_create(enum smtp_data_mode mode);
/* Free and set *dp to NULL. */
void smtp_data_destroy(struct smtp_data **dp);

/* Decode in[0..len), appending the canonical content to out (at most
 * len + 1 bytes per call: out's limit must leave that much room, else
 * msg_panic). *used: input bytes consumed (all of them for SMTP_DATA_MORE;
 * through the final LF for SMTP_DATA_END: the rest belongs to the next
 * command). In SMTP_DATA_CHUNK mode always SMTP_DATA_MORE. Feeding a
 * DATA decoder after SMTP_DATA_END is a bug (msg_panic). */
int smtp_data_feed(struct smtp_data *d, const void *in, size_t len,
                   size_t *used, struct buf *out);
/* SMTP_DATA_CHUNK: the last chunk is done; append a CR held back in case
 * an LF followed. */
void smtp_data_chunk_end(struct smtp_data *d, struct buf *out);
/* SMTP_DATA_BARE_* bits seen so far (DATA mode). */
unsigned smtp_data_flags(const struct smtp_data *d);
/* Canonical content bytes produced so far. */
long long smtp_data_size(const struct smtp_data *d);

#endif
