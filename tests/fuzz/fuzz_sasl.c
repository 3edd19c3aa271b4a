/*
 * fuzz_sasl.c: libFuzzer target for the SASL decoders (lib/sasl.c): the
 * base64 of responses (RFC 4648 4, via lib/base64.c) and the PLAIN
 * message fields (RFC 4616 2: [authzid] NUL authcid NUL passwd), and the
 * LOGIN exchange. The first byte picks the mechanism and whether the
 * first line is an initial response; the rest is split at LF into
 * response lines fed in order. The raw input is also given to
 * sasl_plain_decode directly (already-decoded bytes), and each complete
 * result is checked: authcid 1..SASL_AUTHCID_MAX bytes without NUL,
 * control characters or blanks; password 1..SASL_PASSWD_MAX bytes without
 * NUL; a decoded credential encoded again by the client helpers is
 * accepted by a fresh server exchange with the same result.
 * SECURITY: input is arbitrary bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

static void fuzz_check_id(const char *id)
{
	size_t n = strlen(id);

	fuzz_check(n >= 1 && n <= SASL_AUTHCID_MAX);
	for (size_t i = 0; i < n; i++)
		fuzz_check((unsigned char)id[i] > 0x20 && id[i] != 0x7f);
}

static void fuzz_check_pass(const char *pw, size_t len)
{
	fuzz_check(len >= 1 && len <= SASL_PASSWD_MAX);
	fuzz_check(strlen(pw) == len);
}

/* Encode user/pass with the client helpers and run them through a fresh
 * server exchange: the same credentials must come out. */
static void fuzz_round_trip(const char *user, const char *pw)
{
	struct buf *out = buf_create(64, 4096), *ch = buf_create(64, 1024);
	struct sasl_server *s = sasl_server_create(SASL_MECH_PLAIN);
	size_t plen;

	fuzz_check(sasl_client_plain(user, pw, out) == 0);
	fuzz_check(sasl_server_start(s, buf_str(out), buf_len(out), ch) ==
	           SASL_DONE);
	fuzz_check(strcmp(sasl_server_authcid(s), user) == 0);
	fuzz_check(strcmp(sasl_server_password(s, &plen), pw) == 0);
	sasl_server_destroy(&s);
	s = sasl_server_create(SASL_MECH_LOGIN);
	fuzz_check(sasl_server_start(s, NULL, 0, ch) == SASL_CONTINUE);
	for (unsigned step = 0; step < 2; step++) {
		enum sasl_status st;

		buf_reset(out);
		fuzz_check(sasl_client_login_step(buf_str(ch), buf_len(ch),
		                                  step, user, pw, out) == 0);
		st = sasl_server_step(s, buf_str(out), buf_len(out), ch);
		fuzz_check(st == (step == 0 ? SASL_CONTINUE : SASL_DONE));
	}
	fuzz_check(strcmp(sasl_server_authcid(s), user) == 0);
	fuzz_check(strcmp(sasl_server_password(s, &plen), pw) == 0);
	sasl_server_destroy(&s);
	buf_destroy(&out);
	buf_destroy(&ch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char authcid[SASL_AUTHCID_MAX + 1], passwd[SASL_PASSWD_MAX + 1];
	struct buf *ch;
	struct sasl_server *s;
	enum sasl_status st;
	const char *p, *end, *why = NULL;
	size_t plen = 0;
	unsigned mode;

	if (size == 0)
		return 0;
	/* The PLAIN field decoder on the raw bytes. */
	if (sasl_plain_decode((const char *)data, size, authcid, passwd, &plen,
	                      &why) == 0) {
		fuzz_check_id(authcid);
		fuzz_check_pass(passwd, plen);
		fuzz_round_trip(authcid, passwd);
	} else {
		fuzz_check(why != NULL);
	}
	/* The exchange. */
	mode = data[0];
	p = (const char *)data + 1;
	end = (const char *)data + size;
	ch = buf_create(64, 1024);
	s = sasl_server_create(mode & 1 ? SASL_MECH_LOGIN : SASL_MECH_PLAIN);
	if (mode & 2) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		const char *e = lf ? lf : end;

		st = sasl_server_start(s, p, (size_t)(e - p), ch);
		p = lf ? lf + 1 : end;
	} else {
		st = sasl_server_start(s, NULL, 0, ch);
	}
	while (st == SASL_CONTINUE && p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		const char *e = lf ? lf : end;

		st = sasl_server_step(s, p, (size_t)(e - p), ch);
		p = lf ? lf + 1 : end;
	}
	if (st == SASL_DONE) {
		const char *pw = sasl_server_password(s, &plen);

		fuzz_check_id(sasl_server_authcid(s));
		fuzz_check_pass(pw, plen);
		fuzz_round_trip(sasl_server_authcid(s), pw);
		/* Over: more input is refused. */
		fuzz_check(sasl_server_step(s, "AA==", 4, ch) == SASL_ERROR);
	} else if (st == SASL_ERROR) {
		fuzz_check(sasl_server_authcid(s) == NULL);
		fuzz_check(strlen(sasl_server_error(s)) > 0);
	} else if (st == SASL_CONTINUE) {
		fuzz_check(sasl_server_authcid(s) == NULL);
	}
	sasl_server_destroy(&s);
	buf_destroy(&ch);
	return 0;
}
