/* check_maildrop.c: unit tests for lib/maildrop.c: the writer and
 * postdrop's copy round trip (8-bit content, blocks, S fixed, attributes
 * replaced), hostile maildrop streams (each refused), output errors, and
 * the default-sender predicate pickup uses for its log line. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "maildrop.h"
#include "mem.h"
#include "queue_file.h"

static int tmp_fd(void)
{
	FILE *f = tmpfile();
	ck_assert_ptr_nonnull(f);
	int fd = dup(fileno(f));
	fclose(f);
	return fd;
}

static int tmp_fd_with(const void *data, size_t len)
{
	int fd = tmp_fd();
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static void add_rec(struct buf *b, int type, const char *data, size_t len)
{
	unsigned char hdr[5] = {(unsigned char)type, (unsigned char)(len >> 24),
	                        (unsigned char)(len >> 16),
	                        (unsigned char)(len >> 8), (unsigned char)len};
	buf_append(b, hdr, 5);
	buf_append(b, data, len);
}

static void add_str(struct buf *b, int type, const char *s)
{
	add_rec(b, type, s, strlen(s));
}

static void add_rcpt(struct buf *b, const char *addr, const char *orcpt,
                     int notify)
{
	struct buf *rc = buf_create(0, 0);
	queue_rcpt_encode(addr, orcpt, notify, rc);
	add_rec(b, QREC_RCPT, buf_str(rc), buf_len(rc));
	buf_destroy(&rc);
}

/* V S T F: the start every stream needs. */
static void head(struct buf *b, const char *sender)
{
	struct buf *sz = buf_create(0, 0);
	add_str(b, QREC_VERSION, QUEUE_FORMAT_VERSION);
	queue_size_format(0, 1, sz);
	add_str(b, QREC_SIZE, buf_str(sz));
	add_str(b, QREC_TIME, "1700000000.000001");
	add_str(b, QREC_SENDER, sender);
	buf_destroy(&sz);
}

/* Write a message with the writer into a file; returns the fd at 0. */
static int write_message(const char *content, size_t len, size_t nrcpts)
{
	struct queue_envelope env;
	struct queue_rcpt *rc = mem_zalloc(nrcpts * sizeof(*rc));
	char *names[1] = {"submitter"}, *values[1] = {"mallory"};
	int fd = tmp_fd();

	memset(&env, 0, sizeof(env));
	env.arrival_sec = 1;
	env.sender = "sender@example.com";
	env.envid = "env-1";
	env.ret = "HDRS";
	env.attr_names = names;
	env.attr_values = values;
	env.nattrs = 1;
	for (size_t i = 0; i < nrcpts; i++) {
		rc[i].address = i == 0 ? "first@example.com" : "r@example.com";
		rc[i].orcpt = i == 0 ? "rfc822;First@example.com" : "";
		rc[i].notify = i == 0 ? QUEUE_NOTIFY_NEVER : 0;
	}
	env.rcpts = rc;
	env.nrcpts = nrcpts;

	struct maildrop_writer *w = maildrop_writer_create(fd);
	ck_assert_int_eq(maildrop_write_envelope(w, &env), 0);
	/* In uneven pieces, to cross block boundaries. */
	for (size_t off = 0; off < len;) {
		size_t n = len - off < 7777 ? len - off : 7777;
		ck_assert_int_eq(maildrop_write_content(w, content + off, n),
		                 0);
		off += n;
	}
	ck_assert_int_eq(maildrop_write_end(w), 0);
	ck_assert_int_eq(maildrop_writer_size(w), (long long)len);
	maildrop_writer_destroy(&w);
	ck_assert_ptr_null(w);
	mem_free(rc);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

START_TEST(test_copy_round_trip)
{
	size_t len = 200000;
	char *content = mem_alloc(len);
	for (size_t i = 0; i < len; i++)
		content[i] = (char)(i % 97 == 0 ? '\n' : (i * 7) & 0xff);
	int in = write_message(content, len, 3);
	int out = tmp_fd();
	struct buf *err = buf_create(0, 0), *block = buf_create(0, 0);
	struct maildrop_limits lim = {10, 0};
	time_t before = time(NULL);

	ck_assert_int_eq(maildrop_copy(in, out, "alice", &lim, err),
	                 MAILDROP_COPY_OK);
	lseek(out, 0, SEEK_SET);
	struct queue_reader *r = queue_reader_create(out);
	struct queue_envelope env;
	ck_assert_msg(maildrop_read_envelope(r, &env, &lim, err) == 0, "%s",
	              buf_str(err));
	ck_assert_str_eq(env.sender, "sender@example.com");
	ck_assert_str_eq(env.envid, "env-1");
	ck_assert_str_eq(env.ret, "HDRS");
	ck_assert_uint_eq(env.nattrs, 1);
	ck_assert_str_eq(queue_envelope_attr(&env, "submitter"), "alice");
	ck_assert_int_ge(env.arrival_sec, before);
	ck_assert_int_eq(env.content_size, (long long)len);
	ck_assert_uint_eq(env.nrcpts, 3);
	ck_assert_str_eq(env.rcpts[0].address, "first@example.com");
	ck_assert_str_eq(env.rcpts[0].orcpt, "rfc822;First@example.com");
	ck_assert_int_eq(env.rcpts[0].notify, QUEUE_NOTIFY_NEVER);
	ck_assert_str_eq(env.rcpts[2].orcpt, "");

	struct buf *all = buf_create(0, 0);
	long long size = 0;
	int n, blocks = 0;
	while ((n = maildrop_read_block(r, block, &size, &lim, err)) == 1) {
		ck_assert_uint_le(buf_len(block), QUEUE_BLOCK_MAX);
		buf_append(all, buf_str(block), buf_len(block));
		blocks++;
	}
	ck_assert_msg(n == 0, "%s", buf_str(err));
	ck_assert_int_eq(size, (long long)len);
	ck_assert_int_ge(blocks, 4);
	ck_assert_uint_eq(buf_len(all), len);
	ck_assert(memcmp(buf_str(all), content, len) == 0);
	queue_envelope_free(&env);
	queue_reader_destroy(&r);
	buf_destroy(&all);
	buf_destroy(&err);
	buf_destroy(&block);
	mem_free(content);
	close(in);
	close(out);
}
END_TEST

START_TEST(test_copy_empty_content)
{
	int in = write_message("", 0, 1), out = tmp_fd();
	struct buf *err = buf_create(0, 0);
	struct maildrop_limits lim = {0, 0};
	ck_assert_int_eq(maildrop_copy(in, out, "bob", &lim, err),
	                 MAILDROP_COPY_OK);
	lseek(out, 0, SEEK_SET);
	struct queue_reader *r = queue_reader_create(out);
	struct queue_envelope env;
	ck_assert_int_eq(maildrop_read_envelope(r, &env, &lim, err), 0);
	ck_assert_int_eq(env.content_size, 0);
	struct buf *block = buf_create(0, 0);
	long long size = 0;
	ck_assert_int_eq(maildrop_read_block(r, block, &size, &lim, err), 0);
	queue_envelope_free(&env);
	queue_reader_destroy(&r);
	buf_destroy(&block);
	buf_destroy(&err);
	close(in);
	close(out);
}
END_TEST

START_TEST(test_copy_write_error)
{
	int in = write_message("hello\n", 6, 1);
	int out = open("/dev/null", O_RDONLY);
	struct buf *err = buf_create(0, 0);
	struct maildrop_limits lim = {0, 0};
	ck_assert_int_eq(maildrop_copy(in, out, "bob", &lim, err),
	                 MAILDROP_COPY_IO);
	ck_assert_uint_gt(buf_len(err), 0);
	buf_destroy(&err);
	close(in);
	close(out);
}
END_TEST

START_TEST(test_size_limit)
{
	int in = write_message("0123456789\n", 11, 1), out = tmp_fd();
	struct buf *err = buf_create(0, 0);
	struct maildrop_limits lim = {0, 10};
	ck_assert_int_eq(maildrop_copy(in, out, "bob", &lim, err),
	                 MAILDROP_COPY_BAD);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "exceeds"));
	lseek(in, 0, SEEK_SET);
	lim.max_size = 11;
	ck_assert_int_eq(maildrop_copy(in, out, "bob", &lim, err),
	                 MAILDROP_COPY_OK);
	buf_destroy(&err);
	close(in);
	close(out);
}
END_TEST

/* Hostile streams: each must be refused by maildrop_copy. */
enum hostile {
	H_EMPTY,
	H_TRUNC_HDR,
	H_TRUNC_DATA,
	H_HUGE_LEN,
	H_BLOCK_IN_ENV,
	H_RCPT_IN_CONTENT,
	H_AFTER_END,
	H_NO_END,
	H_NO_RCPT,
	H_DONE_RCPT,
	H_CTRL_SENDER,
	H_CTRL_RCPT,
	H_EMPTY_RCPT,
	H_LONG_RCPT,
	H_NEVER_PLUS,
	H_BAD_RET,
	H_LONG_ENVID,
	H_EMPTY_ENVID,
	H_OTHER_ATTR,
	H_TWO_SUBMITTERS,
	H_TOO_MANY_RCPTS,
	H_BAD_TYPE,
	H_LONG_ORCPT,
	H_NO_CONTENT,
	H_COUNT
};

START_TEST(test_hostile)
{
	struct buf *b = buf_create(0, 0), *err = buf_create(0, 0);
	struct maildrop_limits lim = {100, 0};
	char longbuf[600];
	enum hostile h = (enum hostile)_i;
	bool body = true;

	memset(longbuf, 'a', sizeof(longbuf) - 1);
	longbuf[sizeof(longbuf) - 1] = 0;
	if (h != H_EMPTY)
		head(b, h == H_CTRL_SENDER ? "a\rb@x" : "a@b");
	switch (h) {
	case H_EMPTY:
		body = false;
		break;
	case H_TRUNC_HDR:
		add_rcpt(b, "c@d", "", 0);
		buf_append(b, "M\0\0", 3);
		body = false;
		break;
	case H_TRUNC_DATA:
		add_rcpt(b, "c@d", "", 0);
		add_str(b, QREC_CONTENT, "");
		buf_append(b,
		           "B\0\0\0\x10"
		           "abc",
		           8);
		body = false;
		break;
	case H_HUGE_LEN:
		buf_append(b, "R\xff\xff\xff\xff", 5);
		body = false;
		break;
	case H_BLOCK_IN_ENV:
		add_str(b, QREC_BLOCK, "x");
		break;
	case H_RCPT_IN_CONTENT:
		add_rcpt(b, "c@d", "", 0);
		add_str(b, QREC_CONTENT, "");
		add_rcpt(b, "evil@x", "", 0);
		body = false;
		break;
	case H_AFTER_END:
		add_rcpt(b, "c@d", "", 0);
		add_str(b, QREC_CONTENT, "");
		add_str(b, QREC_END, "");
		add_str(b, QREC_BLOCK, "smuggled");
		body = false;
		break;
	case H_NO_END:
		add_rcpt(b, "c@d", "", 0);
		add_str(b, QREC_CONTENT, "");
		add_str(b, QREC_BLOCK, "hello\n");
		body = false;
		break;
	case H_NO_RCPT:
		break;
	case H_DONE_RCPT: {
		struct buf *rc = buf_create(0, 0);
		queue_rcpt_encode("c@d", "", 0, rc);
		add_rec(b, QREC_DONE, buf_str(rc), buf_len(rc));
		buf_destroy(&rc);
		break;
	}
	case H_CTRL_SENDER:
		add_rcpt(b, "c@d", "", 0);
		break;
	case H_CTRL_RCPT:
		add_rcpt(b, "c\n@d", "", 0);
		break;
	case H_EMPTY_RCPT:
		add_rcpt(b, "", "", 0);
		break;
	case H_LONG_RCPT:
		add_rcpt(b, longbuf, "", 0);
		break;
	case H_NEVER_PLUS:
		add_rcpt(b, "c@d", "",
		         QUEUE_NOTIFY_NEVER | QUEUE_NOTIFY_SUCCESS);
		break;
	case H_BAD_RET:
		add_str(b, QREC_RET, "EVERYTHING");
		add_rcpt(b, "c@d", "", 0);
		break;
	case H_LONG_ENVID:
		longbuf[MAILDROP_ENVID_MAX + 1] = 0;
		add_str(b, QREC_ENVID, longbuf);
		add_rcpt(b, "c@d", "", 0);
		break;
	case H_EMPTY_ENVID:
		add_str(b, QREC_ENVID, "");
		add_rcpt(b, "c@d", "", 0);
		break;
	case H_OTHER_ATTR:
		add_str(b, QREC_ATTR, "client_address=10.0.0.1");
		add_rcpt(b, "c@d", "", 0);
		break;
	case H_TWO_SUBMITTERS:
		add_str(b, QREC_ATTR, "submitter=a");
		add_str(b, QREC_ATTR, "submitter=b");
		add_rcpt(b, "c@d", "", 0);
		break;
	case H_TOO_MANY_RCPTS:
		for (int i = 0; i < 101; i++)
			add_rcpt(b, "c@d", "", 0);
		break;
	case H_BAD_TYPE:
		add_rcpt(b, "c@d", "", 0);
		add_str(b, 'Z', "what");
		break;
	case H_LONG_ORCPT:
		add_rcpt(b, "c@d", longbuf, 0);
		break;
	case H_NO_CONTENT:
		add_rcpt(b, "c@d", "", 0);
		body = false;
		break;
	case H_COUNT:
		break;
	}
	if (body) {
		add_str(b, QREC_CONTENT, "");
		add_str(b, QREC_BLOCK, "Subject: x\n\nbody\n");
		add_str(b, QREC_END, "");
	}
	int in = tmp_fd_with(buf_str(b), buf_len(b)), out = tmp_fd();
	ck_assert_msg(maildrop_copy(in, out, "eve", &lim, err) ==
	                  MAILDROP_COPY_BAD,
	              "hostile case %d accepted", _i);
	ck_assert_uint_gt(buf_len(err), 0);
	close(in);
	close(out);
	buf_destroy(&b);
	buf_destroy(&err);
}
END_TEST

/* The same stream, well formed, passes (so the table tests the one
 * thing each case breaks). */
START_TEST(test_good_baseline)
{
	struct buf *b = buf_create(0, 0), *err = buf_create(0, 0);
	struct maildrop_limits lim = {100, 0};
	head(b, "");
	add_str(b, QREC_ENVID, "abc");
	add_str(b, QREC_RET, "FULL");
	add_str(b, QREC_ATTR, "submitter=forged");
	add_rcpt(b, "c@d", "rfc822;c@d",
	         QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_DELAY);
	add_rcpt(b, "\"a b\"@d", "", 0);
	add_str(b, QREC_CONTENT, "");
	add_str(b, QREC_BLOCK, "Subject: x\n\n\xff\xfe body\n");
	add_str(b, QREC_END, "");
	int in = tmp_fd_with(buf_str(b), buf_len(b)), out = tmp_fd();
	ck_assert_msg(maildrop_copy(in, out, "eve", &lim, err) ==
	                  MAILDROP_COPY_OK,
	              "%s", buf_str(err));
	lseek(out, 0, SEEK_SET);
	struct queue_reader *r = queue_reader_create(out);
	struct queue_envelope env;
	ck_assert_int_eq(maildrop_read_envelope(r, &env, &lim, err), 0);
	ck_assert_str_eq(env.sender, "");
	ck_assert_str_eq(queue_envelope_attr(&env, "submitter"), "eve");
	ck_assert_uint_eq(env.nrcpts, 2);
	queue_envelope_free(&env);
	queue_reader_destroy(&r);
	close(in);
	close(out);
	buf_destroy(&b);
	buf_destroy(&err);
}
END_TEST

static const struct {
	const char *sender, *login, *origin;
	bool want;
} login_cases[] = {
    {"alice", "alice", "example.com", true},
    {"alice@example.com", "alice", "example.com", true},
    {"alice@EXAMPLE.com", "alice", "example.com", true},
    {"alice@other.com", "alice", "example.com", false},
    {"bob", "alice", "example.com", false},
    {"alicex@example.com", "alice", "example.com", false},
    {"", "alice", "example.com", false},
    {"alice@", "alice", "", false},
    {"root@example.com", "root", NULL, false},
    {"@example.com", "", "example.com", false},
};

START_TEST(test_sender_is_login)
{
	ck_assert_int_eq(maildrop_sender_is_login(login_cases[_i].sender,
	                                          login_cases[_i].login,
	                                          login_cases[_i].origin),
	                 login_cases[_i].want);
}
END_TEST

Suite *maildrop_suite(void)
{
	Suite *s = suite_create("maildrop");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_copy_round_trip);
	tcase_add_test(tc, test_copy_empty_content);
	tcase_add_test(tc, test_copy_write_error);
	tcase_add_test(tc, test_size_limit);
	tcase_add_loop_test(tc, test_hostile, 0, H_COUNT);
	tcase_add_test(tc, test_good_baseline);
	tcase_add_loop_test(tc, test_sender_is_login, 0,
	                    sizeof(login_cases) / sizeof(login_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}
