/* check_sasl.c: unit tests for lib/sasl.c: PLAIN (RFC 4616) and LOGIN
 * server exchanges with and without initial response (RFC 4954 4: "="
 * for an empty one, "*" cancel), table-driven hostile responses (bad
 * base64, missing and extra NULs, authzid mismatch, empty and overlong
 * fields, control characters, overlong lines), the client helpers
 * (sasl_client_plain, sasl_client_login_step) checked by feeding their
 * output back to the server side. */
#include <check.h>
#include <string.h>

#include "base64.h"
#include "buf.h"
#include "sasl.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* base64 of len bytes of raw into a static buffer. */
static const char *enc(const char *raw, size_t len)
{
	static char out[20000];
	struct buf *b = buf_create(64, sizeof(out) - 1);

	ck_assert_int_eq(base64_encode(raw, len, b), 0);
	memcpy(out, buf_str(b), buf_len(b) + 1);
	buf_destroy(&b);
	return out;
}

START_TEST(test_plain_ir)
{
	static const char msg[] = "\0u1@example.test\0secret pw";
	struct sasl_server *s = sasl_server_create(SASL_MECH_PLAIN);
	struct buf *ch = buf_create(64, 1024);
	const char *ir = enc(msg, sizeof(msg) - 1);
	size_t plen;

	ck_assert_int_eq(sasl_server_start(s, ir, strlen(ir), ch), SASL_DONE);
	ck_assert_str_eq(sasl_server_authcid(s), "u1@example.test");
	ck_assert_str_eq(sasl_server_password(s, &plen), "secret pw");
	ck_assert_uint_eq(plen, 9);
	/* Over: any further input is an error. */
	ck_assert_int_eq(sasl_server_step(s, ir, strlen(ir), ch), SASL_ERROR);
	sasl_server_destroy(&s);
	ck_assert_ptr_null(s);
	buf_destroy(&ch);
}
END_TEST

START_TEST(test_plain_challenge)
{
	static const char msg[] = "U1@Example.Test\0U1@Example.Test\0pw";
	struct sasl_server *s = sasl_server_create(SASL_MECH_PLAIN);
	struct buf *ch = buf_create(64, 1024);
	const char *r = enc(msg, sizeof(msg) - 1);
	size_t plen;

	ck_assert_int_eq(sasl_server_start(s, NULL, 0, ch), SASL_CONTINUE);
	ck_assert_str_eq(buf_str(ch), "");
	/* authzid equal to authcid is fine (case-insensitively too). */
	ck_assert_int_eq(sasl_server_step(s, r, strlen(r), ch), SASL_DONE);
	ck_assert_str_eq(sasl_server_authcid(s), "U1@Example.Test");
	ck_assert_str_eq(sasl_server_password(s, &plen), "pw");
	sasl_server_destroy(&s);
	buf_destroy(&ch);
}
END_TEST

START_TEST(test_login)
{
	struct sasl_server *s = sasl_server_create(SASL_MECH_LOGIN);
	struct buf *ch = buf_create(64, 1024);
	size_t plen;
	const char *r;

	ck_assert_int_eq(sasl_server_start(s, NULL, 0, ch), SASL_CONTINUE);
	ck_assert_str_eq(buf_str(ch), "VXNlcm5hbWU6");
	r = enc("u2@example.test", 15);
	ck_assert_int_eq(sasl_server_step(s, r, strlen(r), ch), SASL_CONTINUE);
	ck_assert_str_eq(buf_str(ch), "UGFzc3dvcmQ6");
	r = enc("p\xc3\xa4ss", 5);
	ck_assert_int_eq(sasl_server_step(s, r, strlen(r), ch), SASL_DONE);
	ck_assert_str_eq(sasl_server_authcid(s), "u2@example.test");
	ck_assert_str_eq(sasl_server_password(s, &plen), "p\xc3\xa4ss");
	sasl_server_destroy(&s);

	/* LOGIN with an initial response: the user name. */
	s = sasl_server_create(SASL_MECH_LOGIN);
	r = enc("u3@example.test", 15);
	ck_assert_int_eq(sasl_server_start(s, r, strlen(r), ch), SASL_CONTINUE);
	ck_assert_str_eq(buf_str(ch), "UGFzc3dvcmQ6");
	r = enc("x", 1);
	ck_assert_int_eq(sasl_server_step(s, r, strlen(r), ch), SASL_DONE);
	ck_assert_str_eq(sasl_server_authcid(s), "u3@example.test");
	sasl_server_destroy(&s);
	buf_destroy(&ch);
}
END_TEST

START_TEST(test_cancel)
{
	struct buf *ch = buf_create(64, 1024);
	struct sasl_server *s = sasl_server_create(SASL_MECH_PLAIN);

	/* RFC 4954 4: "*" as the initial response or any response. */
	ck_assert_int_eq(sasl_server_start(s, "*", 1, ch), SASL_CANCEL);
	ck_assert_ptr_null(sasl_server_authcid(s));
	sasl_server_destroy(&s);
	s = sasl_server_create(SASL_MECH_LOGIN);
	ck_assert_int_eq(sasl_server_start(s, NULL, 0, ch), SASL_CONTINUE);
	ck_assert_int_eq(sasl_server_step(s, "*", 1, ch), SASL_CANCEL);
	ck_assert_ptr_null(sasl_server_authcid(s));
	sasl_server_destroy(&s);
	s = sasl_server_create(SASL_MECH_LOGIN);
	ck_assert_int_eq(sasl_server_start(s, NULL, 0, ch), SASL_CONTINUE);
	ck_assert_int_eq(sasl_server_step(s, "dTE=", 4, ch), SASL_CONTINUE);
	ck_assert_int_eq(sasl_server_step(s, "*", 1, ch), SASL_CANCEL);
	ck_assert_ptr_null(sasl_server_authcid(s));
	sasl_server_destroy(&s);
	buf_destroy(&ch);
}
END_TEST

/* Hostile PLAIN messages (raw bytes, encoded by the test), given as the
 * initial response: every one is SASL_ERROR. */
static const struct {
	const char *raw;
	size_t len;
	const char *why;
} plain_bad[] = {
    {"", 0, "missing NUL separator"},
    {"user", 4, "missing NUL separator"},
    {"\0user", 5, "missing second NUL separator"},
    {"\0user\0", 6, "empty password"},
    {"\0\0pw", 4, "empty authentication identity"},
    {"\0user\0pw\0", 9, "NUL in password"},
    {"\0user\0p\0w", 9, "NUL in password"},
    {"other\0user\0pw", 13,
     "authorization identity differs from "
     "authentication identity"},
    {"use\0user\0pw", 11,
     "authorization identity differs from "
     "authentication identity"},
    {"\0us er\0pw", 9, "bad character in authentication identity"},
    {"\0us\ter\0pw", 9, "bad character in authentication identity"},
    {"\0us\x7fr\0pw", 9, "bad character in authentication identity"},
    {"\0\0\0", 3, "empty authentication identity"},
};

START_TEST(test_plain_hostile)
{
	struct sasl_server *s = sasl_server_create(SASL_MECH_PLAIN);
	struct buf *ch = buf_create(64, 1024);
	const char *ir = enc(plain_bad[_i].raw, plain_bad[_i].len);
	size_t plen = 99;

	if (*ir == 0)
		ir = "="; /* RFC 4954 4: the empty initial response */
	ck_assert_int_eq(sasl_server_start(s, ir, strlen(ir), ch), SASL_ERROR);
	ck_assert_str_eq(sasl_server_error(s), plain_bad[_i].why);
	ck_assert_ptr_null(sasl_server_authcid(s));
	ck_assert_ptr_null(sasl_server_password(s, &plen));
	ck_assert_uint_eq(plen, 0);
	sasl_server_destroy(&s);
	buf_destroy(&ch);
}
END_TEST

/* Hostile response lines (as sent, not encoded) after the PLAIN
 * challenge and after the LOGIN user challenge. */
static const struct {
	const char *line;
	const char *why;
} line_bad[] = {
    {"!!!!", "malformed base64"},
    {"dXNlcg", "malformed base64"}, /* no padding */
    {"dXNlcg= ", "malformed base64"},
    {" dXNlcg==", "malformed base64"},
    {"dXNl\ncg==", "malformed base64"},
    {"dXNlcg==dXNlcg==", "malformed base64"},
    {"=", "malformed base64"}, /* "=" only as an initial response */
    {"**", "malformed base64"},
};

START_TEST(test_line_hostile)
{
	for (int m = 0; m < 2; m++) {
		struct sasl_server *s =
		    sasl_server_create(m ? SASL_MECH_LOGIN : SASL_MECH_PLAIN);
		struct buf *ch = buf_create(64, 1024);

		ck_assert_int_eq(sasl_server_start(s, NULL, 0, ch),
		                 SASL_CONTINUE);
		ck_assert_int_eq(sasl_server_step(s, line_bad[_i].line,
		                                  strlen(line_bad[_i].line),
		                                  ch),
		                 SASL_ERROR);
		ck_assert_str_eq(sasl_server_error(s), line_bad[_i].why);
		sasl_server_destroy(&s);
		buf_destroy(&ch);
	}
}
END_TEST

START_TEST(test_limits)
{
	static char raw[SASL_LINE_MAX];
	struct buf *ch = buf_create(64, 1024);
	struct sasl_server *s;
	const char *r;

	/* An identity of SASL_AUTHCID_MAX bytes is fine, one more is not. */
	for (int extra = 0; extra < 2; extra++) {
		size_t n = SASL_AUTHCID_MAX + (size_t)extra;

		memset(raw, 'a', sizeof(raw));
		raw[0] = 0;
		raw[1 + n] = 0;
		memcpy(raw + 2 + n, "pw", 2);
		r = enc(raw, n + 4);
		s = sasl_server_create(SASL_MECH_PLAIN);
		ck_assert_int_eq(sasl_server_start(s, r, strlen(r), ch),
		                 extra ? SASL_ERROR : SASL_DONE);
		sasl_server_destroy(&s);
	}
	/* The same for the password. */
	for (int extra = 0; extra < 2; extra++) {
		size_t n = SASL_PASSWD_MAX + (size_t)extra;

		memset(raw, 'p', sizeof(raw));
		memcpy(raw, "\0u\0", 3);
		r = enc(raw, 3 + n);
		s = sasl_server_create(SASL_MECH_PLAIN);
		ck_assert_int_eq(sasl_server_start(s, r, strlen(r), ch),
		                 extra ? SASL_ERROR : SASL_DONE);
		if (extra)
			ck_assert_str_eq(sasl_server_error(s),
			                 "password too long");
		sasl_server_destroy(&s);
	}
	/* LOGIN fields too. */
	memset(raw, 'a', sizeof(raw));
	r = enc(raw, SASL_AUTHCID_MAX + 1);
	s = sasl_server_create(SASL_MECH_LOGIN);
	ck_assert_int_eq(sasl_server_start(s, r, strlen(r), ch), SASL_ERROR);
	sasl_server_destroy(&s);
	s = sasl_server_create(SASL_MECH_LOGIN);
	ck_assert_int_eq(sasl_server_start(s, "", 0, ch), SASL_ERROR);
	ck_assert_str_eq(sasl_server_error(s), "empty authentication identity");
	sasl_server_destroy(&s);
	s = sasl_server_create(SASL_MECH_LOGIN);
	ck_assert_int_eq(sasl_server_start(s, "=", 1, ch), SASL_ERROR);
	ck_assert_str_eq(sasl_server_error(s), "empty authentication identity");
	sasl_server_destroy(&s);
	/* RFC 4954 4: a line over 12288 octets is refused undecoded. */
	memset(raw, 'A', sizeof(raw));
	s = sasl_server_create(SASL_MECH_PLAIN);
	ck_assert_int_eq(sasl_server_start(s, NULL, 0, ch), SASL_CONTINUE);
	{
		static char big[SASL_LINE_MAX + 4];

		memset(big, 'A', sizeof(big));
		ck_assert_int_eq(
		    sasl_server_step(s, big, SASL_LINE_MAX + 4, ch),
		    SASL_ERROR);
		ck_assert_str_eq(sasl_server_error(s), "response too long");
	}
	sasl_server_destroy(&s);
	buf_destroy(&ch);
}
END_TEST

START_TEST(test_mech_parse)
{
	enum sasl_mech m;

	ck_assert_int_eq(sasl_mech_parse("PLAIN", 5, &m), 0);
	ck_assert_int_eq(m, SASL_MECH_PLAIN);
	ck_assert_int_eq(sasl_mech_parse("login", 5, &m), 0);
	ck_assert_int_eq(m, SASL_MECH_LOGIN);
	ck_assert_int_eq(sasl_mech_parse("PLAINX", 6, &m), -1);
	ck_assert_int_eq(sasl_mech_parse("PLAI", 4, &m), -1);
	ck_assert_int_eq(sasl_mech_parse("CRAM-MD5", 8, &m), -1);
	ck_assert_int_eq(sasl_mech_parse("", 0, &m), -1);
	ck_assert_str_eq(sasl_mech_name(SASL_MECH_PLAIN), "PLAIN");
	ck_assert_str_eq(sasl_mech_name(SASL_MECH_LOGIN), "LOGIN");
}
END_TEST

START_TEST(test_client_plain)
{
	struct buf *out = buf_create(64, 4096);
	struct buf *ch = buf_create(64, 1024);
	struct sasl_server *s = sasl_server_create(SASL_MECH_PLAIN);
	char longer[SASL_PASSWD_MAX + 2];
	size_t plen;

	ck_assert_int_eq(sasl_client_plain("tim", "tanstaaftanstaaf", out), 0);
	/* RFC 4616 4's example, without the authzid. */
	ck_assert_str_eq(buf_str(out), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
	ck_assert_int_eq(sasl_server_start(s, buf_str(out), buf_len(out), ch),
	                 SASL_DONE);
	ck_assert_str_eq(sasl_server_authcid(s), "tim");
	ck_assert_str_eq(sasl_server_password(s, &plen), "tanstaaftanstaaf");
	sasl_server_destroy(&s);
	buf_reset(out);
	ck_assert_int_eq(sasl_client_plain("", "pw", out), -1);
	ck_assert_int_eq(sasl_client_plain("u", "", out), -1);
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = 0;
	ck_assert_int_eq(sasl_client_plain("u", longer, out), -1);
	buf_destroy(&out);
	buf_destroy(&ch);
}
END_TEST

START_TEST(test_client_login)
{
	struct buf *out = buf_create(64, 4096);
	struct buf *ch = buf_create(64, 1024);
	struct sasl_server *s = sasl_server_create(SASL_MECH_LOGIN);
	size_t plen;

	/* Round trip against the server side. */
	ck_assert_int_eq(sasl_server_start(s, NULL, 0, ch), SASL_CONTINUE);
	ck_assert_int_eq(sasl_client_login_step(buf_str(ch), buf_len(ch), 0,
	                                        "me@x.test", "pw!", out),
	                 0);
	ck_assert_int_eq(sasl_server_step(s, buf_str(out), buf_len(out), ch),
	                 SASL_CONTINUE);
	buf_reset(out);
	ck_assert_int_eq(sasl_client_login_step(buf_str(ch), buf_len(ch), 1,
	                                        "me@x.test", "pw!", out),
	                 0);
	ck_assert_str_eq(buf_str(out), "cHch");
	ck_assert_int_eq(sasl_server_step(s, buf_str(out), buf_len(out), ch),
	                 SASL_DONE);
	ck_assert_str_eq(sasl_server_authcid(s), "me@x.test");
	ck_assert_str_eq(sasl_server_password(s, &plen), "pw!");
	sasl_server_destroy(&s);
	/* The text decides over the step ("Password:" first). */
	buf_reset(out);
	ck_assert_int_eq(
	    sasl_client_login_step("UGFzc3dvcmQ6", 12, 0, "u", "pw!", out), 0);
	ck_assert_str_eq(buf_str(out), "cHch");
	/* "User Name" (another server's wording). */
	buf_reset(out);
	ck_assert_int_eq(
	    sasl_client_login_step("VXNlciBOYW1l", 12, 1, "u", "pw!", out), 0);
	ck_assert_str_eq(buf_str(out), "dQ==");
	/* Unknown text: the step decides; a third step is refused. */
	buf_reset(out);
	ck_assert_int_eq(sasl_client_login_step("", 0, 1, "u", "pw!", out), 0);
	ck_assert_str_eq(buf_str(out), "cHch");
	ck_assert_int_eq(sasl_client_login_step("", 0, 2, "u", "pw!", out), -1);
	ck_assert_int_eq(sasl_client_login_step("!!", 2, 0, "u", "pw!", out),
	                 -1);
	ck_assert_int_eq(
	    sasl_client_login_step("VXNlcm5hbWU6", 12, 0, "", "pw!", out), -1);
	buf_destroy(&out);
	buf_destroy(&ch);
}
END_TEST

START_TEST(test_buf_wipe)
{
	struct buf *b = buf_create(16, 64);

	buf_append_str(b, "secret");
	sasl_buf_wipe(b);
	ck_assert_uint_eq(buf_len(b), 0);
	ck_assert_int_eq(memcmp(buf_data(b), "\0\0\0\0\0\0", 6), 0);
	sasl_buf_wipe(NULL);
	buf_destroy(&b);
}
END_TEST

Suite *sasl_suite(void)
{
	Suite *s = suite_create("sasl");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_plain_ir);
	tcase_add_test(tc, test_plain_challenge);
	tcase_add_test(tc, test_login);
	tcase_add_test(tc, test_cancel);
	tcase_add_loop_test(tc, test_plain_hostile, 0, NELEM(plain_bad));
	tcase_add_loop_test(tc, test_line_hostile, 0, NELEM(line_bad));
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_mech_parse);
	tcase_add_test(tc, test_client_plain);
	tcase_add_test(tc, test_client_login);
	tcase_add_test(tc, test_buf_wipe);
	suite_add_tcase(s, tc);
	return s;
}
