/* check_bounce_client.c: unit tests for lib/bounce_client.c: the log
 * reason format (round trip through the defer log line codec, status
 * codes found in SMTP replies, hostile reasons), the kind names, and
 * bounce_request against a fake bounce service (a forked child on a UNIX
 * socket in a temporary queue directory): the messages on the wire, and
 * how every kind of answer (and a missing one) is reported. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attr.h"
#include "bounce_client.h"
#include "buf.h"
#include "config.h"
#include "queue_list.h"

#define GOOD_ID "6B0268B0149A5QA79F17"

/* ---- log reasons ---- */

static const struct {
	const char *dsn, *text;
	const char *field; /* the REASON field written */
	const char *def, *parsed_dsn, *parsed_text;
} log_cases[] = {
    {"5.1.1", "unknown user: \"bob\"", "5.1.1 unknown user: \"bob\"", "5.0.0",
     "5.1.1", "unknown user: \"bob\""},
    {"4.4.1", "connect to x[1]:25: refused",
     "4.4.1 connect to x[1]:25: "
     "refused",
     "4.0.0", "4.4.1", "connect to x[1]:25: refused"},
    /* No valid status: the text alone, and the default back. */
    {NULL, "plain", "plain", "5.0.0", "5.0.0", "plain"},
    {"", "plain", "plain", "4.0.0", "4.0.0", "plain"},
    {"5.1.1 x", "t", "t", "5.0.0", "5.0.0", "t"},
    {"bogus", "t", "t", "5.0.0", "5.0.0", "t"},
    /* A code inside an SMTP reply, when of the expected class. */
    {NULL,
     "host mx[192.0.2.1] said: 550 5.7.1 no (in reply to RCPT TO "
     "command)",
     "host mx[192.0.2.1] said: 550 5.7.1 no (in reply to RCPT TO "
     "command)",
     "5.0.0", "5.7.1",
     "host mx[192.0.2.1] said: 550 5.7.1 no (in reply to RCPT TO "
     "command)"},
    {NULL, "host mx[192.0.2.1] said: 450 4.2.0 busy",
     "host mx[192.0.2.1] said: 450 4.2.0 busy", "5.0.0", "5.0.0",
     "host mx[192.0.2.1] said: 450 4.2.0 busy"},
    {NULL, "host mx[192.0.2.1] said: 550 no code",
     "host mx[192.0.2.1] said: 550 no code", "5.0.0", "5.0.0",
     "host mx[192.0.2.1] said: 550 no code"},
    /* Line ends and tabs survive the escaping. */
    {"5.3.0", "a\tb\nc\\d", "5.3.0 a\tb\nc\\d", "5.0.0", "5.3.0", "a\tb\nc\\d"},
};

START_TEST(test_log_format)
{
	struct buf *line = buf_create(64, 0), *rcpt = buf_create(64, 0),
	           *reason = buf_create(64, 0);
	struct bounce_log_reason parsed;

	bounce_log_format("bob@example.org", log_cases[_i].dsn,
	                  log_cases[_i].text, line);
	ck_assert_int_eq(buf_str(line)[buf_len(line) - 1], '\n');
	ck_assert_ptr_null(memchr(buf_str(line), '\n', buf_len(line) - 1));
	ck_assert_int_eq(queue_list_defer_decode(
	                     buf_str(line), buf_len(line) - 1, rcpt, reason),
	                 0);
	ck_assert_str_eq(buf_str(rcpt), "bob@example.org");
	ck_assert_str_eq(buf_str(reason), log_cases[_i].field);
	bounce_log_reason_parse(buf_str(reason), log_cases[_i].def, &parsed);
	ck_assert_str_eq(parsed.dsn, log_cases[_i].parsed_dsn);
	ck_assert_str_eq(parsed.text, log_cases[_i].parsed_text);
	buf_destroy(&line);
	buf_destroy(&rcpt);
	buf_destroy(&reason);
}
END_TEST

START_TEST(test_kind_names)
{
	ck_assert_str_eq(bounce_kind_name(BOUNCE_FAILURE), "bounce");
	ck_assert_str_eq(bounce_kind_name(BOUNCE_DELAY), "delay");
	ck_assert_str_eq(bounce_kind_name(BOUNCE_SUCCESS), "success");
	ck_assert_int_eq(bounce_kind_parse("bounce"), BOUNCE_FAILURE);
	ck_assert_int_eq(bounce_kind_parse("delay"), BOUNCE_DELAY);
	ck_assert_int_eq(bounce_kind_parse("success"), BOUNCE_SUCCESS);
	ck_assert_int_eq(bounce_kind_parse("Bounce"), -1);
	ck_assert_int_eq(bounce_kind_parse(""), -1);
}
END_TEST

/* ---- against a fake service ---- */

enum fake_mode {
	FAKE_OK, /* check a failure request, answer 0 */
	FAKE_SUCCESS, /* check a success request with 2 recipients */
	FAKE_TEMP, /* answer status=4 with a reason */
	FAKE_HANGUP, /* close without answering */
	FAKE_MALFORMED, /* answer garbage */
};

static char qdir[64];

static int fake_listen(void)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/private/bounce", qdir);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(fd, 5), 0);
	return fd;
}

static bool has(const struct attr_list *l, const char *name, const char *value)
{
	const char *v = attr_get(l, name, NULL);

	return v && strcmp(v, value) == 0;
}

/* The child: exit code 0 when the request was as expected. */
static void fake_serve(int lfd, enum fake_mode mode)
{
	int fd = accept(lfd, NULL, NULL);
	struct stream *s;
	struct attr_list *l = attr_list_create(), *reply = attr_list_create();
	struct buf *err = buf_create(0, 1000);

	if (fd < 0)
		_exit(10);
	s = stream_open(fd);
	if (attr_read(s, l, NULL, err) != 0)
		_exit(11);
	if (!has(l, "queue_id", GOOD_ID) || !has(l, "queue_name", "active"))
		_exit(12);
	if (mode == FAKE_SUCCESS) {
		if (!has(l, "request", "success") || !has(l, "nrcpt", "2"))
			_exit(13);
		if (attr_read(s, l, NULL, err) != 0 ||
		    !has(l, "rcpt", "a@example.org") ||
		    !has(l, "orcpt", "rfc822;x@example.org") ||
		    !has(l, "dsn", "2.0.0") || !has(l, "relay", "local") ||
		    !has(l, "reason", "delivered to maildir") ||
		    !has(l, "action", "delivered"))
			_exit(14);
		if (attr_read(s, l, NULL, err) != 0 ||
		    !has(l, "rcpt", "b@example.net") ||
		    attr_get(l, "orcpt", NULL) != NULL ||
		    !has(l, "dsn", "2.0.0") || !has(l, "relay", "") ||
		    !has(l, "reason", "") || !has(l, "action", "relayed"))
			_exit(15);
	} else if (!has(l, "request", "bounce") || !has(l, "nrcpt", "0")) {
		_exit(16);
	}
	switch (mode) {
	case FAKE_OK:
	case FAKE_SUCCESS:
		attr_add_int(reply, "status", 0);
		attr_add_str(reply, "queue_id", "6B0268B0149A5QA79F18");
		break;
	case FAKE_TEMP:
		attr_add_int(reply, "status", 4);
		attr_add_str(reply, "reason", "4.3.0 cleanup service: busy");
		break;
	case FAKE_HANGUP:
		_exit(0);
	case FAKE_MALFORMED:
		if (write(fd, "junk\n", 5) != 5)
			_exit(17);
		_exit(0);
	}
	if (attr_write(s, reply) < 0 || stream_flush(s) != 0)
		_exit(18);
	_exit(0);
}

static struct config *fake_config(void)
{
	struct config *c = config_create();
	char sub[96];

	snprintf(qdir, sizeof(qdir), "/tmp/ph-bc-%d", (int)getpid());
	mkdir(qdir, 0700);
	snprintf(sub, sizeof(sub), "%s/private", qdir);
	mkdir(sub, 0700);
	ck_assert_int_eq(config_set(c, "queue_directory", qdir), 0);
	ck_assert_int_eq(config_set(c, "ipc_timeout", "5s"), 0);
	return c;
}

static void fake_cleanup(struct config **c)
{
	char sub[96];

	snprintf(sub, sizeof(sub), "%s/private/bounce", qdir);
	unlink(sub);
	snprintf(sub, sizeof(sub), "%s/private", qdir);
	rmdir(sub);
	rmdir(qdir);
	config_destroy(c);
}

static int run(enum fake_mode mode, struct buf *reason)
{
	struct config *c = fake_config();
	int lfd = fake_listen(), status, r;
	pid_t pid = fork();
	struct bounce_rcpt rcpts[] = {
	    {"a@example.org", "rfc822;x@example.org", NULL, "local",
	     "delivered to maildir", 0},
	    {"b@example.net", NULL, "2.0.0", NULL, NULL, 1},
	};

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		fake_serve(lfd, mode);
	close(lfd);
	if (mode == FAKE_SUCCESS)
		r = bounce_request(c, BOUNCE_SUCCESS, GOOD_ID, "active", rcpts,
		                   2, reason);
	else
		r = bounce_request(c, BOUNCE_FAILURE, GOOD_ID, "active", NULL,
		                   0, reason);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "fake bounce service exit %d", WEXITSTATUS(status));
	fake_cleanup(&c);
	return r;
}

START_TEST(test_request_ok)
{
	struct buf *reason = buf_create(64, 0);

	buf_set_str(reason, "old");
	ck_assert_int_eq(run(FAKE_OK, reason), 0);
	ck_assert_str_eq(buf_str(reason), "");
	ck_assert_int_eq(run(FAKE_SUCCESS, reason), 0);
	buf_destroy(&reason);
}
END_TEST

START_TEST(test_request_failures)
{
	struct buf *reason = buf_create(64, 0);
	struct config *c;

	ck_assert_int_eq(run(FAKE_TEMP, reason), -1);
	ck_assert_str_eq(buf_str(reason), "4.3.0 cleanup service: busy");
	ck_assert_int_eq(run(FAKE_HANGUP, reason), -1);
	ck_assert_str_eq(buf_str(reason), "4.3.0 bounce service: lost "
	                                  "connection");
	ck_assert_int_eq(run(FAKE_MALFORMED, reason), -1);
	ck_assert(strncmp(buf_str(reason), "4.3.0 bounce service: ", 22) == 0);
	/* Nobody listening. */
	c = fake_config();
	ck_assert_int_eq(
	    bounce_request(c, BOUNCE_DELAY, GOOD_ID, "active", NULL, 0, reason),
	    -1);
	ck_assert_ptr_nonnull(strstr(buf_str(reason), "connect to"));
	fake_cleanup(&c);
	buf_destroy(&reason);
}
END_TEST

Suite *bounce_client_suite(void)
{
	Suite *s = suite_create("bounce_client");
	TCase *tc = tcase_create("bounce_client");

	tcase_add_loop_test(tc, test_log_format, 0,
	                    sizeof(log_cases) / sizeof(log_cases[0]));
	tcase_add_test(tc, test_kind_names);
	tcase_add_test(tc, test_request_ok);
	tcase_add_test(tc, test_request_failures);
	suite_add_tcase(s, tc);
	return s;
}
