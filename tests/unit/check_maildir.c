/* check_maildir.c: unit tests for lib/maildir.c: unique names, delivery
 * into a temporary Maildir (one complete file in new/ named with its
 * size, made unnamed in new/ and linked, tmp/ never touched), failures that leave nothing behind (no
 * Maildir, a broken source), the quota scan (S= sizes and lstat) and its
 * 4.2.2 / 5.2.2 answers, and delivery from a real queue file through
 * queue_reader_create_content, as local reads it. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "maildir.h"
#include "queue_file.h"
#include "unit_tmp.h"

static char tmpdir[256];

static void setup(void)
{
	char p[512];

	unit_tmpdir_make(tmpdir, sizeof(tmpdir), "maildir");
	const char *subs[] = {"cur", "new", "tmp"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", tmpdir, subs[i]);
		ck_assert_int_eq(mkdir(p, 0700), 0);
	}
}

static void teardown(void)
{
	unit_tmpdir_remove(tmpdir);
}

/* Names in tmpdir/sub (at most 8), count returned. */
static int list_dir(const char *sub, char names[8][512])
{
	char p[512];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, sub);
	d = opendir(p);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n < 8)
			snprintf(names[n], 512, "%s", e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	char *data = malloc(1 << 20);

	ck_assert_ptr_nonnull(fp);
	*len = fread(data, 1, 1 << 20, fp);
	fclose(fp);
	data[*len] = 0;
	return data;
}

static void write_file(const char *path, size_t size)
{
	FILE *fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	for (size_t i = 0; i < size; i++)
		fputc('x', fp);
	fclose(fp);
}

/* A source handing out pieces of a string, failing after fail_after
 * pieces when >= 0. */
struct src {
	const char *text;
	size_t pos, piece;
	int pieces, fail_after;
};

static int src_read(void *ctx, const char **data, size_t *len, struct buf *err)
{
	struct src *s = ctx;
	size_t left = strlen(s->text) - s->pos;

	if (s->fail_after >= 0 && s->pieces >= s->fail_after) {
		buf_set_str(err, "queue file: truncated file");
		return -1;
	}
	if (left == 0)
		return 0;
	*data = s->text + s->pos;
	*len = left < s->piece ? left : s->piece;
	s->pos += *len;
	s->pieces++;
	return 1;
}

START_TEST(test_unique_name)
{
	struct buf *a = buf_create(0, 0), *b = buf_create(0, 0);
	regex_t re;

	ck_assert_int_eq(regcomp(&re,
	                         "^[0-9]+\\.M[0-9]+P[0-9]+Q[0-9]+\\.[^/:,]+$",
	                         REG_EXTENDED | REG_NOSUB),
	                 0);
	maildir_unique_name(a);
	maildir_unique_name(b);
	ck_assert_msg(regexec(&re, buf_str(a), 0, NULL, 0) == 0, "%s",
	              buf_str(a));
	ck_assert_str_ne(buf_str(a), buf_str(b));
	regfree(&re);
	buf_destroy(&a);
	buf_destroy(&b);
}
END_TEST

/* maildir_deliver, and whether it touched tmp/ (its mtime changed). */
static int deliver_watching_tmp(const struct maildir_delivery *d,
                                struct buf *name, char dsn[16],
                                struct buf *reason, bool *tmp_changed)
{
	struct stat before, after;
	char path[1024];
	int rc;

	snprintf(path, sizeof(path), "%s/tmp", tmpdir);
	ck_assert_int_eq(stat(path, &before), 0);
	usleep(20000); /* a change to tmp/ would show in its mtime */
	rc = maildir_deliver(d, name, dsn, reason);
	ck_assert_int_eq(stat(path, &after), 0);
	*tmp_changed = after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
	               after.st_mtim.tv_nsec != before.st_mtim.tv_nsec;
	return rc;
}

START_TEST(test_deliver)
{
	const char *msg = "Subject: hi\nMessage-ID: <1@x>\n\nbody line\n";
	struct src s = {msg, 0, 7, 0, -1};
	struct maildir_delivery d = {
	    tmpdir, "Delivered-To: u@example.com\n", src_read,
	    &s,     (long long)strlen(msg),          0,
	    false};
	struct buf *name = buf_create(0, 0), *reason = buf_create(0, 0);
	char dsn[16], names[8][512], path[1024];
	bool tmp_changed;
	size_t len;

	ck_assert_int_eq(
	    deliver_watching_tmp(&d, name, dsn, reason, &tmp_changed), 2);
	/* O_TMPFILE + linkat: no name was ever made in tmp/. */
	ck_assert(!tmp_changed);
	ck_assert_str_eq(dsn, "2.0.0");
	ck_assert_str_eq(buf_str(reason), "delivered to maildir");
	ck_assert_int_eq(list_dir("tmp", names), 0);
	ck_assert_int_eq(list_dir("new", names), 1);
	ck_assert_int_eq(list_dir("cur", names), 0);
	list_dir("new", names);
	snprintf(path, sizeof(path), "new/%s", names[0]);
	ck_assert_str_eq(buf_str(name), path);
	snprintf(path, sizeof(path), "%s/new/%s", tmpdir, names[0]);
	char *data = read_file(path, &len);
	ck_assert_str_eq(data, "Delivered-To: u@example.com\nSubject: hi\n"
	                       "Message-ID: <1@x>\n\nbody line\n");
	char want[64];
	snprintf(want, sizeof(want), ",S=%zu", len);
	ck_assert_msg(strstr(names[0], want) != NULL, "%s lacks %s", names[0],
	              want);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	free(data);

	/* A second one gets its own name. */
	s.pos = 0;
	ck_assert_int_eq(maildir_deliver(&d, name, dsn, reason), 2);
	ck_assert_int_eq(list_dir("new", names), 2);
	ck_assert_str_ne(names[0], names[1]);
	buf_destroy(&name);
	buf_destroy(&reason);
}
END_TEST

/* The spec's way, through tmp/: the same result, nothing left in tmp/. */
START_TEST(test_deliver_through_tmp)
{
	const char *msg = "Subject: hi\n\nbody\n";
	struct src s = {msg, 0, 7, 0, -1};
	struct maildir_delivery d = {
	    tmpdir, NULL, src_read, &s, (long long)strlen(msg), 0, false};
	struct buf *name = buf_create(0, 0), *reason = buf_create(0, 0);
	char dsn[16], names[8][512], path[1024];
	bool tmp_changed;
	size_t len;

	maildir_set_tmpfile(false);
	ck_assert_int_eq(
	    deliver_watching_tmp(&d, name, dsn, reason, &tmp_changed), 2);
	ck_assert_msg(tmp_changed, "tmp/ was not used");
	ck_assert_int_eq(list_dir("tmp", names), 0);
	ck_assert_int_eq(list_dir("new", names), 1);
	snprintf(path, sizeof(path), "%s/new/%s", tmpdir, names[0]);
	char *data = read_file(path, &len);
	ck_assert_str_eq(data, msg);
	free(data);
	maildir_set_tmpfile(true);
	buf_destroy(&name);
	buf_destroy(&reason);
}
END_TEST

START_TEST(test_deliver_failures)
{
	struct src s = {"a: b\n\nc\n", 0, 3, 0, 1};
	struct maildir_delivery d = {tmpdir, NULL, src_read, &s, 8, 0, false};
	struct buf *name = buf_create(0, 0), *reason = buf_create(0, 0);
	char dsn[16], names[8][512], missing[600];

	/* The source breaks after one piece: nothing is left anywhere. */
	ck_assert_int_eq(maildir_deliver(&d, name, dsn, reason), 4);
	ck_assert_str_eq(dsn, "4.3.0");
	ck_assert_str_eq(buf_str(reason), "queue file: truncated file");
	ck_assert_int_eq(list_dir("tmp", names), 0);
	ck_assert_int_eq(list_dir("new", names), 0);

	/* No Maildir at all. */
	snprintf(missing, sizeof(missing), "%s/nonexistent", tmpdir);
	s.fail_after = -1;
	s.pos = 0;
	d.dir = missing;
	ck_assert_int_eq(maildir_deliver(&d, name, dsn, reason), 4);
	ck_assert_str_eq(dsn, "4.3.0");
	ck_assert_ptr_nonnull(strstr(buf_str(reason), "No such file"));
	buf_destroy(&name);
	buf_destroy(&reason);
}
END_TEST

START_TEST(test_usage_and_quota)
{
	const char *msg = "Subject: q\n\n0123456789\n";
	struct src s = {msg, 0, 1000, 0, -1};
	struct maildir_delivery d = {
	    tmpdir, NULL, src_read, &s, (long long)strlen(msg), 0, false};
	struct buf *name = buf_create(0, 0), *reason = buf_create(0, 0);
	char dsn[16], p[1024], names[8][512];
	long long used = -1;

	snprintf(p, sizeof(p), "%s/cur/1.M1P1Q1.h,S=1000:2,S", tmpdir);
	write_file(p, 3); /* the S= number counts, not the file size */
	snprintf(p, sizeof(p), "%s/new/2.M1P1Q1.h", tmpdir);
	write_file(p, 500); /* no S=: lstat */
	snprintf(p, sizeof(p), "%s/cur/.hidden", tmpdir);
	write_file(p, 7777); /* dot files are not mail */
	snprintf(p, sizeof(p), "%s/tmp/3.M1P1Q1.h,S=9999", tmpdir);
	write_file(p, 1); /* tmp/ does not count */
	snprintf(p, sizeof(p), "%s/cur/4.M1P1Q1.h,S=", tmpdir);
	write_file(p, 20); /* a bad S= falls back to lstat */
	ck_assert_int_eq(maildir_usage(tmpdir, &used, reason), 0);
	ck_assert_int_eq(used, 1520);

	/* Room for it: delivered. */
	d.quota = 1520 + (long long)strlen(msg);
	ck_assert_int_eq(maildir_deliver(&d, name, dsn, reason), 2);
	/* Now full: deferred 4.2.2, or bounced 5.2.2, nothing written. */
	s.pos = 0;
	ck_assert_int_eq(maildir_deliver(&d, name, dsn, reason), 4);
	ck_assert_str_eq(dsn, "4.2.2");
	ck_assert_ptr_nonnull(strstr(buf_str(reason), "mailbox full"));
	d.quota_bounce = true;
	ck_assert_int_eq(maildir_deliver(&d, name, dsn, reason), 5);
	ck_assert_str_eq(dsn, "5.2.2");
	ck_assert_int_eq(list_dir("new", names), 2);
	ck_assert_int_eq(list_dir("tmp", names), 1);

	/* A Maildir without cur/: the scan fails, the delivery defers. */
	snprintf(p, sizeof(p), "%s/cur", tmpdir);
	unit_tmpdir_remove(p);
	ck_assert_int_eq(maildir_usage(tmpdir, &used, reason), -1);
	ck_assert_int_eq(maildir_deliver(&d, name, dsn, reason), 4);
	ck_assert_str_eq(dsn, "4.3.0");
	buf_destroy(&name);
	buf_destroy(&reason);
}
END_TEST

/* The source local uses: the content section of a queue file. */
struct qsrc {
	struct queue_reader *r;
	struct buf *payload;
	bool done;
};

static int qsrc_read(void *ctx, const char **data, size_t *len, struct buf *err)
{
	struct qsrc *q = ctx;
	int type, n;

	if (q->done)
		return 0;
	n = queue_reader_next(q->r, &type, q->payload, NULL, err);
	if (n < 0)
		return -1;
	if (n == 0 || type == QREC_END) {
		q->done = true;
		return 0;
	}
	ck_assert_int_eq(type, QREC_BLOCK);
	*data = buf_str(q->payload);
	*len = buf_len(q->payload);
	return 1;
}

START_TEST(test_from_queue_file)
{
	char qpath[600], names[8][512], p[1200];
	struct buf *err = buf_create(0, 4096), *size = buf_create(0, 0);
	struct buf *name = buf_create(0, 0), *reason = buf_create(0, 0);
	struct queue_envelope env;
	char dsn[16];
	size_t len;
	int fd;

	snprintf(qpath, sizeof(qpath), "%s/qfile", tmpdir);
	fd = open(qpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	struct queue_writer *w = queue_writer_create(fd);
	queue_size_format(30, 1, size);
	ck_assert_int_eq(
	    queue_writer_add_str(w, QREC_VERSION, QUEUE_FORMAT_VERSION), 0);
	ck_assert_int_eq(
	    queue_writer_add(w, QREC_SIZE, buf_str(size), buf_len(size)), 0);
	queue_writer_add_str(w, QREC_TIME, "1700000000.000001");
	queue_writer_add_str(w, QREC_SENDER, "s@example.com");
	buf_reset(size);
	queue_rcpt_encode("r@example.com", "", 0, size);
	queue_writer_add(w, QREC_RCPT, buf_str(size), buf_len(size));
	queue_writer_add(w, QREC_CONTENT, "", 0);
	queue_writer_add_str(w, QREC_BLOCK, "Subject: from queue\n\n");
	queue_writer_add_str(w, QREC_BLOCK, "From the start\nend\n");
	queue_writer_add(w, QREC_END, "", 0);
	ck_assert_int_eq(queue_writer_flush(w), 0);
	queue_writer_destroy(&w);

	/* The envelope as qmgr reads it, for content_offset. */
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	struct queue_reader *r = queue_reader_create(fd);
	ck_assert_msg(queue_envelope_read(r, &env, err) == 0, "%s",
	              buf_str(err));
	queue_reader_destroy(&r);

	/* Then only the content, from that offset. */
	ck_assert_int_eq(lseek(fd, env.content_offset, SEEK_SET),
	                 env.content_offset);
	struct qsrc q = {queue_reader_create_content(fd),
	                 buf_create(0, QUEUE_BLOCK_MAX + 1), false};
	struct maildir_delivery d = {tmpdir,
	                             "Delivered-To: r@example.com\n",
	                             qsrc_read,
	                             &q,
	                             env.content_size,
	                             0,
	                             false};
	ck_assert_int_eq(maildir_deliver(&d, name, dsn, reason), 2);
	queue_reader_destroy(&q.r);
	buf_destroy(&q.payload);
	ck_assert_int_eq(list_dir("new", names), 1);
	snprintf(p, sizeof(p), "%s/new/%s", tmpdir, names[0]);
	char *data = read_file(p, &len);
	ck_assert_str_eq(data, "Delivered-To: r@example.com\nSubject: from "
	                       "queue\n\nFrom the start\nend\n");
	free(data);

	/* A content reader refuses envelope records. */
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	struct qsrc bad = {queue_reader_create_content(fd),
	                   buf_create(0, QUEUE_BLOCK_MAX + 1), false};
	const char *piece;
	ck_assert_int_eq(qsrc_read(&bad, &piece, &len, err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "out of place"));
	queue_reader_destroy(&bad.r);
	buf_destroy(&bad.payload);

	/* A file cut short: -1 ("truncated"), and the delivery defers. */
	ck_assert_int_eq(ftruncate(fd, env.content_offset + 10), 0);
	ck_assert_int_eq(lseek(fd, env.content_offset, SEEK_SET),
	                 env.content_offset);
	struct qsrc cut = {queue_reader_create_content(fd),
	                   buf_create(0, QUEUE_BLOCK_MAX + 1), false};
	d.ctx = &cut;
	ck_assert_int_eq(maildir_deliver(&d, name, dsn, reason), 4);
	ck_assert_ptr_nonnull(strstr(buf_str(reason), "truncated"));
	ck_assert_int_eq(list_dir("new", names), 1);
	queue_reader_destroy(&cut.r);
	buf_destroy(&cut.payload);
	queue_envelope_free(&env);
	close(fd);
	buf_destroy(&err);
	buf_destroy(&size);
	buf_destroy(&name);
	buf_destroy(&reason);
}
END_TEST

Suite *maildir_suite(void)
{
	Suite *s = suite_create("maildir");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_unique_name);
	tcase_add_test(tc, test_deliver);
	tcase_add_test(tc, test_deliver_through_tmp);
	tcase_add_test(tc, test_deliver_failures);
	tcase_add_test(tc, test_usage_and_quota);
	tcase_add_test(tc, test_from_queue_file);
	suite_add_tcase(s, tc);
	return s;
}
