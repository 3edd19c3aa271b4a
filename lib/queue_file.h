/* queue_file.h: the queue file format (docs/queue-format.md): typed,
 * length-prefixed records in three sections (envelope, content, end),
 * queue IDs, and the queue's directory names. One reader/writer for
 * every daemon and command that touches queue files. */
#ifndef POSTHORN_QUEUE_FILE_H
#define POSTHORN_QUEUE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

/* Record types. The payload of each is described in docs/queue-format.md. */
enum queue_rec {
	QREC_VERSION = 'V', /* "posthorn-queue-1": always the first record */
	QREC_SIZE = 'S', /* fixed-width "content_size rcpt_count" */
	QREC_TIME = 'T', /* arrival "seconds.microseconds" */
	QREC_SENDER = 'F', /* envelope sender, "" for <> */
	QREC_ENVID = 'E', /* RFC 3461 ENVID (xtext decoded) */
	QREC_RET = 'N', /* RFC 3461 RET: FULL or HDRS */
	QREC_ATTR = 'A', /* "name=value": client_name, client_address,
			      * helo_name, protocol, sasl_username, tls,
			      * submitter (local user), ... */
	QREC_RCPT = 'R', /* recipient still to deliver */
	QREC_DONE = 'D', /* recipient delivered: an R with its type
			      * byte overwritten in place */
	QREC_CONTENT = 'M', /* start of the content section (empty) */
	QREC_BLOCK = 'B', /* a block of message bytes (LF line ends) */
	QREC_END = 'X', /* the end marker (empty): the file is whole */
};

#define QUEUE_FORMAT_VERSION "posthorn-queue-1"
/* A record's payload never exceeds this (content blocks are smaller). */
#define QUEUE_REC_MAX (1 << 20)
/* Content travels in blocks of at most this many bytes. */
#define QUEUE_BLOCK_MAX (64 * 1024)
/* Bytes of a record header: type + 4-byte big-endian length. */
#define QUEUE_REC_HDR 5

/* A recipient as kept in R/D records: address, RFC 3461 ORCPT
 * ("rfc822;addr" form, may be empty) and NOTIFY flags. */
#define QUEUE_NOTIFY_NEVER 1
#define QUEUE_NOTIFY_SUCCESS 2
#define QUEUE_NOTIFY_FAILURE 4
#define QUEUE_NOTIFY_DELAY 8

struct queue_rcpt {
	char *address;
	char *orcpt;
	int notify; /* OR of QUEUE_NOTIFY_*, 0: not given (default) */
	off_t offset; /* of the record in the file (to mark it done) */
	bool done;
};

/* A whole envelope, as read from a queue file. */
struct queue_envelope {
	long long arrival_sec;
	long arrival_usec;
	long long content_size;
	char *sender;
	char *envid; /* NULL if none */
	char *ret; /* NULL if none */
	char **attr_names, **attr_values;
	size_t nattrs;
	struct queue_rcpt *rcpts;
	size_t nrcpts;
	off_t content_offset; /* of the first record after QREC_CONTENT */
};

/* Encode a recipient payload onto out (appending). */
void queue_rcpt_encode(const char *address, const char *orcpt, int notify,
                       struct buf *out);
/* Parse NOTIFY text ("SUCCESS,DELAY" / "NEVER") to flags; -1 if bad. */
int queue_notify_parse(const char *text);
/* Format flags as RFC 3461 text ("NEVER", "SUCCESS,FAILURE", "" for 0). */
void queue_notify_format(int notify, struct buf *out);

/* Writer: buffers records for one fd. */
struct queue_writer;
struct queue_writer *queue_writer_create(int fd);
/* Append one record; -1 (errno) on a write error or a payload too big. */
int queue_writer_add(struct queue_writer *w, int type, const void *data,
                     size_t len);
int queue_writer_add_str(struct queue_writer *w, int type, const char *s);
/* Bytes written so far (including buffered). */
off_t queue_writer_offset(const struct queue_writer *w);
/* Write out buffered records; -1 (errno) on error. */
int queue_writer_flush(struct queue_writer *w);
/* Free (does not close the fd, does not flush). */
void queue_writer_destroy(struct queue_writer **wp);
/* The fixed-width QREC_SIZE payload for these numbers. */
void queue_size_format(long long content_size, long long nrcpts,
                       struct buf *out);

/* Reader: strict, section-aware. */
enum queue_section { QSEC_ENVELOPE, QSEC_CONTENT, QSEC_END };
struct queue_reader;
struct queue_reader *queue_reader_create(int fd);
void queue_reader_destroy(struct queue_reader **rp);
/* A reader of the content section alone, for delivery agents: fd is
 * positioned (lseek) at the envelope's content_offset, the first record
 * after QREC_CONTENT. It returns the QREC_BLOCK records, then QREC_END,
 * then 0; anything else is corrupt (-1). */
struct queue_reader *queue_reader_create_content(int fd);
/* Read the next record into payload (reset first). Returns 1 (a record:
 * *type, *offset set), 0 (after the end marker), -1 (corrupt: unknown or
 * out-of-place type, bad length, truncated file, data after the end;
 * reason in err; or an I/O error). */
int queue_reader_next(struct queue_reader *r, int *type, struct buf *payload,
                      off_t *offset, struct buf *err);
/* Read and check a whole envelope, stopping after QREC_CONTENT. -1 with the
 * reason in err on any problem (the file belongs in corrupt/). */
int queue_envelope_read(struct queue_reader *r, struct queue_envelope *env,
                        struct buf *err);
/* Free what queue_envelope_read allocated (env itself is the caller's). */
void queue_envelope_free(struct queue_envelope *env);
/* The value of an envelope attribute, or NULL. */
const char *queue_envelope_attr(const struct queue_envelope *env,
                                const char *name);
/* Mark the recipient whose record starts at offset as delivered: one
 * pwrite of the type byte (atomic). Not fsync'ed: the caller decides. */
int queue_mark_done(int fd, off_t offset);

/* Queue IDs: 8 hex digits of seconds, 5 of microseconds, 'Q', the inode
 * in hex: unique while the file exists, sortable by arrival time. */
#define QUEUE_ID_MAX 40
void queue_id_make(char *out, size_t outlen, long long sec, long usec,
                   unsigned long long inode);
/* Is s a well-formed queue ID (safe to use as a file name)? */
bool queue_id_valid(const char *s);
/* The hash subdirectory name (one character) for an ID, for deferred/
 * and the logs. */
char queue_id_hash(const char *id);

/* The queue's directories, relative to queue_directory. */
#define QUEUE_MAILDROP "maildrop"
#define QUEUE_INCOMING "incoming"
#define QUEUE_ACTIVE "active"
#define QUEUE_DEFERRED "deferred"
#define QUEUE_HOLD "hold"
#define QUEUE_CORRUPT "corrupt"
#define QUEUE_BOUNCE "bounce"
#define QUEUE_DEFER "defer"
/* Is this a queue directory whose files are hashed into subdirectories? */
bool queue_dir_hashed(const char *queue);
/* "queue/ID" or "queue/H/ID" for a hashed queue, onto out. */
void queue_path(const char *queue, const char *id, struct buf *out);

#endif
