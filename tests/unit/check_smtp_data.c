/* check_smtp_data.c: unit tests for lib/smtp_data.c (the DATA/BDAT
 * content decoder): end of data only at CRLF.CRLF, dot-unstuffing, CRLF
 * to LF, bare CR/LF reporting, every CVE-2023-51764 smuggling variant,
 * and the same results whatever the input is cut into. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtp_data.h"

struct data_case {
	const char *in; /* raw bytes after "DATA\r\n" */
	int result; /* SMTP_DATA_END or SMTP_DATA_MORE */
	size_t used; /* bytes consumed (for END) */
	const char *out; /* canonical content */
	unsigned flags;
};

static const struct data_case data_cases[] = {
    /* The empty message. */
    {".\r\n", SMTP_DATA_END, 3, "", 0},
    {"a\r\n.\r\n", SMTP_DATA_END, 6, "a\n", 0},
    {"Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@b>\r\n", SMTP_DATA_END, 23,
     "Subject: x\n\nbody\n", 0},
    /* Dot-unstuffing (RFC 5321 4.5.2). */
    {"..\r\n.\r\n", SMTP_DATA_END, 7, ".\n", 0},
    {"..x\r\n...\r\n.\r\n", SMTP_DATA_END, 13, ".x\n..\n", 0},
    {".x\r\n.\r\n", SMTP_DATA_END, 7, "x\n", 0},
    {"a.\r\n.b\r\n.\r\n", SMTP_DATA_END, 11, "a.\nb\n", 0},
    /* Not the end: more after the dot, or not at a line start. */
    {"a\r\n. \r\n", SMTP_DATA_MORE, 0, "a\n \n", 0},
    {"a\r\n.\r\r\n", SMTP_DATA_MORE, 0, "a\n\r\n", SMTP_DATA_BARE_CR},
    {"a.\r\n", SMTP_DATA_MORE, 0, "a.\n", 0},
    /* The smuggling variants: never an end, always reported. */
    {"a\n.\nMAIL FROM:<x@y>\r\n", SMTP_DATA_MORE, 0, "a\n.\nMAIL FROM:<x@y>\n",
     SMTP_DATA_BARE_LF},
    {"a\n.\r\nMAIL FROM:<x@y>\r\n", SMTP_DATA_MORE, 0,
     "a\n.\nMAIL FROM:<x@y>\n", SMTP_DATA_BARE_LF},
    {"a\r.\rMAIL FROM:<x@y>\r\n", SMTP_DATA_MORE, 0, "a\r.\rMAIL FROM:<x@y>\n",
     SMTP_DATA_BARE_CR},
    {"a\r\n.\nMAIL FROM:<x@y>\r\n", SMTP_DATA_MORE, 0, "a\n\nMAIL FROM:<x@y>\n",
     SMTP_DATA_BARE_LF},
    /* ... and the real end after them still works. */
    {"a\n.\nb\r\n.\r\nQUIT\r\n", SMTP_DATA_END, 10, "a\n.\nb\n",
     SMTP_DATA_BARE_LF},
    {"a\r.\rb\r\n.\r\n", SMTP_DATA_END, 10, "a\r.\rb\n", SMTP_DATA_BARE_CR},
    {"a\r\n.\nb\r\n.\r\n", SMTP_DATA_END, 11, "a\n\nb\n", SMTP_DATA_BARE_LF},
    {"a\n.\r\nb\r\n.\r\n", SMTP_DATA_END, 11, "a\n.\nb\n", SMTP_DATA_BARE_LF},
    /* A bare LF is not a line start: the dot after it stays. */
    {"a\n..\r\n.\r\n", SMTP_DATA_END, 9, "a\n..\n", SMTP_DATA_BARE_LF},
    /* Bare CR before CRLF, CR CR LF. */
    {"a\r\r\n.\r\n", SMTP_DATA_END, 7, "a\r\n", SMTP_DATA_BARE_CR},
    {".\r.\r\n.\r\n", SMTP_DATA_END, 8, "\r.\n", SMTP_DATA_BARE_CR},
    /* 8-bit bytes pass (8BITMIME); NUL: test_data_binary. */
    {"\xff\xfez\r\n.\r\n", SMTP_DATA_END, 8, "\xff\xfez\n", 0},
};

/* Feed c->in in pieces of step bytes; checks the result. */
static void run_data_case(const struct data_case *c, size_t inlen,
                          size_t outlen, size_t step)
{
	struct smtp_data *d = smtp_data_create(SMTP_DATA_DOT);
	struct buf *out = buf_create(0, 0);
	size_t pos = 0, used = 0;
	int r = SMTP_DATA_MORE;

	while (pos < inlen && r == SMTP_DATA_MORE) {
		size_t n = inlen - pos < step ? inlen - pos : step;

		r = smtp_data_feed(d, c->in + pos, n, &used, out);
		if (r == SMTP_DATA_MORE)
			ck_assert_uint_eq(used, n);
		pos += used;
	}
	ck_assert_int_eq(r, c->result);
	if (r == SMTP_DATA_END)
		ck_assert_uint_eq(pos, c->used);
	ck_assert_uint_eq(buf_len(out), outlen);
	ck_assert(memcmp(buf_str(out), c->out, outlen) == 0);
	ck_assert_uint_eq(smtp_data_flags(d), c->flags);
	ck_assert_int_eq(smtp_data_size(d), (long long)outlen);
	smtp_data_destroy(&d);
	ck_assert_ptr_null(d);
	buf_destroy(&out);
}

START_TEST(test_data_table)
{
	for (size_t i = 0; i < sizeof(data_cases) / sizeof(data_cases[0]);
	     i++) {
		const struct data_case *c = &data_cases[i];
		size_t inlen = strlen(c->in), outlen = strlen(c->out);

		for (size_t step = 1; step <= inlen; step++)
			run_data_case(c, inlen, outlen, step);
	}
}
END_TEST

START_TEST(test_data_binary)
{
	static const struct data_case c = {"\x00"
	                                   "a\x00\r\n.\r\n",
	                                   SMTP_DATA_END, 8,
	                                   "\x00"
	                                   "a\x00\n",
	                                   0};

	for (size_t step = 1; step <= 8; step++)
		run_data_case(&c, 8, 4, step);
}
END_TEST

/* A MORE result for a truncated input: the output is a prefix of the
 * output for the whole input. */
START_TEST(test_data_prefix)
{
	const char *msg = "x\r\n..y\r\na\n.\nb\r\n.\r\n";
	struct buf *full = buf_create(0, 0);
	size_t used;

	{
		struct smtp_data *d = smtp_data_create(SMTP_DATA_DOT);

		ck_assert_int_eq(
		    smtp_data_feed(d, msg, strlen(msg), &used, full),
		    SMTP_DATA_END);
		ck_assert_uint_eq(used, strlen(msg));
		smtp_data_destroy(&d);
	}
	for (size_t cut = 0; cut < strlen(msg); cut++) {
		struct smtp_data *d = smtp_data_create(SMTP_DATA_DOT);
		struct buf *out = buf_create(0, 0);

		ck_assert_int_eq(smtp_data_feed(d, msg, cut, &used, out),
		                 SMTP_DATA_MORE);
		ck_assert_uint_le(buf_len(out), buf_len(full));
		ck_assert(memcmp(buf_str(out), buf_str(full), buf_len(out)) ==
		          0);
		smtp_data_destroy(&d);
		buf_destroy(&out);
	}
	buf_destroy(&full);
}
END_TEST

/* Output per call never passes len + 1 (the documented room). */
START_TEST(test_data_output_bound)
{
	struct smtp_data *d = smtp_data_create(SMTP_DATA_DOT);
	struct buf *out = buf_create(0, 3);
	size_t used;

	/* "a\r" then "x": the held CR comes out with the x. */
	ck_assert_int_eq(smtp_data_feed(d, "a\r", 2, &used, out),
	                 SMTP_DATA_MORE);
	ck_assert_uint_eq(buf_len(out), 1);
	buf_reset(out);
	ck_assert_int_eq(smtp_data_feed(d, "x", 1, &used, out), SMTP_DATA_MORE);
	ck_assert_str_eq(buf_str(out), "\rx");
	smtp_data_destroy(&d);
	buf_destroy(&out);
}
END_TEST

START_TEST(test_data_after_end_panics)
{
	struct smtp_data *d = smtp_data_create(SMTP_DATA_DOT);
	struct buf *out = buf_create(0, 0);
	size_t used;

	ck_assert_int_eq(smtp_data_feed(d, ".\r\n", 3, &used, out),
	                 SMTP_DATA_END);
	(void)smtp_data_feed(d, "x", 1, &used, out);
}
END_TEST

START_TEST(test_chunk_mode)
{
	/* BDAT: binary-safe, no dots, CRLF -> LF across chunks. */
	static const char c1[] = "a\r\n.\r\n\x00\n\rb\r";
	static const char c2[] = "\nc\r";
	struct smtp_data *d = smtp_data_create(SMTP_DATA_CHUNK);
	struct buf *out = buf_create(0, 0);
	size_t used;

	ck_assert_int_eq(smtp_data_feed(d, c1, sizeof(c1) - 1, &used, out),
	                 SMTP_DATA_MORE);
	ck_assert_uint_eq(used, sizeof(c1) - 1);
	ck_assert_int_eq(smtp_data_feed(d, c2, sizeof(c2) - 1, &used, out),
	                 SMTP_DATA_MORE);
	smtp_data_chunk_end(d, out);
	ck_assert_uint_eq(buf_len(out), 11);
	ck_assert(memcmp(buf_str(out), "a\n.\n\x00\n\rb\nc\r", 11) == 0);
	ck_assert_uint_eq(smtp_data_flags(d), 0);
	ck_assert_int_eq(smtp_data_size(d), 11);
	smtp_data_destroy(&d);
	buf_destroy(&out);
}
END_TEST

Suite *smtp_data_suite(void)
{
	Suite *s = suite_create("smtp_data");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_data_table);
	tcase_add_test(tc, test_data_binary);
	tcase_add_test(tc, test_data_prefix);
	tcase_add_test(tc, test_data_output_bound);
	tcase_add_test_raise_signal(tc, test_data_after_end_panics, SIGABRT);
	tcase_add_test(tc, test_chunk_mode);
	suite_add_tcase(s, tc);
	return s;
}
