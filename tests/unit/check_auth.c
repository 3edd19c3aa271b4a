/* check_auth.c: unit tests for lib/auth.c against a real users table
 * built in a temporary directory (users_table_replace): users hashed with
 * yescrypt ($y$), sha512-crypt ($6$) and bcrypt ($2b$) by password_hash
 * log in, case-insensitively by name; wrong passwords, unknown users,
 * disabled users, locked hashes, hostile login names and passwords
 * (NUL, overlong) fail; a missing table is a temporary failure; the
 * reason never holds the password. */
#include <check.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "config.h"
#include "password.h"
#include "users.h"
#include "unit_tmp.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static char tmpdir[256];
static struct config *cfg;

/* The users: address, method, password, enabled. */
static const struct {
	const char *address, *method, *password;
	bool enabled;
} users[] = {
    {"y@example.test", "yescrypt", "yes-pass-1", true},
    {"s@example.test", "sha512", "sha-pass-2", true},
    {"b@example.test", "bcrypt", "bcr-pass-3", true},
    {"off@example.test", "yescrypt", "off-pass-4", false},
};

static void setup(void)
{
	struct passwd *pw = getpwuid(geteuid());
	struct buf *text = buf_create(256, 0), *hash = buf_create(128, 1024);
	struct buf *err = buf_create(128, 1024);
	char p[512];

	unit_tmpdir_make(tmpdir, sizeof(tmpdir), "auth");
	cfg = config_create();
	snprintf(p, sizeof(p), "lmdb:%s/users", tmpdir);
	ck_assert_int_eq(config_set(cfg, "virtual_mailbox_maps", p), 0);
	ck_assert_ptr_nonnull(pw);
	ck_assert_int_eq(config_set(cfg, "mail_owner", pw->pw_name), 0);
	for (size_t i = 0; i < NELEM(users); i++) {
		ck_assert_int_eq(
		    password_hash(users[i].method, users[i].password,
		                  strlen(users[i].password), hash, err),
		    0);
		buf_printf(text, "%s %s%s\n", users[i].address, buf_str(hash),
		           users[i].enabled ? "" : " enabled=no");
	}
	buf_append_str(text, "locked@example.test !$y$j9T$x$y\n");
	snprintf(p, sizeof(p), "%s/users", tmpdir);
	ck_assert_int_eq(
	    users_table_replace(cfg, p, buf_str(text), buf_len(text), err), 5);
	buf_destroy(&text);
	buf_destroy(&hash);
	buf_destroy(&err);
}

static void teardown(void)
{
	users_close();
	config_destroy(&cfg);
	unit_tmpdir_remove(tmpdir);
}

static enum auth_status try(const char *login, const char *pw, size_t len,
                            struct buf *user, struct buf *why)
{
	enum auth_status st = auth_verify(cfg, login, pw, len, user, why);

	/* Whatever the outcome, the reason never holds the password. */
	if (len > 0)
		ck_assert_ptr_null(memmem(buf_str(why), buf_len(why), pw, len));
	return st;
}

START_TEST(test_schemes)
{
	struct buf *user = buf_create(64, 1024), *why = buf_create(64, 1024);
	static const char *const prefix[] = {"$y$", "$6$", "$2b$"};
	struct user_entry u;

	for (size_t i = 0; i < 3; i++) {
		/* The table really holds that scheme. */
		ck_assert_int_eq(users_lookup(cfg, users[i].address, &u, NULL),
		                 1);
		ck_assert_int_eq(strncmp(u.hash, prefix[i], strlen(prefix[i])),
		                 0);
		user_entry_free(&u);
		ck_assert_int_eq(try(users[i].address, users[i].password,
		                     strlen(users[i].password), user, why),
		                 AUTH_OK);
		ck_assert_str_eq(buf_str(user), users[i].address);
		ck_assert_int_eq(
		    try(users[i].address, "bad-guess", 9, user, why), AUTH_BAD);
		ck_assert_str_eq(buf_str(why), "wrong password");
	}
	/* Login names are addresses: any case. */
	buf_reset(user);
	ck_assert_int_eq(try("Y@EXAMPLE.test", "yes-pass-1", 10, user, why),
	                 AUTH_OK);
	ck_assert_str_eq(buf_str(user), "y@example.test");
	/* user may be NULL. */
	ck_assert_int_eq(
	    auth_verify(cfg, "s@example.test", "sha-pass-2", 10, NULL, why),
	    AUTH_OK);
	buf_destroy(&user);
	buf_destroy(&why);
}
END_TEST

/* Refusals: login, password (len: -1 for strlen), reason. */
static const struct {
	const char *login, *password;
	int len;
	const char *why;
} refusals[] = {
    {"off@example.test", "off-pass-4", -1, "user disabled"},
    {"nobody@example.test", "yes-pass-1", -1, "no such user"},
    {"locked@example.test", "anything", -1, "wrong password"},
    {"y@example.test", "", -1, "wrong password"},
    {"y@example.test", "yes-pass-1\0x", 12, "wrong password"},
    {"y@example.test", "yes-pass-", -1, "wrong password"},
    {"y@example.test", "yes-pass-11", -1, "wrong password"},
    {"y@example.test", "YES-PASS-1", -1, "wrong password"},
    {"", "yes-pass-1", -1, "bad login name"},
    {"y@example.test ", "yes-pass-1", -1, "bad login name"},
    {"y@exa\tmple.test", "yes-pass-1", -1, "bad login name"},
    {"y@example.test\r\n", "yes-pass-1", -1, "bad login name"},
    {"y", "yes-pass-1", -1, "no such user"},
};

START_TEST(test_refusals)
{
	struct buf *user = buf_create(64, 1024), *why = buf_create(64, 1024);
	size_t len = refusals[_i].len < 0 ? strlen(refusals[_i].password)
	                                  : (size_t)refusals[_i].len;

	buf_set_str(user, "untouched");
	ck_assert_int_eq(
	    try(refusals[_i].login, refusals[_i].password, len, user, why),
	    AUTH_BAD);
	ck_assert_str_eq(buf_str(why), refusals[_i].why);
	ck_assert_str_eq(buf_str(user), "untouched");
	buf_destroy(&user);
	buf_destroy(&why);
}
END_TEST

START_TEST(test_overlong)
{
	struct buf *why = buf_create(64, 1024);
	char big[PASSWORD_MAX + 2];
	char login[400];

	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(try("y@example.test", big, sizeof(big), NULL, why),
	                 AUTH_BAD);
	memset(login, 'a', sizeof(login) - 1);
	login[sizeof(login) - 1] = 0;
	ck_assert_int_eq(try(login, "yes-pass-1", 10, NULL, why), AUTH_BAD);
	ck_assert_str_eq(buf_str(why), "bad login name");
	ck_assert_int_eq(auth_verify(cfg, NULL, "x", 1, NULL, why), AUTH_BAD);
	buf_destroy(&why);
}
END_TEST

START_TEST(test_tempfail)
{
	struct buf *why = buf_create(64, 1024);

	config_set(cfg, "virtual_mailbox_maps", "lmdb:/nonexistent/users");
	ck_assert_int_eq(try("y@example.test", "yes-pass-1", 10, NULL, why),
	                 AUTH_TEMPFAIL);
	ck_assert_uint_gt(buf_len(why), 0);
	ck_assert_str_eq(auth_status_name(AUTH_TEMPFAIL), "tempfail");
	ck_assert_str_eq(auth_status_name(AUTH_OK), "ok");
	ck_assert_str_eq(auth_status_name(AUTH_BAD), "failed");
	buf_destroy(&why);
}
END_TEST

Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_schemes);
	tcase_add_loop_test(tc, test_refusals, 0, NELEM(refusals));
	tcase_add_test(tc, test_overlong);
	tcase_add_test(tc, test_tempfail);
	suite_add_tcase(s, tc);
	return s;
}
