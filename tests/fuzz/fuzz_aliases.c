/*
 * fuzz_aliases.c: libFuzzer target for the aliases(5) parser
 * (lib/aliases.c). The input is parsed as an aliases file, as an
 * :include: file and as a target list. Checks: every entry has a
 * lowercase name within the limits and a non-empty canonical value;
 * the canonical value is a fixed point (splitting it and quoting the
 * targets again gives it back byte for byte); every target of any list
 * survives aliases_quote + aliases_split unchanged, is within
 * ALIASES_TARGET_MAX and holds no control character; counts stay within
 * ALIASES_TARGETS_MAX.
 * SECURITY: the input is hostile by construction; any crash, leak,
 * sanitizer report or abort() here is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aliases.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_one(void *ctx, const char *target)
{
	(void)ctx;
	*(int *)ctx += 1;
	return 0;
}

static int fuzz_rejoin(void *ctx, const char *target)
{
	struct buf *out = ctx;

	if (buf_len(out) > 0)
		buf_append_str(out, ", ");
	if (aliases_quote(target, out) < 0)
		abort();
	return 0;
}

static int fuzz_keep(void *ctx, const char *target)
{
	struct buf *copy = ctx;

	buf_set_str(copy, target);
	return 0;
}

/* A target must come back unchanged through quote + split. */
static int fuzz_target(void *ctx, const char *target)
{
	struct buf *q = buf_create(0, 0), *back = buf_create(0, 0);
	struct buf *err = buf_create(0, 4096);
	size_t len = strlen(target);

	(void)ctx;
	if (len == 0 || len > ALIASES_TARGET_MAX)
		abort();
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)target[i] < 0x20 || target[i] == 0x7f)
			abort();
	if (aliases_quote(target, q) < 0 ||
	    aliases_split(buf_str(q), buf_len(q), fuzz_keep, back, err) != 1 ||
	    strcmp(buf_str(back), target) != 0)
		abort();
	(void)alias_target_type(target, NULL);
	buf_destroy(&q);
	buf_destroy(&back);
	buf_destroy(&err);
	return 0;
}

static int fuzz_entry(void *ctx, const char *name, const char *value, long line)
{
	struct buf *again = buf_create(0, 0), *err = buf_create(0, 4096);
	size_t nlen = strlen(name);
	int n;

	(void)ctx;
	if (nlen == 0 || nlen > ALIASES_NAME_MAX || line < 1 || *value == 0)
		abort();
	for (size_t i = 0; i < nlen; i++)
		if ((name[i] >= 'A' && name[i] <= 'Z') ||
		    (unsigned char)name[i] < 0x20)
			abort();
	n = aliases_split(value, strlen(value), fuzz_rejoin, again, err);
	if (n < 1 || n > ALIASES_TARGETS_MAX ||
	    strcmp(buf_str(again), value) != 0)
		abort();
	if (aliases_split(value, strlen(value), fuzz_target, NULL, err) != n)
		abort();
	buf_destroy(&again);
	buf_destroy(&err);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf *err = buf_create(0, 4096);
	const char *text = (const char *)data;
	int n, count = 0;

	n = aliases_parse(text, size, "fuzz", fuzz_entry, NULL, err);
	if (n < 0 && strncmp(buf_str(err), "fuzz:", 5) != 0)
		abort();
	n = aliases_parse_include(text, size, "fuzz", fuzz_target, NULL, err);
	if (n > ALIASES_TARGETS_MAX)
		abort();
	n = aliases_split(text, size, fuzz_one, &count, err);
	if (n >= 0 && n != count)
		abort();
	if (n >= 0)
		aliases_split(text, size, fuzz_target, NULL, err);
	buf_destroy(&err);
	return 0;
}
