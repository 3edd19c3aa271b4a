/* check_stream.c: unit tests for lib/stream.c over pipes, socketpairs and a
 * trickling in-memory transport: line endings (CRLF, LF, bare CR, NUL),
 * overlong and never-ending lines, deadlines, EINTR, non-blocking fds,
 * large and failing writes, pipelining and STARTTLS-style discards. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "stream.h"

#define B(s) s, sizeof(s) - 1

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void write_fd(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_int_gt(n, 0);
		p += n;
		len -= (size_t)n;
	}
}

static void set_nonblock(int fd)
{
	ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK),
	                 0);
}

/* A peer in a thread: waits, writes data (in pieces, pausing between
 * them), then closes its fd if asked. SIGALRM stays with the main thread. */
struct peer {
	pthread_t tid;
	int fd;
	const char *data;
	size_t len;
	size_t piece; /* 0: all at once */
	int delay_ms;
	int pause_ms;
	int close_fd;
};

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	sigset_t set;
	size_t off = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sleep_ms(p->delay_ms);
	while (off < p->len) {
		size_t n = p->piece && p->piece < p->len - off ? p->piece
		                                               : p->len - off;
		write_fd(p->fd, p->data + off, n);
		off += n;
		if (p->pause_ms)
			sleep_ms(p->pause_ms);
	}
	if (p->close_fd)
		close(p->fd);
	return NULL;
}

static void peer_start(struct peer *p)
{
	ck_assert_int_eq(pthread_create(&p->tid, NULL, peer_main, p), 0);
}

static void peer_join(struct peer *p)
{
	ck_assert_int_eq(pthread_join(p->tid, NULL), 0);
}

/* An in-memory transport that hands out at most chunk bytes per read (to
 * split CRLF and long lines across reads) and claims pending bytes. */
struct trickle {
	const char *data;
	size_t len;
	size_t pos;
	size_t chunk;
	size_t pending;
	int closed;
};

static ssize_t trickle_read(void *ctx, int fd, void *data, size_t len,
                            int timeout_ms)
{
	struct trickle *t = ctx;
	size_t n = t->len - t->pos;

	if (n > t->chunk)
		n = t->chunk;
	if (n > len)
		n = len;
	memcpy(data, t->data + t->pos, n);
	t->pos += n;
	return (ssize_t)n;
}

static ssize_t trickle_write(void *ctx, int fd, const void *data, size_t len,
                             int timeout_ms)
{
	errno = EPIPE;
	return -1;
}

static size_t trickle_pending(void *ctx)
{
	return ((struct trickle *)ctx)->pending;
}

static void trickle_close(void *ctx, int fd)
{
	((struct trickle *)ctx)->closed = 1;
}

static const struct stream_ops trickle_ops = {
    .read = trickle_read,
    .write = trickle_write,
    .pending = trickle_pending,
    .close = trickle_close,
};

struct want_line {
	int status;
	const char *line;
	size_t len;
	int eol;
};

#define OK_CRLF(s)                                                             \
	{                                                                      \
		STREAM_OK, B(s), STREAM_EOL_CRLF                               \
	}
#define OK_LF(s)                                                               \
	{                                                                      \
		STREAM_OK, B(s), STREAM_EOL_LF                                 \
	}
#define LONG(s)                                                                \
	{                                                                      \
		STREAM_TOO_LONG, B(s), STREAM_EOL_NONE                         \
	}
#define END(s)                                                                 \
	{                                                                      \
		STREAM_EOF, B(s), STREAM_EOL_NONE                              \
	}

static const struct {
	const char *in;
	size_t inlen;
	size_t max;
	struct want_line want[5];
} line_cases[] = {
    {B("abc\r\ndef\nghi"),
     8,
     {OK_CRLF("abc"), OK_LF("def"), END("ghi"), END("")}},
    /* A bare CR is content; only CR right before LF ends a line. */
    {B("a\rb\r\n\r\r\n"), 8, {OK_CRLF("a\rb"), OK_CRLF("\r"), END("")}},
    {B("\r\r\r\r\n"), 8, {OK_CRLF("\r\r\r"), END("")}},
    {B("x\r"), 8, {END("x\r")}},
    {B("\n\r"), 8, {OK_LF(""), END("\r")}},
    {B("\n\r\n\n"), 8, {OK_LF(""), OK_CRLF(""), OK_LF(""), END("")}},
    /* NUL bytes are data. */
    {B("a\0b\r\n\0\n"), 8, {OK_CRLF("a\0b"), OK_LF("\0"), END("")}},
    /* Exactly max content, with either ending. */
    {B("12345678\r\n12345678\n"),
     8,
     {OK_CRLF("12345678"), OK_LF("12345678"), END("")}},
    /* One over: the rest of the line goes, the next line is intact. */
    {B("123456789\r\nok\n"), 8, {LONG("12345678"), OK_LF("ok"), END("")}},
    {B("12345678\r\r\nok\r\n"), 8, {LONG("12345678"), OK_CRLF("ok"), END("")}},
    {B("12345678\r"), 8, {LONG("12345678"), END("")}},
    {B("1234567890abcdefghijklmnop"), 8, {LONG("12345678"), END("")}},
    {B("a\n\n"), 0, {LONG(""), OK_LF(""), END("")}},
    {B("x\0\0\0\0\0\0\0\0\0\0y\r\nz\r\n"),
     4,
     {LONG("x\0\0\0"), OK_CRLF("z"), END("")}},
    {B(""), 8, {END(""), END("")}},
};

#define LINE_MODES 3 /* pipe, 1-byte trickle, 3-byte trickle */

START_TEST(test_read_lines)
{
	size_t c = (size_t)_i / LINE_MODES;
	int mode = _i % LINE_MODES;
	struct trickle t = {line_cases[c].in, line_cases[c].inlen, 0, 1, 0, 0};
	struct buf *line = buf_create(0, 64);
	struct stream *s;
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	if (mode == 0)
		write_fd(fds[1], line_cases[c].in, line_cases[c].inlen);
	close(fds[1]);
	s = stream_open(fds[0]);
	if (mode > 0) {
		t.chunk = mode == 1 ? 1 : 3;
		stream_set_ops(s, &trickle_ops, &t);
	}
	for (size_t k = 0; k < 5 && line_cases[c].want[k].line; k++) {
		const struct want_line *w = &line_cases[c].want[k];
		enum stream_eol eol = 99;
		int r = stream_read_line(s, line, line_cases[c].max, &eol);

		ck_assert_msg(r == w->status, "case %zu mode %d line %zu: %d",
		              c, mode, k, r);
		ck_assert_uint_eq(buf_len(line), w->len);
		ck_assert_mem_eq(buf_str(line), w->line, w->len);
		ck_assert_int_eq(eol, w->eol);
	}
	ck_assert(!stream_failed(s));
	stream_close(&s);
	buf_destroy(&line);
}
END_TEST

/* A 200 KiB line (over ten read buffers) with max 1000: the first 1000
 * bytes, then the next line intact; a 1 MiB line without end: discarded
 * up to EOF. Memory stays bounded by the line buffer's cap. */
START_TEST(test_overlong_big)
{
	size_t big = 200 * 1024, endless = 1024 * 1024;
	char *data = malloc(big + endless + 32);
	struct buf *line = buf_create(0, 1000);
	struct peer p = {0};
	struct stream *s;
	enum stream_eol eol;
	size_t len;
	int sv[2];

	memset(data, 'x', big);
	memcpy(data + big, "\r\nnext\r\n", 8);
	memset(data + big + 8, 'y', endless);
	len = big + 8 + endless;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p.fd = sv[1];
	p.data = data;
	p.len = len;
	p.piece = 7777;
	p.close_fd = 1;
	peer_start(&p);
	s = stream_open(sv[0]);
	stream_set_timeouts(s, 5000, 5000);
	ck_assert_int_eq(stream_read_line(s, line, 1000, &eol),
	                 STREAM_TOO_LONG);
	ck_assert_uint_eq(buf_len(line), 1000);
	ck_assert_int_eq(stream_read_line(s, line, 1000, &eol), STREAM_OK);
	ck_assert_str_eq(buf_str(line), "next");
	ck_assert_int_eq(eol, STREAM_EOL_CRLF);
	ck_assert_int_eq(stream_read_line(s, line, 1000, &eol),
	                 STREAM_TOO_LONG);
	ck_assert_uint_eq(buf_len(line), 1000);
	ck_assert_int_eq(buf_str(line)[999], 'y');
	ck_assert_int_eq(stream_read_line(s, line, 1000, &eol), STREAM_EOF);
	ck_assert_uint_eq(buf_len(line), 0);
	peer_join(&p);
	stream_close(&s);
	buf_destroy(&line);
	free(data);
}
END_TEST

/* max above the line buffer's own cap is clamped to the cap. */
START_TEST(test_max_clamped_to_buf_limit)
{
	struct buf *line = buf_create(0, 4);
	struct stream *s;
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	write_fd(fds[1], B("abcdef\nabcd\n"));
	close(fds[1]);
	s = stream_open(fds[0]);
	ck_assert_int_eq(stream_read_line(s, line, 1000, NULL),
	                 STREAM_TOO_LONG);
	ck_assert_str_eq(buf_str(line), "abcd");
	ck_assert_int_eq(stream_read_line(s, line, 1000, NULL), STREAM_OK);
	ck_assert_str_eq(buf_str(line), "abcd");
	stream_close(&s);
	buf_destroy(&line);
}
END_TEST

/* Nothing arrives: STREAM_TIMEOUT after ~100 ms, sticky for reads, but
 * the write side still works (a server can still say "421 timeout"). */
START_TEST(test_read_timeout)
{
	struct buf *line = buf_create(0, 100);
	struct stream *s;
	char got[32];
	long long t0, dt;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = stream_open(sv[0]);
	stream_set_timeouts(s, 100, 1000);
	t0 = now_ms();
	ck_assert_int_eq(stream_read_line(s, line, 100, NULL), STREAM_TIMEOUT);
	dt = now_ms() - t0;
	ck_assert_msg(dt >= 90 && dt < 2000, "took %lld ms", dt);
	ck_assert(stream_failed(s));
	write_fd(sv[1], B("late\r\n"));
	ck_assert_int_eq(stream_read_line(s, line, 100, NULL), STREAM_TIMEOUT);
	ck_assert_int_eq(stream_read_exact(s, got, 2), STREAM_TIMEOUT);
	ck_assert_int_eq(stream_puts(s, "421 timeout\r\n"), 0);
	ck_assert_int_eq(stream_flush(s), 0);
	ck_assert_int_eq(read(sv[1], got, sizeof(got)), 13);
	ck_assert_mem_eq(got, "421 timeout\r\n", 13);
	stream_close(&s);
	close(sv[1]);
	buf_destroy(&line);
}
END_TEST

/* A peer trickling a byte every 20 ms cannot stretch one read_line past
 * its deadline: the deadline is per operation, not per byte. */
START_TEST(test_trickle_deadline)
{
	static char data[100];
	struct buf *line = buf_create(0, 1000);
	struct peer p = {0};
	struct stream *s;
	long long t0, dt;
	int sv[2];

	memset(data, 'a', sizeof(data));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p.fd = sv[1];
	p.data = data;
	p.len = 30;
	p.piece = 1;
	p.pause_ms = 20;
	peer_start(&p);
	s = stream_open(sv[0]);
	stream_set_timeouts(s, 150, -1);
	t0 = now_ms();
	ck_assert_int_eq(stream_read_line(s, line, 1000, NULL), STREAM_TIMEOUT);
	dt = now_ms() - t0;
	ck_assert_msg(dt >= 140 && dt < 500, "took %lld ms", dt);
	peer_join(&p);
	stream_close(&s);
	close(sv[1]);
	buf_destroy(&line);
}
END_TEST

/* Large writes in mixed sizes arrive intact, over a socket and a pipe,
 * blocking with a deadline or non-blocking without one. */
struct drain {
	pthread_t tid;
	int fd;
	char *got;
	size_t want;
	size_t have;
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	ssize_t n;

	while (d->have < d->want) {
		n = read(d->fd, d->got + d->have, d->want - d->have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		d->have += (size_t)n;
	}
	return NULL;
}

START_TEST(test_large_write)
{
	static const size_t sizes[] = {1, 100,     20000, 16384, 16383,
	                               3, 1 << 20, 5000,  70000};
	int use_pipe = _i & 1, nonblock = _i & 2;
	size_t total = 0, off = 0;
	struct drain d = {0};
	struct stream *s;
	char *data;
	int fds[2];

	for (int round = 0; round < 3; round++)
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
			total += sizes[k];
	data = malloc(total);
	for (size_t k = 0; k < total; k++)
		data[k] = (char)(k * 7 + k / 251);
	if (use_pipe)
		ck_assert_int_eq(pipe(fds), 0);
	else
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	/* pipe: fds[0] reads; socketpair: either end. */
	d.fd = fds[0];
	d.got = malloc(total);
	d.want = total;
	ck_assert_int_eq(pthread_create(&d.tid, NULL, drain_main, &d), 0);
	if (nonblock)
		set_nonblock(fds[1]);
	s = stream_open(fds[1]);
	stream_set_timeouts(s, -1, nonblock ? -1 : 10000);
	for (int round = 0; round < 3; round++) {
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			ck_assert_int_eq(stream_write(s, data + off, sizes[k]),
			                 0);
			off += sizes[k];
		}
	}
	ck_assert_int_eq(stream_flush(s), 0);
	ck_assert_uint_eq(stream_unflushed(s), 0);
	stream_close(&s);
	ck_assert_int_eq(pthread_join(d.tid, NULL), 0);
	ck_assert_uint_eq(d.have, total);
	ck_assert(memcmp(d.got, data, total) == 0);
	close(fds[0]);
	free(d.got);
	free(data);
}
END_TEST

/* Nobody reads: the write deadline fires, and the failure is sticky. */
START_TEST(test_write_timeout)
{
	size_t len = 8 << 20;
	char *data = calloc(1, len);
	struct stream *s;
	long long t0, dt;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = stream_open(sv[0]);
	stream_set_timeouts(s, -1, 100);
	t0 = now_ms();
	ck_assert_int_eq(stream_write(s, data, len), STREAM_TIMEOUT);
	dt = now_ms() - t0;
	ck_assert_msg(dt >= 90 && dt < 2000, "took %lld ms", dt);
	ck_assert(stream_failed(s));
	ck_assert_int_eq(stream_puts(s, "x"), STREAM_TIMEOUT);
	ck_assert_int_eq(stream_flush(s), STREAM_TIMEOUT);
	ck_assert_int_eq(stream_printf(s, "%d", 1), STREAM_TIMEOUT);
	stream_close(&s);
	close(sv[1]);
	free(data);
}
END_TEST

/* The peer is gone: EPIPE as STREAM_ERROR, never a fatal SIGPIPE. */
START_TEST(test_write_peer_gone)
{
	struct stream *s;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	s = stream_open(sv[0]);
	ck_assert_int_eq(stream_puts(s, "250 ok\r\n"), 0);
	ck_assert_uint_eq(stream_unflushed(s), 8);
	ck_assert_int_eq(stream_flush(s), STREAM_ERROR);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert(stream_failed(s));
	ck_assert_uint_eq(stream_unflushed(s), 0);
	ck_assert_int_eq(stream_puts(s, "x"), STREAM_ERROR);
	stream_close(&s);
}
END_TEST

START_TEST(test_printf_flush)
{
	size_t mid = 16370, huge = 40000, want_len;
	char *a = malloc(mid + 1), *b = malloc(huge + 1), *want, *got;
	struct stream *w, *r;
	int fds[2];

	memset(a, 'm', mid);
	a[mid] = 0;
	memset(b, 'h', huge);
	b[huge] = 0;
	want_len = 14 + 1 + mid + 3 + huge + 1 + 5;
	want = malloc(want_len + 1);
	got = malloc(want_len);
	snprintf(want, want_len + 1, "250-%s %d\r\n<%s>\r\n%s!done.", "hello",
	         42, a, b);
	ck_assert_uint_eq(strlen(want), want_len);
	ck_assert_int_eq(pipe(fds), 0);
	w = stream_open(fds[1]);
	r = stream_open(fds[0]);
	ck_assert_int_eq(stream_printf(w, "250-%s %d\r\n", "hello", 42), 0);
	ck_assert_uint_eq(stream_unflushed(w), 14);
	/* Fits the buffer only after a flush. */
	ck_assert_int_eq(stream_printf(w, "<%s>\r\n", a), 0);
	ck_assert_uint_eq(stream_unflushed(w), mid + 4);
	/* Bigger than the whole buffer: written through. */
	ck_assert_int_eq(stream_printf(w, "%s!", b), 0);
	ck_assert_uint_eq(stream_unflushed(w), 0);
	ck_assert_int_eq(stream_puts(w, "done."), 0);
	ck_assert_uint_eq(stream_unflushed(w), 5);
	ck_assert_int_eq(stream_flush(w), 0);
	ck_assert_uint_eq(stream_unflushed(w), 0);
	ck_assert_int_eq(stream_flush(w), 0);
	stream_close(&w);
	ck_assert_int_eq(stream_read_exact(r, got, want_len), 0);
	ck_assert(memcmp(got, want, want_len) == 0);
	ck_assert_int_eq(stream_read(r, got, 1), 0); /* EOF */
	stream_close(&r);
	free(a);
	free(b);
	free(want);
	free(got);
}
END_TEST

/* RFC 2920: a pipelined burst stays buffered; the count drives "may I
 * flush now" decisions. RFC 3207: commands after STARTTLS are dropped. */
START_TEST(test_buffered_and_discard)
{
	struct buf *line = buf_create(0, 512);
	struct stream *s;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = stream_open(sv[0]);
	stream_set_timeouts(s, 1000, 1000);
	write_fd(sv[1], B("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"));
	ck_assert_uint_eq(stream_buffered(s), 0);
	ck_assert_int_eq(stream_read_line(s, line, 512, NULL), STREAM_OK);
	ck_assert_str_eq(buf_str(line), "MAIL FROM:<a@b>");
	ck_assert_uint_eq(stream_buffered(s), 15 + 6);
	ck_assert_int_eq(stream_read_line(s, line, 512, NULL), STREAM_OK);
	ck_assert_uint_eq(stream_buffered(s), 6);
	ck_assert_int_eq(stream_read_line(s, line, 512, NULL), STREAM_OK);
	ck_assert_str_eq(buf_str(line), "DATA");
	ck_assert_uint_eq(stream_buffered(s), 0);

	write_fd(sv[1], B("STARTTLS\r\nRSET\r\n"));
	ck_assert_int_eq(stream_read_line(s, line, 512, NULL), STREAM_OK);
	ck_assert_str_eq(buf_str(line), "STARTTLS");
	ck_assert_uint_eq(stream_buffered(s), 6);
	stream_discard_input(s);
	ck_assert_uint_eq(stream_buffered(s), 0);
	write_fd(sv[1], B("EHLO x\r\n"));
	ck_assert_int_eq(stream_read_line(s, line, 512, NULL), STREAM_OK);
	ck_assert_str_eq(buf_str(line), "EHLO x");
	stream_close(&s);
	close(sv[1]);
	buf_destroy(&line);
}
END_TEST

/* A plugged-in transport: its pending bytes count as buffered, its ctx is
 * visible, its close hook runs; the plain transport has no ctx. */
START_TEST(test_transport_ops)
{
	struct trickle t = {B("hello\r\nworld\r\n"), 0, 4, 9, 0};
	struct buf *line = buf_create(0, 100);
	struct stream *s;
	int fds[2], fd;

	ck_assert_int_eq(pipe(fds), 0);
	close(fds[1]);
	s = stream_open(fds[0]);
	ck_assert_ptr_null(stream_ops_ctx(s));
	ck_assert_int_eq(stream_fd(s), fds[0]);
	stream_set_ops(s, &trickle_ops, &t);
	ck_assert_ptr_eq(stream_ops_ctx(s), &t);
	ck_assert_uint_eq(stream_buffered(s), 9);
	ck_assert_int_eq(stream_read_line(s, line, 100, NULL), STREAM_OK);
	ck_assert_str_eq(buf_str(line), "hello");
	ck_assert_uint_eq(stream_buffered(s), 1 + 9); /* "w" of "worl" */
	ck_assert_int_eq(stream_puts(s, "x"), 0);
	ck_assert_int_eq(stream_flush(s), STREAM_ERROR);
	ck_assert_int_eq(errno, EPIPE);
	stream_close(&s);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(t.closed, 1);
	ck_assert_int_eq(fcntl(fds[0], F_GETFD), -1);

	ck_assert_int_eq(pipe(fds), 0);
	s = stream_open(fds[0]);
	fd = stream_release(&s);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(fd, fds[0]);
	ck_assert_int_ne(fcntl(fd, F_GETFD), -1);
	close(fds[0]);
	close(fds[1]);
	buf_destroy(&line);
}
END_TEST

START_TEST(test_read_and_read_exact)
{
	size_t big = 40000;
	char *data = malloc(big + 3), *got = malloc(big + 3);
	struct stream *s;
	char small[100];
	int fds[2];

	for (size_t k = 0; k < big + 3; k++)
		data[k] = (char)(k % 253);
	ck_assert_int_eq(pipe(fds), 0);
	write_fd(fds[1], B("hello world"));
	write_fd(fds[1], data, big + 3);
	close(fds[1]);
	s = stream_open(fds[0]);
	ck_assert_int_eq(stream_read(s, small, 5), 5);
	ck_assert_mem_eq(small, "hello", 5);
	ck_assert_int_eq(stream_read(s, small, 6), 6);
	ck_assert_mem_eq(small, " world", 6);
	ck_assert_int_eq(stream_read_exact(s, got, 0), 0);
	ck_assert_int_eq(stream_read_exact(s, got, 3), 0);
	/* Past the read buffer: part buffered, the rest read directly. */
	ck_assert_int_eq(stream_read_exact(s, got + 3, big - 10), 0);
	ck_assert_int_eq(stream_read_exact(s, got + big - 7, 10), 0);
	ck_assert(memcmp(got, data, big + 3) == 0);
	ck_assert_int_eq(stream_read(s, small, sizeof(small)), 0);
	ck_assert_int_eq(stream_read_exact(s, small, 1), STREAM_EOF);
	ck_assert(!stream_failed(s));
	stream_close(&s);

	ck_assert_int_eq(pipe(fds), 0);
	write_fd(fds[1], B("abc"));
	close(fds[1]);
	s = stream_open(fds[0]);
	ck_assert_int_eq(stream_read_exact(s, small, 5), STREAM_EOF);
	stream_close(&s);
	free(data);
	free(got);
}
END_TEST

/* stream_wipe keeps what is not yet read or written: unread input is
 * still read after it, pending output still goes out on flush. */
START_TEST(test_wipe_keeps_pending)
{
	struct stream *in, *out;
	char got[64];
	int fds[2], ofds[2];

	ck_assert_int_eq(pipe(fds), 0);
	write_fd(fds[1], B("AUTH secret\r\nNEXT\r\n"));
	close(fds[1]);
	in = stream_open(fds[0]);
	ck_assert_int_eq(stream_read_exact(in, got, 13), 0);
	ck_assert_mem_eq(got, "AUTH secret\r\n", 13);
	stream_wipe(in);
	ck_assert_int_eq(stream_read_exact(in, got, 6), 0);
	ck_assert_mem_eq(got, "NEXT\r\n", 6);
	stream_wipe(in); /* everything read: the buffer starts over */
	ck_assert_int_eq(stream_read_exact(in, got, 1), STREAM_EOF);
	stream_close(&in);

	ck_assert_int_eq(pipe(ofds), 0);
	out = stream_open(ofds[1]);
	ck_assert_int_eq(stream_write(out, "secret\r\n", 8), 0);
	ck_assert_int_eq(stream_flush(out), 0);
	stream_wipe(out);
	ck_assert_int_eq(stream_write(out, "pending", 7), 0);
	stream_wipe(out);
	ck_assert_int_eq(stream_flush(out), 0);
	stream_close(&out);
	ck_assert_int_eq(read(ofds[0], got, sizeof(got)), 15);
	ck_assert_mem_eq(got, "secret\r\npending", 15);
	close(ofds[0]);
}
END_TEST

/* Reads that keep getting interrupted by signals (no SA_RESTART) and
 * non-blocking fds that say EAGAIN still deliver the line. */
static volatile sig_atomic_t alarm_ticks;

static void on_alarm(int sig)
{
	alarm_ticks++;
}

START_TEST(test_eintr_and_nonblocking)
{
	/* 0: blocking with a deadline (poll is interrupted), 1: non-blocking
	 * without one (EAGAIN, then poll), 2: blocking without one (read
	 * itself is interrupted). */
	int nonblock = _i == 1, deadline_ms = _i == 0 ? 5000 : -1;
	struct buf *line = buf_create(0, 100);
	struct itimerval it = {{0, 10000}, {0, 10000}}, off = {{0, 0}, {0, 0}};
	struct sigaction sa, old;
	struct peer p = {0};
	char got[6];
	struct stream *s;
	int sv[2];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: poll/read fail with EINTR */
	ck_assert_int_eq(sigaction(SIGALRM, &sa, &old), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if (nonblock)
		set_nonblock(sv[0]);
	p.fd = sv[1];
	p.data = "late line\r\nsecond";
	p.len = strlen(p.data);
	p.piece = 11;
	p.delay_ms = 120;
	p.pause_ms = 60;
	alarm_ticks = 0;
	peer_start(&p);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	s = stream_open(sv[0]);
	stream_set_timeouts(s, deadline_ms, -1);
	ck_assert_int_eq(stream_read_line(s, line, 100, NULL), STREAM_OK);
	ck_assert_str_eq(buf_str(line), "late line");
	ck_assert_int_eq(stream_read_exact(s, got, 6), 0);
	ck_assert_mem_eq(got, "second", 6);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	ck_assert_int_gt(alarm_ticks, 2);
	peer_join(&p);
	ck_assert(!stream_failed(s));
	stream_close(&s);
	close(sv[1]);
	buf_destroy(&line);
}
END_TEST

Suite *stream_suite(void)
{
	Suite *s = suite_create("stream");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(
	    tc, test_read_lines, 0,
	    LINE_MODES * (int)(sizeof(line_cases) / sizeof(line_cases[0])));
	tcase_add_test(tc, test_overlong_big);
	tcase_add_test(tc, test_max_clamped_to_buf_limit);
	tcase_add_test(tc, test_read_timeout);
	tcase_add_test(tc, test_trickle_deadline);
	tcase_add_loop_test(tc, test_large_write, 0, 4);
	tcase_add_test(tc, test_write_timeout);
	tcase_add_test(tc, test_write_peer_gone);
	tcase_add_test(tc, test_printf_flush);
	tcase_add_test(tc, test_buffered_and_discard);
	tcase_add_test(tc, test_transport_ops);
	tcase_add_test(tc, test_read_and_read_exact);
	tcase_add_test(tc, test_wipe_keeps_pending);
	tcase_add_loop_test(tc, test_eintr_and_nonblocking, 0, 3);
	suite_add_tcase(s, tc);
	return s;
}
