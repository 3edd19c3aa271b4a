/* check_queue_pool.c: unit tests for lib/queue_pool.c in a temporary
 * queue directory (active/ and incoming/, the working directory as in
 * qmgr): a finished file goes into the pool and comes out as the same
 * inode under cleanup's name; an empty pool and a full pool say so
 * (the caller then creates or removes); small files keep their bytes
 * (the next message overwrites them), large ones are emptied; files that are not plain single-link
 * files are removed, never handed out. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue_file.h"
#include "queue_pool.h"
#include "unit_tmp.h"

static char tmpdir[256];
static char saved_cwd[1024];
static int incoming_fd = -1;

static void setup(void)
{
	unit_tmpdir_make(tmpdir, sizeof(tmpdir), "pool");
	ck_assert_ptr_nonnull(getcwd(saved_cwd, sizeof(saved_cwd)));
	ck_assert_int_eq(chdir(tmpdir), 0);
	ck_assert_int_eq(mkdir(QUEUE_ACTIVE, 0700), 0);
	ck_assert_int_eq(mkdir(QUEUE_INCOMING, 0700), 0);
	incoming_fd = open(QUEUE_INCOMING, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(incoming_fd, 0);
}

static void teardown(void)
{
	close(incoming_fd);
	ck_assert_int_eq(chdir(saved_cwd), 0);
	unit_tmpdir_remove(tmpdir);
}

/* A finished queue file active/NAME with some bytes; its fd (O_RDWR). */
static int finished_file(const char *name, ino_t *ino)
{
	char path[64];
	struct stat sb;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", QUEUE_ACTIVE, name);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "old message", 11), 11);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	if (ino)
		*ino = sb.st_ino;
	return fd;
}

static int count_pool(void)
{
	DIR *d = opendir(QUEUE_INCOMING);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, QUEUE_POOL_PREFIX,
		             strlen(QUEUE_POOL_PREFIX)) == 0;
	closedir(d);
	return n;
}

START_TEST(test_put_then_take_same_inode)
{
	struct stat sb, pooled;
	ino_t ino;
	int fd = finished_file("A1", &ino), taken;

	ck_assert_int_eq(queue_pool_put(QUEUE_ACTIVE "/A1"), 0);
	close(fd);
	ck_assert_int_eq(access(QUEUE_ACTIVE "/A1", F_OK), -1);
	ck_assert_int_eq(count_pool(), 1);
	ck_assert_int_eq(
	    stat(QUEUE_INCOMING "/" QUEUE_POOL_PREFIX "0", &pooled), 0);
	ck_assert_int_eq(pooled.st_size, 11); /* small: kept, overwritten */
	ck_assert_uint_eq(pooled.st_ino, ino);

	taken = queue_pool_take(incoming_fd, ".tmp.1", &sb);
	ck_assert_int_ge(taken, 0);
	ck_assert_uint_eq(sb.st_ino, ino);
	ck_assert_int_eq(sb.st_size, 11);
	ck_assert_int_eq(lseek(taken, 0, SEEK_CUR), 0);
	ck_assert_int_eq(count_pool(), 0);
	ck_assert_int_eq(access(QUEUE_INCOMING "/.tmp.1", F_OK), 0);
	/* Open for writing. */
	ck_assert_int_eq(write(taken, "new", 3), 3);
	close(taken);
	/* The pool is empty now: the caller creates a new file. */
	ck_assert_int_eq(queue_pool_take(incoming_fd, ".tmp.2", &sb), -1);
	ck_assert_int_eq(access(QUEUE_INCOMING "/.tmp.2", F_OK), -1);
}
END_TEST

START_TEST(test_empty_pool)
{
	struct stat sb;

	ck_assert_int_eq(queue_pool_take(incoming_fd, ".tmp.1", &sb), -1);
	ck_assert_int_eq(count_pool(), 0);
}
END_TEST

START_TEST(test_full_pool_refuses)
{
	char name[32];
	int fd;

	for (int i = 0; i < QUEUE_POOL_SLOTS; i++) {
		char path[64];

		snprintf(name, sizeof(name), "F%d", i);
		snprintf(path, sizeof(path), "%s/%s", QUEUE_ACTIVE, name);
		fd = finished_file(name, NULL);
		ck_assert_int_eq(queue_pool_put(path), 0);
		close(fd);
	}
	ck_assert_int_eq(count_pool(), QUEUE_POOL_SLOTS);
	fd = finished_file("G", NULL);
	errno = 0;
	ck_assert_int_eq(queue_pool_put(QUEUE_ACTIVE "/G"), -1);
	ck_assert_int_eq(errno, EEXIST);
	/* Left where it was, for the caller to remove. */
	ck_assert_int_eq(access(QUEUE_ACTIVE "/G", F_OK), 0);
	close(fd);
}
END_TEST

START_TEST(test_large_file_emptied)
{
	static char big[QUEUE_POOL_KEEP_MAX + 1];
	struct stat sb;
	int fd = finished_file("L", NULL);

	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	ck_assert_int_eq(queue_pool_put(QUEUE_ACTIVE "/L"), 0);
	close(fd);
	ck_assert_int_eq(stat(QUEUE_INCOMING "/" QUEUE_POOL_PREFIX "0", &sb),
	                 0);
	ck_assert_int_eq(sb.st_size, 0);
	/* Emptied under qmgr's own name, which is gone again. */
	ck_assert_int_eq(access(QUEUE_INCOMING "/.retiring", F_OK), -1);
	fd = queue_pool_take(incoming_fd, ".tmp.9", &sb);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(sb.st_size, 0);
	close(fd);
}
END_TEST

/* A large file meets a full pool: it comes back to where it was (then
 * emptied: the message was delivered), for the caller to remove. */
START_TEST(test_large_file_full_pool_put_back)
{
	static char big[QUEUE_POOL_KEEP_MAX + 1];
	char name[32], path[64];
	struct stat sb;
	int fd;

	for (int i = 0; i < QUEUE_POOL_SLOTS; i++) {
		snprintf(name, sizeof(name), "F%d", i);
		snprintf(path, sizeof(path), "%s/%s", QUEUE_ACTIVE, name);
		close(finished_file(name, NULL));
		ck_assert_int_eq(queue_pool_put(path), 0);
	}
	fd = finished_file("L", NULL);
	ck_assert_int_eq(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	close(fd);
	errno = 0;
	ck_assert_int_eq(queue_pool_put(QUEUE_ACTIVE "/L"), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(stat(QUEUE_ACTIVE "/L", &sb), 0);
	ck_assert_int_eq(access(QUEUE_INCOMING "/.retiring", F_OK), -1);
	ck_assert_int_eq(count_pool(), QUEUE_POOL_SLOTS);
}
END_TEST

START_TEST(test_unfit_files_removed)
{
	struct stat sb;
	int fd;

	/* A hard link (someone else holds the inode), a symlink and a
	 * directory under pool names: none is handed out. */
	fd = open("outside", O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(
	    link("outside", QUEUE_INCOMING "/" QUEUE_POOL_PREFIX "1"), 0);
	ck_assert_int_eq(
	    symlink("../outside", QUEUE_INCOMING "/" QUEUE_POOL_PREFIX "2"), 0);
	ck_assert_int_eq(mkdir(QUEUE_INCOMING "/" QUEUE_POOL_PREFIX "3", 0700),
	                 0);
	ck_assert_int_eq(queue_pool_take(incoming_fd, ".tmp.1", &sb), -1);
	ck_assert_int_eq(access(QUEUE_INCOMING "/.tmp.1", F_OK), -1);
	/* The other link is untouched. */
	ck_assert_int_eq(stat("outside", &sb), 0);
	ck_assert_int_eq(sb.st_nlink, 1);
	ck_assert_int_eq(count_pool(), 0);
	unlink("outside");
}
END_TEST

Suite *queue_pool_suite(void)
{
	Suite *s = suite_create("queue_pool");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_put_then_take_same_inode);
	tcase_add_test(tc, test_empty_pool);
	tcase_add_test(tc, test_full_pool_refuses);
	tcase_add_test(tc, test_large_file_emptied);
	tcase_add_test(tc, test_large_file_full_pool_put_back);
	tcase_add_test(tc, test_unfit_files_removed);
	suite_add_tcase(s, tc);
	return s;
}
