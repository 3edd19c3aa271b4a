/*
 * fuzz_header.c: libFuzzer target for the streaming header splitter and
 * the field helpers (lib/header.c). The first input byte picks the piece
 * size the content is fed in and the field limit; the rest is content.
 * Checks: the callbacks come in order (fields, one end, body), every
 * field ends in a line end and stays within the limit, the same input
 * fed in other pieces gives the same result, and without truncation the
 * fields and body put together give back the input (plus at most one
 * "\n" when it ended inside a field). Each field also goes through
 * header_value, header_name_is and header_fold.
 * SECURITY: the input is hostile by construction; any crash, leak,
 * sanitizer report or abort() here is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "header.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_seen {
	struct buf *all; /* fields and body, as passed on */
	size_t limit;
	int ends;
	bool truncated;
	bool body_started;
};

static void fuzz_field(void *ctx, const char *text, size_t len, bool truncated)
{
	struct fuzz_seen *s = ctx;
	struct buf *value = buf_create(0, len + 1);
	struct buf *folded = buf_create(0, 4 * len + 64);

	if (s->ends != 0 || s->body_started || len == 0 ||
	    text[len - 1] != '\n' || len > s->limit + 1)
		abort();
	if (truncated)
		s->truncated = true;
	if (header_value(text, len, value) == 0) {
		/* A field's name is what header_name says it is. */
		size_t n;

		if (header_name(text, len, &n) == NULL || n == 0)
			abort();
		(void)header_name_is(text, len, "Received");
		if (str_no_nul(buf_str(value), buf_len(value)))
			(void)header_fold("X-Fuzz", buf_str(value), 78, folded);
	}
	buf_append(s->all, text, len);
	buf_destroy(&value);
	buf_destroy(&folded);
}

static void fuzz_end(void *ctx, bool no_separator)
{
	struct fuzz_seen *s = ctx;

	if (s->ends++ != 0 || s->body_started)
		abort();
}

static void fuzz_body(void *ctx, const char *data, size_t len)
{
	struct fuzz_seen *s = ctx;

	if (s->ends != 1 || len == 0)
		abort();
	s->body_started = true;
	buf_append(s->all, data, len);
}

static const struct header_callbacks fuzz_cb = {fuzz_field, fuzz_end,
                                                fuzz_body};

static void fuzz_run(const uint8_t *in, size_t len, size_t step, size_t limit,
                     struct fuzz_seen *s)
{
	struct header_parser *p;

	memset(s, 0, sizeof(*s));
	s->all = buf_create(0, 0);
	s->limit = limit;
	p = header_parser_create(limit, &fuzz_cb, s);
	for (size_t i = 0; i < len; i += step)
		header_parser_feed(p, in + i, len - i < step ? len - i : step);
	header_parser_finish(p);
	if (s->ends != 1 || !header_parser_in_body(p))
		abort();
	header_parser_destroy(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_seen a, b;
	size_t step, limit;

	if (size < 1)
		return 0;
	step = (data[0] & 0x0f) + 1;
	limit = (data[0] & 0x80) ? 16 + (data[0] >> 4 & 7) * 8 : 102400;
	data++;
	size--;
	fuzz_run(data, size, step, limit, &a);
	fuzz_run(data, size, size ? size : 1, limit, &b);
	if (buf_len(a.all) != buf_len(b.all) ||
	    memcmp(buf_str(a.all), buf_str(b.all), buf_len(a.all)) != 0 ||
	    a.truncated != b.truncated)
		abort();
	if (!a.truncated) {
		size_t n = buf_len(a.all);

		if (n != size &&
		    !(n == size + 1 && buf_str(a.all)[size] == '\n'))
			abort();
		if (memcmp(buf_str(a.all), data, size) != 0)
			abort();
	}
	buf_destroy(&a.all);
	buf_destroy(&b.all);
	return 0;
}
