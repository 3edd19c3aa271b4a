/* check_queue_layout.c: unit tests for lib/queue_layout.c: a fresh tree
 * gets every directory with its mode, damaged modes are repaired, missing
 * hash subdirectories come back, a symlink or file planted in place of a
 * directory is refused, and (when the tests run as root) owners are set
 * from mail_owner and setgid_group. */
#include <check.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "queue_layout.h"

static char layout_root[64];
static char layout_qdir[128];

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void layout_setup(void)
{
	snprintf(layout_root, sizeof(layout_root), "%s",
	         "/tmp/check_layout.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(layout_root));
	snprintf(layout_qdir, sizeof(layout_qdir), "%s/queue", layout_root);
}

static void layout_teardown(void)
{
	nftw(layout_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A config for the temp queue; as root, owners that exist here. */
static struct config *layout_config(void)
{
	struct config *c = config_create();

	ck_assert_int_eq(config_set(c, "queue_directory", layout_qdir), 0);
	if (geteuid() == 0) {
		ck_assert_int_eq(config_set(c, "mail_owner", "nobody"), 0);
		ck_assert_int_eq(config_set(c, "setgid_group", "nogroup"), 0);
	}
	return c;
}

/* Are the owner accounts the root tests use present? */
static bool layout_owners_exist(void)
{
	return getpwnam("nobody") != NULL && getgrnam("nogroup") != NULL;
}

static mode_t mode_of(const char *sub)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", layout_qdir, sub);
	ck_assert_msg(lstat(path, &st) == 0, "missing %s", path);
	ck_assert_msg(S_ISDIR(st.st_mode), "%s is not a directory", path);
	return st.st_mode & 07777;
}

static const struct {
	const char *name;
	mode_t mode;
	bool hashed;
	int owner; /* 0 root, 1 mail_owner, 2 mail_owner:setgid_group */
} expect[] = {
    {"maildrop", 0730, false, 2}, {"incoming", 0700, false, 1},
    {"active", 0700, false, 1},   {"deferred", 0700, true, 1},
    {"hold", 0700, false, 1},     {"corrupt", 0700, false, 1},
    {"bounce", 0700, true, 1},    {"defer", 0700, true, 1},
    {"private", 0700, false, 1},  {"public", 0710, false, 2},
    {"pid", 0755, false, 0},
};
#define NEXPECT (sizeof(expect) / sizeof(expect[0]))

static void check_tree(void)
{
	static const char hex[] = "0123456789ABCDEF";
	char sub[256];

	for (size_t i = 0; i < NEXPECT; i++) {
		ck_assert_msg(mode_of(expect[i].name) == expect[i].mode,
		              "%s has mode %o", expect[i].name,
		              mode_of(expect[i].name));
		for (int h = 0; h < 16; h++) {
			struct stat st;
			snprintf(sub, sizeof(sub), "%s/%s/%c", layout_qdir,
			         expect[i].name, hex[h]);
			if (!expect[i].hashed) {
				ck_assert_int_ne(lstat(sub, &st), 0);
				continue;
			}
			ck_assert_int_eq(lstat(sub, &st), 0);
			ck_assert_msg((st.st_mode & 07777) == expect[i].mode,
			              "%s has mode %o", sub,
			              st.st_mode & 07777);
		}
	}
}

START_TEST(test_fresh_tree)
{
	struct config *c = layout_config();
	struct buf *err = buf_create(0, 0);

	if (geteuid() == 0 && !layout_owners_exist()) {
		config_destroy(&c);
		buf_destroy(&err);
		return;
	}
	/* queue_directory itself is created too. */
	ck_assert_int_eq(queue_layout_ensure(c, err), 0);
	check_tree();
	/* Twice is fine. */
	ck_assert_int_eq(queue_layout_ensure(c, err), 0);
	check_tree();
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("nobody");
		struct group *gr = getgrnam("nogroup");
		for (size_t i = 0; i < NEXPECT; i++) {
			char path[256];
			struct stat st;
			snprintf(path, sizeof(path), "%s/%s", layout_qdir,
			         expect[i].name);
			ck_assert_int_eq(lstat(path, &st), 0);
			uid_t uid = expect[i].owner ? pw->pw_uid : 0;
			gid_t gid = expect[i].owner == 0   ? 0
			            : expect[i].owner == 2 ? gr->gr_gid
			                                   : pw->pw_gid;
			ck_assert_msg(st.st_uid == uid && st.st_gid == gid,
			              "%s owned by %d:%d", path, (int)st.st_uid,
			              (int)st.st_gid);
		}
	}
	config_destroy(&c);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_repairs_modes)
{
	struct config *c = layout_config();
	struct buf *err = buf_create(0, 0);
	char path[256];

	if (geteuid() == 0 && !layout_owners_exist()) {
		config_destroy(&c);
		buf_destroy(&err);
		return;
	}
	ck_assert_int_eq(queue_layout_ensure(c, err), 0);
	snprintf(path, sizeof(path), "%s/maildrop", layout_qdir);
	ck_assert_int_eq(chmod(path, 0777), 0);
	snprintf(path, sizeof(path), "%s/deferred/A", layout_qdir);
	ck_assert_int_eq(chmod(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/public", layout_qdir);
	ck_assert_int_eq(chmod(path, 0), 0);
	snprintf(path, sizeof(path), "%s/defer/7", layout_qdir);
	ck_assert_int_eq(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s/hold", layout_qdir);
	ck_assert_int_eq(rmdir(path), 0);
	ck_assert_int_eq(queue_layout_ensure(c, err), 0);
	check_tree();
	config_destroy(&c);
	buf_destroy(&err);
}
END_TEST

/* Something other than a directory where one belongs is refused. */
START_TEST(test_refuses_planted)
{
	struct config *c = layout_config();
	struct buf *err = buf_create(0, 0);
	char path[256], target[256];
	struct stat st;

	if (geteuid() == 0 && !layout_owners_exist()) {
		config_destroy(&c);
		buf_destroy(&err);
		return;
	}
	ck_assert_int_eq(mkdir(layout_qdir, 0755), 0);
	/* A symlink to a directory elsewhere: not followed, not chmod'ed. */
	snprintf(target, sizeof(target), "%s/elsewhere", layout_root);
	ck_assert_int_eq(mkdir(target, 0755), 0);
	snprintf(path, sizeof(path), "%s/hold", layout_qdir);
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(queue_layout_ensure(c, err), -1);
	ck_assert_msg(strstr(buf_str(err), "hold") &&
	                  strstr(buf_str(err), "not a directory"),
	              "%s", buf_str(err));
	ck_assert_int_eq(stat(target, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0755);
	ck_assert_int_eq(unlink(path), 0);

	/* A regular file. */
	buf_reset(err);
	snprintf(path, sizeof(path), "%s/deferred/C", layout_qdir);
	ck_assert_int_eq(queue_layout_ensure(c, err), 0);
	ck_assert_int_eq(rmdir(path), 0);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(queue_layout_ensure(c, err), -1);
	ck_assert_msg(strstr(buf_str(err), "deferred/C"), "%s", buf_str(err));
	config_destroy(&c);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_bad_config)
{
	struct config *c = config_create();
	struct buf *err = buf_create(0, 0);

	ck_assert_int_eq(config_set(c, "queue_directory", "relative/queue"), 0);
	if (geteuid() == 0) {
		config_set(c, "mail_owner", "nobody");
		config_set(c, "setgid_group", "nogroup");
	}
	if (geteuid() != 0 || layout_owners_exist()) {
		ck_assert_int_eq(queue_layout_ensure(c, err), -1);
		ck_assert_msg(strstr(buf_str(err), "absolute"), "%s",
		              buf_str(err));
	}
	/* The parent of queue_directory must exist. */
	buf_reset(err);
	char deep[256];
	snprintf(deep, sizeof(deep), "%s/no/such/queue", layout_root);
	config_set(c, "queue_directory", deep);
	if (geteuid() != 0 || layout_owners_exist())
		ck_assert_int_eq(queue_layout_ensure(c, err), -1);
	/* As root, owners must resolve; as anyone else they are left
	 * alone, so an unknown name does not matter. */
	config_set(c, "queue_directory", layout_qdir);
	config_set(c, "mail_owner", "no-such-user-posthorn");
	buf_reset(err);
	if (geteuid() == 0) {
		ck_assert_int_eq(queue_layout_ensure(c, err), -1);
		ck_assert_msg(strstr(buf_str(err), "mail_owner"), "%s",
		              buf_str(err));
		if (getpwnam("nobody") != NULL) {
			config_set(c, "mail_owner", "nobody");
			config_set(c, "setgid_group", "no-such-group-ph");
			ck_assert_int_eq(queue_layout_ensure(c, err), -1);
			ck_assert_msg(strstr(buf_str(err), "setgid_group"),
			              "%s", buf_str(err));
		}
	} else {
		ck_assert_int_eq(queue_layout_ensure(c, err), 0);
	}
	config_destroy(&c);
	buf_destroy(&err);
}
END_TEST

Suite *queue_layout_suite(void)
{
	Suite *s = suite_create("queue_layout");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, layout_setup, layout_teardown);
	tcase_add_test(tc, test_fresh_tree);
	tcase_add_test(tc, test_repairs_modes);
	tcase_add_test(tc, test_refuses_planted);
	tcase_add_test(tc, test_bad_config);
	suite_add_tcase(s, tc);
	return s;
}
