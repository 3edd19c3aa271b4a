/*
 * stream.c: buffered byte stream over one fd. Owns the fd, a fixed 16 KiB
 * read buffer and a fixed 16 KiB write buffer; nothing here grows with
 * what a peer sends. The transport beneath is pluggable (struct
 * stream_ops): the plain one here does poll() + read/send, lib/tls
 * installs its own after STARTTLS (RFC 3207).
 *
 * Deadlines are per operation: one stream_read_line, stream_read,
 * stream_read_exact, stream_write (when it has to write out) or
 * stream_flush call must finish within the read or write timeout, however
 * many transport calls it takes, so a peer trickling one byte at a time
 * cannot stretch it.
 *
 * Errors are sticky per direction: after a read failed or timed out,
 * every read returns the same status; after a write failed, every write
 * does. A read timeout still lets the caller write a last reply ("421
 * timeout"). EOF is not an error.
 *
 * SECURITY: input comes from remote peers. stream_read_line never stores
 * more than max bytes of a line; the rest of an overlong line (or a line
 * that never ends) is read through the fixed read buffer and thrown away,
 * bounded by the read deadline. Writes use send(MSG_NOSIGNAL) on sockets
 * so a vanished peer is EPIPE, not a fatal SIGPIPE (a pipe whose reader
 * is gone still raises SIGPIPE: daemons ignore it).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"
#include "msg.h"
#include "stream.h"

#define STREAM_RBUF_SIZE 16384
#define STREAM_WBUF_SIZE 16384

/* What the plain transport writes to, learned on the first write. */
enum stream_fd_kind {
	STREAM_FD_UNKNOWN = 0,
	STREAM_FD_SOCKET, /* send(MSG_NOSIGNAL) */
	STREAM_FD_PIPE, /* write() in PIPE_BUF pieces under a deadline */
	STREAM_FD_OTHER, /* write() */
};

struct stream_plain {
	enum stream_fd_kind kind;
};

struct stream {
	int fd;
	const struct stream_ops *ops;
	void *ctx;
	struct stream_plain plain;
	int read_ms;
	int write_ms;
	int rerr; /* 0, STREAM_TIMEOUT or STREAM_ERROR (sticky) */
	int rerrno;
	int werr;
	int werrno;
	size_t rpos; /* unread bytes are rbuf[rpos..rlen) */
	size_t rlen;
	size_t wlen;
	unsigned char rbuf[STREAM_RBUF_SIZE];
	unsigned char wbuf[STREAM_WBUF_SIZE];
};

/* Milliseconds on the monotonic clock. */
static long long stream_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		msg_panic("stream_now_ms: clock_gettime: %s", strerror(errno));
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Absolute deadline for timeout_ms from now (-1: none). */
static long long stream_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : stream_now_ms() + timeout_ms;
}

/* Milliseconds left until deadline (-1: none, 0 when passed). */
static int stream_left(long long deadline)
{
	long long left;

	if (deadline < 0)
		return -1;
	left = deadline - stream_now_ms();
	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* Wait until fd is ready for events or deadline passes; 0 when ready (or
 * in an error/hangup state the next read/write will report), -1 with
 * errno (ETIMEDOUT on deadline). */
static int stream_poll(int fd, short events, long long deadline)
{
	struct pollfd pfd;
	int n;

	for (;;) {
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, stream_left(deadline));
		if (n > 0) {
			if (pfd.revents & POLLNVAL) {
				errno = EBADF;
				return -1;
			}
			return 0;
		}
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

static ssize_t stream_plain_read(void *ctx, int fd, void *data, size_t len,
                                 int timeout_ms)
{
	long long deadline = stream_deadline(timeout_ms);
	ssize_t n;

	for (;;) {
		/* With a deadline, only read once poll says it will not
		 * block; without one, a blocking fd just blocks. */
		if (deadline >= 0 && stream_poll(fd, POLLIN, deadline) < 0)
			return -1;
		n = read(fd, data, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		/* Non-blocking fd with nothing there yet. */
		if (deadline < 0 && stream_poll(fd, POLLIN, -1) < 0)
			return -1;
	}
}

/* Learn what fd is, once: sockets get send(), pipes bounded writes. */
static enum stream_fd_kind stream_fd_kind(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return STREAM_FD_OTHER; /* the write will report the error */
	if (S_ISSOCK(st.st_mode))
		return STREAM_FD_SOCKET;
	if (S_ISFIFO(st.st_mode))
		return STREAM_FD_PIPE;
	return STREAM_FD_OTHER;
}

static ssize_t stream_plain_write(void *ctx, int fd, const void *data,
                                  size_t len, int timeout_ms)
{
	struct stream_plain *plain = ctx;
	long long deadline = stream_deadline(timeout_ms);
	size_t chunk;
	ssize_t n;

	if (plain->kind == STREAM_FD_UNKNOWN)
		plain->kind = stream_fd_kind(fd);
	for (;;) {
		/* A socket is written with MSG_DONTWAIT first and polled
		 * only when it is full (EAGAIN below): its send buffer
		 * nearly always has room, and a poll() before each reply
		 * was one system call per reply for nothing. */
		if (deadline >= 0 && plain->kind != STREAM_FD_SOCKET &&
		    stream_poll(fd, POLLOUT, deadline) < 0)
			return -1;
		if (plain->kind == STREAM_FD_SOCKET) {
			/* MSG_NOSIGNAL: a vanished peer is EPIPE, not a
			 * fatal signal. MSG_DONTWAIT: a blocking socket must
			 * not sit in send() past the deadline. */
			n = send(fd, data, len,
			         MSG_NOSIGNAL |
			             (deadline >= 0 ? MSG_DONTWAIT : 0));
		} else {
			/* A blocking pipe only promises PIPE_BUF bytes of
			 * room when poll says writable. */
			chunk = len;
			if (plain->kind == STREAM_FD_PIPE && deadline >= 0 &&
			    chunk > PIPE_BUF)
				chunk = PIPE_BUF;
			n = write(fd, data, chunk);
		}
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if ((deadline < 0 || plain->kind == STREAM_FD_SOCKET) &&
		    stream_poll(fd, POLLOUT, deadline) < 0)
			return -1;
	}
}

static const struct stream_ops stream_plain_ops = {
    .read = stream_plain_read,
    .write = stream_plain_write,
    .pending = NULL,
    .close = NULL,
};

struct stream *stream_open(int fd)
{
	struct stream *s;

	if (fd < 0)
		msg_panic("stream_open: bad fd %d", fd);
	s = mem_zalloc(sizeof(*s));
	s->fd = fd;
	s->read_ms = -1;
	s->write_ms = -1;
	stream_set_ops(s, NULL, NULL);
	return s;
}

void stream_close(struct stream **sp)
{
	struct stream *s = *sp;

	if (s == NULL)
		return;
	if (s->ops->close)
		s->ops->close(s->ctx, s->fd);
	if (close(s->fd) < 0 && errno != EINTR)
		msg_warn("stream_close: fd %d: close: %s", s->fd,
		         strerror(errno));
	mem_free(s);
	*sp = NULL;
}

int stream_release(struct stream **sp)
{
	int fd = (*sp)->fd;

	mem_free(*sp);
	*sp = NULL;
	return fd;
}

int stream_fd(const struct stream *s)
{
	return s->fd;
}

void stream_set_timeouts(struct stream *s, int read_ms, int write_ms)
{
	s->read_ms = read_ms < 0 ? -1 : read_ms;
	s->write_ms = write_ms < 0 ? -1 : write_ms;
}

void stream_set_ops(struct stream *s, const struct stream_ops *ops, void *ctx)
{
	if (ops == NULL) {
		s->ops = &stream_plain_ops;
		s->plain.kind = STREAM_FD_UNKNOWN;
		s->ctx = &s->plain;
		return;
	}
	if (ops->read == NULL || ops->write == NULL)
		msg_panic("stream_set_ops: transport without read/write");
	s->ops = ops;
	s->ctx = ctx;
}

void *stream_ops_ctx(const struct stream *s)
{
	return s->ops == &stream_plain_ops ? NULL : s->ctx;
}

/* Record a read failure from a transport result (n < 0, errno set). */
static int stream_read_fail(struct stream *s)
{
	s->rerrno = errno;
	s->rerr = errno == ETIMEDOUT ? STREAM_TIMEOUT : STREAM_ERROR;
	return s->rerr;
}

/* Return the sticky read status with its errno. */
static int stream_read_sticky(struct stream *s)
{
	errno = s->rerrno;
	return s->rerr;
}

/* One transport read into data; bytes (>0), 0 on EOF, or a status. */
static ssize_t stream_transport_read(struct stream *s, void *data, size_t len,
                                     long long deadline)
{
	ssize_t n =
	    s->ops->read(s->ctx, s->fd, data, len, stream_left(deadline));

	if (n < 0)
		return stream_read_fail(s);
	return n;
}

/* Refill the (empty) read buffer with one transport read; bytes, 0 on
 * EOF, or a status. */
static ssize_t stream_fill(struct stream *s, long long deadline)
{
	ssize_t n;

	s->rpos = s->rlen = 0;
	n = stream_transport_read(s, s->rbuf, sizeof(s->rbuf), deadline);
	if (n > 0)
		s->rlen = (size_t)n;
	return n;
}

/* Append len bytes of line content, keeping at most max in total; sets
 * *too_long once something had to be dropped. */
static void stream_line_add(struct buf *line, const void *data, size_t len,
                            size_t max, bool *too_long)
{
	size_t room = max - buf_len(line);

	if (*too_long)
		return;
	if (len > room) {
		len = room;
		*too_long = true;
	}
	if (len && buf_append(line, data, len) < 0)
		msg_panic("stream_line_add: append %zu bytes within the limit",
		          len);
}

int stream_read_line(struct stream *s, struct buf *line, size_t max,
                     enum stream_eol *eol)
{
	long long deadline;
	bool too_long = false;
	bool held_cr = false; /* a '\r' ended the previous chunk */
	ssize_t n;

	buf_reset(line);
	if (eol)
		*eol = STREAM_EOL_NONE;
	if (s->rerr)
		return stream_read_sticky(s);
	/* Never ask line for more than it may hold. */
	if (max > buf_limit(line))
		max = buf_limit(line);
	deadline = stream_deadline(s->read_ms);
	for (;;) {
		const unsigned char *p, *nl;
		size_t avail, seg;

		if (s->rpos == s->rlen) {
			n = stream_fill(s, deadline);
			if (n < 0)
				return (int)n;
			if (n == 0) {
				/* A lone '\r' before EOF is content. */
				if (held_cr)
					stream_line_add(line, "\r", 1, max,
					                &too_long);
				return too_long ? STREAM_TOO_LONG : STREAM_EOF;
			}
		}
		p = s->rbuf + s->rpos;
		avail = s->rlen - s->rpos;
		nl = memchr(p, '\n', avail);
		seg = nl ? (size_t)(nl - p) : avail;
		/* A held '\r' is content unless the '\n' follows at once. */
		if (held_cr && seg > 0) {
			stream_line_add(line, "\r", 1, max, &too_long);
			held_cr = false;
		}
		if (seg > 0 && p[seg - 1] == '\r') {
			stream_line_add(line, p, seg - 1, max, &too_long);
			held_cr = true;
		} else {
			stream_line_add(line, p, seg, max, &too_long);
		}
		if (nl == NULL) {
			s->rpos = s->rlen;
			continue;
		}
		s->rpos += seg + 1;
		if (too_long)
			return STREAM_TOO_LONG;
		if (eol)
			*eol = held_cr ? STREAM_EOL_CRLF : STREAM_EOL_LF;
		return STREAM_OK;
	}
}

ssize_t stream_read(struct stream *s, void *data, size_t len)
{
	size_t avail = s->rlen - s->rpos;
	ssize_t n;

	if (len == 0)
		return 0;
	if (avail > 0) {
		if (avail > len)
			avail = len;
		memcpy(data, s->rbuf + s->rpos, avail);
		s->rpos += avail;
		return (ssize_t)avail;
	}
	if (s->rerr)
		return stream_read_sticky(s);
	/* Big reads bypass the buffer. */
	if (len >= sizeof(s->rbuf))
		return stream_transport_read(s, data, len,
		                             stream_deadline(s->read_ms));
	n = stream_fill(s, stream_deadline(s->read_ms));
	if (n <= 0)
		return n;
	return stream_read(s, data, len);
}

int stream_read_exact(struct stream *s, void *data, size_t len)
{
	unsigned char *out = data;
	long long deadline;
	size_t avail;
	ssize_t n;

	if (len == 0)
		return 0;
	avail = s->rlen - s->rpos;
	if (avail >= len) {
		/* The common case: small reads served from the buffer. */
		memcpy(out, s->rbuf + s->rpos, len);
		s->rpos += len;
		return 0;
	}
	if (s->rerr)
		return stream_read_sticky(s);
	deadline = stream_deadline(s->read_ms);
	while (len > 0) {
		avail = s->rlen - s->rpos;
		if (avail > 0) {
			if (avail > len)
				avail = len;
			memcpy(out, s->rbuf + s->rpos, avail);
			s->rpos += avail;
			out += avail;
			len -= avail;
			continue;
		}
		if (len >= sizeof(s->rbuf)) {
			n = stream_transport_read(s, out, len, deadline);
			if (n > 0) {
				out += n;
				len -= (size_t)n;
			}
		} else {
			n = stream_fill(s, deadline);
		}
		if (n == 0)
			return STREAM_EOF;
		if (n < 0)
			return (int)n;
	}
	return 0;
}

size_t stream_buffered(const struct stream *s)
{
	size_t n = s->rlen - s->rpos;

	if (s->ops->pending)
		n += s->ops->pending(s->ctx);
	return n;
}

void stream_discard_input(struct stream *s)
{
	s->rpos = s->rlen = 0;
}

void stream_wipe(struct stream *s)
{
	/* Written bytes lie beyond wlen (the buffer restarts at 0 after
	 * each flush); read bytes before rpos. */
	explicit_bzero(s->wbuf + s->wlen, sizeof(s->wbuf) - s->wlen);
	explicit_bzero(s->rbuf, s->rpos);
	if (s->rpos == s->rlen) {
		explicit_bzero(s->rbuf, sizeof(s->rbuf));
		s->rpos = s->rlen = 0;
	}
}

/* Write all of data through the transport before deadline; 0 or a status
 * (sticky; the write buffer is dropped since the peer's view is lost). */
static int stream_write_all(struct stream *s, const void *data, size_t len,
                            long long deadline)
{
	const unsigned char *p = data;
	ssize_t n;

	while (len > 0) {
		n = s->ops->write(s->ctx, s->fd, p, len, stream_left(deadline));
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* no progress: never spin */
			s->werrno = errno;
			s->werr =
			    errno == ETIMEDOUT ? STREAM_TIMEOUT : STREAM_ERROR;
			s->wlen = 0;
			return s->werr;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int stream_write_sticky(struct stream *s)
{
	errno = s->werrno;
	return s->werr;
}

int stream_write(struct stream *s, const void *data, size_t len)
{
	long long deadline;
	int ret;

	if (s->werr)
		return stream_write_sticky(s);
	if (len <= sizeof(s->wbuf) - s->wlen) {
		if (len)
			memcpy(s->wbuf + s->wlen, data, len);
		s->wlen += len;
		return 0;
	}
	deadline = stream_deadline(s->write_ms);
	if (s->wlen > 0) {
		if ((ret = stream_write_all(s, s->wbuf, s->wlen, deadline)) < 0)
			return ret;
		s->wlen = 0;
	}
	if (len >= sizeof(s->wbuf))
		return stream_write_all(s, data, len, deadline);
	memcpy(s->wbuf, data, len);
	s->wlen = len;
	return 0;
}

int stream_puts(struct stream *s, const char *str)
{
	return stream_write(s, str, strlen(str));
}

int stream_printf(struct stream *s, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	char *tmp;
	int n, ret;

	if (s->werr)
		return stream_write_sticky(s);
	/* Format straight into the write buffer when it fits. */
	room = sizeof(s->wbuf) - s->wlen;
	va_start(ap, fmt);
	n = vsnprintf((char *)s->wbuf + s->wlen, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		msg_warn("stream_printf: fd %d: format error: %s", s->fd,
		         strerror(errno));
		errno = EINVAL;
		return STREAM_ERROR;
	}
	if ((size_t)n < room) {
		s->wlen += (size_t)n;
		return 0;
	}
	if ((size_t)n < sizeof(s->wbuf)) {
		if ((ret = stream_flush(s)) < 0)
			return ret;
		va_start(ap, fmt);
		vsnprintf((char *)s->wbuf, sizeof(s->wbuf), fmt, ap);
		va_end(ap);
		s->wlen = (size_t)n;
		return 0;
	}
	/* Bigger than the whole buffer: format aside, write through. */
	tmp = mem_alloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(tmp, (size_t)n + 1, fmt, ap);
	va_end(ap);
	ret = stream_write(s, tmp, (size_t)n);
	mem_free(tmp);
	return ret;
}

int stream_flush(struct stream *s)
{
	int ret;

	if (s->werr)
		return stream_write_sticky(s);
	if (s->wlen == 0)
		return 0;
	ret =
	    stream_write_all(s, s->wbuf, s->wlen, stream_deadline(s->write_ms));
	if (ret == 0)
		s->wlen = 0;
	return ret;
}

size_t stream_unflushed(const struct stream *s)
{
	return s->wlen;
}

bool stream_failed(const struct stream *s)
{
	return s->rerr != 0 || s->werr != 0;
}
