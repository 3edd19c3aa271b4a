/* check_server_pidfile.c: unit tests for lib/pidfile.c (master's pid file
 * lock) and the privilege drop of lib/server_common.c. */
#include <check.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "pidfile.h"
#include "server.h"

static char dir[64], path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_pidfile.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/master.pid", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

START_TEST(test_acquire_check_release)
{
	struct buf *err = buf_create(0, 0);
	pid_t holder = -1, pid = -1;
	int fd, fd2;

	ck_assert_int_eq(pidfile_check(path, &pid, err), 0); /* no file */
	fd = pidfile_acquire(path, &holder, err);
	ck_assert_msg(fd >= 0, "%s", buf_str(err));
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* Open file description locks conflict even within one process. */
	ck_assert_int_eq(pidfile_check(path, &pid, err), 1);
	ck_assert_int_eq(pid, getpid());
	fd2 = pidfile_acquire(path, &holder, err);
	ck_assert_int_eq(fd2, -2);
	ck_assert_int_eq(holder, getpid());
	pidfile_release(&fd, path);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(pidfile_check(path, &pid, err), 0);
	pidfile_release(&fd, path); /* twice is harmless */
	buf_destroy(&err);
}
END_TEST

START_TEST(test_stale_file_is_taken_over)
{
	struct buf *err = buf_create(0, 0);
	pid_t holder = -1, pid = 4242;
	FILE *fp = fopen(path, "w");
	int fd;

	/* A pid file left by a killed master: no lock, junk or a pid. */
	fputs("99999999 junk\n", fp);
	fclose(fp);
	ck_assert_int_eq(pidfile_check(path, &pid, err), 0);
	ck_assert_int_eq(pid, 4242);
	fd = pidfile_acquire(path, &holder, err);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pidfile_check(path, &pid, err), 1);
	ck_assert_int_eq(pid, getpid());
	pidfile_release(&fd, path);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_lock_dies_with_holder)
{
	struct buf *err = buf_create(0, 0);
	pid_t child, pid = 0, holder;
	int sync[2], status;
	char c;

	ck_assert_int_eq(pipe(sync), 0);
	child = fork();
	if (child == 0) {
		int fd = pidfile_acquire(path, &holder, err);

		(void)!write(sync[1], fd >= 0 ? "y" : "n", 1);
		pause();
		_exit(0);
	}
	ck_assert_int_eq(read(sync[0], &c, 1), 1);
	ck_assert_int_eq(c, 'y');
	ck_assert_int_eq(pidfile_check(path, &pid, err), 1);
	ck_assert_int_eq(pid, child);
	ck_assert_int_eq(pidfile_acquire(path, &holder, err), -2);
	ck_assert_int_eq(holder, child);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	/* The file stays, the lock is gone: not running. */
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(pidfile_check(path, &pid, err), 0);
	close(sync[0]);
	close(sync[1]);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_errors)
{
	struct buf *err = buf_create(0, 0);
	pid_t holder, pid;

	ck_assert_int_eq(
	    pidfile_acquire("/nonexistent/dir/master.pid", &holder, err), -1);
	ck_assert(buf_len(err) > 0);
	/* A symlink is never followed. */
	ck_assert_int_eq(symlink("/etc/passwd", path), 0);
	buf_reset(err);
	ck_assert_int_eq(pidfile_acquire(path, &holder, err), -1);
	ck_assert_int_eq(pidfile_check(path, &pid, err), -1);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_set_ugid)
{
	struct buf *err = buf_create(0, 0);
	uid_t r, e, s;
	gid_t groups[4];

	ck_assert_int_eq(server_set_ugid(0, 0, err), -1); /* never root */
	if (geteuid() != 0) {
		/* Not root: the change cannot happen, and says so. */
		buf_reset(err);
		ck_assert_int_eq(server_set_ugid(65534, 65534, err), -1);
		ck_assert(buf_len(err) > 0);
		buf_destroy(&err);
		return;
	}
	/* Root (Check forks each test): drop for good, and verify. */
	ck_assert_msg(server_set_ugid(65534, 65534, err) == 0, "%s",
	              buf_str(err));
	ck_assert_int_eq(getresuid(&r, &e, &s), 0);
	ck_assert(r == 65534 && e == 65534 && s == 65534);
	ck_assert_int_eq(getgroups(4, groups), 1);
	ck_assert_int_eq(groups[0], 65534);
	ck_assert_int_eq(setuid(0), -1);
	ck_assert_int_eq(seteuid(0), -1);
	buf_destroy(&err);
}
END_TEST

Suite *server_pidfile_suite(void)
{
	Suite *s = suite_create("server_pidfile");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_acquire_check_release);
	tcase_add_test(tc, test_stale_file_is_taken_over);
	tcase_add_test(tc, test_lock_dies_with_holder);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_set_ugid);
	suite_add_tcase(s, tc);
	return s;
}
