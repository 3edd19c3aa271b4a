/* check_cleanup_client.c: unit tests for lib/cleanup_client.c against a
 * fake cleanup server (a forked child on a UNIX socket in a temporary
 * queue directory): the message order on the wire, content chunking,
 * how every kind of verdict (and a missing one) is reported, and the
 * connection kept between messages (CLEANUP_FLAG_QUEUE_ID). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "cleanup_client.h"
#include "config.h"
#include "queue_file.h"
#include "unit_tmp.h"

#define GOOD_ID "6B0268B0149A5QA79F17"
#define CONTENT_LEN 200000

enum fake_mode {
	FAKE_OK,
	FAKE_REJECT,
	FAKE_HANGUP,
	FAKE_TEMP_NO_CODE,
	FAKE_BAD_ID,
	FAKE_EXPECT_ABORT,
};

static char qdir[64];

/* A queue directory with private/ and public/, and a configuration
 * pointing at it. */
static struct config *fake_queue(void)
{
	struct config *c = config_create();
	char path[128];

	unit_tmpdir_make(qdir, sizeof(qdir), "cc");
	snprintf(path, sizeof(path), "%s/private", qdir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/public", qdir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(config_set(c, "queue_directory", qdir), 0);
	ck_assert_int_eq(config_set(c, "ipc_timeout", "10s"), 0);
	return c;
}

static int fake_listen(const char *sub)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s/cleanup", qdir,
	         sub);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(fd, 5), 0);
	return fd;
}

/* Read one message; exit(code) on anything but a message. */
static void fake_read(struct stream *s, struct attr_list *l, int code)
{
	struct buf *err = buf_create(0, 1000);

	if (attr_read(s, l, NULL, err) != 0)
		_exit(code);
	buf_destroy(&err);
}

static bool is(const struct attr_list *l, size_t i, const char *name,
               const char *value)
{
	return attr_list_count(l) > i &&
	       strcmp(attr_name_at(l, i), name) == 0 &&
	       strcmp(attr_value_at(l, i, NULL), value) == 0;
}

/* The child: check what the client sends, answer per mode; the exit
 * code says what went wrong (0: all as expected). */
static void fake_serve(int lfd, enum fake_mode mode)
{
	int fd = accept(lfd, NULL, NULL);
	struct stream *s;
	struct attr_list *l = attr_list_create(), *reply;
	struct buf *out;
	size_t total = 0, len;

	if (fd < 0)
		_exit(10);
	s = stream_open(fd);
	stream_set_timeouts(s, 5000, 5000);
	fake_read(s, l, 11);
	if (!is(l, 0, "request", "begin") || !is(l, 1, "flags", "1"))
		_exit(12);
	fake_read(s, l, 13);
	if (!is(l, 0, "sender", "a@b"))
		_exit(14);
	fake_read(s, l, 15);
	if (!is(l, 0, "attr_name", "protocol") ||
	    !is(l, 1, "attr_value", "local"))
		_exit(16);
	fake_read(s, l, 17);
	if (!is(l, 0, "rcpt", "x@y") || !is(l, 1, "orcpt", "") ||
	    !is(l, 2, "notify", "0"))
		_exit(18);
	fake_read(s, l, 19);
	if (!is(l, 0, "rcpt", "z@y") || !is(l, 1, "orcpt", "rfc822;z@y") ||
	    !is(l, 2, "notify", "6"))
		_exit(20);
	for (;;) {
		struct buf *err = buf_create(0, 1000);
		int r = attr_read(s, l, NULL, err);

		buf_destroy(&err);
		/* An abandoned message ends anywhere, even inside a
		 * message (its last bytes were still buffered). */
		if ((r == STREAM_EOF || r == ATTR_MALFORMED) &&
		    mode == FAKE_EXPECT_ABORT)
			_exit(0);
		if (r != 0)
			_exit(21);
		if (is(l, 0, "request", "end"))
			break;
		if (attr_list_count(l) != 1 ||
		    strcmp(attr_name_at(l, 0), "chunk") != 0)
			_exit(22);
		const char *v = attr_value_at(l, 0, &len);
		if (len == 0 || len > QUEUE_BLOCK_MAX)
			_exit(23);
		for (size_t i = 0; i < len; i++)
			if (v[i] != (char)('a' + (total + i) % 26))
				_exit(24);
		total += len;
	}
	if (mode == FAKE_EXPECT_ABORT)
		_exit(25);
	if (total != CONTENT_LEN)
		_exit(26);
	reply = attr_list_create();
	switch (mode) {
	case FAKE_OK:
		attr_add_int(reply, "status", 0);
		attr_add_str(reply, "queue_id", GOOD_ID);
		break;
	case FAKE_REJECT:
		attr_add_int(reply, "status", 5);
		attr_add_str(reply, "reason", "5.4.6 Too many hops");
		break;
	case FAKE_HANGUP:
		stream_close(&s);
		_exit(0);
	case FAKE_TEMP_NO_CODE:
		attr_add_int(reply, "status", 4);
		attr_add_str(reply, "reason", "disk trouble");
		break;
	case FAKE_BAD_ID:
		attr_add_int(reply, "status", 0);
		attr_add_str(reply, "queue_id", "../../etc/passwd");
		break;
	case FAKE_EXPECT_ABORT:
		break;
	}
	out = buf_create(0, 0);
	attr_encode(reply, out);
	if (stream_write(s, buf_str(out), buf_len(out)) != 0 ||
	    stream_flush(s) != 0)
		_exit(27);
	stream_close(&s);
	_exit(0);
}

static const struct {
	enum fake_mode mode;
	const char *sub; /* where the socket is */
	int want;
	const char *reason; /* prefix */
} cases[] = {
    {FAKE_OK, "private", CLEANUP_OK, ""},
    {FAKE_OK, "public", CLEANUP_OK, ""},
    {FAKE_REJECT, "private", CLEANUP_PERMFAIL, "5.4.6 Too many hops"},
    {FAKE_HANGUP, "private", CLEANUP_TEMPFAIL, "4.3.0 cleanup service: "},
    {FAKE_TEMP_NO_CODE, "private", CLEANUP_TEMPFAIL, "4.3.0 disk trouble"},
    {FAKE_BAD_ID, "private", CLEANUP_TEMPFAIL, "4.3.0 "},
    {FAKE_EXPECT_ABORT, "private", -1, ""},
};

START_TEST(test_client)
{
	struct config *c = fake_queue();
	struct buf *err = buf_create(0, 1000), *reason = buf_create(0, 1000);
	struct cleanup_client *cc;
	char id[QUEUE_ID_MAX] = "";
	char piece[777];
	size_t sent = 0;
	int lfd, status;
	pid_t pid;

	lfd = fake_listen(cases[_i].sub);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		fake_serve(lfd, cases[_i].mode);
	close(lfd);

	cc = cleanup_open(c, CLEANUP_FLAG_LOCAL, err);
	ck_assert_msg(cc != NULL, "%s", buf_str(err));
	ck_assert_int_eq(cleanup_sender(cc, "a@b"), 0);
	ck_assert_int_eq(cleanup_attr(cc, "protocol", "local"), 0);
	ck_assert_int_eq(cleanup_rcpt(cc, "x@y", NULL, 0), 0);
	ck_assert_int_eq(
	    cleanup_rcpt(cc, "z@y", "rfc822;z@y",
	                 QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE),
	    0);
	while (sent < CONTENT_LEN) {
		size_t n = CONTENT_LEN - sent < sizeof(piece)
		               ? CONTENT_LEN - sent
		               : sizeof(piece);

		for (size_t i = 0; i < n; i++)
			piece[i] = (char)('a' + (sent + i) % 26);
		ck_assert_int_eq(cleanup_write(cc, piece, n), 0);
		sent += n;
	}
	if (cases[_i].mode == FAKE_EXPECT_ABORT) {
		cleanup_abort(&cc);
	} else {
		ck_assert_int_eq(cleanup_finish(&cc, id, sizeof(id), reason),
		                 cases[_i].want);
		ck_assert_msg(strncmp(buf_str(reason), cases[_i].reason,
		                      strlen(cases[_i].reason)) == 0,
		              "reason: %s", buf_str(reason));
		if (cases[_i].want == CLEANUP_OK)
			ck_assert_str_eq(id, GOOD_ID);
	}
	ck_assert_ptr_null(cc);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "fake server: status %d", status);
	unit_tmpdir_remove(qdir);
	config_destroy(&c);
	buf_destroy(&err);
	buf_destroy(&reason);
}
END_TEST

START_TEST(test_no_service)
{
	struct config *c = config_create();
	struct buf *err = buf_create(0, 1000);

	ck_assert_int_eq(config_set(c, "queue_directory", "/nonexistent/q"), 0);
	ck_assert_ptr_null(cleanup_open(c, 0, err));
	ck_assert_ptr_nonnull(strstr(buf_str(err), "cleanup"));
	config_destroy(&c);
	buf_destroy(&err);
}
END_TEST

/* ---- the kept connection ---- */

/* Answer {status=0, queue_id=id} on s; false if it could not be sent. */
static bool fake_reply_id(struct stream *s, const char *id)
{
	struct attr_list *reply = attr_list_create();
	struct buf *out = buf_create(0, 0);
	bool ok;

	attr_add_int(reply, "status", 0);
	attr_add_str(reply, "queue_id", id);
	attr_encode(reply, out);
	ok = stream_write(s, buf_str(out), buf_len(out)) == 0 &&
	     stream_flush(s) == 0;
	attr_list_destroy(&reply);
	buf_destroy(&out);
	return ok;
}

/* One whole message with CLEANUP_FLAG_QUEUE_ID on s, named id; the
 * {request=begin} was read already when begun is true. exit(code + k)
 * on anything unexpected. */
static void fake_message(struct stream *s, const char *id, bool begun, int code)
{
	struct attr_list *l = attr_list_create();

	if (!begun) {
		fake_read(s, l, code);
		if (!is(l, 0, "request", "begin") || !is(l, 1, "flags", "2"))
			_exit(code + 1);
	}
	if (!fake_reply_id(s, id))
		_exit(code + 2);
	fake_read(s, l, code + 3);
	if (!is(l, 0, "sender", "a@b"))
		_exit(code + 4);
	fake_read(s, l, code + 5);
	if (!is(l, 0, "rcpt", "x@y"))
		_exit(code + 6);
	fake_read(s, l, code + 7);
	if (!is(l, 0, "chunk", "hi\n"))
		_exit(code + 8);
	fake_read(s, l, code + 9);
	if (!is(l, 0, "request", "end") || !fake_reply_id(s, id))
		_exit(code + 10);
	attr_list_destroy(&l);
}

static struct stream *fake_accept(int lfd, int code)
{
	int fd = accept(lfd, NULL, NULL);
	struct stream *s;

	if (fd < 0)
		_exit(code);
	s = stream_open(fd);
	stream_set_timeouts(s, 5000, 5000);
	return s;
}

#define KEPT_ID(c) "6B0268B0149A5QA79F1" c

/* Messages A and B on one connection; C's {request=begin} on it is met
 * by a close (cleanup's idle limit, racing the client), so C starts over
 * on a second connection; that one is closed after C, and D comes on a
 * third. */
static void fake_serve_kept(int lfd)
{
	struct attr_list *l = attr_list_create();
	struct stream *s = fake_accept(lfd, 30);

	fake_message(s, KEPT_ID("A"), false, 40);
	fake_message(s, KEPT_ID("B"), false, 60);
	fake_read(s, l, 31);
	if (!is(l, 0, "request", "begin"))
		_exit(32);
	stream_close(&s);
	s = fake_accept(lfd, 33);
	fake_message(s, KEPT_ID("C"), false, 80);
	stream_close(&s);
	s = fake_accept(lfd, 34);
	fake_message(s, KEPT_ID("D"), false, 100);
	/* The client keeps D's connection: no fourth one. */
	{
		struct pollfd pfd = {lfd, POLLIN, 0};

		if (poll(&pfd, 1, 300) != 0)
			_exit(35);
	}
	stream_close(&s);
	_exit(0);
}

START_TEST(test_kept_connection)
{
	static const char *const ids[] = {KEPT_ID("A"), KEPT_ID("B"),
	                                  KEPT_ID("C"), KEPT_ID("D")};
	struct config *c = fake_queue();
	struct buf *err = buf_create(0, 1000), *reason = buf_create(0, 1000);
	int lfd, status;
	pid_t pid;

	lfd = fake_listen("public");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		fake_serve_kept(lfd);
	for (size_t i = 0; i < 4; i++) {
		struct cleanup_client *cc =
		    cleanup_open(c, CLEANUP_FLAG_QUEUE_ID, err);
		char id[QUEUE_ID_MAX] = "";

		ck_assert_msg(cc != NULL, "message %zu: %s", i, buf_str(err));
		ck_assert_str_eq(cleanup_queue_id(cc), ids[i]);
		ck_assert_int_eq(cleanup_sender(cc, "a@b"), 0);
		ck_assert_int_eq(cleanup_rcpt(cc, "x@y", NULL, 0), 0);
		ck_assert_int_eq(cleanup_write(cc, "hi\n", 3), 0);
		ck_assert_int_eq(cleanup_finish(&cc, id, sizeof(id), reason),
		                 CLEANUP_OK);
		ck_assert_str_eq(id, ids[i]);
		if (i == 2) {
			/* Let the server close C's connection first: D
			 * must notice and connect anew. */
			usleep(100 * 1000);
		}
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "fake server: status %d", status);
	close(lfd);
	unit_tmpdir_remove(qdir);
	config_destroy(&c);
	buf_destroy(&err);
	buf_destroy(&reason);
}
END_TEST

Suite *cleanup_client_suite(void)
{
	Suite *s = suite_create("cleanup_client");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_client, 0,
	                    sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_no_service);
	tcase_add_test(tc, test_kept_connection);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}
