/* check_tls_policy.c: unit tests for lib/tls_policy.c: security levels,
 * certificate match lists (good and hostile), their expansion for one
 * connection, smtp_tls_policy_maps values (good and hostile rows) and the
 * lookup keys of a nexthop. Table-driven. */
#include <check.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mem.h"
#include "tls_policy.h"

static const struct {
	const char *word;
	int ok;
	enum tls_level level;
} level_cases[] = {
    {"none", 0, TLS_LEV_NONE},
    {"", 0, TLS_LEV_NONE},
    {"may", 0, TLS_LEV_MAY},
    {"ENCRYPT", 0, TLS_LEV_ENCRYPT},
    {"verify", 0, TLS_LEV_VERIFY},
    {"Secure", 0, TLS_LEV_SECURE},
    {"dane", -1, 0},
    {"fingerprint", -1, 0},
    {"secure ", -1, 0},
    {"mayy", -1, 0},
};

START_TEST(test_level)
{
	enum tls_level l = 99;
	int r = tls_level_parse(level_cases[_i].word, &l);

	ck_assert_int_eq(r, level_cases[_i].ok);
	if (r == 0) {
		ck_assert_int_eq(l, level_cases[_i].level);
		/* The name round-trips ("" is none). */
		ck_assert_int_eq(
		    strcasecmp(tls_level_name(l), *level_cases[_i].word
		                                      ? level_cases[_i].word
		                                      : "none"),
		    0);
	} else {
		ck_assert_int_eq(l, 99);
	}
}
END_TEST

/* Match lists: spec, ok, the names joined by '|'. */
static const struct {
	const char *spec;
	int ok;
	const char *names;
} match_cases[] = {
    {"hostname", 0, "hostname"},
    {"nexthop, dot-nexthop", 0, "nexthop|dot-nexthop"},
    {"nexthop:dot-nexthop", 0, "nexthop|dot-nexthop"},
    {"  MX.Example.COM \t .example.com,,", 0, "mx.example.com|.example.com"},
    {"a_b-c.d", 0, "a_b-c.d"},
    {"", -1, NULL},
    {" , : ", -1, NULL},
    {"*.example.com", -1, NULL},
    {"example..com", -1, NULL},
    {"example.com.", -1, NULL},
    {".", -1, NULL},
    {"..example.com", -1, NULL},
    {"exa mple.com\x01", -1, NULL},
    {"ex\xc3\xa4mple.com", -1, NULL},
    {"a/b", -1, NULL},
    {"a b c d e f g h i j k l m n o p", 0, "a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p"},
    {"a b c d e f g h i j k l m n o p q", -1, NULL},
};

START_TEST(test_match_parse)
{
	struct tls_match_list m = {0};
	struct buf *err = buf_create(64, 1024), *joined = buf_create(64, 4096);
	int r = tls_match_parse(match_cases[_i].spec, &m, err);

	ck_assert_msg(r == match_cases[_i].ok, "%s: %d (%s)",
	              match_cases[_i].spec, r, buf_str(err));
	if (r == 0) {
		for (size_t i = 0; i < m.n; i++)
			buf_printf(joined, "%s%s", i ? "|" : "", m.names[i]);
		ck_assert_str_eq(buf_str(joined), match_cases[_i].names);
	} else {
		ck_assert_int_eq(m.n, 0);
		ck_assert_int_gt(buf_len(err), 0);
	}
	tls_match_free(&m);
	buf_destroy(&err);
	buf_destroy(&joined);
}
END_TEST

/* A name longer than the limit is refused. */
START_TEST(test_match_long_name)
{
	struct tls_match_list m = {0};
	struct buf *err = buf_create(64, 1024);
	char name[400];

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	ck_assert_int_eq(tls_match_parse(name, &m, err), -1);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_match_expand)
{
	struct tls_match_list m = {0};
	struct buf *err = buf_create(64, 1024);
	char *out[TLS_MATCH_MAX];
	size_t n;

	ck_assert_int_eq(tls_match_parse("hostname nexthop dot-nexthop "
	                                 "mx.example.com other.test",
	                                 &m, err),
	                 0);
	n = tls_match_expand(&m, "mx.example.com", "example.com", out,
	                     TLS_MATCH_MAX);
	/* hostname and the literal collapse into one. */
	ck_assert_int_eq(n, 4);
	ck_assert_str_eq(out[0], "mx.example.com");
	ck_assert_str_eq(out[1], "example.com");
	ck_assert_str_eq(out[2], ".example.com");
	ck_assert_str_eq(out[3], "other.test");
	for (size_t i = 0; i < n; i++)
		mem_free(out[i]);
	/* No nexthop known: the words that need it give nothing. */
	n = tls_match_expand(&m, "mx.example.com", NULL, out, 2);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(out[0], "mx.example.com");
	ck_assert_str_eq(out[1], "other.test");
	for (size_t i = 0; i < n; i++)
		mem_free(out[i]);
	tls_match_free(&m);
	buf_destroy(&err);
}
END_TEST

/* Policy values: value, ok, level, match (joined), protocols. */
static const struct {
	const char *value;
	int ok;
	enum tls_level level;
	const char *match, *protocols;
} policy_cases[] = {
    {"none", 0, TLS_LEV_NONE, "", NULL},
    {"may", 0, TLS_LEV_MAY, "", NULL},
    {"  encrypt  ", 0, TLS_LEV_ENCRYPT, "", NULL},
    {"verify", 0, TLS_LEV_VERIFY, "", NULL},
    {"secure match=example.com:.example.com", 0, TLS_LEV_SECURE,
     "example.com|.example.com", NULL},
    {"verify match=hostname:nexthop protocols=>=TLSv1.3", 0, TLS_LEV_VERIFY,
     "hostname|nexthop", ">=TLSv1.3"},
    {"encrypt protocols=!SSLv2:!SSLv3:!TLSv1:!TLSv1.1", 0, TLS_LEV_ENCRYPT, "",
     "!SSLv2:!SSLv3:!TLSv1:!TLSv1.1"},
    {"SECURE\tMATCH=Mx.Test", 0, TLS_LEV_SECURE, "mx.test", NULL},
    /* Hostile or unsupported rows. */
    {"", -1, 0, NULL, NULL},
    {"   ", -1, 0, NULL, NULL},
    {"dane", -1, 0, NULL, NULL},
    {"secur", -1, 0, NULL, NULL},
    {"match=example.com", -1, 0, NULL, NULL},
    {"may match=example.com", -1, 0, NULL, NULL},
    {"encrypt match=example.com", -1, 0, NULL, NULL},
    {"secure match=", -1, 0, NULL, NULL},
    {"secure match=*.example.com", -1, 0, NULL, NULL},
    {"secure match=a match=b", -1, 0, NULL, NULL},
    {"secure ciphers=high", -1, 0, NULL, NULL},
    {"secure protocols=", -1, 0, NULL, NULL},
    {"secure protocols=TLSv9", -1, 0, NULL, NULL},
    {"secure protocols=!TLSv1.2:!TLSv1.3", -1, 0, NULL, NULL},
    {"secure protocols=TLSv1.3 protocols=TLSv1.2", -1, 0, NULL, NULL},
    {"secure\r\nmatch=x", -1, 0, NULL, NULL},
    {"secure match=a\x01", -1, 0, NULL, NULL},
    {"secure =", -1, 0, NULL, NULL},
    {"secure match", -1, 0, NULL, NULL},
    {"verifyverifyverifyverifyverifyverifyverifyverifyverifyverifyverifyv", -1,
     0, NULL, NULL},
};

START_TEST(test_policy_parse)
{
	struct tls_policy p;
	struct buf *err = buf_create(64, 1024), *joined = buf_create(64, 4096);
	int r;

	memset(&p, 0x5a, sizeof(p));
	r = tls_policy_parse(policy_cases[_i].value, &p, err);
	ck_assert_msg(r == policy_cases[_i].ok, "%s: %d (%s)",
	              policy_cases[_i].value, r, buf_str(err));
	if (r == 0) {
		ck_assert_int_eq(p.level, policy_cases[_i].level);
		for (size_t i = 0; i < p.match.n; i++)
			buf_printf(joined, "%s%s", i ? "|" : "",
			           p.match.names[i]);
		ck_assert_str_eq(buf_str(joined), policy_cases[_i].match);
		ck_assert(p.have_match == (p.match.n > 0));
		if (policy_cases[_i].protocols)
			ck_assert_str_eq(p.protocols,
			                 policy_cases[_i].protocols);
		else
			ck_assert_ptr_null(p.protocols);
		tls_policy_free(&p);
	} else {
		/* Untouched on failure. */
		ck_assert_int_eq(((unsigned char *)&p)[0], 0x5a);
		ck_assert_int_gt(buf_len(err), 0);
	}
	buf_destroy(&err);
	buf_destroy(&joined);
}
END_TEST

/* Lookup keys: nexthop, keys joined by '|'. */
static const struct {
	const char *nexthop, *keys;
} key_cases[] = {
    {"example.com", "example.com|.com"},
    {"Mail.Example.COM", "mail.example.com|.example.com|.com"},
    {"[mx.example.com]:587",
     "[mx.example.com]:587|mx.example.com|.example.com|.com"},
    {"[mx.example.com]", "[mx.example.com]|mx.example.com|.example.com|.com"},
    {"example.com:2525", "example.com:2525|example.com|.com"},
    {"[127.0.0.1]:25", "[127.0.0.1]:25|127.0.0.1"},
    {"[IPv6:2001:db8::1]", "[ipv6:2001:db8::1]|ipv6:2001:db8::1"},
    {"localhost", "localhost"},
    {"[]", "[]"},
    {"", ""},
    {"[unclosed", "[unclosed"},
};

START_TEST(test_policy_keys)
{
	struct buf *keys = buf_create(64, 4096), *joined = buf_create(64, 4096);
	size_t n = tls_policy_keys(key_cases[_i].nexthop, keys);
	const char *k = buf_str(keys);

	for (size_t i = 0; i < n; i++) {
		buf_printf(joined, "%s%s", i ? "|" : "", k);
		k += strlen(k) + 1;
	}
	ck_assert_str_eq(buf_str(joined), key_cases[_i].keys);
	buf_destroy(&keys);
	buf_destroy(&joined);
}
END_TEST

START_TEST(test_nexthop_domain)
{
	char out[64];
	bool br;

	ck_assert_int_eq(
	    tls_nexthop_domain("[MX.a.test]:25", out, sizeof(out), &br), 0);
	ck_assert_str_eq(out, "mx.a.test");
	ck_assert(br);
	ck_assert_int_eq(tls_nexthop_domain("a.test:25", out, sizeof(out), &br),
	                 0);
	ck_assert_str_eq(out, "a.test");
	ck_assert(!br);
	ck_assert_int_eq(tls_nexthop_domain("[]:25", out, sizeof(out), &br),
	                 -1);
	ck_assert_int_eq(
	    tls_nexthop_domain("a-very-long-name.example.com", out, 8, &br),
	    -1);
}
END_TEST

Suite *tls_policy_suite(void)
{
	Suite *s = suite_create("tls_policy");
	TCase *tc = tcase_create("tls_policy");

	tcase_add_loop_test(tc, test_level, 0,
	                    sizeof(level_cases) / sizeof(level_cases[0]));
	tcase_add_loop_test(tc, test_match_parse, 0,
	                    sizeof(match_cases) / sizeof(match_cases[0]));
	tcase_add_test(tc, test_match_long_name);
	tcase_add_test(tc, test_match_expand);
	tcase_add_loop_test(tc, test_policy_parse, 0,
	                    sizeof(policy_cases) / sizeof(policy_cases[0]));
	tcase_add_loop_test(tc, test_policy_keys, 0,
	                    sizeof(key_cases) / sizeof(key_cases[0]));
	tcase_add_test(tc, test_nexthop_domain);
	suite_add_tcase(s, tc);
	return s;
}
