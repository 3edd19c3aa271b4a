/* check_address.c: unit tests for lib/address.c and lib/address_header.c:
 * SMTP paths and header address lists, table-driven with hostile inputs
 * (bad syntax, NUL and control bytes, invalid UTF-8, overlong parts, deep
 * comments, too many addresses). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "buf.h"

#define U ADDRESS_ALLOW_UTF8
#define N ADDRESS_ALLOW_NULL
#define B ADDRESS_ALLOW_NO_BRACKETS
#define P ADDRESS_ALLOW_POSTMASTER
#define L ADDRESS_ALLOW_BARE_LOCAL

/* Inputs with NUL bytes give their length; len 0 means strlen(in).
 * consumed 0 means the whole input. why: a substring of the reason. */
static const struct {
	const char *in;
	size_t len;
	unsigned flags;
	int ok;
	const char *want;
	size_t consumed;
	const char *why;
} path_cases[] = {
    {"<a@b>", 0, 0, 0, "a@b", 0, NULL},
    {"<user@example.com>", 0, 0, 0, "user@example.com", 0, NULL},
    {"<a+tag@Example.COM>", 0, 0, 0, "a+tag@Example.COM", 0, NULL},
    {"<!#$%&'*+-/=?^_`{|}~@x>", 0, 0, 0, "!#$%&'*+-/=?^_`{|}~@x", 0, NULL},
    {"<a@b> SIZE=10", 0, 0, 0, "a@b", 5, NULL},
    {"<a@b>\tBODY=8BITMIME", 0, 0, 0, "a@b", 5, NULL},
    {"  <a@b>", 0, 0, 0, "a@b", 7, NULL},
    {"<a@123.com>", 0, 0, 0, "a@123.com", 0, NULL},
    {"<>", 0, N, 0, "", 0, NULL},
    {"<> SIZE=10", 0, N, 0, "", 2, NULL},
    {"<>", 0, 0, -1, NULL, 0, "null address"},
    /* Quoted local parts: quotes kept only when needed. */
    {"<\"a b\"@x>", 0, 0, 0, "\"a b\"@x", 0, NULL},
    {"<\"abc\"@x>", 0, 0, 0, "abc@x", 0, NULL},
    {"<\"a.b\"@x>", 0, 0, 0, "a.b@x", 0, NULL},
    {"<\"a..b\"@x>", 0, 0, 0, "\"a..b\"@x", 0, NULL},
    {"<\"a\\\"b\"@x>", 0, 0, 0, "\"a\\\"b\"@x", 0, NULL},
    {"<\"a\\\\b\"@x>", 0, 0, 0, "\"a\\\\b\"@x", 0, NULL},
    {"<\"a\\bc\"@x>", 0, 0, 0, "abc@x", 0, NULL},
    {"<\"\"@x>", 0, 0, 0, "\"\"@x", 0, NULL},
    {"<\"a>b\"@x> SIZE=1", 0, 0, 0, "\"a>b\"@x", 9, NULL},
    {"<\"unterminated@x>", 0, 0, -1, NULL, 0, "unterminated"},
    {"<\"a\tb\"@x>", 0, 0, -1, NULL, 0, "control"},
    {"<\"a\\\x01\"@x>", 0, 0, -1, NULL, 0, "control"},
    /* Source routes: accepted, dropped. */
    {"<@a,@b:user@c>", 0, 0, 0, "user@c", 0, NULL},
    {"<@a.example:user@c>", 0, 0, 0, "user@c", 0, NULL},
    {"<@x:>", 0, 0, -1, NULL, 0, NULL},
    {"<@b>", 0, 0, -1, NULL, 0, "source route"},
    {"<@a,b:u@c>", 0, 0, -1, NULL, 0, "source route"},
    {"<@[1.2.3.4]:u@c>", 0, 0, -1, NULL, 0, "domain"},
    /* Address literals. */
    {"<a@[1.2.3.4]>", 0, 0, 0, "a@[1.2.3.4]", 0, NULL},
    {"<a@[IPv6:2001:db8::1]>", 0, 0, 0, "a@[IPv6:2001:db8::1]", 0, NULL},
    {"<a@[ipv6:::ffff:1.2.3.4]>", 0, 0, 0, "a@[ipv6:::ffff:1.2.3.4]", 0, NULL},
    {"<a@[x-tag:any thing]>", 0, 0, -1, NULL, 0, "literal"},
    {"<a@[x-tag:anything]>", 0, 0, 0, "a@[x-tag:anything]", 0, NULL},
    {"<a@[IPv6:2001:db8::g]>", 0, 0, -1, NULL, 0, "literal"},
    {"<a@[IPv6:1.2.3.4]>", 0, 0, -1, NULL, 0, "literal"},
    {"<a@[1.2.3]>", 0, 0, -1, NULL, 0, "literal"},
    {"<a@[1.2.3.256]>", 0, 0, -1, NULL, 0, "literal"},
    {"<a@[tag:]>", 0, 0, -1, NULL, 0, "literal"},
    {"<a@[-:x]>", 0, 0, -1, NULL, 0, "literal"},
    {"<a@[1.2.3.4>", 0, 0, -1, NULL, 0, "literal"},
    /* Bad syntax. */
    {"<a@b@c>", 0, 0, -1, NULL, 0, "syntax"},
    {"<a@>", 0, 0, -1, NULL, 0, "missing domain"},
    {"<a>", 0, 0, -1, NULL, 0, "missing domain"},
    {"<a..b@c>", 0, 0, -1, NULL, 0, "syntax"},
    {"<.a@b>", 0, 0, -1, NULL, 0, "syntax"},
    {"<a.@b>", 0, 0, -1, NULL, 0, "syntax"},
    {"<a@-b.c>", 0, 0, -1, NULL, 0, "domain"},
    {"<a@b-.c>", 0, 0, -1, NULL, 0, "domain"},
    {"<a@b..c>", 0, 0, -1, NULL, 0, "domain"},
    {"<a@b.>", 0, 0, -1, NULL, 0, "domain"},
    {"<a@.b>", 0, 0, -1, NULL, 0, "domain"},
    {"<a@b_c.com>", 0, 0, -1, NULL, 0, "syntax"},
    {"<a b@c>", 0, 0, -1, NULL, 0, "syntax"},
    {"<a@b c>", 0, 0, -1, NULL, 0, "syntax"},
    {"< a@b>", 0, 0, -1, NULL, 0, "syntax"},
    {"<a@b >", 0, 0, -1, NULL, 0, "syntax"},
    {"<a\x01@b>", 0, 0, -1, NULL, 0, "control"},
    {"<a@b\r\n>", 0, 0, -1, NULL, 0, "control"},
    {"<a\0b@c>", 7, 0, -1, NULL, 0, "NUL"},
    {"<a@b\0>", 6, 0, -1, NULL, 0, "NUL"},
    {"<a@b>\0", 6, 0, -1, NULL, 0, "junk"},
    {"<a@b>x", 0, 0, -1, NULL, 0, "junk"},
    {"<a@b>>", 0, 0, -1, NULL, 0, "junk"},
    {"<a@b", 0, 0, -1, NULL, 0, "missing '>'"},
    {"<", 0, 0, -1, NULL, 0, NULL},
    {"", 0, N, -1, NULL, 0, "missing address"},
    {"   ", 0, N, -1, NULL, 0, "missing address"},
    /* Without brackets: only with the lax flag. */
    {"a@b", 0, 0, -1, NULL, 0, "missing '<'"},
    {"a@b", 0, B, 0, "a@b", 3, NULL},
    {"a@b SIZE=1", 0, B, 0, "a@b", 3, NULL},
    {"a@b>", 0, B, -1, NULL, 0, "junk"},
    {"<a@b>", 0, B, 0, "a@b", 5, NULL},
    /* Postmaster without a domain: RCPT only. */
    {"<postmaster>", 0, P, 0, "postmaster", 0, NULL},
    {"<PostMaster>", 0, P, 0, "postmaster", 0, NULL},
    {"<postmaster>", 0, 0, -1, NULL, 0, "missing domain"},
    {"<postmaster@x>", 0, P, 0, "postmaster@x", 0, NULL},
    {"<user>", 0, P, -1, NULL, 0, "missing domain"},
    {"<\"postmaster\">", 0, P, -1, NULL, 0, "missing domain"},
    {"postmaster", 0, P | B, 0, "postmaster", 0, NULL},
    /* UTF-8: only with the flag, and well formed. */
    {"<\xc3\xbc@x>", 0, 0, -1, NULL, 0, "8-bit"},
    {"<\xc3\xbc@x>", 0, U, 0, "\xc3\xbc@x", 0, NULL},
    {"<a@b\xc3\xbc.de>", 0, 0, -1, NULL, 0, "8-bit"},
    {"<a@b\xc3\xbc.de>", 0, U, 0, "a@b\xc3\xbc.de", 0, NULL},
    {"<\"\xc3\xbc x\"@x>", 0, U, 0, "\"\xc3\xbc x\"@x", 0, NULL},
    {"<\"\xc3\xbc\"@x>", 0, U, 0, "\xc3\xbc@x", 0, NULL},
    {"<\xf0\x9f\x98\x80@x>", 0, U, 0, "\xf0\x9f\x98\x80@x", 0, NULL},
    {"<\xef\xbf\xbd@x>", 0, U, 0, "\xef\xbf\xbd@x", 0, NULL},
    {"<\xc0\xaf@x>", 0, U, -1, NULL, 0, "UTF-8"}, /* overlong '/' */
    {"<\xe0\x80\xaf@x>", 0, U, -1, NULL, 0, "UTF-8"}, /* overlong */
    {"<\xf0\x80\x80\xaf@x>", 0, U, -1, NULL, 0, "UTF-8"},
    {"<\xed\xa0\x80@x>", 0, U, -1, NULL, 0, "UTF-8"}, /* surrogate */
    {"<\xf4\x90\x80\x80@x>", 0, U, -1, NULL, 0, "UTF-8"},
    {"<\xf8\x88\x80\x80\x80@x>", 0, U, -1, NULL, 0, "UTF-8"},
    {"<\xc3@x>", 0, U, -1, NULL, 0, "UTF-8"}, /* truncated */
    {"<a\xc3", 0, U, -1, NULL, 0, "UTF-8"},
    {"<\x80@x>", 0, U, -1, NULL, 0, "UTF-8"},
    {"<\xc2\x85@x>", 0, U, -1, NULL, 0, "control"}, /* C1 NEL */
    {"<a@[\xc3\xbc]>", 0, U, -1, NULL, 0, "literal"},
};

START_TEST(test_parse_path)
{
	const char *in = path_cases[_i].in;
	size_t len = path_cases[_i].len ? path_cases[_i].len : strlen(in);
	struct buf *addr = buf_create(0, 1024);
	size_t consumed = 4242;
	const char *why = NULL;
	int r;

	buf_set_str(addr, "untouched");
	r = address_parse_path(in, len, path_cases[_i].flags, addr, &consumed,
	                       &why);
	ck_assert_msg(r == path_cases[_i].ok, "input '%s': %d (%s)", in, r,
	              why ? why : "");
	if (r == 0) {
		ck_assert_str_eq(buf_str(addr), path_cases[_i].want);
		ck_assert_uint_eq(consumed, path_cases[_i].consumed
		                                ? path_cases[_i].consumed
		                                : len);
	} else {
		ck_assert_str_eq(buf_str(addr), "untouched");
		ck_assert_uint_eq(consumed, 4242);
		ck_assert_ptr_nonnull(why);
		if (path_cases[_i].why)
			ck_assert_msg(strstr(why, path_cases[_i].why) != NULL,
			              "input '%s': reason '%s', want '%s'", in,
			              why, path_cases[_i].why);
	}
	buf_destroy(&addr);
}
END_TEST

/* Long inputs: prefix, fill1 x n1, mid, fill2 x n2, suffix. */
static const struct {
	const char *prefix, *fill1;
	size_t n1;
	const char *mid, *fill2;
	size_t n2;
	const char *suffix;
	unsigned flags;
	int ok;
	const char *why;
} long_cases[] = {
    {"<", "a", 64, "@x>", "", 0, "", 0, 0, NULL},
    {"<", "a", 65, "@x>", "", 0, "", 0, -1, "local part too long"},
    {"<", "a", 300, "@x>", "", 0, "", 0, -1, "local part too long"},
    {"<", "a", 100000, "", "", 0, "", B, -1, "local part too long"},
    {"<\"", "a", 61, "\\ ", "", 0, "\"@x>", 0, -1, "local part too long"},
    {"<\"", "a", 60, "\\ ", "", 0, "\"@x>", 0, 0, NULL},
    {"<\"", "\xc3\xa9", 31, "", "", 0, "\"@x>", U, 0, NULL},
    {"<\"", "\xc3\xa9", 32, "", "", 0, "\"@x>", U, -1, "too long"},
    {"<a@", "b", 63, ">", "", 0, "", 0, 0, NULL},
    {"<a@", "b", 64, ">", "", 0, "", 0, -1, "label too long"},
    {"<a@", "abc.", 70, "x>", "", 0, "", 0, -1, "domain too long"},
    {"<a@", "abcdefghij.", 22, "x>", "", 0, "", 0, 0, NULL},
    {"<a@", "abcdefghij.", 25, "x>", "", 0, "", 0, -1, "too long"},
    {"<", "a", 64, "@", "bcdefghij.", 18, "x>", 0, 0, NULL},
    {"<", "a", 64, "@", "bcdefghij.", 19, "x>", 0, -1, "address too long"},
    {"", "a", 64, "@", "bcdefghij.", 18, "abcdefghi", B, 0, NULL},
    {"", "a", 64, "@", "bcdefghij.", 18, "abcdefghij", B, -1, "too long"},
    {"<", "@a,", 100, "@a:u@x>", "", 0, "", 0, -1, "address too long"},
    {"<a@[", "1", 300, "]>", "", 0, "", 0, -1, "too long"},
    {"<a@", "\xc3\xa9", 40, ".de>", "", 0, "", U, 0, NULL},
    {"<", "\xc3\xa9", 40, "@x>", "", 0, "", U, -1, "local part too long"},
};

static char *long_input(size_t i, size_t *len)
{
	struct buf *b = buf_create(0, 0);
	size_t k;

	buf_append_str(b, long_cases[i].prefix);
	for (k = 0; k < long_cases[i].n1; k++)
		buf_append_str(b, long_cases[i].fill1);
	buf_append_str(b, long_cases[i].mid);
	for (k = 0; k < long_cases[i].n2; k++)
		buf_append_str(b, long_cases[i].fill2);
	buf_append_str(b, long_cases[i].suffix);
	*len = buf_len(b);
	char *s = buf_steal(b);
	buf_destroy(&b);
	return s;
}

START_TEST(test_parse_path_long)
{
	size_t len, consumed = 0;
	char *in = long_input((size_t)_i, &len);
	struct buf *addr = buf_create(0, 0);
	const char *why = NULL;
	int r;

	r = address_parse_path(in, len, long_cases[_i].flags, addr, &consumed,
	                       &why);
	ck_assert_msg(r == long_cases[_i].ok, "case %d (len %zu): %s", _i, len,
	              why ? why : "ok");
	if (r == 0) {
		ck_assert_uint_eq(consumed, len);
		/* The result parses again, to itself. */
		struct buf *again = buf_create(0, 0);
		struct buf *wrapped = buf_create(0, 0);
		buf_printf(wrapped, "<%s>", buf_str(addr));
		ck_assert_int_eq(address_parse_path(buf_str(wrapped),
		                                    buf_len(wrapped),
		                                    long_cases[_i].flags, again,
		                                    &consumed, NULL),
		                 0);
		ck_assert_str_eq(buf_str(again), buf_str(addr));
		buf_destroy(&again);
		buf_destroy(&wrapped);
	} else if (long_cases[_i].why) {
		ck_assert_msg(strstr(why, long_cases[_i].why) != NULL,
		              "case %d: reason '%s', want '%s'", _i, why,
		              long_cases[_i].why);
	}
	free(in);
	buf_destroy(&addr);
}
END_TEST

START_TEST(test_parse_path_limits)
{
	struct buf *small = buf_create(0, 3);
	size_t consumed = 7;
	const char *why = NULL;

	/* The caller's buffer is too small: an error, buffer untouched. */
	buf_set_str(small, "abc");
	ck_assert_int_eq(
	    address_parse_path("<a@bc>", 6, 0, small, &consumed, &why), -1);
	ck_assert_str_eq(buf_str(small), "abc");
	ck_assert_uint_eq(consumed, 7);
	ck_assert_int_eq(
	    address_parse_path("<a@b>", 5, 0, small, &consumed, &why), 0);
	ck_assert_str_eq(buf_str(small), "a@b");
	/* len bounds the input: no read past it. */
	ck_assert_int_eq(
	    address_parse_path("<a@b>", 4, 0, small, &consumed, &why), -1);
	ck_assert_int_eq(
	    address_parse_path("<a@b>", 0, 0, small, &consumed, NULL), -1);
	ck_assert_int_eq(address_parse_path(NULL, 0, ADDRESS_ALLOW_NULL, small,
	                                    &consumed, &why),
	                 -1);
	ck_assert_str_eq(why, "missing address");
	struct address_list *l = address_list_parse(NULL, 0, 0, 1, &why);
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(address_list_count(l), 0);
	address_list_destroy(&l);
	address_list_destroy(&l); /* a second destroy is harmless */
	buf_destroy(&small);
}
END_TEST

static const struct {
	const char *addr;
	int ok;
	const char *local, *domain;
} split_cases[] = {
    {"a@b", 0, "a", "b"},
    {"\"a@b\"@c", 0, "\"a@b\"", "c"},
    {"\"a\\\"@b\"@c", 0, "\"a\\\"@b\"", "c"},
    {"a@b@c", 0, "a@b", "c"},
    {"postmaster", -1, NULL, NULL},
    {"", -1, NULL, NULL},
    {"\"a@b\"", -1, NULL, NULL},
    {"@x", 0, "", "x"},
};

START_TEST(test_split)
{
	struct buf *local = buf_create(0, 0), *domain = buf_create(0, 0);

	buf_set_str(local, "L");
	buf_set_str(domain, "D");
	ck_assert_int_eq(address_split(split_cases[_i].addr, local, domain),
	                 split_cases[_i].ok);
	ck_assert_str_eq(buf_str(local),
	                 split_cases[_i].ok ? "L" : split_cases[_i].local);
	ck_assert_str_eq(buf_str(domain),
	                 split_cases[_i].ok ? "D" : split_cases[_i].domain);
	buf_destroy(&local);
	buf_destroy(&domain);
}
END_TEST

static const struct {
	const char *local;
	int ok;
	const char *quoted;
} quote_cases[] = {
    {"john", 0, "john"},       {"john.doe", 0, "john.doe"},
    {"a b", 0, "\"a b\""},     {"a\"b", 0, "\"a\\\"b\""},
    {"a\\b", 0, "\"a\\\\b\""}, {"", 0, "\"\""},
    {".a", 0, "\".a\""},       {"a..b", 0, "\"a..b\""},
    {"a@b", 0, "\"a@b\""},     {"a\r\nRCPT TO:<x@y>", -1, NULL},
    {"a\tb", -1, NULL},        {"\xc3\xbc", 0, "\xc3\xbc"},
};

START_TEST(test_quote_local)
{
	struct buf *out = buf_create(0, 0), *back = buf_create(0, 0);

	buf_set_str(out, ">");
	ck_assert_int_eq(address_quote_local(quote_cases[_i].local, out),
	                 quote_cases[_i].ok);
	if (quote_cases[_i].ok == 0) {
		ck_assert_str_eq(buf_str(out) + 1, quote_cases[_i].quoted);
		ck_assert_int_eq(address_unquote_local(buf_str(out) + 1, back),
		                 0);
		ck_assert_str_eq(buf_str(back), quote_cases[_i].local);
	} else {
		ck_assert_str_eq(buf_str(out), ">");
	}
	buf_destroy(&out);
	buf_destroy(&back);
}
END_TEST

START_TEST(test_quote_misc)
{
	struct buf *out = buf_create(0, 4);
	char addr[] = "\"A@B\"@Example.COM";

	ck_assert_int_eq(address_quote_local("a b c", out), -1);
	ck_assert_uint_eq(buf_len(out), 0);
	buf_set_str(out, "keep");
	ck_assert_int_eq(address_unquote_local("\"ab", out), -1);
	ck_assert_int_eq(address_unquote_local("\"a\"b\"", out), -1);
	ck_assert_int_eq(address_unquote_local("\"a\\\"", out), -1);
	ck_assert_int_eq(address_unquote_local("\"abcde\"", out), -1);
	ck_assert_str_eq(buf_str(out), "keep");
	address_lowercase_domain(addr);
	ck_assert_str_eq(addr, "\"A@B\"@example.com");
	buf_destroy(&out);
}
END_TEST

#define MAXN 4
static const struct {
	const char *in;
	size_t len;
	unsigned flags;
	size_t max;
	int ok;
	size_t count;
	const char *addr[MAXN], *name[MAXN], *group[MAXN];
	const char *why;
} list_cases[] = {
    {"john@x", 0, 0, 10, 0, 1, {"john@x"}, {""}, {NULL}, NULL},
    {"\"Joe Q. Public\" <john.q.public@example.com>",
     0,
     0,
     10,
     0,
     1,
     {"john.q.public@example.com"},
     {"Joe Q. Public"},
     {NULL},
     NULL},
    {"Joe Q. Public <john@x>",
     0,
     0,
     10,
     0,
     1,
     {"john@x"},
     {"Joe Q. Public"},
     {NULL},
     NULL},
    {"Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
     0,
     0,
     10,
     0,
     3,
     {"mary@x.test", "jdoe@example.org", "one@y.test"},
     {"Mary Smith", "", "Who?"},
     {NULL, NULL, NULL},
     NULL},
    {"Mary Smith <mary@x.test>, jdoe@example.org, \"Who?\" <one@y.test>",
     0,
     0,
     10,
     0,
     3,
     {"mary@x.test", "jdoe@example.org", "one@y.test"},
     {"Mary Smith", "", "Who?"},
     {NULL, NULL, NULL},
     NULL},
    {"Undisclosed recipients:;", 0, 0, 10, 0, 0, {NULL}, {NULL}, {NULL}, NULL},
    {"A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
     0,
     0,
     10,
     0,
     3,
     {"c@a.test", "joe@where.test", "jdoe@one.test"},
     {"Ed Jones", "", "John"},
     {"A Group", "A Group", "A Group"},
     NULL},
    {"Group: a@x;, b@y",
     0,
     0,
     10,
     0,
     2,
     {"a@x", "b@y"},
     {"", ""},
     {"Group", NULL},
     NULL},
    {"x@y, G : ; , \"Other Group\": (none) ; , z@w",
     0,
     0,
     10,
     0,
     2,
     {"x@y", "z@w"},
     {"", ""},
     {NULL, NULL},
     NULL},
    {"john@x (John Doe)", 0, 0, 10, 0, 1, {"john@x"}, {""}, {NULL}, NULL},
    {"(c) john (nested (deep (deeper)) \\( c) @ x (c)",
     0,
     0,
     10,
     0,
     1,
     {"john@x"},
     {""},
     {NULL},
     NULL},
    {"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
     0,
     0,
     10,
     0,
     1,
     {"pete@silly.test"},
     {"Pete"},
     {NULL},
     NULL},
    {"a@x,\r\n b@y",
     0,
     0,
     10,
     0,
     2,
     {"a@x", "b@y"},
     {"", ""},
     {NULL, NULL},
     NULL},
    {"Joe\n\t<a@x>,\n b@y\n",
     0,
     0,
     10,
     0,
     2,
     {"a@x", "b@y"},
     {"Joe", ""},
     {NULL, NULL},
     NULL},
    {"\"Joe\r\n Public\" <a@x>",
     0,
     0,
     10,
     0,
     1,
     {"a@x"},
     {"Joe Public"},
     {NULL},
     NULL},
    {"a@x,\r\nb@y", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "folding"},
    {"a@x\rb@y", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "line break"},
    {"a@x, , ,b@y,",
     0,
     0,
     10,
     0,
     2,
     {"a@x", "b@y"},
     {"", ""},
     {NULL, NULL},
     NULL},
    {"", 0, 0, 10, 0, 0, {NULL}, {NULL}, {NULL}, NULL},
    {" (only a comment) ", 0, 0, 10, 0, 0, {NULL}, {NULL}, {NULL}, NULL},
    {"\"unterminated <a@x>",
     0,
     0,
     10,
     -1,
     0,
     {NULL},
     {NULL},
     {NULL},
     "unterminated quoted"},
    {"(unterminated a@x",
     0,
     0,
     10,
     -1,
     0,
     {NULL},
     {NULL},
     {NULL},
     "unterminated comment"},
    {"a@x (a (b)",
     0,
     0,
     10,
     -1,
     0,
     {NULL},
     {NULL},
     {NULL},
     "unterminated comment"},
    {"Joe <a@x", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "missing '>'"},
    {"Joe <a@x, b@y", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "syntax"},
    {"a@[1.2.3.4",
     0,
     0,
     10,
     -1,
     0,
     {NULL},
     {NULL},
     {NULL},
     "unterminated domain literal"},
    {"a@x, b@y, c@z", 0, 0, 2, -1, 0, {NULL}, {NULL}, {NULL}, "too many"},
    {"a@x, b@y", 0, 0, 2, 0, 2, {"a@x", "b@y"}, {"", ""}, {NULL, NULL}, NULL},
    {"G: a@x, b@y, c@z;", 0, 0, 2, -1, 0, {NULL}, {NULL}, {NULL}, "too many"},
    {"A:B:c@x;;", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "nested group"},
    {"G: a@x", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "unterminated group"},
    {"G: a@x b@y;", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "syntax"},
    {"<@route,@r2:a@x>", 0, 0, 10, 0, 1, {"a@x"}, {""}, {NULL}, NULL},
    {"<,@route, ,@r2:a@x>", 0, 0, 10, 0, 1, {"a@x"}, {""}, {NULL}, NULL},
    {"<@route@r2:a@x>",
     0,
     0,
     10,
     -1,
     0,
     {NULL},
     {NULL},
     {NULL},
     "source route"},
    {"\"a b\"@x", 0, 0, 10, 0, 1, {"\"a b\"@x"}, {""}, {NULL}, NULL},
    {"\"john\".\"doe\"@x", 0, 0, 10, 0, 1, {"john.doe@x"}, {""}, {NULL}, NULL},
    {"john . doe @ example . com",
     0,
     0,
     10,
     0,
     1,
     {"john.doe@example.com"},
     {""},
     {NULL},
     NULL},
    {"john..doe@x", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "syntax"},
    {"a@[1.2.3.4]", 0, 0, 10, 0, 1, {"a@[1.2.3.4]"}, {""}, {NULL}, NULL},
    {"a@[1.2.3]", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "literal"},
    {"a@b_c", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "domain"},
    {"a@-b", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "domain"},
    {"john", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "missing domain"},
    {"john", 0, L, 10, 0, 1, {"john"}, {""}, {NULL}, NULL},
    {"Joe <john>, G: x;",
     0,
     L,
     10,
     0,
     2,
     {"john", "x"},
     {"Joe", ""},
     {NULL, "G"},
     NULL},
    {"Joe Public", 0, L, 10, -1, 0, {NULL}, {NULL}, {NULL}, "syntax"},
    {"\xc3\xbc@x", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "8-bit"},
    {"\xc3\xbc@x", 0, U, 10, 0, 1, {"\xc3\xbc@x"}, {""}, {NULL}, NULL},
    {"\xff@x", 0, U, 10, -1, 0, {NULL}, {NULL}, {NULL}, "UTF-8"},
    {"Jos\xe9 <jose@x>", 0, 0, 10, 0, 1, {"jose@x"}, {"Jos\xe9"}, {NULL}, NULL},
    {"\"a\\\"b\" <a@x>", 0, 0, 10, 0, 1, {"a@x"}, {"a\"b"}, {NULL}, NULL},
    {"\"a\tb\"@x", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "control"},
    {"a@x b@y", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "syntax"},
    {"a@x\0", 4, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "NUL"},
    {"a\x01@x", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "control"},
    {")a@x", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "parenthesis"},
    {"<>", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "empty address"},
    {"Joe <>", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "empty address"},
    {"a@x;", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "syntax"},
    {"@x", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "syntax"},
    {"a@", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "missing domain"},
    {"a@x.", 0, 0, 10, -1, 0, {NULL}, {NULL}, {NULL}, "domain"},
};

START_TEST(test_list_parse)
{
	const char *in = list_cases[_i].in;
	size_t len = list_cases[_i].len ? list_cases[_i].len : strlen(in);
	const char *why = NULL;
	struct address_list *l;
	size_t k;

	l = address_list_parse(in, len, list_cases[_i].flags,
	                       list_cases[_i].max, &why);
	if (list_cases[_i].ok < 0) {
		ck_assert_msg(l == NULL, "input '%s' parsed", in);
		ck_assert_ptr_nonnull(why);
		if (list_cases[_i].why)
			ck_assert_msg(strstr(why, list_cases[_i].why) != NULL,
			              "input '%s': reason '%s', want '%s'", in,
			              why, list_cases[_i].why);
		return;
	}
	ck_assert_msg(l != NULL, "input '%s': %s", in, why);
	ck_assert_uint_eq(address_list_count(l), list_cases[_i].count);
	for (k = 0; k < list_cases[_i].count; k++) {
		ck_assert_str_eq(address_list_addr(l, k),
		                 list_cases[_i].addr[k]);
		ck_assert_str_eq(address_list_display_name(l, k),
		                 list_cases[_i].name[k]);
		if (list_cases[_i].group[k] == NULL)
			ck_assert_ptr_null(address_list_group(l, k));
		else
			ck_assert_str_eq(address_list_group(l, k),
			                 list_cases[_i].group[k]);
	}
	address_list_destroy(&l);
	ck_assert_ptr_null(l);
}
END_TEST

/* Generated header inputs: comment nesting at and past the bound, input
 * size at and past the bound, many addresses. */
START_TEST(test_list_limits)
{
	struct buf *b = buf_create(0, 0);
	struct address_list *l;
	const char *why = NULL;
	int k;

	for (k = 0; k < ADDRESS_COMMENT_DEPTH_MAX; k++)
		buf_append_char(b, '(');
	for (k = 0; k < ADDRESS_COMMENT_DEPTH_MAX; k++)
		buf_append_char(b, ')');
	buf_append_str(b, "a@x");
	l = address_list_parse(buf_str(b), buf_len(b), 0, 10, &why);
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(address_list_count(l), 1);
	address_list_destroy(&l);

	buf_set_str(b, "(");
	for (k = 0; k < ADDRESS_COMMENT_DEPTH_MAX; k++)
		buf_append_char(b, '(');
	l = address_list_parse(buf_str(b), buf_len(b), 0, 10, &why);
	ck_assert_ptr_null(l);
	ck_assert_str_eq(why, "comments nested too deeply");

	/* 10000 addresses, all counted; one more than allowed fails. */
	buf_reset(b);
	for (k = 0; k < 10000; k++)
		buf_printf(b, "%sa%d@x", k ? "," : "", k);
	l = address_list_parse(buf_str(b), buf_len(b), 0, 10000, &why);
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(address_list_count(l), 10000);
	ck_assert_str_eq(address_list_addr(l, 9999), "a9999@x");
	address_list_destroy(&l);
	l = address_list_parse(buf_str(b), buf_len(b), 0, 9999, &why);
	ck_assert_ptr_null(l);
	ck_assert_str_eq(why, "too many addresses");

	/* Input size bound, and a long display name within it. */
	buf_reset(b);
	for (k = 0; k < ADDRESS_LIST_INPUT_MAX - 6; k++)
		buf_append_char(b, k % 2 ? ' ' : 'n');
	buf_append_str(b, "<a@x>");
	l = address_list_parse(buf_str(b), buf_len(b), 0, 10, &why);
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(strlen(address_list_display_name(l, 0)),
	                  ADDRESS_LIST_INPUT_MAX - 7);
	address_list_destroy(&l);
	buf_append_str(b, ",,");
	ck_assert_ptr_null(
	    address_list_parse(buf_str(b), buf_len(b), 0, 10, &why));
	ck_assert_str_eq(why, "header too long");

	/* A long group name shared by many members. */
	buf_reset(b);
	for (k = 0; k < 1000; k++)
		buf_append_str(b, "groupname ");
	buf_append_str(b, ":");
	for (k = 0; k < 100; k++)
		buf_printf(b, "m%d@x,", k);
	buf_append_str(b, ";");
	l = address_list_parse(buf_str(b), buf_len(b), 0, 100, &why);
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(address_list_count(l), 100);
	ck_assert_ptr_eq(address_list_group(l, 0), address_list_group(l, 99));
	address_list_destroy(&l);

	/* Local part and address length bounds apply in headers too. */
	buf_reset(b);
	for (k = 0; k < 65; k++)
		buf_append_char(b, 'a');
	buf_append_str(b, "@x");
	ck_assert_ptr_null(
	    address_list_parse(buf_str(b), buf_len(b), 0, 10, &why));
	ck_assert_str_eq(why, "local part too long");
	buf_destroy(&b);
}
END_TEST

Suite *address_suite(void)
{
	Suite *s = suite_create("address");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_parse_path, 0,
	                    sizeof(path_cases) / sizeof(path_cases[0]));
	tcase_add_loop_test(tc, test_parse_path_long, 0,
	                    sizeof(long_cases) / sizeof(long_cases[0]));
	tcase_add_test(tc, test_parse_path_limits);
	tcase_add_loop_test(tc, test_split, 0,
	                    sizeof(split_cases) / sizeof(split_cases[0]));
	tcase_add_loop_test(tc, test_quote_local, 0,
	                    sizeof(quote_cases) / sizeof(quote_cases[0]));
	tcase_add_test(tc, test_quote_misc);
	tcase_add_loop_test(tc, test_list_parse, 0,
	                    sizeof(list_cases) / sizeof(list_cases[0]));
	tcase_add_test(tc, test_list_limits);
	suite_add_tcase(s, tc);
	return s;
}
