/* header.h: RFC 5322 header sections, streamed: a splitter that turns
 * message content (fed in pieces of any size) into header fields and body
 * bytes without holding more than one field, plus field name matching,
 * unfolding and folding, and the RFC 5322 3.3 date format. Used by
 * cleanup; fuzzed by tests/fuzz/fuzz_header.c. */
#ifndef POSTHORN_HEADER_H
#define POSTHORN_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"

/* A line longer than this cannot start a header field (RFC 5322 2.1.1:
 * 998 characters a line): a longer name makes it the first body line. */
#define HEADER_NAME_MAX 998

/* What the splitter hands over, in content order. */
struct header_callbacks {
	/* One whole header field as it came, folding included, always
	 * ending in a line end ("Subject: a\n\tb\n"). truncated: the field
	 * was longer than the limit; its first limit bytes are passed (plus
	 * a "\n" when the cut fell inside a line) and the rest was dropped.
	 * Fields do not contain NUL bytes unless the input did. */
	void (*field)(void *ctx, const char *text, size_t len, bool truncated);
	/* The header section ended, before any body byte; called exactly
	 * once (at the latest by header_parser_finish). no_separator: the
	 * body starts with a line that is not a field and there was no
	 * blank line (the caller may insert one); false after a blank line
	 * or when the content ended inside the headers. */
	void (*end)(void *ctx, bool no_separator);
	/* Body bytes, the blank separator line included, as they came. */
	void (*body)(void *ctx, const char *data, size_t len);
};

struct header_parser;

/* A splitter keeping at most field_limit bytes of one field (>= 1;
 * header_size_limit). cb and ctx must outlive it. */
struct header_parser *header_parser_create(size_t field_limit,
                                           const struct header_callbacks *cb,
                                           void *ctx);
/* Free the parser and set *pp to NULL (nothing more is called back). */
void header_parser_destroy(struct header_parser **pp);
/* Feed len content bytes (lines end in LF; CRLF is tolerated). */
void header_parser_feed(struct header_parser *p, const void *data, size_t len);
/* End of content: pass a field still pending (a "\n" is added when the
 * content ended inside it), call end if it was not called yet. */
void header_parser_finish(struct header_parser *p);
/* Has the header section ended? */
bool header_parser_in_body(const struct header_parser *p);

/* The name of a field (text up to the colon, white space before the
 * colon dropped): sets *namelen and returns text, or NULL if text does
 * not start with a field name and a colon. */
const char *header_name(const char *text, size_t len, size_t *namelen);
/* Is the field's name equal to name (ASCII case-insensitive)? */
bool header_name_is(const char *text, size_t len, const char *name);
/* Replace out with the field's value, unfolded (RFC 5322 2.2.3: each
 * line end followed by white space is removed), without the line end and
 * the white space around it. -1 (out untouched) if text is not a field or
 * out's limit is too small. */
int header_value(const char *text, size_t len, struct buf *out);
/* Append "name: value\n" to out, folded (RFC 5322 2.2.3) at white space
 * of value so that lines stay within width columns where possible (a
 * word longer than that stays whole). -1 past out's limit (out is then
 * left as it was). */
int header_fold(const char *name, const char *value, size_t width,
                struct buf *out);
/* Replace out with t as an RFC 5322 3.3 date-time in local time with a
 * numeric zone: "Sat, 22 Nov 2025 03:43:36 +0100". Month and day names
 * are English whatever the locale. -1 if t cannot be converted. */
int header_date(time_t t, struct buf *out);
/* Append name to out as an RFC 5322 3.2.5 phrase: as is when it is a
 * sequence of atoms, else as a quoted string ('"' and '\' escaped; line
 * ends and other control characters become spaces). */
void header_phrase(const char *name, struct buf *out);

#endif
