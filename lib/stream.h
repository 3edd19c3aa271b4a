/* stream.h: buffered byte stream over a fd with bounded line reads and
 * deadlines; TLS slots in beneath the same API through stream_ops. */
#ifndef POSTHORN_STREAM_H
#define POSTHORN_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct stream;

/* The transport beneath a stream. Each call must wait no longer than
 * timeout_ms (-1: forever) and return bytes moved (>0), 0 on EOF (read
 * only), or -1 with errno set (ETIMEDOUT on deadline). The plain fd
 * transport is the default; lib/tls installs its own. */
struct stream_ops {
	ssize_t (*read)(void *ctx, int fd, void *data, size_t len,
	                int timeout_ms);
	ssize_t (*write)(void *ctx, int fd, const void *data, size_t len,
	                 int timeout_ms);
	/* Bytes the transport holds decoded but not yet returned (TLS). */
	size_t (*pending)(void *ctx);
	/* Called by stream_close before the fd is closed. */
	void (*close)(void *ctx, int fd);
};

/* Results of stream_read_line. */
enum stream_status {
	STREAM_OK = 0, /* a whole line */
	STREAM_EOF = -1, /* end of input (a partial last line is in line) */
	STREAM_TIMEOUT = -2, /* deadline passed */
	STREAM_ERROR = -3, /* I/O error (errno) */
	STREAM_TOO_LONG = -4, /* line longer than max: the first max bytes are
			       * in line, the rest was read and discarded up to
			       * and including the newline */
};

/* How a line ended. */
enum stream_eol {
	STREAM_EOL_NONE = 0, /* EOF or too long */
	STREAM_EOL_LF = 1, /* bare "\n" */
	STREAM_EOL_CRLF = 2, /* "\r\n" */
};

/* Wrap fd (owned by the stream from now on). */
struct stream *stream_open(int fd);
/* Flush nothing, close the fd (via ops->close first), free, set *sp NULL. */
void stream_close(struct stream **sp);
/* Release the stream without closing the fd; returns the fd. */
int stream_release(struct stream **sp);
/* The underlying fd. */
int stream_fd(const struct stream *s);

/* Per-operation deadlines in milliseconds (-1: none; the default): one
 * read_line/read/read_exact, or one write/flush that reaches the transport,
 * must finish in time however many transport calls it takes. */
void stream_set_timeouts(struct stream *s, int read_ms, int write_ms);
/* Install a transport (ctx is the transport's, not freed by the stream). */
void stream_set_ops(struct stream *s, const struct stream_ops *ops, void *ctx);
/* The installed transport context (NULL for plain). */
void *stream_ops_ctx(const struct stream *s);

/* Read one line of at most max bytes (excluding the line ending) into
 * line (reset first). The ending is stripped and reported in *eol (may be
 * NULL). Returns an enum stream_status. */
int stream_read_line(struct stream *s, struct buf *line, size_t max,
                     enum stream_eol *eol);
/* Read up to len bytes (whatever is buffered first, else one transport
 * read). Returns bytes read, 0 on EOF, STREAM_TIMEOUT or STREAM_ERROR. */
ssize_t stream_read(struct stream *s, void *data, size_t len);
/* Read exactly len bytes; returns 0, or STREAM_EOF/TIMEOUT/ERROR (what was
 * read before the failure is lost). */
int stream_read_exact(struct stream *s, void *data, size_t len);
/* Bytes already read from the transport but not yet consumed, including
 * what the transport itself holds (RFC 2920 pipelining; RFC 3207 STARTTLS
 * injection checks). */
size_t stream_buffered(const struct stream *s);
/* Throw away everything buffered on the read side (after STARTTLS). */
void stream_discard_input(struct stream *s);
/* Overwrite the parts of the stream's own buffers that were already
 * written out or read (SASL responses hold credentials); pending output
 * and unread input are kept. */
void stream_wipe(struct stream *s);

/* Buffer len bytes for writing (flushing when the buffer fills);
 * 0 or STREAM_TIMEOUT/STREAM_ERROR. */
int stream_write(struct stream *s, const void *data, size_t len);
/* Buffer a string. */
int stream_puts(struct stream *s, const char *str);
/* Buffer formatted text. */
int stream_printf(struct stream *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Write out everything buffered; 0 or STREAM_TIMEOUT/STREAM_ERROR. */
int stream_flush(struct stream *s);
/* Bytes waiting in the write buffer. */
size_t stream_unflushed(const struct stream *s);
/* Sticky error state: true once any read/write failed or timed out. Per
 * direction: after a read failure every read returns that status again,
 * after a write failure every write does; a read timeout still lets the
 * caller write a last reply. EOF is not a failure. */
bool stream_failed(const struct stream *s);

#endif
