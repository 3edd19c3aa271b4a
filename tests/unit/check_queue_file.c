/* check_queue_file.c: unit tests for lib/queue_file.c: round trips, the
 * section rules, hostile files (truncated, huge lengths, out-of-place
 * records, data after the end), queue IDs and NOTIFY parsing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "queue_file.h"

/* A temporary file holding exactly len bytes; returns its fd at 0. */
static int tmp_fd_with(const void *data, size_t len)
{
	FILE *f = tmpfile();
	ck_assert_ptr_nonnull(f);
	int fd = dup(fileno(f));
	fclose(f);
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

/* A well-formed envelope prefix. */
static void good_envelope(struct buf *b)
{
	struct buf *sz = buf_create(0, 0), *rc = buf_create(0, 0);
	add_str(b, QREC_VERSION, QUEUE_FORMAT_VERSION);
	queue_size_format(6, 1, sz);
	add_str(b, QREC_SIZE, buf_str(sz));
	add_str(b, QREC_TIME, "1700000000.123456");
	add_str(b, QREC_SENDER, "a@b");
	queue_rcpt_encode("c@d", "rfc822;c@d", QUEUE_NOTIFY_FAILURE, rc);
	add_rec(b, QREC_RCPT, buf_str(rc), buf_len(rc));
	buf_destroy(&sz);
	buf_destroy(&rc);
}

START_TEST(test_round_trip)
{
	FILE *f = tmpfile();
	int fd = dup(fileno(f));
	fclose(f);
	struct queue_writer *w = queue_writer_create(fd);
	struct buf *b = buf_create(0, 0);
	queue_writer_add_str(w, QREC_VERSION, QUEUE_FORMAT_VERSION);
	queue_size_format(5, 2, b);
	queue_writer_add_str(w, QREC_SIZE, buf_str(b));
	queue_writer_add_str(w, QREC_TIME, "1700000000.5");
	queue_writer_add_str(w, QREC_SENDER, "");
	queue_writer_add_str(w, QREC_ENVID, "id1");
	queue_writer_add_str(w, QREC_ATTR, "client_address=127.0.0.1");
	buf_reset(b);
	queue_rcpt_encode("x@y", "", 0, b);
	off_t first = queue_writer_offset(w);
	queue_writer_add(w, QREC_RCPT, buf_str(b), buf_len(b));
	buf_reset(b);
	queue_rcpt_encode("z@y", "rfc822;Z@y", QUEUE_NOTIFY_NEVER, b);
	queue_writer_add(w, QREC_RCPT, buf_str(b), buf_len(b));
	queue_writer_add(w, QREC_CONTENT, "", 0);
	queue_writer_add(w, QREC_BLOCK, "a\0b\n\n", 5);
	queue_writer_add(w, QREC_END, "", 0);
	ck_assert_int_eq(queue_writer_flush(w), 0);
	queue_writer_destroy(&w);
	ck_assert_int_eq(queue_mark_done(fd, first), 0);

	lseek(fd, 0, SEEK_SET);
	struct queue_reader *r = queue_reader_create(fd);
	struct queue_envelope env;
	struct buf *err = buf_create(0, 0);
	ck_assert_int_eq(queue_envelope_read(r, &env, err), 0);
	ck_assert_str_eq(env.sender, "");
	ck_assert_str_eq(env.envid, "id1");
	ck_assert_int_eq(env.arrival_sec, 1700000000);
	ck_assert_int_eq(env.arrival_usec, 5);
	ck_assert_int_eq(env.content_size, 5);
	ck_assert_uint_eq(env.nrcpts, 2);
	ck_assert(env.rcpts[0].done);
	ck_assert(!env.rcpts[1].done);
	ck_assert_str_eq(env.rcpts[1].orcpt, "rfc822;Z@y");
	ck_assert_int_eq(env.rcpts[1].notify, QUEUE_NOTIFY_NEVER);
	ck_assert_str_eq(queue_envelope_attr(&env, "client_address"),
	                 "127.0.0.1");
	ck_assert_ptr_null(queue_envelope_attr(&env, "nope"));
	int type;
	ck_assert_int_eq(queue_reader_next(r, &type, b, NULL, err), 1);
	ck_assert_int_eq(type, QREC_BLOCK);
	ck_assert_uint_eq(buf_len(b), 5);
	ck_assert_int_eq(queue_reader_next(r, &type, b, NULL, err), 1);
	ck_assert_int_eq(type, QREC_END);
	ck_assert_int_eq(queue_reader_next(r, &type, b, NULL, err), 0);
	queue_envelope_free(&env);
	queue_reader_destroy(&r);
	buf_destroy(&b);
	buf_destroy(&err);
	close(fd);
}
END_TEST

/* Hostile files: each must be refused by envelope + content reading. */
enum hostile {
	H_EMPTY,
	H_NO_VERSION,
	H_BAD_VERSION,
	H_TRUNC_HDR,
	H_TRUNC_DATA,
	H_HUGE_LEN,
	H_BLOCK_IN_ENV,
	H_RCPT_IN_CONTENT,
	H_AFTER_END,
	H_NO_END,
	H_TWO_SENDERS,
	H_BAD_RCPT,
	H_NO_SENDER,
	H_BAD_TYPE,
	H_NUL_SENDER,
	H_BAD_SIZE,
	H_BIG_BLOCK,
	H_VERSION_TWICE,
	H_COUNT
};

START_TEST(test_hostile)
{
	struct buf *b = buf_create(0, 0), *err = buf_create(0, 0);
	struct buf *rec = buf_create(0, 0);
	enum hostile h = (enum hostile)_i;

	switch (h) {
	case H_EMPTY:
		break;
	case H_NO_VERSION:
		add_str(b, QREC_SENDER, "a@b");
		break;
	case H_BAD_VERSION:
		add_str(b, QREC_VERSION, "posthorn-queue-99");
		break;
	case H_TRUNC_HDR:
		good_envelope(b);
		buf_append(b, "M\0\0", 3);
		break;
	case H_TRUNC_DATA:
		good_envelope(b);
		buf_append(b,
		           "F\0\0\0\x10"
		           "abc",
		           8);
		break;
	case H_HUGE_LEN:
		good_envelope(b);
		buf_append(b, "F\xff\xff\xff\xff", 5);
		break;
	case H_BLOCK_IN_ENV:
		good_envelope(b);
		add_str(b, QREC_BLOCK, "x");
		break;
	case H_RCPT_IN_CONTENT:
		good_envelope(b);
		add_str(b, QREC_CONTENT, "");
		add_str(b, QREC_RCPT, "evil@x");
		break;
	case H_AFTER_END:
		good_envelope(b);
		add_str(b, QREC_CONTENT, "");
		add_str(b, QREC_END, "");
		add_str(b, QREC_BLOCK, "smuggled");
		break;
	case H_NO_END:
		good_envelope(b);
		add_str(b, QREC_CONTENT, "");
		add_str(b, QREC_BLOCK, "hello\n");
		break;
	case H_TWO_SENDERS:
		good_envelope(b);
		add_str(b, QREC_SENDER, "other@x");
		break;
	case H_BAD_RCPT:
		good_envelope(b);
		add_str(b, QREC_RCPT, "no-nul-fields");
		break;
	case H_NO_SENDER:
		add_str(b, QREC_VERSION, QUEUE_FORMAT_VERSION);
		add_str(b, QREC_CONTENT, "");
		break;
	case H_BAD_TYPE:
		good_envelope(b);
		add_str(b, 0x01, "x");
		break;
	case H_NUL_SENDER:
		add_str(b, QREC_VERSION, QUEUE_FORMAT_VERSION);
		add_rec(b, QREC_SENDER, "a\0b", 3);
		break;
	case H_BAD_SIZE:
		add_str(b, QREC_VERSION, QUEUE_FORMAT_VERSION);
		add_str(b, QREC_SIZE, "18446744073709551616 1");
		break;
	case H_BIG_BLOCK:
		good_envelope(b);
		add_str(b, QREC_CONTENT, "");
		buf_append(b, "B\0\x02\0\0", 5); /* 128 KiB > block max */
		break;
	case H_VERSION_TWICE:
		add_str(b, QREC_VERSION, QUEUE_FORMAT_VERSION);
		add_str(b, QREC_VERSION, QUEUE_FORMAT_VERSION);
		break;
	case H_COUNT:
		break;
	}
	int fd = tmp_fd_with(buf_str(b), buf_len(b));
	struct queue_reader *r = queue_reader_create(fd);
	struct queue_envelope env;
	int result = queue_envelope_read(r, &env, err);
	if (result == 0) {
		/* The envelope may pass; then the content must fail. */
		int type, n;
		while ((n = queue_reader_next(r, &type, rec, NULL, err)) == 1)
			;
		result = n;
		queue_envelope_free(&env);
	}
	ck_assert_msg(result == -1, "hostile case %d accepted", _i);
	ck_assert_uint_gt(buf_len(err), 0);
	queue_reader_destroy(&r);
	close(fd);
	buf_destroy(&b);
	buf_destroy(&err);
	buf_destroy(&rec);
}
END_TEST

START_TEST(test_queue_id)
{
	char a[QUEUE_ID_MAX], b[QUEUE_ID_MAX];
	queue_id_make(a, sizeof(a), 1700000000, 5, 1234);
	queue_id_make(b, sizeof(b), 1700000000, 6, 99);
	ck_assert(queue_id_valid(a));
	ck_assert(queue_id_valid(b));
	ck_assert_int_lt(strcmp(a, b), 0); /* sortable by time */
	ck_assert_str_eq(a, "6553F10000005Q4D2");
	ck_assert_int_eq(queue_id_hash(a), '5');
	ck_assert(!queue_id_valid("../etc/passwd"));
	ck_assert(!queue_id_valid("6553F10000005X4D2"));
	ck_assert(!queue_id_valid("6553F10000005Q4d2"));
	ck_assert(!queue_id_valid(""));
	ck_assert(!queue_id_valid("6553F10000005Q/"));
	struct buf *p = buf_create(0, 0);
	queue_path(QUEUE_DEFERRED, a, p);
	ck_assert_str_eq(buf_str(p), "deferred/5/6553F10000005Q4D2");
	buf_reset(p);
	queue_path(QUEUE_INCOMING, a, p);
	ck_assert_str_eq(buf_str(p), "incoming/6553F10000005Q4D2");
	buf_destroy(&p);
}
END_TEST

static const struct {
	const char *text;
	int want;
} notify_cases[] = {
    {"NEVER", QUEUE_NOTIFY_NEVER},
    {"SUCCESS,FAILURE", QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE},
    {"delay", QUEUE_NOTIFY_DELAY},
    {"NEVER,SUCCESS", -1},
    {"", -1},
    {"BOGUS", -1},
    {"SUCCESS,,DELAY", QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_DELAY},
    {"SUCCESSSUCCESSSUCCESSSUCCESSSUCCESSSUCCESSSUCCESSSUCCESSSUCCESSX", -1},
};

START_TEST(test_notify)
{
	ck_assert_int_eq(queue_notify_parse(notify_cases[_i].text),
	                 notify_cases[_i].want);
	if (notify_cases[_i].want > 0) {
		struct buf *b = buf_create(0, 0);
		queue_notify_format(notify_cases[_i].want, b);
		ck_assert_int_eq(queue_notify_parse(buf_str(b)),
		                 notify_cases[_i].want);
		buf_destroy(&b);
	}
}
END_TEST

Suite *queue_file_suite(void)
{
	Suite *s = suite_create("queue_file");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_round_trip);
	tcase_add_loop_test(tc, test_hostile, 0, H_COUNT);
	tcase_add_test(tc, test_queue_id);
	tcase_add_loop_test(tc, test_notify, 0,
	                    sizeof(notify_cases) / sizeof(notify_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}
