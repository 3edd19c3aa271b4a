/* check_smtp_reply.c: unit tests for lib/smtp_reply.c: one- and
 * multi-line replies, enhanced status codes (present, absent, of the
 * wrong class, malformed), hostile lines (bad codes, mixed codes, too many
 * lines, control characters, over-long text), the stream reader (EOF,
 * timeout, over-long lines) and the EHLO keyword parser. */
#include <check.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtp_reply.h"

static const struct {
	const char *lines; /* '\n' separated */
	int status; /* of the last add_line */
	int code;
	const char *dsn;
	bool has_dsn;
	const char *text;
} reply_cases[] = {
    {"250 ok", SMTP_REPLY_DONE, 250, "2.0.0", false, "250 ok"},
    {"250", SMTP_REPLY_DONE, 250, "2.0.0", false, "250"},
    {"250 2.1.5 Ok", SMTP_REPLY_DONE, 250, "2.1.5", true, "250 2.1.5 Ok"},
    {"550 5.1.1 <a@b>: no such user", SMTP_REPLY_DONE, 550, "5.1.1", true,
     "550 5.1.1 <a@b>: no such user"},
    {"250-first\n250-second\n250 third", SMTP_REPLY_DONE, 250, "2.0.0", false,
     "250-first 250-second 250 third"},
    {"452-4.5.3 line one\n452 4.5.3 line two", SMTP_REPLY_DONE, 452, "4.5.3",
     true, "452-4.5.3 line one 452 4.5.3 line two"},
    {"250-a\n250-b", SMTP_REPLY_MORE, 250, "2.0.0", false, "250-a 250-b"},
    /* Class mismatch: the code's class is used instead. */
    {"550 2.0.0 odd", SMTP_REPLY_DONE, 550, "5.0.0", false, "550 2.0.0 odd"},
    /* Not an enhanced code: too many digits, missing parts. */
    {"421 4.4444.1 x", SMTP_REPLY_DONE, 421, "4.0.0", false, "421 4.4444.1 x"},
    {"421 4.4 x", SMTP_REPLY_DONE, 421, "4.0.0", false, "421 4.4 x"},
    {"421 4.4.1x", SMTP_REPLY_DONE, 421, "4.0.0", false, "421 4.4.1x"},
    {"250 2.1.0", SMTP_REPLY_DONE, 250, "2.1.0", true, "250 2.1.0"},
    /* Control characters become spaces. */
    {"250 a\tb\x01"
     "c",
     SMTP_REPLY_DONE, 250, "2.0.0", false, "250 a b c"},
    /* Hostile lines. */
    {"", SMTP_REPLY_MALFORMED, 0, "", false, ""},
    {"25", SMTP_REPLY_MALFORMED, 0, "", false, ""},
    {"2500 x", SMTP_REPLY_MALFORMED, 0, "", false, ""},
    {"150 x", SMTP_REPLY_MALFORMED, 0, "", false, ""},
    {"650 x", SMTP_REPLY_MALFORMED, 0, "", false, ""},
    {"abc", SMTP_REPLY_MALFORMED, 0, "", false, ""},
    {"2x0 ok", SMTP_REPLY_MALFORMED, 0, "", false, ""},
    {"250_ok", SMTP_REPLY_MALFORMED, 0, "", false, ""},
    {"250-a\n550 b", SMTP_REPLY_MALFORMED, 250, "2.0.0", false, "250-a"},
};

static int feed(struct smtp_reply *r, const char *lines)
{
	const char *p = lines;
	int rc = SMTP_REPLY_MALFORMED;

	for (;;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		rc = smtp_reply_add_line(r, p, len);
		if (rc != SMTP_REPLY_MORE || nl == NULL)
			return rc;
		p = nl + 1;
	}
}

START_TEST(test_reply_cases)
{
	struct smtp_reply r;

	smtp_reply_init(&r);
	ck_assert_int_eq(feed(&r, reply_cases[_i].lines),
	                 reply_cases[_i].status);
	ck_assert_int_eq(r.code, reply_cases[_i].code);
	ck_assert_str_eq(r.dsn, reply_cases[_i].dsn);
	ck_assert(r.has_dsn == reply_cases[_i].has_dsn);
	ck_assert_str_eq(buf_str(r.text), reply_cases[_i].text);
	smtp_reply_deinit(&r);
}
END_TEST

START_TEST(test_reply_limits)
{
	struct smtp_reply r;
	char line[SMTP_REPLY_LINE_MAX + 10];

	smtp_reply_init(&r);
	/* Too many lines. */
	for (int i = 0; i < SMTP_REPLY_MAX_LINES; i++)
		ck_assert_int_eq(smtp_reply_add_line(&r, "250-x", 5),
		                 SMTP_REPLY_MORE);
	ck_assert_int_eq(smtp_reply_add_line(&r, "250 x", 5),
	                 SMTP_REPLY_MALFORMED);
	/* Text is capped, lines still count. */
	smtp_reply_reset(&r);
	memset(line, 'a', sizeof(line));
	memcpy(line, "250-", 4);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(smtp_reply_add_line(&r, line, 1000),
		                 SMTP_REPLY_MORE);
	ck_assert_int_le(buf_len(r.text), SMTP_REPLY_TEXT_MAX);
	ck_assert_int_eq(smtp_reply_add_line(&r, "250 end", 7),
	                 SMTP_REPLY_DONE);
	ck_assert_int_eq(r.nlines, 6);
	/* A complete reply starts over with the next line. */
	ck_assert_int_eq(smtp_reply_add_line(&r, "354 go", 6), SMTP_REPLY_DONE);
	ck_assert_int_eq(r.code, 354);
	ck_assert_str_eq(buf_str(r.text), "354 go");
	/* NUL bytes in a line are data, not terminators. */
	ck_assert_int_eq(smtp_reply_add_line(&r, "250 a\0b", 7),
	                 SMTP_REPLY_DONE);
	ck_assert_str_eq(buf_str(r.text), "250 a b");
	smtp_reply_deinit(&r);
}
END_TEST

START_TEST(test_reply_read)
{
	int sv[2];
	struct stream *s;
	struct smtp_reply r;
	char big[3000];
	const char *in = "220-hello\r\n220 there\r\n250 ok\n";

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = stream_open(sv[0]);
	stream_set_timeouts(s, 200, 200);
	smtp_reply_init(&r);
	ck_assert_int_eq(write(sv[1], in, strlen(in)), (ssize_t)strlen(in));
	ck_assert_int_eq(smtp_reply_read(s, &r), SMTP_REPLY_DONE);
	ck_assert_int_eq(r.code, 220);
	ck_assert_int_eq(r.nlines, 2);
	ck_assert_int_eq(smtp_reply_read(s, &r), SMTP_REPLY_DONE);
	ck_assert_int_eq(r.code, 250);
	/* An over-long line: its head counts. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "550 ", 4);
	big[sizeof(big) - 2] = '\r';
	big[sizeof(big) - 1] = '\n';
	ck_assert_int_eq(write(sv[1], big, sizeof(big)), (ssize_t)sizeof(big));
	ck_assert_int_eq(smtp_reply_read(s, &r), SMTP_REPLY_DONE);
	ck_assert_int_eq(r.code, 550);
	/* Nothing comes: timeout. Then EOF in the middle of a reply. */
	ck_assert_int_eq(smtp_reply_read(s, &r), SMTP_REPLY_TIMEOUT);
	stream_close(&s);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv + 0), 0);
	s = stream_open(sv[0]);
	stream_set_timeouts(s, 1000, 1000);
	ck_assert_int_eq(write(sv[1], "250-a\r\n", 7), 7);
	close(sv[1]);
	ck_assert_int_eq(smtp_reply_read(s, &r), SMTP_REPLY_LOST);
	stream_close(&s);
	smtp_reply_deinit(&r);
}
END_TEST

START_TEST(test_ehlo_features)
{
	struct smtp_reply r;
	long long size = -1;
	unsigned f;

	smtp_reply_init(&r);
	ck_assert_int_eq(feed(&r, "250-mx.example PIPELINING is not here\n"
	                          "250-pipelining\n250-SIZE 10240000\n"
	                          "250-8BITMIME\n250-DSN\n250-SMTPUTF8\n"
	                          "250-STARTTLS\n250-ENHANCEDSTATUSCODES\n"
	                          "250-DSNX\n250 CHUNKING"),
	                 SMTP_REPLY_DONE);
	f = smtp_reply_ehlo_features(&r, &size);
	ck_assert_uint_eq(
	    f, SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME |
	           SMTP_EXT_DSN | SMTP_EXT_SMTPUTF8 | SMTP_EXT_STARTTLS |
	           SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_CHUNKING);
	ck_assert_int_eq(size, 10240000);
	/* The greeting line never counts; SIZE without a number; huge. */
	ck_assert_int_eq(feed(&r, "250-8BITMIME\n250 SIZE"), SMTP_REPLY_DONE);
	ck_assert_uint_eq(smtp_reply_ehlo_features(&r, &size), SMTP_EXT_SIZE);
	ck_assert_int_eq(size, 0);
	ck_assert_int_eq(feed(&r, "250-x\n250 SIZE 99999999999999999999999"),
	                 SMTP_REPLY_DONE);
	smtp_reply_ehlo_features(&r, &size);
	ck_assert_int_ge(size, 1LL << 50);
	ck_assert_int_eq(feed(&r, "250 only a greeting"), SMTP_REPLY_DONE);
	ck_assert_uint_eq(smtp_reply_ehlo_features(&r, &size), 0);
	smtp_reply_deinit(&r);
}
END_TEST

/* RFC 4954 3: the AUTH keyword, the old "AUTH=" form, hostile names. */
static const struct {
	const char *reply;
	bool has_auth;
	const char *mechs;
} auth_cases[] = {
    {"250-mx\n250-AUTH PLAIN LOGIN\n250 8BITMIME", true, "PLAIN LOGIN"},
    {"250-mx\n250 auth login plain cram-md5", true, "LOGIN PLAIN CRAM-MD5"},
    /* Old Microsoft/Netscape form, beside the standard one: each once. */
    {"250-mx\n250-AUTH=LOGIN PLAIN\n250 AUTH PLAIN LOGIN XOAUTH2", true,
     "LOGIN PLAIN XOAUTH2"},
    {"250-mx\n250 AUTH=PLAIN", true, "PLAIN"},
    {"250-mx\n250 AUTH", true, ""},
    {"250-mx\n250 AUTH   PLAIN   ", true, "PLAIN"},
    /* The greeting line is not a keyword line. */
    {"250-AUTH PLAIN\n250 SIZE", false, ""},
    {"250 AUTH PLAIN", false, ""},
    /* Not the AUTH keyword. */
    {"250-mx\n250 AUTHX PLAIN", false, ""},
    {"250-mx\n250 XAUTH PLAIN", false, ""},
    /* Names outside RFC 4422 3.1 syntax or longer than 20 are skipped. */
    {"250-mx\n250 AUTH PL\xc3\xa4IN P=LAIN ABCDEFGHIJKLMNOPQRSTU LOGIN", true,
     "LOGIN"},
    /* Control characters were made spaces by the reader. */
    {"250-mx\n250 AUTH PL\x01"
     "AIN",
     true, "PL AIN"},
    {"250-mx\n250 AUTH ABCDEFGHIJKLMNOPQRST", true, "ABCDEFGHIJKLMNOPQRST"},
    {"250-mx\n250 AUTH plain\t LOGIN", true, "PLAIN LOGIN"},
};

static size_t words(const char *s)
{
	size_t n = *s ? 1 : 0;

	for (; *s; s++)
		n += *s == ' ';
	return n;
}

START_TEST(test_ehlo_auth)
{
	struct smtp_reply r;
	struct buf *mechs = buf_create(16, 1024);
	long long size;
	size_t n = 0;
	unsigned f;

	smtp_reply_init(&r);
	ck_assert_int_eq(feed(&r, auth_cases[_i].reply), SMTP_REPLY_DONE);
	f = smtp_reply_ehlo_features(&r, &size);
	ck_assert_int_eq(!!(f & SMTP_EXT_AUTH), auth_cases[_i].has_auth);
	n = smtp_reply_ehlo_auth(&r, mechs);
	ck_assert_str_eq(buf_str(mechs), auth_cases[_i].mechs);
	ck_assert_uint_eq(n, words(auth_cases[_i].mechs));
	smtp_reply_deinit(&r);
	buf_destroy(&mechs);
}
END_TEST

/* A list longer than the output's limit is cut at a name boundary. */
START_TEST(test_ehlo_auth_limit)
{
	struct smtp_reply r;
	struct buf *mechs = buf_create(16, 12);

	smtp_reply_init(&r);
	ck_assert_int_eq(feed(&r, "250-mx\n250 AUTH PLAIN LOGIN CRAM-MD5"),
	                 SMTP_REPLY_DONE);
	ck_assert_uint_eq(smtp_reply_ehlo_auth(&r, mechs), 2);
	ck_assert_str_eq(buf_str(mechs), "PLAIN LOGIN");
	smtp_reply_deinit(&r);
	buf_destroy(&mechs);
}
END_TEST

Suite *smtp_reply_suite(void)
{
	Suite *s = suite_create("smtp_reply");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_reply_cases, 0,
	                    sizeof(reply_cases) / sizeof(reply_cases[0]));
	tcase_add_test(tc, test_reply_limits);
	tcase_add_test(tc, test_reply_read);
	tcase_add_test(tc, test_ehlo_features);
	tcase_add_loop_test(tc, test_ehlo_auth, 0,
	                    sizeof(auth_cases) / sizeof(auth_cases[0]));
	tcase_add_test(tc, test_ehlo_auth_limit);
	suite_add_tcase(s, tc);
	return s;
}
