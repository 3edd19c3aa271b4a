/* check_server_listen.c: unit tests for lib/server_listen.c: inet service
 * names against inet_interfaces/inet_protocols (hostile ones included),
 * and real listeners and triggers on loopback and in a temporary
 * directory. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"
#include "server_listen.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *service, *interfaces, *protocols;
	int count; /* -1: error */
	const char *text[3]; /* expected endpoint texts, in order */
} ep_cases[] = {
    {"25", "all", "all", 2, {"0.0.0.0 port 25", ":: port 25"}},
    {"25", "all", "ipv4", 1, {"0.0.0.0 port 25"}},
    {"25", "all", "ipv6", 1, {":: port 25"}},
    {"10025",
     "127.0.0.1, [::1]",
     "all",
     2,
     {"127.0.0.1 port 10025", "::1 port 10025"}},
    {"10025", "127.0.0.1 [::1]", "ipv4", 1, {"127.0.0.1 port 10025"}},
    {"10025", "127.0.0.1,::1", "ipv6", 1, {"::1 port 10025"}},
    {"10025",
     "loopback-only",
     "all",
     2,
     {"127.0.0.1 port 10025", "::1 port 10025"}},
    {"smtp", "127.0.0.1", "all", 1, {"127.0.0.1 port 25"}},
    {"127.0.0.1:2525", "all", "all", 1, {"127.0.0.1 port 2525"}},
    {"[::1]:2525", "all", "all", 1, {"::1 port 2525"}},
    {"*:2525", "127.0.0.1", "all", 1, {"127.0.0.1 port 2525"}},
    {"2525", "127.0.0.1, 127.0.0.1", "all", 1, {"127.0.0.1 port 2525"}},
    {"25", "all", "ipv4, ipv6", 2, {"0.0.0.0 port 25", ":: port 25"}},
    /* Hostile or wrong. */
    {"0", "all", "all", -1, {0}},
    {"65536", "all", "all", -1, {0}},
    {"-1", "all", "all", -1, {0}},
    {"", "all", "all", -1, {0}},
    {"no-such-service-name", "all", "all", -1, {0}},
    {"[::1]2525", "all", "all", -1, {0}},
    {"[::1", "all", "all", -1, {0}},
    {"127.0.0.1:", "all", "all", -1, {0}},
    {"25", "all, 127.0.0.1", "all", -1, {0}},
    {"25", "all", "ipv5", -1, {0}},
    {"25", "all", "", -1, {0}},
    {"25", "::1", "ipv4", -1, {0}}, /* nothing left to listen on */
    {"25", "", "all", -1, {0}},
    {"25", "[::1", "all", -1, {0}},
    {"25", "999.1.1.1.invalid", "all", -1, {0}},
};

START_TEST(test_endpoints)
{
	struct server_endpoint *eps = NULL;
	struct buf *err = buf_create(0, 0);
	int n =
	    server_inet_endpoints(ep_cases[_i].service, ep_cases[_i].interfaces,
	                          ep_cases[_i].protocols, &eps, err);

	ck_assert_msg(n == ep_cases[_i].count, "case %d (%s): got %d: %s", _i,
	              ep_cases[_i].service, n, buf_str(err));
	if (n < 0) {
		ck_assert_ptr_null(eps);
		ck_assert(buf_len(err) > 0);
	}
	for (int i = 0; i < n && i < 3; i++)
		ck_assert_str_eq(eps[i].text, ep_cases[_i].text[i]);
	mem_free(eps);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_endpoints_equal)
{
	struct server_endpoint *a, *b, *c;
	struct buf *err = buf_create(0, 0);
	int na =
	    server_inet_endpoints("25", "127.0.0.1, [::1]", "all", &a, err);
	int nb = server_inet_endpoints("25", "loopback-only", "all", &b, err);
	int nc = server_inet_endpoints("26", "loopback-only", "all", &c, err);

	ck_assert(server_endpoints_equal(a, (size_t)na, b, (size_t)nb));
	ck_assert(!server_endpoints_equal(a, (size_t)na, c, (size_t)nc));
	ck_assert(!server_endpoints_equal(a, 1, b, (size_t)nb));
	mem_free(a);
	mem_free(b);
	mem_free(c);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_inet_listen_and_conflict)
{
	struct server_endpoint *eps;
	struct buf *err = buf_create(0, 0);
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char service[16];
	int n, fd, fd2, flags;

	/* Port 0 is refused by the parser; find a free port first. */
	n = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(n, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(n, (struct sockaddr *)&sin, &len), 0);
	close(n);
	snprintf(service, sizeof(service), "%d", ntohs(sin.sin_port));

	ck_assert_int_eq(
	    server_inet_endpoints(service, "127.0.0.1", "ipv4", &eps, err), 1);
	fd = server_inet_listen(&eps[0], 5, err);
	ck_assert_msg(fd >= 0, "%s", buf_str(err));
	flags = fcntl(fd, F_GETFL);
	ck_assert(flags & O_NONBLOCK);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* A second listener on the same port fails with the reason. */
	buf_reset(err);
	fd2 = server_inet_listen(&eps[0], 5, err);
	ck_assert_int_eq(fd2, -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "Address already in use"));
	close(fd);
	mem_free(eps);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_unix_listen_and_trigger)
{
	char dir[] = "/tmp/check_server_listen.XXXXXX";
	char path[256];
	struct buf *err = buf_create(0, 0);
	struct stat st;
	char data[8];
	int fd, conn;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	/* A stale file at the path is replaced. */
	close(open(path, O_CREAT | O_WRONLY, 0600));
	fd = server_unix_listen(path, 0600, (uid_t)-1, (gid_t)-1, 5, err);
	ck_assert_msg(fd >= 0, "%s", buf_str(err));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(server_unix_trigger(path, "W", 1, 1000), 0);
	conn = accept(fd, NULL, NULL);
	ck_assert_int_ge(conn, 0);
	ck_assert_int_eq(read(conn, data, sizeof(data)), 1);
	ck_assert_int_eq(data[0], 'W');
	ck_assert_int_eq(read(conn, data, sizeof(data)), 0); /* closed */
	close(conn);
	close(fd);
	unlink(path);
	/* Nobody listening: the trigger fails, never blocks. */
	ck_assert_int_eq(server_unix_trigger(path, "W", 1, 1000), -1);
	/* A path longer than sun_path is an error, not a truncation. */
	char longpath[200];
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = 0;
	buf_reset(err);
	ck_assert_int_eq(
	    server_unix_listen(longpath, 0600, (uid_t)-1, (gid_t)-1, 5, err),
	    -1);
	ck_assert(buf_len(err) > 0);
	rmdir(dir);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_fifo_listen_and_trigger)
{
	char dir[] = "/tmp/check_server_listen.XXXXXX";
	char path[256];
	struct buf *err = buf_create(0, 0);
	struct stat st;
	char data[8];
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	fd = server_fifo_listen(path, 0622, (uid_t)-1, (gid_t)-1, err);
	ck_assert_msg(fd >= 0, "%s", buf_str(err));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0622);
	/* Empty: non-blocking read says so, never end of file. */
	ck_assert_int_eq(read(fd, data, sizeof(data)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(server_fifo_trigger(path, "AB", 2), 0);
	ck_assert_int_eq(read(fd, data, sizeof(data)), 2);
	ck_assert_int_eq(memcmp(data, "AB", 2), 0);
	close(fd);
	unlink(path);
	ck_assert_int_eq(server_fifo_trigger(path, "W", 1), -1);
	rmdir(dir);
	buf_destroy(&err);
}
END_TEST

Suite *server_listen_suite(void)
{
	Suite *s = suite_create("server_listen");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_endpoints, 0, NELEM(ep_cases));
	tcase_add_test(tc, test_endpoints_equal);
	tcase_add_test(tc, test_inet_listen_and_conflict);
	tcase_add_test(tc, test_unix_listen_and_trigger);
	tcase_add_test(tc, test_fifo_listen_and_trigger);
	suite_add_tcase(s, tc);
	return s;
}
