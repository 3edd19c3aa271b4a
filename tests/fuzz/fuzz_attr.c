/*
 * fuzz_attr.c: libFuzzer target for the attribute IPC decoder
 * (lib/attr.c, docs/ipc.md). Decodes message after message from the input
 * with the default limits, as a daemon reading a peer would, and checks
 * every accepted message: it stays within the limits, and encoding it
 * again gives back exactly the bytes it came from (the format has one
 * encoding per list), which decode the same way a second time.
 * SECURITY: the input is hostile by construction; any crash, leak,
 * sanitizer report or abort() here is a bug in the decoder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_same(const struct attr_list *a,
                            const struct attr_list *b)
{
	if (attr_list_count(a) != attr_list_count(b))
		abort();
	for (size_t i = 0; i < attr_list_count(a); i++) {
		size_t la, lb;
		const char *va = attr_value_at(a, i, &la);
		const char *vb = attr_value_at(b, i, &lb);

		if (strcmp(attr_name_at(a, i), attr_name_at(b, i)) != 0 ||
		    la != lb || memcmp(va, vb, la) != 0 || vb[lb] != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct attr_limits *limits = &attr_default_limits;
	struct attr_list *l = attr_list_create(), *again = attr_list_create();
	struct buf *err = buf_create(0, 1024), *out = buf_create(0, 0);
	size_t used, used2;
	int r;

	while (size > 0) {
		used = 0;
		r = attr_decode(l, data, size, &used, limits, err);
		if (r != 0) {
			/* Need more or refused: nothing may be left behind,
			 * and a refusal always says why. */
			if (attr_list_count(l) != 0 || (r < 0 && !buf_len(err)))
				abort();
			break;
		}
		if (used < 2 || used > size || used > limits->max_total ||
		    attr_list_count(l) > limits->max_count)
			abort();
		for (size_t i = 0; i < attr_list_count(l); i++) {
			size_t len;

			attr_value_at(l, i, &len);
			if (strlen(attr_name_at(l, i)) > limits->max_name ||
			    len > limits->max_value)
				abort();
		}
		buf_reset(out);
		attr_encode(l, out);
		if (buf_len(out) != used || memcmp(buf_str(out), data, used))
			abort();
		if (attr_decode(again, buf_str(out), buf_len(out), &used2,
		                limits, err) != 0 ||
		    used2 != used)
			abort();
		fuzz_check_same(l, again);
		data += used;
		size -= used;
	}
	attr_list_destroy(&l);
	attr_list_destroy(&again);
	buf_destroy(&err);
	buf_destroy(&out);
	return 0;
}
