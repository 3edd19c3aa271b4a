/* check_header.c: unit tests for lib/header.c (the streaming header
 * splitter, name matching, unfolding, folding, phrases, dates). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "header.h"

/* What the callbacks saw: fields joined by '|', flags, body. */
struct seen {
	struct buf *fields;
	struct buf *body;
	int ends;
	bool no_separator;
	int truncated;
	int received;
	bool body_before_end;
};

static void on_field(void *ctx, const char *text, size_t len, bool truncated)
{
	struct seen *s = ctx;

	ck_assert_int_eq(s->ends, 0);
	ck_assert(len > 0 && text[len - 1] == '\n');
	buf_append(s->fields, text, len);
	buf_append_char(s->fields, '|');
	if (truncated)
		s->truncated++;
	if (header_name_is(text, len, "received"))
		s->received++;
}

static void on_end(void *ctx, bool no_separator)
{
	struct seen *s = ctx;

	s->ends++;
	s->no_separator = no_separator;
}

static void on_body(void *ctx, const char *data, size_t len)
{
	struct seen *s = ctx;

	if (s->ends == 0)
		s->body_before_end = true;
	buf_append(s->body, data, len);
}

static const struct header_callbacks cb = {on_field, on_end, on_body};

static void seen_init(struct seen *s)
{
	memset(s, 0, sizeof(*s));
	s->fields = buf_create(0, 0);
	s->body = buf_create(0, 0);
}

static void seen_free(struct seen *s)
{
	buf_destroy(&s->fields);
	buf_destroy(&s->body);
}

/* Run input through a parser in pieces of step bytes (0: all at once). */
static void split(const char *in, size_t len, size_t limit, size_t step,
                  struct seen *s)
{
	struct header_parser *p = header_parser_create(limit, &cb, s);

	if (step == 0) {
		header_parser_feed(p, in, len);
	} else {
		for (size_t i = 0; i < len; i += step)
			header_parser_feed(p, in + i,
			                   len - i < step ? len - i : step);
	}
	header_parser_finish(p);
	header_parser_finish(p); /* idempotent */
	ck_assert(header_parser_in_body(p));
	header_parser_destroy(&p);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(s->ends, 1);
	ck_assert(!s->body_before_end);
}

/* Lengths of 0 mean strlen (set them for inputs holding NUL bytes). */
static const struct {
	const char *in;
	size_t len;
	const char *fields; /* each field followed by '|' */
	size_t flen;
	bool no_separator;
	const char *body;
	size_t blen;
} split_cases[] = {
    {"Subject: a\nFrom: b\n\nbody\n", 0, "Subject: a\n|From: b\n|", 0, false,
     "\nbody\n", 0},
    {"Subject: a\n b\n\tc\nX: y\n\nB", 0, "Subject: a\n b\n\tc\n|X: y\n|", 0,
     false, "\nB", 0},
    {"Subject: a\nhello world\n", 0, "Subject: a\n|", 0, true, "hello world\n",
     0},
    {"hello\n", 0, "", 0, true, "hello\n", 0},
    {"", 0, "", 0, false, "", 0},
    {"\nbody", 0, "", 0, false, "\nbody", 0},
    {"A: b\r\n\r\nbody", 0, "A: b\r\n|", 0, false, "\r\nbody", 0},
    {"A: b\r\n c\r\n\r\n", 0, "A: b\r\n c\r\n|", 0, false, "\r\n", 0},
    {"Subject : x\n\n", 0, "Subject : x\n|", 0, false, "\n", 0},
    {"Subject \t: x\n\n", 0, "Subject \t: x\n|", 0, false, "\n", 0},
    {" x: y\n", 0, "", 0, true, " x: y\n", 0},
    {"A: b", 0, "A: b\n|", 0, false, "", 0},
    {"A: b\n c", 0, "A: b\n c\n|", 0, false, "", 0},
    {"A: b\nAbc", 0, "A: b\n|", 0, true, "Abc", 0},
    {"A: b\nAbc ", 0, "A: b\n|", 0, true, "Abc ", 0},
    {"A: b\n\r", 0, "A: b\n|", 0, true, "\r", 0},
    {"A: b\n\rx\n", 0, "A: b\n|", 0, true, "\rx\n", 0},
    {":x\n", 0, "", 0, true, ":x\n", 0},
    {"Subj\xe9"
     "ct: x\n",
     0, "", 0, true,
     "Subj\xe9"
     "ct: x\n",
     0},
    {">From x\n", 0, "", 0, true, ">From x\n", 0},
    {"From x y\nA: b\n", 0, "", 0, true, "From x y\nA: b\n", 0},
    {"A:\nB:\n\n", 0, "A:\n|B:\n|", 0, false, "\n", 0},
    {"A: b\0c\n\nx", 9, "A: b\0c\n|", 8, false, "\nx", 0},
    {"A\0: b\n", 6, "", 0, true, "A\0: b\n", 6},
    {"A: 1\n\nB: 2\n", 0, "A: 1\n|", 0, false, "\nB: 2\n", 0},
    {"A: 1\n \n\n", 0, "A: 1\n \n|", 0, false, "\n", 0},
    {"\n\n\n", 0, "", 0, false, "\n\n\n", 0},
};

START_TEST(test_split)
{
	const char *in = split_cases[_i].in;
	size_t len = split_cases[_i].len ? split_cases[_i].len : strlen(in);
	size_t flen = split_cases[_i].flen ? split_cases[_i].flen
	                                   : strlen(split_cases[_i].fields);
	size_t blen = split_cases[_i].blen ? split_cases[_i].blen
	                                   : strlen(split_cases[_i].body);

	for (size_t step = 0; step <= 3; step++) {
		struct seen s;

		seen_init(&s);
		split(in, len, 1000, step, &s);
		ck_assert_uint_eq(buf_len(s.fields), flen);
		ck_assert(memcmp(buf_str(s.fields), split_cases[_i].fields,
		                 flen) == 0);
		ck_assert_int_eq(s.no_separator, split_cases[_i].no_separator);
		ck_assert_uint_eq(buf_len(s.body), blen);
		ck_assert(memcmp(buf_str(s.body), split_cases[_i].body, blen) ==
		          0);
		ck_assert_int_eq(s.truncated, 0);
		seen_free(&s);
	}
}
END_TEST

START_TEST(test_truncation)
{
	const char *in = "Subject: 0123456789abc\n continued\nB: c\n\nbody\n";

	for (size_t step = 0; step <= 5; step++) {
		struct seen s;

		seen_init(&s);
		split(in, strlen(in), 10, step, &s);
		ck_assert_str_eq(buf_str(s.fields), "Subject: 0\n|B: c\n|");
		ck_assert_int_eq(s.truncated, 1);
		ck_assert_str_eq(buf_str(s.body), "\nbody\n");
		seen_free(&s);
	}
}
END_TEST

START_TEST(test_long_name_is_body)
{
	struct buf *in = buf_create(0, 0);
	struct seen s;

	for (int i = 0; i < HEADER_NAME_MAX + 5; i++)
		buf_append_char(in, 'a');
	buf_append_str(in, ": x\n\n");
	seen_init(&s);
	split(buf_str(in), buf_len(in), 100000, 7, &s);
	ck_assert_uint_eq(buf_len(s.fields), 0);
	ck_assert(s.no_separator);
	ck_assert_uint_eq(buf_len(s.body), buf_len(in));
	seen_free(&s);
	buf_destroy(&in);
}
END_TEST

START_TEST(test_received_count)
{
	struct buf *in = buf_create(0, 0);
	struct seen s;

	for (int i = 0; i < 60; i++)
		buf_printf(in, "%s: from h%d\n\tby x; date\n",
		           i % 2 ? "Received" : "RECEIVED", i);
	buf_append_str(in,
	               "X-Received: no\nReceived-SPF: no\n\nReceived: body\n");
	seen_init(&s);
	split(buf_str(in), buf_len(in), 102400, 0, &s);
	ck_assert_int_eq(s.received, 60);
	seen_free(&s);
	buf_destroy(&in);
}
END_TEST

static const struct {
	const char *text;
	const char *name;
	bool want;
} name_cases[] = {
    {"Received: x\n", "Received", true},
    {"received: x\n", "RECEIVED", true},
    {"Received : x\n", "Received", true},
    {"Received\t: x\n", "received", true},
    {"Received-SPF: x\n", "Received", false},
    {"X-Received: x\n", "Received", false},
    {"Receive: x\n", "Received", false},
    {"Received x\n", "Received", false},
    {"Received", "Received", false},
    {": x\n", "", false},
    {" Received: x\n", "Received", false},
    {"Message-ID: <a@b>\n", "message-id", true},
};

START_TEST(test_name_is)
{
	const char *t = name_cases[_i].text;

	ck_assert_int_eq(header_name_is(t, strlen(t), name_cases[_i].name),
	                 name_cases[_i].want);
}
END_TEST

static const struct {
	const char *text;
	const char *value; /* NULL: not a field */
} value_cases[] = {
    {"Subject: hello\n", "hello"},
    {"Subject:hello\n", "hello"},
    {"Subject:   hello  \n", "hello"},
    {"Subject: a\n b\n\tc\n", "a b\tc"},
    {"Subject: a\r\n b\r\n", "a b"},
    {"Subject:\n", ""},
    {"Subject:\n  x\n", "x"},
    {"Message-ID: <x@y>\n", "<x@y>"},
    {"Subject : x\n", "x"},
    {"No colon\n", NULL},
    {"", NULL},
};

START_TEST(test_value)
{
	struct buf *out = buf_create(0, 100);
	const char *t = value_cases[_i].text;
	int r = header_value(t, strlen(t), out);

	if (value_cases[_i].value == NULL) {
		ck_assert_int_eq(r, -1);
	} else {
		ck_assert_int_eq(r, 0);
		ck_assert_str_eq(buf_str(out), value_cases[_i].value);
	}
	buf_destroy(&out);
}
END_TEST

START_TEST(test_value_limit)
{
	struct buf *out = buf_create(0, 4);

	buf_set_str(out, "old");
	ck_assert_int_eq(header_value("S: 12345\n", 9, out), -1);
	ck_assert_str_eq(buf_str(out), "old");
	ck_assert_int_eq(header_value("S: 1234\n", 8, out), 0);
	ck_assert_str_eq(buf_str(out), "1234");
	buf_destroy(&out);
}
END_TEST

static const struct {
	const char *name, *value;
	size_t width;
	const char *want;
} fold_cases[] = {
    {"Subject", "hello world", 78, "Subject: hello world\n"},
    {"Subject", "aaa bbb ccc", 12, "Subject: aaa\n\tbbb ccc\n"},
    {"Subject", "aaaaaaaaaaaaaaaaaaaa bb", 10,
     "Subject: aaaaaaaaaaaaaaaaaaaa\n\tbb\n"},
    {"S", "  a   b  ", 78, "S: a b\n"},
    {"S", "", 78, "S:\n"},
    {"S", "a\nb\r\nc", 78, "S: a b c\n"},
};

START_TEST(test_fold)
{
	struct buf *out = buf_create(0, 0);
	struct buf *back = buf_create(0, 0);

	buf_append_str(out, "keep");
	ck_assert_int_eq(header_fold(fold_cases[_i].name, fold_cases[_i].value,
	                             fold_cases[_i].width, out),
	                 0);
	ck_assert_str_eq(buf_str(out) + 4, fold_cases[_i].want);
	/* Unfolding gives the words back. */
	ck_assert_int_eq(header_value(buf_str(out) + 4, buf_len(out) - 4, back),
	                 0);
	buf_destroy(&out);
	buf_destroy(&back);
}
END_TEST

START_TEST(test_fold_limit)
{
	struct buf *out = buf_create(0, 12);

	buf_append_str(out, "x");
	ck_assert_int_eq(header_fold("Subject", "a long value", 78, out), -1);
	ck_assert_str_eq(buf_str(out), "x");
	buf_destroy(&out);
}
END_TEST

static const struct {
	const char *tz;
	time_t t;
	const char *want;
} date_cases[] = {
    {"UTC0", 0, "Thu, 1 Jan 1970 00:00:00 +0000"},
    {"UTC0", 1763782416, "Sat, 22 Nov 2025 03:33:36 +0000"},
    {"IST-5:30", 1763782416, "Sat, 22 Nov 2025 09:03:36 +0530"},
    {"EST5", 1763782416, "Fri, 21 Nov 2025 22:33:36 -0500"},
    {"NPT-5:45", 951782400, "Tue, 29 Feb 2000 05:45:00 +0545"},
};

START_TEST(test_date)
{
	struct buf *out = buf_create(0, 100);
	char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

	setenv("TZ", date_cases[_i].tz, 1);
	tzset();
	ck_assert_int_eq(header_date(date_cases[_i].t, out), 0);
	ck_assert_str_eq(buf_str(out), date_cases[_i].want);
	if (old) {
		setenv("TZ", old, 1);
		free(old);
	} else {
		unsetenv("TZ");
	}
	tzset();
	buf_destroy(&out);
}
END_TEST

static const struct {
	const char *name, *want;
} phrase_cases[] = {
    {"John Smith", "John Smith"},
    {"John Q. Public", "\"John Q. Public\""},
    {"a\"b\\c", "\"a\\\"b\\\\c\""},
    {"line\nbreak", "\"line break\""},
    {"", "\"\""},
    {" lead", "\" lead\""},
    {"two  spaces", "\"two  spaces\""},
    {"J\xc3\xb6rg", "J\xc3\xb6rg"},
    {"x@y", "\"x@y\""},
};

START_TEST(test_phrase)
{
	struct buf *out = buf_create(0, 0);

	header_phrase(phrase_cases[_i].name, out);
	ck_assert_str_eq(buf_str(out), phrase_cases[_i].want);
	buf_destroy(&out);
}
END_TEST

#define N(a) (sizeof(a) / sizeof((a)[0]))

Suite *header_suite(void)
{
	Suite *s = suite_create("header");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_split, 0, N(split_cases));
	tcase_add_test(tc, test_truncation);
	tcase_add_test(tc, test_long_name_is_body);
	tcase_add_test(tc, test_received_count);
	tcase_add_loop_test(tc, test_name_is, 0, N(name_cases));
	tcase_add_loop_test(tc, test_value, 0, N(value_cases));
	tcase_add_test(tc, test_value_limit);
	tcase_add_loop_test(tc, test_fold, 0, N(fold_cases));
	tcase_add_test(tc, test_fold_limit);
	tcase_add_loop_test(tc, test_date, 0, N(date_cases));
	tcase_add_loop_test(tc, test_phrase, 0, N(phrase_cases));
	suite_add_tcase(s, tc);
	return s;
}
