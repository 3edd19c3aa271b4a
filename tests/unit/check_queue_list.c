/* check_queue_list.c: unit tests for lib/queue_list.c: JSON string
 * escaping of arbitrary bytes, terminal-safe text, mailq time and line
 * layout, the footer, defer log lines (round trip and hostile lines), and
 * a whole listing of a queue tree written with the queue file writer
 * (sorting, marks, defer reasons, maildrop files without a size record,
 * damaged files listed with a warning, dot and junk names skipped). */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "queue_file.h"
#include "queue_layout.h"
#include "queue_list.h"

static void use_utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

/* ---- JSON strings ---- */

static const struct {
	const char *in;
	size_t len;
	const char *out;
} json_cases[] = {
    {"", 0, "\"\""},
    {"a@b.example", 11, "\"a@b.example\""},
    {"\"q\"\\", 4, "\"\\\"q\\\"\\\\\""},
    {"a\nb\rc\td", 7, "\"a\\nb\\rc\\td\""},
    {"\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\""},
    {"a\0b", 3, "\"a\\u0000b\""},
    /* UTF-8 passes through: 2, 3 and 4 byte forms. */
    {"J\xc3\xb6rg", 5, "\"J\xc3\xb6rg\""},
    {"\xe2\x82\xac", 3, "\"\xe2\x82\xac\""},
    {"\xf0\x9f\x93\xa8", 4, "\"\xf0\x9f\x93\xa8\""},
    /* C1 controls are escaped. */
    {"\xc2\x9b", 2, "\"\\u009b\""},
    {"\xc2\xa0", 2, "\"\xc2\xa0\""},
    /* Not UTF-8: each bad byte is U+FFFD. */
    {"\xff", 1, "\"\\ufffd\""},
    {"a\xc3", 2, "\"a\\ufffd\""},
    {"\xc3(", 2, "\"\\ufffd(\""},
    {"\xc0\xaf", 2, "\"\\ufffd\\ufffd\""}, /* overlong '/' */
    {"\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\""}, /* overlong */
    {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""}, /* surrogate */
    {"\xf4\x90\x80\x80", 4,
     "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* past U+10FFFF */
    {"\xf0\x9f\x93", 3, "\"\\ufffd\\ufffd\\ufffd\""}, /* truncated */
    {"\x80x", 2, "\"\\ufffdx\""},
};

START_TEST(test_json_string)
{
	struct buf *b = buf_create(0, 0);

	queue_list_json_string(json_cases[_i].in, json_cases[_i].len, b);
	ck_assert_msg(strcmp(buf_str(b), json_cases[_i].out) == 0,
	              "case %d: got %s want %s", _i, buf_str(b),
	              json_cases[_i].out);
	buf_destroy(&b);
}
END_TEST

/* Every byte value alone and in pairs gives a string with no raw
 * control byte and no invalid UTF-8. */
START_TEST(test_json_all_bytes)
{
	struct buf *b = buf_create(0, 0);
	char in[2];

	for (int x = 0; x < 256; x++) {
		for (int y = -1; y < 256; y++) {
			in[0] = (char)x;
			in[1] = (char)y;
			buf_reset(b);
			queue_list_json_string(in, y < 0 ? 1 : 2, b);
			const unsigned char *p =
			    (const unsigned char *)buf_str(b);
			for (size_t i = 0; i < buf_len(b); i++)
				ck_assert_msg(p[i] >= 0x20 && p[i] != 0x7f,
				              "raw control in %02x %02x", x, y);
			ck_assert_int_eq(p[0], '"');
			ck_assert_int_eq(p[buf_len(b) - 1], '"');
		}
	}
	buf_destroy(&b);
}
END_TEST

static const struct {
	const char *in;
	size_t len;
	const char *out;
} printable_cases[] = {
    {"user@example.com", 16, "user@example.com"},
    {"a\nb\x1b[31m", 8, "a?b?[31m"},
    {"J\xc3\xb6rg", 5, "J\xc3\xb6rg"},
    {"\xc2\x9b"
     "1m",
     4, "?1m"},
    {"\xff\xfe", 2, "??"},
    {"a\0b", 3, "a?b"},
    {"\x7f", 1, "?"},
};

START_TEST(test_printable)
{
	struct buf *b = buf_create(0, 0);

	queue_list_printable(printable_cases[_i].in, printable_cases[_i].len,
	                     b);
	ck_assert_str_eq(buf_str(b), printable_cases[_i].out);
	buf_destroy(&b);
}
END_TEST

/* ---- time, heading, lines, footer ---- */

START_TEST(test_time)
{
	struct buf *b = buf_create(0, 0);

	use_utc();
	queue_list_format_time(1606015283, b);
	ck_assert_str_eq(buf_str(b), "Sun Nov 22 03:21:23");
	buf_reset(b);
	queue_list_format_time(1606813507, b);
	ck_assert_str_eq(buf_str(b), "Tue Dec  1 09:05:07");
	buf_reset(b);
	queue_list_format_time(0, b);
	ck_assert_str_eq(buf_str(b), "??");
	buf_destroy(&b);
}
END_TEST

START_TEST(test_heading_footer)
{
	struct buf *b = buf_create(0, 0);

	queue_list_heading(b);
	ck_assert_str_eq(buf_str(b), "-Queue ID-  --Size-- ----Arrival "
	                             "Time---- -Sender/Recipient-------\n");
	buf_reset(b);
	queue_list_footer(0, 0, b);
	ck_assert_str_eq(buf_str(b), "Mail queue is empty\n");
	buf_reset(b);
	queue_list_footer(1023, 1, b);
	ck_assert_str_eq(buf_str(b), "-- 0 Kbytes in 1 Request.\n");
	buf_reset(b);
	queue_list_footer(5 * 1024 + 7, 3, b);
	ck_assert_str_eq(buf_str(b), "-- 5 Kbytes in 3 Requests.\n");
	buf_destroy(&b);
}
END_TEST

#define REASON "connect to example.net[192.0.2.1]:25: Connection refused"

START_TEST(test_text_deferred)
{
	const struct queue_list_rcpt rcpts[] = {
	    {"dave@example.org", NULL},
	    {"bob@example.net", REASON},
	    {"carol@example.net", REASON},
	    {"eve@example.com", "4.2.2 mailbox full"},
	};
	const struct queue_list_item item = {
	    "deferred",
	    "5FB9D93304D2EQ1A2B",
	    1606015283,
	    1234,
	    "alice@example.com",
	    rcpts,
	    4,
	    NULL,
	};
	struct buf *b = buf_create(0, 0);

	use_utc();
	queue_list_format_text(&item, b);
	ck_assert_str_eq(
	    buf_str(b),
	    "5FB9D93304D2EQ1A2B     1234 Sun Nov 22 03:21:23  "
	    "alice@example.com\n"
	    "                    (" REASON ")\n"
	    "                                         bob@example.net\n"
	    "                                         carol@example.net\n"
	    "                                                          "
	    "(4.2.2 mailbox full)\n"
	    "                                         eve@example.com\n"
	    "                                         dave@example.org\n"
	    "\n");
	buf_destroy(&b);
}
END_TEST

START_TEST(test_text_marks)
{
	const struct queue_list_rcpt rcpt = {"x\ny@example.org", NULL};
	struct queue_list_item item = {
	    "active", "ABCDEF0123", 1606015283, 5, "", &rcpt, 1, NULL,
	};
	struct buf *b = buf_create(0, 0);

	use_utc();
	queue_list_format_text(&item, b);
	ck_assert_str_eq(buf_str(b), "ABCDEF0123*       5 Sun Nov 22 03:21:23  "
	                             "MAILER-DAEMON\n"
	                             "                                         "
	                             "x?y@example.org\n\n");
	buf_reset(b);
	item.queue = "hold";
	item.sender = "a\x1b@b";
	item.nrcpts = 0;
	queue_list_format_text(&item, b);
	ck_assert_str_eq(buf_str(b), "ABCDEF0123!       5 Sun Nov 22 "
	                             "03:21:23  a?@b\n\n");
	buf_reset(b);
	/* A damaged file: what is known, and why. */
	item.queue = "incoming";
	item.sender = NULL;
	item.arrival = 0;
	item.error = "truncated file";
	queue_list_format_text(&item, b);
	ck_assert_str_eq(buf_str(b),
	                 "ABCDEF0123        5 ??                   "
	                 "?\n"
	                 "                                        "
	                 "                      (truncated file)\n\n");
	buf_destroy(&b);
}
END_TEST

START_TEST(test_json_item)
{
	const struct queue_list_rcpt rcpts[] = {
	    {"bob@example.net", REASON},
	    {"\"odd\"\x01@x", NULL},
	};
	struct queue_list_item item = {
	    "deferred", "5FB9D93304D2EQ1A2B", 1606015283, 1234, "", rcpts, 2,
	    NULL,
	};
	struct buf *b = buf_create(0, 0);

	queue_list_format_json(&item, b);
	ck_assert_str_eq(buf_str(b),
	                 "{\"queue_name\": \"deferred\", \"queue_id\": "
	                 "\"5FB9D93304D2EQ1A2B\", \"arrival_time\": "
	                 "1606015283, \"message_size\": 1234, \"sender\": "
	                 "\"\", \"recipients\": [{\"address\": "
	                 "\"bob@example.net\", \"delay_reason\": \"" REASON
	                 "\"}, {\"address\": \"\\\"odd\\\"\\u0001@x\"}]}\n");
	buf_reset(b);
	item.nrcpts = 0;
	item.sender = NULL;
	item.error = "bad \"record\"";
	queue_list_format_json(&item, b);
	ck_assert_str_eq(buf_str(b),
	                 "{\"queue_name\": \"deferred\", \"queue_id\": "
	                 "\"5FB9D93304D2EQ1A2B\", \"arrival_time\": "
	                 "1606015283, \"message_size\": 1234, \"sender\": "
	                 "\"\", \"recipients\": [], \"error\": \"bad "
	                 "\\\"record\\\"\"}\n");
	buf_destroy(&b);
}
END_TEST

/* ---- defer log lines ---- */

START_TEST(test_defer_round_trip)
{
	static const char *const rcpts[] = {"a@b", "t\tab@x", "back\\slash@x",
	                                    "nl\n\r@x"};
	static const char *const reasons[] = {"", "4.4.1 timeout",
	                                      "two\tfields\\n", "x\ny"};
	struct buf *line = buf_create(0, 0), *r = buf_create(0, 0),
	           *why = buf_create(0, 0);

	for (size_t i = 0; i < 4; i++) {
		buf_reset(line);
		queue_list_defer_encode(rcpts[i], reasons[i], line);
		ck_assert_int_eq(buf_str(line)[buf_len(line) - 1], '\n');
		/* One line, one separating TAB. */
		ck_assert_ptr_eq(strchr(buf_str(line), '\n'),
		                 buf_str(line) + buf_len(line) - 1);
		ck_assert_int_eq(queue_list_defer_decode(
		                     buf_str(line), buf_len(line) - 1, r, why),
		                 0);
		ck_assert_str_eq(buf_str(r), rcpts[i]);
		ck_assert_str_eq(buf_str(why), reasons[i]);
	}
	buf_destroy(&line);
	buf_destroy(&r);
	buf_destroy(&why);
}
END_TEST

static const char *const defer_bad[] = {
    "",
    "no tab here",
    "\treason without rcpt",
    "a@b\tx\ty",
    "a@b\treason\\",
    "a@b\\q\treason",
    "a@b\tcr\rhere",
};

START_TEST(test_defer_hostile)
{
	struct buf *r = buf_create(0, 0), *why = buf_create(0, 0);

	ck_assert_int_eq(queue_list_defer_decode(defer_bad[_i],
	                                         strlen(defer_bad[_i]), r, why),
	                 -1);
	/* A NUL inside is refused too. */
	ck_assert_int_eq(queue_list_defer_decode("a\0b\tc", 5, r, why), -1);
	buf_destroy(&r);
	buf_destroy(&why);
}
END_TEST

/* ---- a whole queue ---- */

static char list_root[64];
static char list_qdir[128];

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void list_setup(void)
{
	snprintf(list_root, sizeof(list_root), "%s", "/tmp/check_qlist.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(list_root));
	snprintf(list_qdir, sizeof(list_qdir), "%s/queue", list_root);
}

static void list_teardown(void)
{
	nftw(list_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct config *list_config(void)
{
	struct config *c = config_create();
	struct buf *err = buf_create(0, 0);

	config_set(c, "queue_directory", list_qdir);
	if (geteuid() == 0) {
		/* Leave the tree to root: the test reads it as root. */
		config_set(c, "mail_owner", "root");
		config_set(c, "setgid_group", "root");
	}
	ck_assert_msg(queue_layout_ensure(c, err) == 0, "%s", buf_str(err));
	buf_destroy(&err);
	return c;
}

struct qrcpt {
	const char *addr;
	bool done;
};

/* Write queue_directory/rel as a queue file. size < 0: no S record
 * (a maildrop file); cut > 0: keep only the first cut bytes. */
static void write_qfile(const char *rel, const char *time_rec,
                        const char *sender, const struct qrcpt *rcpts, size_t n,
                        long long size, off_t cut)
{
	char path[256];
	struct buf *b = buf_create(0, 0);

	snprintf(path, sizeof(path), "%s/%s", list_qdir, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	struct queue_writer *w = queue_writer_create(fd);
	queue_writer_add_str(w, QREC_VERSION, QUEUE_FORMAT_VERSION);
	if (size >= 0) {
		queue_size_format(size, (long long)n, b);
		queue_writer_add_str(w, QREC_SIZE, buf_str(b));
	}
	queue_writer_add_str(w, QREC_TIME, time_rec);
	queue_writer_add_str(w, QREC_SENDER, sender);
	queue_writer_add_str(w, QREC_ATTR, "protocol=local");
	for (size_t i = 0; i < n; i++) {
		buf_reset(b);
		queue_rcpt_encode(rcpts[i].addr, "", 0, b);
		queue_writer_add(w, rcpts[i].done ? QREC_DONE : QREC_RCPT,
		                 buf_str(b), buf_len(b));
	}
	queue_writer_add(w, QREC_CONTENT, "", 0);
	queue_writer_add_str(w, QREC_BLOCK, "Subject: t\n\nbody\n");
	queue_writer_add(w, QREC_END, "", 0);
	ck_assert_int_eq(queue_writer_flush(w), 0);
	queue_writer_destroy(&w);
	if (cut > 0)
		ck_assert_int_eq(ftruncate(fd, cut), 0);
	close(fd);
	buf_destroy(&b);
}

static void write_text(const char *rel, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", list_qdir, rel);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static long long file_size(const char *rel)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", list_qdir, rel);
	ck_assert_int_eq(stat(path, &st), 0);
	return (long long)st.st_size;
}

/* IDs: 8 hex seconds, 5 hex microseconds, Q, inode. */
#define ID_IN1 "5FB9D9330000AQ11"
#define ID_IN0 "5FB9D93300001Q10"
#define ID_ACT "5FB9D93300002Q12"
#define ID_DEF "5FB9D93300003Q13"
#define ID_DEF2 "5FB9D9330000BQ15"
#define ID_HOLD "5FB9D93300004Q14"
#define ID_DROP "5FB9D93300005Q16"

static char *list_run(struct config *c, bool json)
{
	struct buf *err = buf_create(0, 0);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	ck_assert_int_eq(queue_list_print(c, out, json, err), 0);
	fclose(out);
	buf_destroy(&err);
	return text;
}

static void fill_queue(void)
{
	const struct qrcpt one[] = {{"x@example.org", false}};
	const struct qrcpt three[] = {{"done@example.org", true},
	                              {"r1@example.org", false},
	                              {"r2@example.org", false}};

	write_qfile("incoming/" ID_IN1, "1606015283.10", "", one, 1, 100, 0);
	/* Damaged: cut inside the recipient record. */
	write_qfile("incoming/" ID_IN0, "1606015283.1", "s@example.org", one, 1,
	            100, 120);
	write_qfile("active/" ID_ACT, "1606015283.2", "a@example.org", one, 1,
	            200, 0);
	write_qfile("deferred/3/" ID_DEF, "1606015283.3", "d@example.org",
	            three, 3, 2048, 0);
	write_qfile("deferred/B/" ID_DEF2, "1606015283.11", "e@example.org",
	            one, 1, 300, 0);
	write_text("defer/3/" ID_DEF, "r1@example.org\told reason\n"
	                              "r2@example.org\t4.4.1 timed out\n"
	                              "garbage line\n"
	                              "r1@example.org\t4.4.1 timed out\n"
	                              "done@example.org\tgone\n"
	                              "partial@x\tno newline");
	write_qfile("hold/" ID_HOLD, "1606015283.4", "h@example.org", one, 1,
	            400, 0);
	write_qfile("maildrop/" ID_DROP, "1606015283.5", "user", one, 1, -1, 0);
	/* Never listed: files being written, junk names. */
	write_qfile("incoming/.tmp.1234.5", "1606015283.6", "t@x", one, 1, 1,
	            0);
	write_text("incoming/README", "not a queue file\n");
	write_text("deferred/junk", "not a queue file\n");
}

START_TEST(test_list_empty)
{
	struct config *c = list_config();
	char *text = list_run(c, false);

	ck_assert_str_eq(text, "Mail queue is empty\n");
	free(text);
	text = list_run(c, true);
	ck_assert_str_eq(text, "");
	free(text);
	config_destroy(&c);
}
END_TEST

START_TEST(test_list_queue)
{
	struct config *c;
	char *text, expect[512];

	use_utc();
	c = list_config();
	fill_queue();
	text = list_run(c, false);
	/* Order: incoming (sorted), active, deferred, hold, maildrop. */
	const char *order[] = {
	    "-Queue ID-  --Size--",
	    ID_IN0 "      100 Sun Nov 22 03:21:23  s@example.org\n",
	    "(truncated file)\n",
	    ID_IN1 "      100 Sun Nov 22 03:21:23  MAILER-DAEMON\n",
	    ID_ACT "*     200 Sun Nov 22 03:21:23  a@example.org\n",
	    ID_DEF "     2048 Sun Nov 22 03:21:23  d@example.org\n"
	           "                                                 "
	           "            (4.4.1 timed out)\n"
	           "                                         "
	           "r1@example.org\n"
	           "                                         "
	           "r2@example.org\n\n",
	    ID_DEF2 "      300",
	    ID_HOLD "!     400 Sun Nov 22 03:21:23  h@example.org\n",
	    ID_DROP " ",
	    "-- ",
	};
	const char *at = text;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const char *p = strstr(at, order[i]);
		ck_assert_msg(p != NULL, "missing or out of order: %s\n%s",
		              order[i], text);
		at = p + strlen(order[i]);
	}
	ck_assert_ptr_null(strstr(text, "done@example.org"));
	ck_assert_ptr_null(strstr(text, "old reason"));
	ck_assert_ptr_null(strstr(text, "tmp"));
	ck_assert_ptr_null(strstr(text, "README"));
	/* The maildrop file has no size record: its file size is shown. */
	snprintf(expect, sizeof(expect),
	         ID_DROP " %8lld Sun Nov 22 03:21:23  user\n",
	         file_size("maildrop/" ID_DROP));
	ck_assert_msg(strstr(text, expect), "%s\n%s", expect, text);
	long long total =
	    100 + 100 + 200 + 2048 + 300 + 400 + file_size("maildrop/" ID_DROP);
	snprintf(expect, sizeof(expect), "\n\n-- %lld Kbytes in 7 Requests.\n",
	         total / 1024);
	ck_assert_msg(
	    strlen(text) > strlen(expect) &&
	        strcmp(text + strlen(text) - strlen(expect), expect) == 0,
	    "%s", text);
	free(text);

	text = list_run(c, true);
	int lines = 0;
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	ck_assert_int_eq(lines, 7);
	ck_assert_ptr_nonnull(strstr(
	    text, "{\"queue_name\": \"deferred\", \"queue_id\": \"" ID_DEF
	          "\", \"arrival_time\": 1606015283, \"message_size\": "
	          "2048, \"sender\": \"d@example.org\", \"recipients\": "
	          "[{\"address\": \"r1@example.org\", \"delay_reason\": "
	          "\"4.4.1 timed out\"}, {\"address\": \"r2@example.org\", "
	          "\"delay_reason\": \"4.4.1 timed out\"}]}\n"));
	ck_assert_ptr_nonnull(strstr(text, "\"queue_id\": \"" ID_IN0
	                                   "\", \"arrival_time\": 1606015283"));
	ck_assert_ptr_nonnull(strstr(text, "\"error\": \"truncated file\""));
	ck_assert_ptr_nonnull(strstr(text, "{\"queue_name\": \"maildrop\""));
	free(text);
	config_destroy(&c);
}
END_TEST

static int collect(const char *queue, const char *id, const char *path,
                   void *ctx)
{
	struct buf *b = ctx;

	buf_printf(b, "%s %s %s\n", queue, id, path);
	return 0;
}

static int stop_at_first(const char *queue, const char *id, const char *path,
                         void *ctx)
{
	(void)queue;
	(void)path;
	buf_set_str(ctx, id);
	return -1;
}

START_TEST(test_each)
{
	struct config *c = list_config();
	struct buf *b = buf_create(0, 0), *err = buf_create(0, 0);

	fill_queue();
	ck_assert_int_eq(queue_list_each(c, QUEUE_DEFERRED, collect, b, err),
	                 0);
	ck_assert_str_eq(buf_str(b),
	                 "deferred " ID_DEF " deferred/3/" ID_DEF "\n"
	                 "deferred " ID_DEF2 " deferred/B/" ID_DEF2 "\n");
	buf_reset(b);
	ck_assert_int_eq(queue_list_each(c, QUEUE_INCOMING, collect, b, err),
	                 0);
	ck_assert_str_eq(buf_str(b),
	                 "incoming " ID_IN0 " incoming/" ID_IN0
	                 "\nincoming " ID_IN1 " incoming/" ID_IN1 "\n");
	buf_reset(b);
	ck_assert_int_eq(queue_list_each(c, QUEUE_CORRUPT, collect, b, err), 0);
	ck_assert_str_eq(buf_str(b), "");
	ck_assert_int_eq(
	    queue_list_each(c, QUEUE_INCOMING, stop_at_first, b, err), -1);
	ck_assert_str_eq(buf_str(b), ID_IN0);
	buf_destroy(&b);
	buf_destroy(&err);
	config_destroy(&c);
}
END_TEST

START_TEST(test_list_unreadable_dir)
{
	struct config *c = config_create();
	struct buf *err = buf_create(0, 0);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	config_set(c, "queue_directory", "/nonexistent/posthorn/queue");
	ck_assert_int_eq(queue_list_print(c, out, false, err), -1);
	ck_assert_msg(strstr(buf_str(err), "/nonexistent/posthorn/queue"), "%s",
	              buf_str(err));
	fclose(out);
	ck_assert_str_eq(text, "");
	free(text);
	buf_destroy(&err);
	config_destroy(&c);
}
END_TEST

Suite *queue_list_suite(void)
{
	Suite *s = suite_create("queue_list");
	TCase *tc = tcase_create("format");

	tcase_add_loop_test(tc, test_json_string, 0,
	                    sizeof(json_cases) / sizeof(json_cases[0]));
	tcase_add_test(tc, test_json_all_bytes);
	tcase_add_loop_test(tc, test_printable, 0,
	                    sizeof(printable_cases) /
	                        sizeof(printable_cases[0]));
	tcase_add_test(tc, test_time);
	tcase_add_test(tc, test_heading_footer);
	tcase_add_test(tc, test_text_deferred);
	tcase_add_test(tc, test_text_marks);
	tcase_add_test(tc, test_json_item);
	tcase_add_test(tc, test_defer_round_trip);
	tcase_add_loop_test(tc, test_defer_hostile, 0,
	                    sizeof(defer_bad) / sizeof(defer_bad[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("scan");
	tcase_add_checked_fixture(tc, list_setup, list_teardown);
	tcase_add_test(tc, test_list_empty);
	tcase_add_test(tc, test_list_queue);
	tcase_add_test(tc, test_each);
	tcase_add_test(tc, test_list_unreadable_dir);
	suite_add_tcase(s, tc);
	return s;
}
