/* check_users.c: unit tests for lib/users.c and lib/password.c: $y$, $2b$
 * and $6$ hashes (made here with crypt_gensalt + crypt_r, by
 * password_hash, and fixed strings made once with python3's crypt module
 * and `openssl passwd -6`) verify; wrong passwords, disabled users,
 * unusable hashes and NUL-containing passwords do not; table values
 * (quota=, enabled=, junk); the Maildir path of hostile addresses; Maildir
 * creation (modes, symbolic links); the users table (lookups, rebuilds,
 * permissions, a text that does not compile). */
#include <check.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "password.h"
#include "users.h"
#include "unit_tmp.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static char tmpdir[256];

static void setup(void)
{

	unit_tmpdir_make(tmpdir, sizeof(tmpdir), "users");
}

static void teardown(void)
{
	users_close();
	unit_tmpdir_remove(tmpdir);
}

/* tmpdir/name into out. */
static const char *tpath(char *out, size_t len, const char *name)
{
	ck_assert_int_lt(snprintf(out, len, "%s/%s", tmpdir, name), (int)len);
	return out;
}

/* A configuration whose mail_root and users table live in tmpdir, and
 * whose vmail_owner is whoever runs the test. */
static struct config *test_config(void)
{
	struct config *c = config_create();
	struct passwd *pw = getpwuid(geteuid());
	char p[512];

	ck_assert_ptr_nonnull(pw);
	ck_assert_int_eq(
	    config_set(c, "mail_root", tpath(p, sizeof(p), "mail")), 0);
	snprintf(p, sizeof(p), "lmdb:%s/users", tmpdir);
	ck_assert_int_eq(config_set(c, "virtual_mailbox_maps", p), 0);
	ck_assert_int_eq(config_set(c, "vmail_owner", pw->pw_name), 0);
	ck_assert_int_eq(config_set(c, "mail_owner", pw->pw_name), 0);
	return c;
}

/* A user_entry on the stack for password checks. */
static struct user_entry entry(const char *hash, bool enabled)
{
	struct user_entry u = {0};

	u.address = (char *)"user@example.com";
	u.hash = (char *)hash;
	u.enabled = enabled;
	return u;
}

/* Hashes made once (password "Tr0ub4dor&3") by other implementations'
 * front ends: python3 crypt.crypt (libxcrypt) for $y$ and $2b$ and $6$,
 * `openssl passwd -6` (OpenSSL's own SHA-crypt) for the second $6$. */
#define FIXED_PASSWORD "Tr0ub4dor&3"
static const char *const fixed_hashes[] = {
    "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$n.pFdveumVbvkIvhVT2m7V3vCOvHL9dASsBq3JUo"
    "RgC",
    "$2b$05$xh4px2Xp71Q0dI984QN7BOcUjgUl6UIZzzPL5Rf5TL37gWi5TmxCi",
    "$6$dcfFyz0wl8CL6rt9$rZTFySkluxqMUwvLIPY8BxHpkD7iqa.A4y5jvvsvTBA6cFdUyY7"
    ".0M12dLc96hIbrbSbJAjzHZ6DEWTlfs6N//",
    "$6$Qx9aL2mN$XN4F4I/kG9olG2kkkprbfmrF/45i76rqYDTj/wMW6gzBtH6rbgKP0Fbf1pR"
    "vtgNUktSCNBVoL/F1xcExMG7Wl.",
};

START_TEST(test_fixed_hashes)
{
	const char *h = fixed_hashes[_i];
	struct user_entry u = entry(h, true);
	char longer[64], shorter[64];

	ck_assert(password_hash_usable(h));
	ck_assert(users_password_ok(&u, FIXED_PASSWORD));
	snprintf(longer, sizeof(longer), "%sx", FIXED_PASSWORD);
	snprintf(shorter, sizeof(shorter), "%.*s",
	         (int)strlen(FIXED_PASSWORD) - 1, FIXED_PASSWORD);
	ck_assert(!users_password_ok(&u, "tr0ub4dor&3"));
	ck_assert(!users_password_ok(&u, longer));
	ck_assert(!users_password_ok(&u, shorter));
	ck_assert(!users_password_ok(&u, ""));
	ck_assert(!users_password_ok(&u, NULL));
	/* The right password followed by a NUL and more. */
	ck_assert(!users_password_ok_len(&u, FIXED_PASSWORD "\0x",
	                                 strlen(FIXED_PASSWORD) + 2));
	ck_assert(users_password_ok_len(&u, FIXED_PASSWORD "\0x",
	                                strlen(FIXED_PASSWORD)));
	u.enabled = false;
	ck_assert(!users_password_ok(&u, FIXED_PASSWORD));
}
END_TEST

/* Each scheme through libxcrypt directly and through password_hash. */
static const struct {
	const char *prefix;
	const char *method;
} schemes[] = {
    {"$y$", "yescrypt"},
    {"$2b$", "bcrypt"},
    {"$6$", "sha512"},
};

START_TEST(test_generated_hashes)
{
	const char *pw = "correct horse battery staple";
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	struct buf *hash = buf_create(0, 0), *err = buf_create(0, 1024);
	struct user_entry u;
	const char *h;

	ck_assert_ptr_nonnull(cd);
	ck_assert_ptr_nonnull(crypt_gensalt_rn(schemes[_i].prefix, 0, NULL, 0,
	                                       setting, sizeof(setting)));
	h = crypt_r(pw, setting, cd);
	ck_assert_ptr_nonnull(h);
	ck_assert(strncmp(h, schemes[_i].prefix, strlen(schemes[_i].prefix)) ==
	          0);
	u = entry(h, true);
	ck_assert(users_password_ok(&u, pw));
	ck_assert(!users_password_ok(&u, "correct horse battery stapl"));
	ck_assert(!users_password_ok(&u, "Correct horse battery staple"));
	u.enabled = false;
	ck_assert(!users_password_ok(&u, pw));

	ck_assert_str_eq(password_method_prefix(schemes[_i].method),
	                 schemes[_i].prefix);
	ck_assert_int_eq(
	    password_hash(schemes[_i].method, pw, strlen(pw), hash, err), 0);
	ck_assert(strncmp(buf_str(hash), schemes[_i].prefix,
	                  strlen(schemes[_i].prefix)) == 0);
	ck_assert(password_verify(buf_str(hash), pw, strlen(pw)));
	ck_assert(!password_verify(buf_str(hash), "x", 1));
	/* A fresh salt each time: two hashes of one password differ. */
	{
		struct buf *again = buf_create(0, 0);
		ck_assert_int_eq(password_hash(schemes[_i].method, pw,
		                               strlen(pw), again, err),
		                 0);
		ck_assert_str_ne(buf_str(again), buf_str(hash));
		buf_destroy(&again);
	}
	buf_destroy(&hash);
	buf_destroy(&err);
	free(cd);
}
END_TEST

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* No such user, a disabled one, a locked hash: false, and not at once
 * (a dummy yescrypt check hides which users exist). */
START_TEST(test_unknown_user_costs)
{
	struct user_entry locked = entry("!", true);
	struct user_entry disabled = entry(fixed_hashes[0], false);
	double t0 = now_ms();

	ck_assert(!users_password_ok(NULL, FIXED_PASSWORD));
	ck_assert(now_ms() - t0 >= 1.0);
	t0 = now_ms();
	ck_assert(!users_password_ok(&locked, FIXED_PASSWORD));
	ck_assert(now_ms() - t0 >= 1.0);
	t0 = now_ms();
	ck_assert(!users_password_ok(&disabled, FIXED_PASSWORD));
	ck_assert(now_ms() - t0 >= 1.0);
	ck_assert(!users_password_ok(NULL, NULL));
}
END_TEST

START_TEST(test_hash_refusals)
{
	struct buf *hash = buf_create(0, 0), *err = buf_create(0, 1024);
	char big[PASSWORD_MAX + 2];

	buf_set_str(hash, "untouched");
	ck_assert_int_eq(password_hash("md5", "pw", 2, hash, err), -1);
	ck_assert_int_eq(password_hash("", "pw", 2, hash, err), -1);
	ck_assert_int_eq(password_hash("yescrypt", "", 0, hash, err), -1);
	ck_assert_int_eq(password_hash("yescrypt", "a\0b", 3, hash, err), -1);
	memset(big, 'a', sizeof(big));
	ck_assert_int_eq(
	    password_hash("sha512", big, PASSWORD_MAX + 1, hash, err), -1);
	ck_assert_str_eq(buf_str(hash), "untouched");
	ck_assert_ptr_null(password_method_prefix("YESCRYPT"));
	/* PASSWORD_MAX itself is fine, and verifies. */
	ck_assert_int_eq(password_hash("sha512", big, PASSWORD_MAX, hash, err),
	                 0);
	ck_assert(password_verify(buf_str(hash), big, PASSWORD_MAX));
	ck_assert(!password_verify(buf_str(hash), big, PASSWORD_MAX + 1));
	buf_destroy(&hash);
	buf_destroy(&err);
}
END_TEST

/* Hashes that must never verify, whatever the password. */
static const char *const bad_hashes[] = {
    "",
    "*",
    "!",
    "!!",
    "*LK*",
    "x",
    "abJnggxhB/yWI", /* DES of "test": legacy, refused */
    "!$6$Qx9aL2mN$XN4F4I/kG9olG2kkkprbfmrF/45i76rqYDTj/wMW6gzBtH6rbgKP0Fbf1pR"
    "vtgNUktSCNBVoL/F1xcExMG7Wl.", /* locked by usermod -L */
    "$6$",
    "$y$",
    "$2b$",
    "$6$Qx9aL2mN$",
    "$9$abc$def",
    /* one character short of the openssl hash */
    "$6$Qx9aL2mN$XN4F4I/kG9olG2kkkprbfmrF/45i76rqYDTj/wMW6gzBtH6rbgKP0Fbf1pR"
    "vtgNUktSCNBVoL/F1xcExMG7Wl",
    "$6$Qx9aL2mN$XN4F4I/kG9olG2kkkprbfmrF/45i76rqYDTj/wMW6gzBtH6rbgKP0Fbf1pR"
    "vtgNUktSCNBVoL/F1xcExMG7Wl. ",
    "$6$Qx9aL2mN$XN4F4I/kG9olG2kkkprbfmrF/45i76rqYDTj/wMW6gzBtH6rbgKP0Fbf1pR"
    "vtgNUktSCNBVoL/F1xcExMG7Wl.\n",
};

START_TEST(test_bad_hashes)
{
	struct user_entry u = entry(bad_hashes[_i], true);

	ck_assert(!users_password_ok(&u, FIXED_PASSWORD));
	ck_assert(!users_password_ok(&u, ""));
	ck_assert(!users_password_ok(&u, "test"));
	ck_assert(!users_password_ok(&u, "*"));
	ck_assert(!users_password_ok(&u, bad_hashes[_i]));
	ck_assert(!password_verify(bad_hashes[_i], FIXED_PASSWORD,
	                           strlen(FIXED_PASSWORD)));
	u.hash = NULL;
	ck_assert(!users_password_ok(&u, FIXED_PASSWORD));
	ck_assert(!users_password_ok(NULL, FIXED_PASSWORD));
}
END_TEST

/* Table values: ok (with the expected fields) or malformed. */
static const struct {
	const char *value;
	int ret;
	const char *hash;
	long long quota;
	bool enabled;
} value_cases[] = {
    {"$6$s$h", 0, "$6$s$h", 0, true},
    {"  $6$s$h  ", 0, "$6$s$h", 0, true},
    {"$6$s$h quota=100", 0, "$6$s$h", 100, true},
    {"$6$s$h quota=10k", 0, "$6$s$h", 10240, true},
    {"$6$s$h quota=0", 0, "$6$s$h", 0, true},
    {"$6$s$h enabled=no", 0, "$6$s$h", 0, false},
    {"$6$s$h enabled=NO", 0, "$6$s$h", 0, false},
    {"$6$s$h enabled=false", 0, "$6$s$h", 0, false},
    {"$6$s$h enabled=yes quota=5", 0, "$6$s$h", 5, true},
    {"$6$s$h\tquota=5\tenabled=no", 0, "$6$s$h", 5, false},
    {"* enabled=yes", 0, "*", 0, true}, /* a mailbox without a login */
    {"", -1, NULL, 0, false},
    {"   ", -1, NULL, 0, false},
    {"$6$s$h junk", -1, NULL, 0, false},
    {"$6$s$h quota=", -1, NULL, 0, false},
    {"$6$s$h quota=-1", -1, NULL, 0, false},
    {"$6$s$h quota=abc", -1, NULL, 0, false},
    {"$6$s$h quota=1x", -1, NULL, 0, false},
    {"$6$s$h quota=99999999999999999999", -1, NULL, 0, false},
    {"$6$s$h enabled=maybe", -1, NULL, 0, false},
    {"$6$s$h enabled=", -1, NULL, 0, false},
    {"$6$s$h quota=1 quota=2", -1, NULL, 0, false},
    {"$6$s$h enabled=no enabled=yes", -1, NULL, 0, false},
    {"$6$s$h enable=no", -1, NULL, 0, false},
    {"$6$s$h Quota=1", -1, NULL, 0, false},
    {"$6$s$h =1", -1, NULL, 0, false},
    {"$6$s$h\x01", -1, NULL, 0, false},
    {"$6$s$h quota=1\x7f", -1, NULL, 0, false},
    {"$6$s$h \x1b[31m", -1, NULL, 0, false},
};

START_TEST(test_parse_value)
{
	struct user_entry u = {0};
	int ret =
	    users_parse_value("User@Example.COM", value_cases[_i].value, &u);

	ck_assert_msg(ret == value_cases[_i].ret, "value '%s': %d",
	              value_cases[_i].value, ret);
	if (ret < 0) {
		ck_assert_ptr_null(u.hash);
		ck_assert_ptr_null(u.address);
		return;
	}
	ck_assert_str_eq(u.address, "user@example.com");
	ck_assert_str_eq(u.hash, value_cases[_i].hash);
	ck_assert_int_eq(u.quota, value_cases[_i].quota);
	ck_assert_int_eq(u.enabled, value_cases[_i].enabled);

	/* Formatting gives a value that parses to the same entry. */
	struct buf *text = buf_create(0, 0);
	struct user_entry again = {0};
	ck_assert_int_eq(users_format_value(&u, text), 0);
	ck_assert_int_eq(users_parse_value(u.address, buf_str(text), &again),
	                 0);
	ck_assert_str_eq(again.hash, u.hash);
	ck_assert_int_eq(again.quota, u.quota);
	ck_assert_int_eq(again.enabled, u.enabled);
	user_entry_free(&again);
	buf_destroy(&text);
	user_entry_free(&u);
	ck_assert_ptr_null(u.hash);
}
END_TEST

START_TEST(test_format_value)
{
	struct buf *out = buf_create(0, 0);
	struct user_entry u = entry("$6$s$h", true);

	ck_assert_int_eq(users_format_value(&u, out), 0);
	ck_assert_str_eq(buf_str(out), "$6$s$h");
	u.quota = 42;
	u.enabled = false;
	ck_assert_int_eq(users_format_value(&u, out), 0);
	ck_assert_str_eq(buf_str(out), "$6$s$h quota=42 enabled=no");
	u.hash = (char *)"";
	ck_assert_int_eq(users_format_value(&u, out), -1);
	u.hash = (char *)"a b";
	ck_assert_int_eq(users_format_value(&u, out), -1);
	u.hash = (char *)"a\nb";
	ck_assert_int_eq(users_format_value(&u, out), -1);
	u.hash = NULL;
	ck_assert_int_eq(users_format_value(&u, out), -1);
	buf_destroy(&out);
}
END_TEST

/* Maildir paths: NULL expected means refused. */
static const struct {
	const char *address;
	const char *path; /* below mail_root */
} maildir_cases[] = {
    {"alice@example.com", "example.com/alice"},
    {"Alice.Smith@Example.COM", "example.com/alice.smith"},
    {"a+tag@d", "d/a+tag"},
    {"a@[192.0.2.1]", "[192.0.2.1]/a"},
    {"j\xc3\xb6rg@example.com", "example.com/j\xc3\xb6rg"},
    {"a..b@d", "d/a..b"},
    {"../x@d", NULL},
    {"..@d", NULL},
    {".@d", NULL},
    {"a@../../etc", NULL},
    {"a@..", NULL},
    {"a@.", NULL},
    {"a@.d", NULL},
    {"a/b@d", NULL},
    {"a@d/", NULL},
    {"a@d/x", NULL},
    {"/etc/passwd@d", NULL},
    {".hidden@d", NULL},
    {"@d", NULL},
    {"a@", NULL},
    {"noat", NULL},
    {"", NULL},
    {"a\x01@d", NULL},
    {"a\n@d", NULL},
    {"a\t@d", NULL},
    {"a\x7f@d", NULL},
    {"a@d\x1f", NULL},
    {"a@d\r", NULL},
    {"a\0@d", NULL}, /* the C string ends at the NUL: no '@' */
};

START_TEST(test_maildir_path)
{
	struct config *c = test_config();
	struct buf *out = buf_create(0, 0);
	char want[1024];
	int ret = users_maildir(c, maildir_cases[_i].address, out);

	if (maildir_cases[_i].path == NULL) {
		ck_assert_msg(ret == -1, "'%s' accepted as '%s'",
		              maildir_cases[_i].address, buf_str(out));
		ck_assert_int_eq(buf_len(out), 0);
	} else {
		ck_assert_msg(ret == 0, "'%s' refused",
		              maildir_cases[_i].address);
		snprintf(want, sizeof(want), "%s/mail/%s", tmpdir,
		         maildir_cases[_i].path);
		ck_assert_str_eq(buf_str(out), want);
	}
	buf_destroy(&out);
	config_destroy(&c);
}
END_TEST

START_TEST(test_maildir_lengths)
{
	struct config *c = test_config();
	struct buf *out = buf_create(0, 0);
	char addr[1024];

	/* 64-octet local part: fine; 65: refused (RFC 5321 4.5.3.1.1). */
	memset(addr, 'l', 64);
	memcpy(addr + 64, "@d", 3);
	ck_assert_int_eq(users_maildir(c, addr, out), 0);
	memset(addr, 'l', 65);
	memcpy(addr + 65, "@d", 3);
	ck_assert_int_eq(users_maildir(c, addr, out), -1);
	/* 255-octet domain: fine; 256 refused; a very long one too. */
	memcpy(addr, "a@", 2);
	memset(addr + 2, 'd', 255);
	addr[257] = 0;
	ck_assert_int_eq(users_maildir(c, addr, out), 0);
	memset(addr + 2, 'd', 256);
	addr[258] = 0;
	ck_assert_int_eq(users_maildir(c, addr, out), -1);
	memset(addr + 2, 'd', 1000);
	addr[1002] = 0;
	ck_assert_int_eq(users_maildir(c, addr, out), -1);

	/* mail_root's trailing slashes do not double up. */
	config_set(c, "mail_root", "/var/mail/vhosts//");
	ck_assert_int_eq(users_maildir(c, "u@d", out), 0);
	ck_assert_str_eq(buf_str(out), "/var/mail/vhosts/d/u");
	config_set(c, "mail_root", "");
	ck_assert_int_eq(users_maildir(c, "u@d", out), -1);
	buf_destroy(&out);
	config_destroy(&c);
}
END_TEST

static void assert_dir(const char *path, mode_t mode, uid_t uid)
{
	struct stat st;

	ck_assert_msg(lstat(path, &st) == 0, "%s: %s", path, strerror(errno));
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, mode);
	ck_assert_int_eq(st.st_uid, uid);
}

START_TEST(test_maildir_create)
{
	struct config *c = test_config();
	struct buf *path = buf_create(0, 0), *err = buf_create(0, 1024);
	char p[512], q[600];

	ck_assert_int_eq(mkdir(tpath(p, sizeof(p), "mail"), 0755), 0);
	ck_assert_int_eq(users_maildir(c, "Bob@Example.com", path), 0);
	ck_assert_int_eq(users_maildir_create(c, buf_str(path), err), 0);
	assert_dir(tpath(p, sizeof(p), "mail/example.com"), 0700, geteuid());
	assert_dir(buf_str(path), 0700, geteuid());
	for (int i = 0; i < 3; i++) {
		const char *sub[] = {"cur", "new", "tmp"};
		snprintf(q, sizeof(q), "%s/%s", buf_str(path), sub[i]);
		assert_dir(q, 0700, geteuid());
	}
	/* Existing parts are left alone, and a second call is fine. */
	ck_assert_int_eq(chmod(buf_str(path), 0750), 0);
	snprintf(q, sizeof(q), "%s/new/msg", buf_str(path));
	ck_assert_int_eq(close(open(q, O_CREAT | O_WRONLY, 0600)), 0);
	ck_assert_int_eq(users_maildir_create(c, buf_str(path), err), 0);
	assert_dir(buf_str(path), 0750, geteuid());
	ck_assert_int_eq(access(q, F_OK), 0);
	/* Missing cur/ alone is recreated. */
	snprintf(q, sizeof(q), "%s/cur", buf_str(path));
	ck_assert_int_eq(rmdir(q), 0);
	ck_assert_int_eq(users_maildir_create(c, buf_str(path), err), 0);
	assert_dir(q, 0700, geteuid());
	buf_destroy(&path);
	buf_destroy(&err);
	config_destroy(&c);
}
END_TEST

START_TEST(test_maildir_create_hostile)
{
	struct config *c = test_config();
	struct buf *err = buf_create(0, 1024);
	char p[512], q[512], target[512];

	ck_assert_int_eq(mkdir(tpath(p, sizeof(p), "mail"), 0755), 0);
	ck_assert_int_eq(
	    mkdir(tpath(target, sizeof(target), "elsewhere"), 0755), 0);
	/* A symbolic link planted as a domain directory is not followed. */
	ck_assert_int_eq(symlink(target, tpath(p, sizeof(p), "mail/evil.test")),
	                 0);
	tpath(q, sizeof(q), "mail/evil.test/u");
	ck_assert_int_eq(users_maildir_create(c, q, err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "symbolic link"));
	tpath(q, sizeof(q), "elsewhere/u");
	ck_assert_int_eq(access(q, F_OK), -1);
	/* Nor as a user's cur/. */
	ck_assert_int_eq(mkdir(tpath(p, sizeof(p), "mail/d"), 0700), 0);
	ck_assert_int_eq(mkdir(tpath(p, sizeof(p), "mail/d/u"), 0700), 0);
	ck_assert_int_eq(symlink(target, tpath(p, sizeof(p), "mail/d/u/cur")),
	                 0);
	ck_assert_int_eq(
	    users_maildir_create(c, tpath(q, sizeof(q), "mail/d/u"), err), -1);
	/* Paths outside mail_root, or climbing out of it. */
	ck_assert_int_eq(users_maildir_create(c, "/tmp/x", err), -1);
	ck_assert_int_eq(
	    users_maildir_create(c, tpath(q, sizeof(q), "mailx/d/u"), err), -1);
	ck_assert_int_eq(
	    users_maildir_create(c, tpath(q, sizeof(q), "mail"), err), -1);
	ck_assert_int_eq(
	    users_maildir_create(c, tpath(q, sizeof(q), "mail/../x/u"), err),
	    -1);
	ck_assert_int_eq(
	    users_maildir_create(c, tpath(q, sizeof(q), "mail/d/./u"), err),
	    -1);
	tpath(q, sizeof(q), "x");
	ck_assert_int_eq(access(q, F_OK), -1);
	/* A missing mail_root is an error, not created. */
	config_set(c, "mail_root", tpath(p, sizeof(p), "nomail"));
	ck_assert_int_eq(
	    users_maildir_create(c, tpath(q, sizeof(q), "nomail/d/u"), err),
	    -1);
	buf_destroy(&err);
	config_destroy(&c);
}
END_TEST

/* The users table: replace, look up, notice a rebuild. */
START_TEST(test_table_lookup)
{
	struct config *c = test_config();
	struct buf *err = buf_create(0, 1024);
	struct user_entry u = {0};
	struct stat st;
	char p[512], db[512];
	const char *text1 = "# comment\n"
	                    "alice@example.com $6$s$h quota=100\n"
	                    "Bob@Example.com * enabled=no\n"
	                    "bad@example.com $6$s$h junk\n";
	const char *text2 = "alice@example.com $6$s$other\n";

	tpath(p, sizeof(p), "users");
	ck_assert_int_eq(users_table_replace(c, p, text1, strlen(text1), err),
	                 3);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, geteuid() == 0 ? 0640 : 0600);
	ck_assert_int_eq(stat(tpath(db, sizeof(db), "users.lmdb"), &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, geteuid() == 0 ? 0640 : 0600);

	ck_assert_int_eq(users_lookup(c, "ALICE@example.com", &u, err), 1);
	ck_assert_str_eq(u.address, "alice@example.com");
	ck_assert_str_eq(u.hash, "$6$s$h");
	ck_assert_int_eq(u.quota, 100);
	ck_assert(u.enabled);
	user_entry_free(&u);
	ck_assert_int_eq(users_lookup(c, "bob@example.com", &u, err), 1);
	ck_assert(!u.enabled);
	ck_assert(!users_password_ok(&u, "*"));
	user_entry_free(&u);
	ck_assert_int_eq(users_lookup(c, "carol@example.com", &u, err), 0);
	ck_assert_int_eq(users_lookup(c, "", &u, err), 0);
	ck_assert_int_eq(users_lookup(c, "alice@example.com\n", &u, err), 0);
	/* A malformed entry is a table error, and its hash is not shown. */
	ck_assert_int_eq(users_lookup(c, "bad@example.com", &u, err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "bad@example.com"));
	ck_assert_ptr_null(strstr(buf_str(err), "$6$"));
	ck_assert_ptr_null(u.hash);

	/* The cached table notices the rebuild. */
	ck_assert_int_eq(users_table_replace(c, p, text2, strlen(text2), err),
	                 1);
	ck_assert_int_eq(users_lookup(c, "alice@example.com", &u, err), 1);
	ck_assert_str_eq(u.hash, "$6$s$other");
	user_entry_free(&u);
	ck_assert_int_eq(users_lookup(c, "bob@example.com", &u, err), 0);

	/* A text that does not compile changes nothing. */
	ck_assert_int_eq(users_table_replace(c, p, "lonely-key\n", 11, err),
	                 -1);
	ck_assert_int_eq(users_lookup(c, "alice@example.com", &u, err), 1);
	user_entry_free(&u);
	tpath(db, sizeof(db), "users.new");
	ck_assert_int_eq(access(db, F_OK), -1);
	tpath(db, sizeof(db), "users.new.lmdb");
	ck_assert_int_eq(access(db, F_OK), -1);

	/* An existing file keeps its mode, less anything beyond 0640. */
	ck_assert_int_eq(chmod(p, 0666), 0);
	ck_assert_int_eq(users_table_replace(c, p, text2, strlen(text2), err),
	                 1);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	ck_assert_int_eq(chmod(p, 0600), 0);
	ck_assert_int_eq(users_table_replace(c, p, text2, strlen(text2), err),
	                 1);
	ck_assert_int_eq(stat(tpath(db, sizeof(db), "users.lmdb"), &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	/* No table configured: nobody is a user. The spec change reopens. */
	config_set(c, "virtual_mailbox_maps", "");
	ck_assert_int_eq(users_lookup(c, "alice@example.com", &u, err), 0);
	config_set(c, "virtual_mailbox_maps", "lmdb:/nonexistent/users");
	ck_assert_int_eq(users_lookup(c, "alice@example.com", &u, err), -1);
	ck_assert_int_eq(users_lookup(c, "alice@example.com", &u, NULL), -1);
	buf_destroy(&err);
	config_destroy(&c);
}
END_TEST

START_TEST(test_table_replace_refusals)
{
	struct config *c = test_config();
	struct buf *err = buf_create(0, 1024);
	char p[512], target[512];

	/* The users path is a symbolic link: refused. */
	ck_assert_int_eq(
	    close(open(tpath(target, sizeof(target), "real"), O_CREAT, 0600)),
	    0);
	ck_assert_int_eq(symlink(target, tpath(p, sizeof(p), "users")), 0);
	ck_assert_int_eq(users_table_replace(c, p, "", 0, err), -1);
	/* An empty text is an empty table. */
	ck_assert_int_eq(
	    users_table_replace(c, tpath(p, sizeof(p), "u2"), "", 0, err), 0);
	buf_destroy(&err);
	config_destroy(&c);
}
END_TEST

Suite *users_suite(void)
{
	Suite *s = suite_create("users");
	TCase *tc = tcase_create("core");

	/* yescrypt and bcrypt are slow on purpose, more so under ASan. */
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_fixed_hashes, 0, NELEM(fixed_hashes));
	tcase_add_loop_test(tc, test_generated_hashes, 0, NELEM(schemes));
	tcase_add_test(tc, test_unknown_user_costs);
	tcase_add_test(tc, test_hash_refusals);
	tcase_add_loop_test(tc, test_bad_hashes, 0, NELEM(bad_hashes));
	tcase_add_loop_test(tc, test_parse_value, 0, NELEM(value_cases));
	tcase_add_test(tc, test_format_value);
	tcase_add_loop_test(tc, test_maildir_path, 0, NELEM(maildir_cases));
	tcase_add_test(tc, test_maildir_lengths);
	tcase_add_test(tc, test_maildir_create);
	tcase_add_test(tc, test_maildir_create_hostile);
	tcase_add_test(tc, test_table_lookup);
	tcase_add_test(tc, test_table_replace_refusals);
	suite_add_tcase(s, tc);
	return s;
}
