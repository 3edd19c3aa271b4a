/* check_sender_login.c: unit tests for lib/sender_login.c (who owns a
 * sender address) and the restrictions built on it in lib/policy.c
 * (reject_sender_login_mismatch, reject_authenticated_/
 * reject_unauthenticated_sender_login_mismatch: 553 5.7.1). The built-in
 * rule runs over a real users table in a temporary directory and inline
 * virtual_alias_maps: own address, own alias (also through a chain),
 * aliases to two users or to a non-user, catch-alls, extensions,
 * case; then smtpd_sender_login_maps (Postfix's rule). */
#include <check.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "policy.h"
#include "sender_login.h"
#include "users.h"
#include "unit_tmp.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static char tmpdir[256];
static struct config *cfg;

static void setup(void)
{
	static const char users_text[] =
	    "u1@example.test $y$j9T$abcdefghijklmnop$"
	    "0123456789012345678901234567890123456789012\n"
	    "u2@example.test $y$j9T$abcdefghijklmnop$"
	    "0123456789012345678901234567890123456789012 enabled=no\n";
	struct passwd *pw = getpwuid(geteuid());
	struct buf *err = buf_create(128, 1024);
	char p[1024];

	unit_tmpdir_make(tmpdir, sizeof(tmpdir), "slogin");
	cfg = config_create();
	snprintf(p, sizeof(p), "lmdb:%s/users", tmpdir);
	ck_assert_int_eq(config_set(cfg, "virtual_mailbox_maps", p), 0);
	ck_assert_ptr_nonnull(pw);
	ck_assert_int_eq(config_set(cfg, "mail_owner", pw->pw_name), 0);
	ck_assert_int_eq(config_set(cfg, "recipient_delimiter", "+"), 0);
	/* Values with several addresses come from a regexp table (inline
	 * values cannot hold commas). */
	snprintf(p, sizeof(p), "%s/multi", tmpdir);
	{
		FILE *fp = fopen(p, "w");

		ck_assert_ptr_nonnull(fp);
		fputs("/^both@example\\.test$/ u1@example.test, "
		      "u2@example.test\n"
		      "/^shared@example\\.test$/ u1@example.test, "
		      "U2@example.test\n",
		      fp);
		fclose(fp);
	}
	snprintf(p, sizeof(p),
	         "inline:{a1@example.test=u1@example.test, "
	         "chain@example.test=a1@example.test, "
	         "ext@example.test=other@example.org, "
	         "local@example.test=root, "
	         "@catch.test=u1@example.test, "
	         "loop1@example.test=loop2@example.test, "
	         "loop2@example.test=loop1@example.test}, "
	         "regexp:%s/multi",
	         tmpdir);
	ck_assert_int_eq(config_set(cfg, "virtual_alias_maps", p), 0);
	snprintf(p, sizeof(p), "%s/users", tmpdir);
	ck_assert_int_eq(
	    users_table_replace(cfg, p, users_text, strlen(users_text), err),
	    2);
	buf_destroy(&err);
}

static void teardown(void)
{
	users_close();
	config_destroy(&cfg);
	unit_tmpdir_remove(tmpdir);
}

/* Built-in rule: sender -> owners ("" for none). */
static const struct {
	const char *sender, *owners;
} builtin[] = {
    {"u1@example.test", "u1@example.test"},
    {"U1@Example.TEST", "u1@example.test"},
    {"u1+tag@example.test", "u1@example.test"},
    {"u2@example.test", "u2@example.test"}, /* disabled still owns */
    {"a1@example.test", "u1@example.test"},
    {"A1@example.test", "u1@example.test"},
    {"a1+x@example.test", "u1@example.test"},
    {"chain@example.test", "u1@example.test"},
    {"both@example.test", ""}, /* two users: nobody's alone */
    {"ext@example.test", ""}, /* not a user */
    {"local@example.test", ""},
    {"x@catch.test", ""}, /* catch-alls own nothing */
    {"loop1@example.test", ""},
    {"nobody@example.test", ""},
    {"u1", ""},
    {"", ""},
    {"u1@example.test.evil", ""},
};

START_TEST(test_builtin)
{
	struct sender_login *sl = sender_login_create(cfg);
	struct buf *owners = buf_create(64, 1024), *err = buf_create(64, 1024);
	int r = sender_login_owners(sl, builtin[_i].sender, owners, err);

	ck_assert_int_eq(r, *builtin[_i].owners ? 1 : 0);
	ck_assert_str_eq(buf_str(owners), builtin[_i].owners);
	if (*builtin[_i].owners) {
		ck_assert_int_eq(sender_login_owns(sl, builtin[_i].sender,
		                                   builtin[_i].owners, err),
		                 1);
		ck_assert_int_eq(
		    sender_login_owns(sl, builtin[_i].sender, "U1@EXAMPLE.TEST",
		                      err),
		    strcmp(builtin[_i].owners, "u1@example.test") == 0);
	}
	ck_assert_int_eq(
	    sender_login_owns(sl, builtin[_i].sender, "u3@example.test", err),
	    0);
	sender_login_destroy(&sl);
	ck_assert_ptr_null(sl);
	buf_destroy(&owners);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_maps)
{
	struct sender_login *sl;
	struct buf *owners = buf_create(64, 1024), *err = buf_create(64, 1024);

	char p[1024];

	snprintf(p, sizeof(p),
	         "inline:{@dom.test=boss@dom.test, u9@example.test=u9}, "
	         "regexp:%s/multi",
	         tmpdir);
	ck_assert_int_eq(config_set(cfg, "smtpd_sender_login_maps", p), 0);
	sl = sender_login_create(cfg);
	ck_assert_int_eq(
	    sender_login_owners(sl, "shared@example.test", owners, err), 1);
	ck_assert_str_eq(buf_str(owners), "u1@example.test u2@example.test");
	ck_assert_int_eq(sender_login_owns(sl, "Shared+x@example.test",
	                                   "u2@example.test", err),
	                 1);
	ck_assert_int_eq(
	    sender_login_owns(sl, "any@dom.test", "boss@dom.test", err), 1);
	ck_assert_int_eq(sender_login_owns(sl, "u9@example.test", "u9", err),
	                 1);
	/* With a table, the built-in rule is off. */
	ck_assert_int_eq(
	    sender_login_owners(sl, "u1@example.test", owners, err), 0);
	sender_login_destroy(&sl);
	/* A table that cannot be opened: -1. */
	config_set(cfg, "smtpd_sender_login_maps", "lmdb:/nonexistent/x");
	sl = sender_login_create(cfg);
	ck_assert_int_eq(sender_login_owns(sl, "a@b.test", "a@b.test", err),
	                 -1);
	ck_assert_uint_gt(buf_len(err), 0);
	sender_login_destroy(&sl);
	buf_destroy(&owners);
	buf_destroy(&err);
}
END_TEST

/* The restrictions: list, sasl user ("" none), sender, expected reply
 * ("" for OK). */
static const struct {
	const char *list, *user, *sender, *reply;
} restrictions[] = {
    {"reject_sender_login_mismatch", "u1@example.test", "u1@example.test", ""},
    {"reject_sender_login_mismatch", "u1@example.test", "a1@example.test", ""},
    {"reject_sender_login_mismatch", "u1@example.test", "u2@example.test",
     "553 5.7.1 <u2@example.test>: Sender address rejected: not owned by "
     "user u1@example.test"},
    {"reject_sender_login_mismatch", "u1@example.test", "x@example.org",
     "553 5.7.1 <x@example.org>: Sender address rejected: not owned by "
     "user u1@example.test"},
    {"reject_sender_login_mismatch", "u1@example.test", "", ""},
    {"reject_sender_login_mismatch", "", "u1@example.test",
     "553 5.7.1 <u1@example.test>: Sender address rejected: not logged "
     "in"},
    {"reject_sender_login_mismatch", "", "x@example.org", ""},
    {"reject_authenticated_sender_login_mismatch", "", "u1@example.test", ""},
    {"reject_authenticated_sender_login_mismatch", "u2@example.test",
     "u1@example.test",
     "553 5.7.1 <u1@example.test>: Sender address rejected: not owned by "
     "user u2@example.test"},
    {"reject_unauthenticated_sender_login_mismatch", "u2@example.test",
     "u1@example.test", ""},
    {"reject_unauthenticated_sender_login_mismatch", "", "a1@example.test",
     "553 5.7.1 <a1@example.test>: Sender address rejected: not logged "
     "in"},
    {"permit_sasl_authenticated, reject_sender_login_mismatch",
     "u1@example.test", "u2@example.test", ""},
};

START_TEST(test_restrictions)
{
	struct policy *p;
	struct policy_facts f;
	struct policy_result r;

	ck_assert_int_eq(
	    config_set(cfg, "smtpd_sender_restrictions", restrictions[_i].list),
	    0);
	ck_assert_int_eq(config_set(cfg, "smtpd_delay_reject", "no"), 0);
	p = policy_create(cfg);
	memset(&f, 0, sizeof(f));
	f.client_address = "192.0.2.1";
	f.client_name = "unknown";
	f.sender = restrictions[_i].sender;
	f.sasl_username = restrictions[_i].user;
	policy_check(p, POLICY_STAGE_MAIL, &f, &r);
	ck_assert_str_eq(r.reply, restrictions[_i].reply);
	ck_assert_int_eq(r.verdict,
	                 *restrictions[_i].reply ? POLICY_REJECT : POLICY_OK);
	policy_destroy(&p);
}
END_TEST

START_TEST(test_restriction_tempfail)
{
	struct policy *p;
	struct policy_facts f;
	struct policy_result r;

	config_set(cfg, "smtpd_sender_restrictions",
	           "reject_sender_login_mismatch");
	config_set(cfg, "smtpd_delay_reject", "no");
	config_set(cfg, "smtpd_sender_login_maps", "lmdb:/nonexistent/x");
	p = policy_create(cfg);
	memset(&f, 0, sizeof(f));
	f.client_address = "192.0.2.1";
	f.sender = "u1@example.test";
	f.sasl_username = "u1@example.test";
	ck_assert_int_eq(policy_check(p, POLICY_STAGE_MAIL, &f, &r),
	                 POLICY_DEFER);
	ck_assert_str_eq(r.reply, "451 4.3.0 <u1@example.test>: Temporary "
	                          "lookup failure");
	policy_destroy(&p);
}
END_TEST

Suite *sender_login_suite(void)
{
	Suite *s = suite_create("sender_login");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_builtin, 0, NELEM(builtin));
	tcase_add_test(tc, test_maps);
	tcase_add_loop_test(tc, test_restrictions, 0, NELEM(restrictions));
	tcase_add_test(tc, test_restriction_tempfail);
	suite_add_tcase(s, tc);
	return s;
}
