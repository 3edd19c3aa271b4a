/* check_attr.c: unit tests for lib/attr.c: encode/decode round trips
 * (binary values, empty values, duplicates), the wire format pinned
 * byte for byte, and hostile messages in tables: bad magic, bad names,
 * every limit passed by one, truncations, lengths of 4 GiB, over memory
 * and over a socketpair. */
#include <check.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "stream.h"

#define B(s) s, sizeof(s) - 1

static void write_fd(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		ck_assert_int_gt(n, 0);
		p += n;
		len -= (size_t)n;
	}
}

/* Bytes from a readable spec: pairs of hex digits and 'quoted text',
 * blanks ignored: "a1 01 'a' 00000000 00". Returns the length. */
static size_t wire(const char *spec, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	while (*spec) {
		if (*spec == ' ') {
			spec++;
		} else if (*spec == '\'') {
			for (spec++; *spec && *spec != '\''; spec++) {
				ck_assert_uint_lt(n, outlen);
				out[n++] = *spec;
			}
			ck_assert_int_eq(*spec, '\'');
			spec++;
		} else {
			const char *hi = strchr(hex, spec[0]);
			const char *lo = spec[1] ? strchr(hex, spec[1]) : NULL;

			ck_assert_msg(hi && lo, "bad spec at '%s'", spec);
			ck_assert_uint_lt(n, outlen);
			out[n++] = (char)((hi - hex) << 4 | (lo - hex));
			spec += 2;
		}
	}
	return n;
}

static void assert_same(const struct attr_list *a, const struct attr_list *b)
{
	ck_assert_uint_eq(attr_list_count(a), attr_list_count(b));
	for (size_t i = 0; i < attr_list_count(a); i++) {
		size_t la, lb;
		const char *va = attr_value_at(a, i, &la);
		const char *vb = attr_value_at(b, i, &lb);

		ck_assert_str_eq(attr_name_at(a, i), attr_name_at(b, i));
		ck_assert_uint_eq(la, lb);
		ck_assert(memcmp(va, vb, la) == 0);
		ck_assert_int_eq(vb[lb], 0); /* stored with a trailing NUL */
	}
}

/* Lists to round-trip: up to 4 attributes, binary-safe values. */
struct rt_attr {
	const char *name;
	const char *value;
	size_t len;
};

static const struct {
	struct rt_attr attrs[4];
} rt_cases[] = {
    {{{NULL, NULL, 0}}},
    {{{"request", B("ping")}}},
    {{{"status", B("0")}, {"reason", B("")}, {"reason", B("dup")}}},
    {{{"chunk", B("\0\0\xff\x00\r\n.\r\n")}, {"eof", B("1")}}},
    {{{"a", B("")}, {"b", B("")}, {"c", B("")}, {"d", B("")}}},
    {{{"x_0123456789_abcdefghijklmnopqrstuvwxyz_0123456789_abcdefghijkl",
       B("64-byte name")}}},
    {{{"sender", B("\xa1\x01"
                   "a\0\0\0\0\0")}}}, /* a message inside */
};

static struct attr_list *rt_build(size_t c)
{
	struct attr_list *l = attr_list_create();

	for (size_t k = 0; k < 4 && rt_cases[c].attrs[k].name; k++)
		attr_add(l, rt_cases[c].attrs[k].name,
		         rt_cases[c].attrs[k].value, rt_cases[c].attrs[k].len);
	return l;
}

START_TEST(test_round_trip)
{
	struct attr_list *l = rt_build((size_t)_i), *m = attr_list_create();
	struct buf *out = buf_create(0, 0), *err = buf_create(0, 256);
	size_t used = 0;

	attr_encode(l, out);
	ck_assert_int_eq(attr_decode(m, buf_str(out), buf_len(out), &used,
	                             &attr_default_limits, err),
	                 0);
	ck_assert_uint_eq(used, buf_len(out));
	assert_same(l, m);
	/* Twice in a row: the first decode stops at its end marker. */
	attr_encode(l, out);
	ck_assert_int_eq(
	    attr_decode(m, buf_str(out), buf_len(out), &used, NULL, err), 0);
	ck_assert_uint_eq(used * 2, buf_len(out));
	assert_same(l, m);
	attr_list_destroy(&l);
	attr_list_destroy(&m);
	ck_assert_ptr_null(m);
	buf_destroy(&out);
	buf_destroy(&err);
}
END_TEST

/* The wire format, pinned (docs/ipc.md). */
START_TEST(test_wire_bytes)
{
	struct attr_list *l = attr_list_create();
	struct buf *out = buf_create(0, 0);
	char want[64];
	size_t len;

	len = wire("a1 07 'request' 00000004 'ping' 04 'size' 00000002 '-7' 00",
	           want, sizeof(want));
	attr_add_str(l, "request", "ping");
	attr_add_int(l, "size", -7);
	attr_encode(l, out);
	ck_assert_uint_eq(buf_len(out), len);
	ck_assert_mem_eq(buf_str(out), want, len);
	attr_list_reset(l);
	ck_assert_uint_eq(attr_list_count(l), 0);
	buf_reset(out);
	attr_encode(l, out);
	ck_assert_uint_eq(buf_len(out), 2);
	ck_assert_mem_eq(buf_str(out), "\xa1\x00", 2);
	attr_list_destroy(&l);
	buf_destroy(&out);
}
END_TEST

static const struct attr_limits small_limits = {
    .max_count = 2, .max_name = 4, .max_value = 8, .max_total = 30};

/* Raw messages, written as hex bytes and 'quoted text' (see wire()):
 * result (0 ok, 1 need more, -1 malformed), limits (NULL: the defaults) and
 * a word the reason must contain. */
static const struct {
	const char *spec;
	const struct attr_limits *limits;
	int want;
	const char *why;
} decode_cases[] = {
    {"", NULL, 1, NULL},
    {"a1", NULL, 1, NULL},
    {"a1 00", NULL, 0, NULL},
    {"a1 00 'junk after'", NULL, 0, NULL},
    {"00", NULL, -1, "magic"},
    {"a2 00", NULL, -1, "magic"}, /* version 2 */
    {"'request' 00", NULL, -1, "magic"},
    {"ff ff ff ff", NULL, -1, "magic"},
    /* Names: [a-z0-9_]+, refused as soon as the bad byte is seen. */
    {"a1 01 'A' 00000000 00", NULL, -1, "name"},
    {"a1 03 'ab-'", NULL, -1, "name"},
    {"a1 03 'a' 00 'b' 00000000 00", NULL, -1, "name"},
    {"a1 02 'a b'", NULL, -1, "name"},
    {"a1 02 c3a9 00000000 00", NULL, -1, "name"},
    {"a1 02 'a.'", NULL, -1, "name"},
    {"a1 02 'a'", NULL, 1, NULL},
    {"a1 41", NULL, -1, "name of 65"}, /* over 64, no name bytes yet */
    {"a1 ff", NULL, -1, "name of 255"},
    /* Value lengths refused before any value byte arrives. */
    {"a1 01 'a' ffffffff", NULL, -1, "value of"},
    {"a1 01 'a' 00010001", NULL, -1, "value of 65537"},
    {"a1 01 'a' 00010000", NULL, 1, NULL}, /* 64 KiB: wait for it */
    {"a1 01 'a' 80000000 'xyz'", NULL, -1, "value of"},
    /* Truncated: need more. */
    {"a1 01 'a' 000000", NULL, 1, NULL},
    {"a1 01 'a' 00000001", NULL, 1, NULL},
    {"a1 01 'a' 00000001 'x'", NULL, 1, NULL},
    {"a1 01 'a' 00000001 'x' 00", NULL, 0, NULL},
    /* Small limits: each met exactly, then passed by one. */
    {"a1 01 'a' 00000000 01 'b' 00000000 00", &small_limits, 0, NULL},
    {"a1 01 'a' 00000000 01 'b' 00000000 01 'c' 00000000 00", &small_limits, -1,
     "more than 2"},
    {"a1 04 'abcd' 00000000 00", &small_limits, 0, NULL},
    {"a1 05 'abcde' 00000000 00", &small_limits, -1, "name of 5"},
    {"a1 01 'a' 00000008 '12345678' 00", &small_limits, 0, NULL},
    {"a1 01 'a' 00000009 '123456789' 00", &small_limits, -1, "value of 9"},
    /* Total 30 = 1 + (1+4+4+8) + (1+4+4+2) + 1; then 31; then a length
	 * alone that cannot fit. */
    {"a1 04 'abcd' 00000008 '12345678' 04 'efgh' 00000002 '12' 00",
     &small_limits, 0, NULL},
    {"a1 04 'abcd' 00000008 '12345678' 04 'efgh' 00000003 '123' 00",
     &small_limits, -1, "over 30"},
    {"a1 04 'abcd' 00000008 '12345678' 04 'efgh' 00000004", &small_limits, -1,
     "over 30"},
};

START_TEST(test_decode_hostile)
{
	const struct attr_limits *limits = decode_cases[_i].limits;
	struct attr_list *l = attr_list_create();
	struct buf *err = buf_create(0, 256);
	size_t used = 12345, len;
	char in[128], *exact;
	int r;

	len = wire(decode_cases[_i].spec, in, sizeof(in));
	attr_add_str(l, "stale", "x"); /* must be gone after any decode */
	exact = malloc(len ? len : 1); /* exact size: ASan sees overreads */
	memcpy(exact, in, len);
	r = attr_decode(l, exact, len, &used,
	                limits ? limits : &attr_default_limits, err);
	free(exact);
	ck_assert_msg(r == decode_cases[_i].want, "case %d: %d (%s)", _i, r,
	              buf_str(err));
	if (r != 0) {
		ck_assert_uint_eq(used, 12345);
		ck_assert_uint_eq(attr_list_count(l), 0);
	} else {
		ck_assert_uint_le(used, len);
		ck_assert_ptr_null(attr_get(l, "stale", NULL));
	}
	if (decode_cases[_i].why)
		ck_assert_msg(strstr(buf_str(err), decode_cases[_i].why),
		              "case %d: reason '%s'", _i, buf_str(err));
	attr_list_destroy(&l);
	buf_destroy(&err);
}
END_TEST

/* Every proper prefix of a valid message asks for more, never fails. */
START_TEST(test_decode_truncated)
{
	struct attr_list *l = attr_list_create(), *m = attr_list_create();
	struct buf *out = buf_create(0, 0), *err = buf_create(0, 256);
	size_t used;

	attr_add_str(l, "request", "deliver");
	attr_add(l, "chunk", "\0\r\n\0", 4);
	attr_add(l, "empty", "", 0);
	attr_add_int(l, "size", LLONG_MAX);
	attr_encode(l, out);
	for (size_t n = 0; n < buf_len(out); n++) {
		/* An exact-size copy, so ASan sees any read past the end. */
		char *copy = malloc(n ? n : 1);

		memcpy(copy, buf_str(out), n);
		ck_assert_msg(attr_decode(m, copy, n, &used, NULL, err) == 1,
		              "prefix %zu", n);
		free(copy);
	}
	ck_assert_int_eq(
	    attr_decode(m, buf_str(out), buf_len(out), &used, NULL, err), 0);
	assert_same(l, m);
	attr_list_destroy(&l);
	attr_list_destroy(&m);
	buf_destroy(&out);
	buf_destroy(&err);
}
END_TEST

/* The default limits, each met exactly and passed by one. */
START_TEST(test_default_limits)
{
	struct attr_list *l = attr_list_create(), *m = attr_list_create();
	struct buf *out = buf_create(0, 0), *err = buf_create(0, 256);
	size_t big = attr_default_limits.max_value, used;
	char *value = calloc(1, big + 1);
	char name[16];

	ck_assert_uint_eq(attr_default_limits.max_count, 64);
	ck_assert_uint_eq(attr_default_limits.max_name, 64);
	ck_assert_uint_eq(attr_default_limits.max_value, 65536);
	ck_assert_uint_eq(attr_default_limits.max_total, 1 << 20);
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		attr_add_int(l, name, i);
	}
	attr_encode(l, out);
	ck_assert_int_eq(
	    attr_decode(m, buf_str(out), buf_len(out), &used, NULL, err), 0);
	attr_add_int(l, "n64", 64);
	buf_reset(out);
	attr_encode(l, out);
	ck_assert_int_eq(
	    attr_decode(m, buf_str(out), buf_len(out), &used, NULL, err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "more than 64"));

	/* Values: 64 KiB is fine, 64 KiB + 1 is not. */
	attr_list_reset(l);
	attr_add(l, "v", value, big);
	buf_reset(out);
	attr_encode(l, out);
	ck_assert_int_eq(
	    attr_decode(m, buf_str(out), buf_len(out), &used, NULL, err), 0);
	attr_list_reset(l);
	attr_add(l, "v", value, big + 1);
	buf_reset(out);
	attr_encode(l, out);
	ck_assert_int_eq(
	    attr_decode(m, buf_str(out), buf_len(out), &used, NULL, err), -1);

	/* Total: 16 values of 64 KiB pass 1 MiB once headers count. */
	attr_list_reset(l);
	for (int i = 0; i < 16; i++)
		attr_add(l, "v", value, big);
	buf_reset(out);
	attr_encode(l, out);
	ck_assert_uint_gt(buf_len(out), 1 << 20);
	ck_assert_int_eq(
	    attr_decode(m, buf_str(out), buf_len(out), &used, NULL, err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "over 1048576"));
	attr_list_destroy(&l);
	attr_list_destroy(&m);
	buf_destroy(&out);
	buf_destroy(&err);
	free(value);
}
END_TEST

/* attr_get and attr_get_int on hostile values. */
static const struct {
	const char *value;
	size_t len;
	long long min, max;
	int want;
	long long out;
} int_cases[] = {
    {B("42"), 0, 100, 0, 42},
    {B("-1"), 0, 100, -1, 0},
    {B("101"), 0, 100, -1, 0},
    {B(""), 0, 100, -1, 0},
    {B("4x"), 0, 100, -1, 0},
    {B(" 4"), 0, 100, -1, 0},
    {B("4\0"
       "99"),
     0, 100, -1, 0}, /* NUL would hide the junk */
    {B("99999999999999999999"), LLONG_MIN, LLONG_MAX, -1, 0},
    {B("-9223372036854775808"), LLONG_MIN, LLONG_MAX, 0, LLONG_MIN},
    {B("0x10"), 0, 100, -1, 0},
};

START_TEST(test_get_int)
{
	struct attr_list *l = attr_list_create();
	long long out = 777;
	int r;

	attr_add(l, "n", int_cases[_i].value, int_cases[_i].len);
	attr_add_str(l, "n", "1"); /* attr_get* see the first one only */
	r = attr_get_int(l, "n", int_cases[_i].min, int_cases[_i].max, &out);
	ck_assert_msg(r == int_cases[_i].want, "case %d", _i);
	ck_assert(out == (r == 0 ? int_cases[_i].out : 777));
	ck_assert_int_eq(attr_get_int(l, "absent", 0, 100, &out), -1);
	attr_list_destroy(&l);
}
END_TEST

START_TEST(test_get_and_require)
{
	static const char *const need_ok[] = {"request", "queue_id", NULL};
	static const char *const need_bad[] = {"request", "sender", "size",
	                                       NULL};
	struct attr_list *l = attr_list_create();
	struct buf *err = buf_create(0, 256);
	size_t len = 99;
	long long v;

	attr_add_str(l, "request", "cleanup");
	attr_add(l, "queue_id", "4F2A\0x", 6);
	attr_add_int(l, "max", LLONG_MAX);
	ck_assert_str_eq(attr_get(l, "request", &len), "cleanup");
	ck_assert_uint_eq(len, 7);
	ck_assert_ptr_nonnull(attr_get(l, "queue_id", &len));
	ck_assert_uint_eq(len, 6);
	ck_assert_ptr_null(attr_get(l, "Request", NULL));
	ck_assert_ptr_null(attr_get(l, "", NULL));
	ck_assert_int_eq(attr_get_int(l, "max", LLONG_MIN, LLONG_MAX, &v), 0);
	ck_assert(v == LLONG_MAX);
	ck_assert_int_eq(attr_get_int(l, "max", 0, LLONG_MAX - 1, &v), -1);
	ck_assert_int_eq(attr_require(l, need_ok, err), 0);
	ck_assert_int_eq(attr_require(l, need_bad, err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "\"sender\""));
	ck_assert_int_eq(attr_require(l, need_bad, NULL), -1);
	ck_assert_str_eq(attr_name_at(l, 2), "max");
	attr_list_destroy(&l);
	buf_destroy(&err);
}
END_TEST

/* Messages over a socketpair: several back to back (one with values past
 * the stream's read buffer), then a clean EOF. */
struct writer {
	pthread_t tid;
	int fd;
	struct attr_list *l;
	int times;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct stream *s = stream_open(w->fd);

	for (int i = 0; i < w->times; i++)
		if (attr_write(s, w->l) < 0)
			break;
	stream_flush(s);
	stream_close(&s);
	return NULL;
}

START_TEST(test_read_socketpair)
{
	struct attr_list *l = attr_list_create(), *m = attr_list_create();
	struct buf *err = buf_create(0, 256);
	char *big = malloc(60000);
	struct writer w = {0};
	struct stream *s;
	int sv[2];

	for (size_t i = 0; i < 60000; i++)
		big[i] = (char)(i % 251);
	attr_add_str(l, "request", "store");
	attr_add(l, "chunk", big, 60000);
	attr_add(l, "empty", "", 0);
	attr_add(l, "chunk", big, 17000);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	w.fd = sv[1];
	w.l = l;
	w.times = 5;
	ck_assert_int_eq(pthread_create(&w.tid, NULL, writer_main, &w), 0);
	s = stream_open(sv[0]);
	stream_set_timeouts(s, 5000, 5000);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(attr_read(s, m, NULL, err), 0);
		assert_same(l, m);
	}
	ck_assert_int_eq(attr_read(s, m, NULL, err), STREAM_EOF);
	ck_assert_uint_eq(attr_list_count(m), 0);
	ck_assert_int_eq(pthread_join(w.tid, NULL), 0);
	stream_close(&s);
	attr_list_destroy(&l);
	attr_list_destroy(&m);
	buf_destroy(&err);
	free(big);
}
END_TEST

/* Hostile input on a stream (as in decode_cases): what attr_read returns
 * and why. */
static const struct {
	const char *spec;
	int want;
	const char *why;
} read_cases[] = {
    {"", STREAM_EOF, NULL},
    {"a1 00", 0, NULL},
    {"a1", ATTR_MALFORMED, "truncated"},
    {"a1 01 'a' 0000", ATTR_MALFORMED, "truncated"},
    {"a1 01 'a' 00000005 'abc'", ATTR_MALFORMED, "truncated"},
    {"'HELO' 0d0a", ATTR_MALFORMED, "magic"},
    {"a1 01 'B' 00000000 00", ATTR_MALFORMED, "name"},
    {"a1 50", ATTR_MALFORMED, "name of 80"},
    /* 4 GiB - 1: refused before allocating or reading it. */
    {"a1 01 'a' ffffffff", ATTR_MALFORMED, "value of"},
    {"a1 01 'a' 00010001", ATTR_MALFORMED, "value of 65537"},
};

START_TEST(test_read_hostile)
{
	struct attr_list *m = attr_list_create();
	struct buf *err = buf_create(0, 256);
	struct stream *s;
	char in[64];
	int fds[2];
	int r;

	ck_assert_int_eq(pipe(fds), 0);
	write_fd(fds[1], in, wire(read_cases[_i].spec, in, sizeof(in)));
	close(fds[1]);
	s = stream_open(fds[0]);
	stream_set_timeouts(s, 2000, -1);
	attr_add_str(m, "stale", "x");
	r = attr_read(s, m, NULL, err);
	ck_assert_msg(r == read_cases[_i].want, "case %d: %d (%s)", _i, r,
	              buf_str(err));
	if (r != 0)
		ck_assert_uint_eq(attr_list_count(m), 0);
	if (read_cases[_i].why)
		ck_assert_msg(strstr(buf_str(err), read_cases[_i].why),
		              "case %d: reason '%s'", _i, buf_str(err));
	stream_close(&s);
	attr_list_destroy(&m);
	buf_destroy(&err);
}
END_TEST

/* A peer that stops half way through a message: the read deadline. */
START_TEST(test_read_timeout)
{
	struct attr_list *m = attr_list_create();
	struct buf *err = buf_create(0, 256);
	struct stream *s;
	char in[32];
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	write_fd(sv[1], in,
	         wire("a1 07 'request' 00000004 'pi'", in, sizeof(in)));
	s = stream_open(sv[0]);
	stream_set_timeouts(s, 100, -1);
	ck_assert_int_eq(attr_read(s, m, NULL, err), STREAM_TIMEOUT);
	ck_assert_uint_eq(attr_list_count(m), 0);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "timeout"));
	ck_assert(stream_failed(s));
	stream_close(&s);
	close(sv[1]);
	attr_list_destroy(&m);
	buf_destroy(&err);
}
END_TEST

Suite *attr_suite(void)
{
	Suite *s = suite_create("attr");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_round_trip, 0,
	                    (int)(sizeof(rt_cases) / sizeof(rt_cases[0])));
	tcase_add_test(tc, test_wire_bytes);
	tcase_add_loop_test(
	    tc, test_decode_hostile, 0,
	    (int)(sizeof(decode_cases) / sizeof(decode_cases[0])));
	tcase_add_test(tc, test_decode_truncated);
	tcase_add_test(tc, test_default_limits);
	tcase_add_loop_test(tc, test_get_int, 0,
	                    (int)(sizeof(int_cases) / sizeof(int_cases[0])));
	tcase_add_test(tc, test_get_and_require);
	tcase_add_test(tc, test_read_socketpair);
	tcase_add_loop_test(tc, test_read_hostile, 0,
	                    (int)(sizeof(read_cases) / sizeof(read_cases[0])));
	tcase_add_test(tc, test_read_timeout);
	suite_add_tcase(s, tc);
	return s;
}
