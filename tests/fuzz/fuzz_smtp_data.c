/*
 * fuzz_smtp_data.c: libFuzzer target for the DATA/BDAT content decoder
 * (lib/smtp_data.c). The first input byte picks the piece size the rest
 * is fed in; the rest is what a client sends after "DATA". The decoder's
 * result is compared with a one-shot reference written from the rules in
 * smtp_data.h: the end is the first CRLF "." CRLF (the DATA command's
 * CRLF counts as the first CRLF), lines are split at CRLF only, a leading
 * dot is dropped, CRLF becomes LF, bare CR and LF stay and are reported.
 * When the input holds no end, the terminator CRLF "." CRLF is fed after
 * it and the whole must match the reference for input + terminator. The
 * same bytes as BDAT chunks must give the input with CRLF turned to LF.
 * SECURITY: the input is hostile by construction; any crash, leak,
 * sanitizer report or abort() here is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

/* The reference: decode in[0..len) at once. Returns the bytes used
 * through the end (0 if none) and fills out and flags. */
static size_t fuzz_reference(const uint8_t *in, size_t len, struct buf *out,
                             unsigned *flags)
{
	size_t stop = len, end = 0;
	bool bol = true;

	/* "\r\n" + in: the end is the first "\r\n.\r\n" in that. */
	for (size_t k = 0; k + 3 <= len; k++) {
		bool at_bol = k == 0 || (k >= 2 && in[k - 2] == '\r' &&
		                         in[k - 1] == '\n');

		if (at_bol && in[k] == '.' && in[k + 1] == '\r' &&
		    in[k + 2] == '\n') {
			stop = k;
			end = k + 3;
			break;
		}
	}
	*flags = 0;
	for (size_t i = 0; i < stop; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			*flags |= SMTP_DATA_BARE_LF;
		if (in[i] == '\r' && (i + 1 >= len || in[i + 1] != '\n'))
			*flags |= SMTP_DATA_BARE_CR;
	}
	for (size_t i = 0; i < stop; i++) {
		if (bol && in[i] == '.') {
			/* Not the end line, so more follows: dropped. */
			bol = false;
			continue;
		}
		bol = false;
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n') {
			buf_append_char(out, '\n');
			i++;
			bol = true;
			continue;
		}
		buf_append_char(out, in[i]);
	}
	return end;
}

static void fuzz_dot(const uint8_t *in, size_t len, size_t step)
{
	static const char term[] = "\r\n.\r\n";
	struct smtp_data *d = smtp_data_create(SMTP_DATA_DOT);
	struct buf *out = buf_create(0, 0), *ref = buf_create(0, 0);
	uint8_t *all = malloc(len + sizeof(term));
	size_t pos = 0, used = 0, refused;
	unsigned refflags;
	int r = SMTP_DATA_MORE;

	memcpy(all, in, len);
	memcpy(all + len, term, sizeof(term) - 1);
	while (pos < len && r == SMTP_DATA_MORE) {
		size_t n = len - pos < step ? len - pos : step;
		size_t before = buf_len(out);

		r = smtp_data_feed(d, in + pos, n, &used, out);
		fuzz_check(used <= n);
		fuzz_check(buf_len(out) - before <= n + 1);
		fuzz_check(r == SMTP_DATA_END || used == n);
		pos += used;
	}
	if (r == SMTP_DATA_MORE) {
		/* No end in the input: the terminator must end it. */
		pos = 0;
		while (r == SMTP_DATA_MORE && pos < sizeof(term) - 1) {
			r = smtp_data_feed(d, term + pos, 1, &used, out);
			pos += used;
		}
		fuzz_check(r == SMTP_DATA_END);
		refused =
		    fuzz_reference(all, len + sizeof(term) - 1, ref, &refflags);
		fuzz_check(refused != 0 && refused <= len + sizeof(term) - 1);
		/* The end lies in the terminator (else the input had it). */
		fuzz_check(refused > len);
	} else {
		refused = fuzz_reference(in, len, ref, &refflags);
		fuzz_check(refused == pos);
	}
	fuzz_check(buf_len(out) == buf_len(ref));
	fuzz_check(memcmp(buf_str(out), buf_str(ref), buf_len(ref)) == 0);
	fuzz_check(smtp_data_flags(d) == refflags);
	fuzz_check(smtp_data_size(d) == (long long)buf_len(out));
	free(all);
	smtp_data_destroy(&d);
	buf_destroy(&out);
	buf_destroy(&ref);
}

static void fuzz_chunk(const uint8_t *in, size_t len, size_t step)
{
	struct smtp_data *d = smtp_data_create(SMTP_DATA_CHUNK);
	struct buf *out = buf_create(0, 0), *ref = buf_create(0, 0);
	size_t used;

	for (size_t pos = 0; pos < len; pos += step) {
		size_t n = len - pos < step ? len - pos : step;

		fuzz_check(smtp_data_feed(d, in + pos, n, &used, out) ==
		           SMTP_DATA_MORE);
		fuzz_check(used == n);
	}
	smtp_data_chunk_end(d, out);
	for (size_t i = 0; i < len; i++)
		if (!(in[i] == '\r' && i + 1 < len && in[i + 1] == '\n'))
			buf_append_char(ref, in[i]);
	fuzz_check(buf_len(out) == buf_len(ref));
	fuzz_check(memcmp(buf_str(out), buf_str(ref), buf_len(ref)) == 0);
	fuzz_check(smtp_data_flags(d) == 0);
	smtp_data_destroy(&d);
	buf_destroy(&out);
	buf_destroy(&ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step;

	if (size < 1)
		return 0;
	step = (size_t)(data[0] & 0x3f) + 1;
	data++;
	size--;
	fuzz_dot(data, size, step);
	fuzz_dot(data, size, size ? size : 1);
	fuzz_chunk(data, size, step);
	return 0;
}
