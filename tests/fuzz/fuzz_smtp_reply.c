/*
 * fuzz_smtp_reply.c: libFuzzer target for the SMTP reply parser
 * (lib/smtp_reply.c). The input is split at LF into reply lines (a CR
 * before the LF is dropped, as the stream reader does); each line goes
 * to smtp_reply_add_line, and every complete reply through the EHLO
 * keyword parser. Checks: codes in 200..599, the enhanced status code
 * of the reply's class, text within its cap and free of control
 * characters, the line count within its limit.
 * SECURITY: input is arbitrary bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

static void fuzz_check_reply(const struct smtp_reply *r)
{
	const char *t = buf_str(r->text);
	long long size = -1;

	fuzz_check(r->code >= 200 && r->code <= 599);
	fuzz_check(r->dsn[0] == '0' + r->code / 100 && r->dsn[1] == '.');
	fuzz_check(strlen(r->dsn) < sizeof(r->dsn));
	fuzz_check(r->nlines >= 1 && r->nlines <= SMTP_REPLY_MAX_LINES);
	fuzz_check(buf_len(r->text) <= SMTP_REPLY_TEXT_MAX);
	fuzz_check(strlen(t) == buf_len(r->text));
	for (size_t i = 0; i < buf_len(r->text); i++)
		fuzz_check((unsigned char)t[i] >= 0x20 && t[i] != 0x7f);
	(void)smtp_reply_ehlo_features(r, &size);
	fuzz_check(size >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply r;
	const char *p = (const char *)data, *end = p + size;

	smtp_reply_init(&r);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int rc;

		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len > SMTP_REPLY_LINE_MAX)
			len = SMTP_REPLY_LINE_MAX;
		rc = smtp_reply_add_line(&r, p, len);
		fuzz_check(rc == SMTP_REPLY_DONE || rc == SMTP_REPLY_MORE ||
		           rc == SMTP_REPLY_MALFORMED);
		if (rc == SMTP_REPLY_DONE)
			fuzz_check_reply(&r);
		if (rc == SMTP_REPLY_MALFORMED)
			smtp_reply_reset(&r);
		p = nl ? nl + 1 : end;
	}
	smtp_reply_deinit(&r);
	return 0;
}
