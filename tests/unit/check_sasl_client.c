/* check_sasl_client.c: unit tests for lib/sasl_client.c: the
 * smtp_sasl_*security_options words (good, empty, unknown, hostile),
 * the mechanism choice (PLAIN before LOGIN, options that forbid both,
 * names that only look alike), the password-map keys in lookup order
 * with duplicates dropped, the "user:password" split (first colon,
 * empty and overlong fields, CR/LF/NUL), and the secret buffers. The
 * responses are tested in check_sasl (lib/sasl). */
#include <check.h>
#include <string.h>

#include "sasl_client.h"

static const struct {
	const char *text;
	int rc;
	unsigned flags;
} sec_cases[] = {
    {"noplaintext, noanonymous", 0,
     SASL_SEC_NOPLAINTEXT | SASL_SEC_NOANONYMOUS},
    {"noanonymous", 0, SASL_SEC_NOANONYMOUS},
    {"", 0, 0},
    {"  ,, \t", 0, 0},
    {"NoPlainText\tNOACTIVE,nodictionary", 0,
     SASL_SEC_NOPLAINTEXT | SASL_SEC_NOACTIVE | SASL_SEC_NODICTIONARY},
    {"mutual_auth forward_secrecy", 0,
     SASL_SEC_MUTUAL_AUTH | SASL_SEC_FORWARD_SECRECY},
    {"noanonymous noanonymous", 0, SASL_SEC_NOANONYMOUS},
    {"noplaintext, bogus", -1, 0},
    {"noplain", -1, 0},
    {"noplaintextx", -1, 0},
    {"noplaintext;noanonymous", -1, 0},
    {"\x01\xff", -1, 0},
};

START_TEST(test_security_parse)
{
	struct buf *err = buf_create(16, 1024);
	unsigned flags = 0xdead;
	int rc = sasl_client_security_parse(sec_cases[_i].text, &flags, err);

	ck_assert_int_eq(rc, sec_cases[_i].rc);
	if (rc == 0) {
		ck_assert_uint_eq(flags, sec_cases[_i].flags);
	} else {
		ck_assert_uint_eq(flags, 0xdead); /* untouched */
		ck_assert_ptr_nonnull(strstr(buf_str(err), "unknown SASL"));
	}
	buf_destroy(&err);
}
END_TEST

/* A very long unknown word is quoted only in part. */
START_TEST(test_security_parse_long)
{
	struct buf *err = buf_create(16, 4096);
	char word[3000];
	unsigned flags;

	memset(word, 'x', sizeof(word) - 1);
	word[sizeof(word) - 1] = '\0';
	ck_assert_int_eq(sasl_client_security_parse(word, &flags, err), -1);
	ck_assert_uint_lt(buf_len(err), 300);
	buf_destroy(&err);
}
END_TEST

#define NONE -1
static const struct {
	const char *offered;
	unsigned flags;
	int mech; /* enum sasl_mech, or NONE */
} choose_cases[] = {
    {"PLAIN LOGIN", SASL_SEC_NOANONYMOUS, SASL_MECH_PLAIN},
    {"LOGIN PLAIN", 0, SASL_MECH_PLAIN},
    {"CRAM-MD5 LOGIN", SASL_SEC_NOANONYMOUS, SASL_MECH_LOGIN},
    {"login", 0, SASL_MECH_LOGIN},
    {"plain", 0, SASL_MECH_PLAIN},
    {"CRAM-MD5 DIGEST-MD5 XOAUTH2", 0, NONE},
    {"", 0, NONE},
    {"PLAINX LOGINX XPLAIN", 0, NONE},
    {"PLAI", 0, NONE},
    /* The default without TLS: noplaintext forbids both. */
    {"PLAIN LOGIN", SASL_SEC_NOPLAINTEXT | SASL_SEC_NOANONYMOUS, NONE},
    {"PLAIN LOGIN", SASL_SEC_NOACTIVE, NONE},
    {"PLAIN LOGIN", SASL_SEC_NODICTIONARY, NONE},
    {"PLAIN LOGIN", SASL_SEC_MUTUAL_AUTH, NONE},
    {"PLAIN LOGIN", SASL_SEC_FORWARD_SECRECY, NONE},
};

START_TEST(test_choose)
{
	enum sasl_mech mech = (enum sasl_mech)77;
	int rc = sasl_client_choose(choose_cases[_i].offered,
	                            choose_cases[_i].flags, &mech);

	if (choose_cases[_i].mech == NONE) {
		ck_assert_int_eq(rc, -1);
		ck_assert_int_eq(mech, 77);
	} else {
		ck_assert_int_eq(rc, 0);
		ck_assert_int_eq(mech, choose_cases[_i].mech);
	}
}
END_TEST

static const struct {
	const char *nexthop, *host;
	const char *keys[4]; /* in order, NULL-ended */
} key_cases[] = {
    {"[mail.example.com]:587",
     "mail.example.com",
     {"[mail.example.com]:587", "mail.example.com", NULL}},
    {"[mail.example.com]",
     "mail.example.com",
     {"[mail.example.com]", "mail.example.com", NULL}},
    {"example.com",
     "mx1.example.com",
     {"example.com", "mx1.example.com", NULL}},
    {"example.com:2525",
     "mx1.example.com",
     {"example.com:2525", "mx1.example.com", "example.com", NULL}},
    /* An implicit MX: the host is the domain. */
    {"example.com", "example.com", {"example.com", NULL}},
    {"Example.COM:25", "example.com", {"Example.COM:25", "example.com", NULL}},
    {"[127.0.0.1]:2525", "127.0.0.1", {"[127.0.0.1]:2525", "127.0.0.1", NULL}},
    {"", "mx.example.com", {"mx.example.com", NULL}},
    {"", "", {NULL}},
};

START_TEST(test_keys)
{
	struct buf *key = buf_create(16, 4096);
	int i;

	for (i = 0; key_cases[_i].keys[i] != NULL; i++) {
		ck_assert_int_eq(sasl_client_key(key_cases[_i].nexthop,
		                                 key_cases[_i].host, i, key),
		                 0);
		ck_assert_str_eq(buf_str(key), key_cases[_i].keys[i]);
	}
	buf_set_str(key, "kept");
	ck_assert_int_eq(
	    sasl_client_key(key_cases[_i].nexthop, key_cases[_i].host, i, key),
	    -1);
	ck_assert_int_eq(sasl_client_key(key_cases[_i].nexthop,
	                                 key_cases[_i].host, i + 5, key),
	                 -1);
	ck_assert_str_eq(buf_str(key), "kept");
	buf_destroy(&key);
}
END_TEST

static const struct {
	const char *value;
	size_t len; /* 0: strlen */
	int rc;
	const char *user, *pass;
} split_cases[] = {
    {"user@example.com:secret", 0, 0, "user@example.com", "secret"},
    /* The first ':' splits: passwords may hold colons. */
    {"u:p:a:s:s", 0, 0, "u", "p:a:s:s"},
    {"u: spaced pass ", 0, 0, "u", " spaced pass "},
    {"nocolon", 0, -1, NULL, NULL},
    {":pass", 0, -1, NULL, NULL},
    {"user:", 0, -1, NULL, NULL},
    {":", 0, -1, NULL, NULL},
    {"", 0, -1, NULL, NULL},
    {"us\rer:pass", 0, -1, NULL, NULL},
    {"user:pa\nss", 0, -1, NULL, NULL},
    {"user:pa\0ss", 10, -1, NULL, NULL},
    {"us\0er:pass", 10, -1, NULL, NULL},
};

START_TEST(test_split)
{
	struct buf *user = sasl_client_secret_create(SASL_AUTHCID_MAX),
	           *pass = sasl_client_secret_create(SASL_PASSWD_MAX);
	const char *v = split_cases[_i].value;
	size_t len = split_cases[_i].len ? split_cases[_i].len : strlen(v);

	buf_set_str(user, "u0");
	buf_set_str(pass, "p0");
	ck_assert_int_eq(sasl_client_split(v, len, user, pass),
	                 split_cases[_i].rc);
	if (split_cases[_i].rc == 0) {
		ck_assert_str_eq(buf_str(user), split_cases[_i].user);
		ck_assert_str_eq(buf_str(pass), split_cases[_i].pass);
	} else {
		ck_assert_str_eq(buf_str(user), "u0");
		ck_assert_str_eq(buf_str(pass), "p0");
	}
	sasl_client_secret_destroy(&user);
	sasl_client_secret_destroy(&pass);
	ck_assert_ptr_null(user);
}
END_TEST

/* Fields at and past their limits. */
START_TEST(test_split_limits)
{
	struct buf *user = sasl_client_secret_create(SASL_AUTHCID_MAX),
	           *pass = sasl_client_secret_create(SASL_PASSWD_MAX),
	           *small = sasl_client_secret_create(4);
	char v[SASL_AUTHCID_MAX + SASL_PASSWD_MAX + 8];

	memset(v, 'u', SASL_AUTHCID_MAX);
	v[SASL_AUTHCID_MAX] = ':';
	memset(v + SASL_AUTHCID_MAX + 1, 'p', SASL_PASSWD_MAX);
	ck_assert_int_eq(
	    sasl_client_split(v, SASL_AUTHCID_MAX + 1 + SASL_PASSWD_MAX, user,
	                      pass),
	    0);
	ck_assert_uint_eq(buf_len(user), SASL_AUTHCID_MAX);
	ck_assert_uint_eq(buf_len(pass), SASL_PASSWD_MAX);
	/* One byte more password. */
	v[SASL_AUTHCID_MAX + 1 + SASL_PASSWD_MAX] = 'p';
	ck_assert_int_eq(
	    sasl_client_split(v, SASL_AUTHCID_MAX + 2 + SASL_PASSWD_MAX, user,
	                      pass),
	    -1);
	/* One byte more user name. */
	memset(v, 'u', SASL_AUTHCID_MAX + 1);
	v[SASL_AUTHCID_MAX + 1] = ':';
	v[SASL_AUTHCID_MAX + 2] = 'p';
	ck_assert_int_eq(sasl_client_split(v, SASL_AUTHCID_MAX + 3, user, pass),
	                 -1);
	/* A field longer than its buffer. */
	ck_assert_int_eq(sasl_client_split("abcde:p", 7, small, pass), -1);
	ck_assert_int_eq(sasl_client_split("abcd:p", 6, small, pass), 0);
	ck_assert_str_eq(buf_str(small), "abcd");
	sasl_client_secret_destroy(&user);
	sasl_client_secret_destroy(&pass);
	sasl_client_secret_destroy(&small);
}
END_TEST

/* A secret buffer holds its full size from the start and never grows
 * past it. */
START_TEST(test_secret_buffer)
{
	struct buf *b = sasl_client_secret_create(32);
	char big[40];

	memset(big, 'x', sizeof(big));
	ck_assert_uint_eq(buf_limit(b), 32);
	ck_assert_int_eq(buf_append(b, big, 32), 0);
	ck_assert_int_eq(buf_append(b, "y", 1), -1);
	sasl_client_secret_destroy(&b);
	ck_assert_ptr_null(b);
	sasl_client_secret_destroy(&b); /* NULL is fine */
}
END_TEST

Suite *sasl_client_suite(void)
{
	Suite *s = suite_create("sasl_client");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_security_parse, 0,
	                    sizeof(sec_cases) / sizeof(sec_cases[0]));
	tcase_add_test(tc, test_security_parse_long);
	tcase_add_loop_test(tc, test_choose, 0,
	                    sizeof(choose_cases) / sizeof(choose_cases[0]));
	tcase_add_loop_test(tc, test_keys, 0,
	                    sizeof(key_cases) / sizeof(key_cases[0]));
	tcase_add_loop_test(tc, test_split, 0,
	                    sizeof(split_cases) / sizeof(split_cases[0]));
	tcase_add_test(tc, test_split_limits);
	tcase_add_test(tc, test_secret_buffer);
	suite_add_tcase(s, tc);
	return s;
}
