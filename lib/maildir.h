/* maildir.h: delivery of one message into a Maildir (the Maildir spec,
 * cr.yp.to/proto/maildir.html; Maildir++ ",S=size" names and quota), used
 * by local. The message is written to tmp/, fsync'ed, linked into new/
 * and new/ is fsync'ed before success is reported (DESIGN.md: durability).
 * The caller runs it with the mailbox owner's privileges. */
#ifndef POSTHORN_MAILDIR_H
#define POSTHORN_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* At most this many directory entries are looked at per quota scan; the
 * usage of a larger mailbox counts only the entries scanned. */
#define MAILDIR_SCAN_MAX 200000

/* The message source: set *data and *len to the next piece; return 1
 * (a piece), 0 (the end) or -1 (reason in err). */
typedef int (*maildir_read_fn)(void *ctx, const char **data, size_t *len,
                               struct buf *err);

struct maildir_delivery {
	const char *dir; /* the Maildir (holding cur, new, tmp) */
	const char *prefix; /* header lines put first ("Delivered-To: ..\n"),
	                      * or NULL */
	maildir_read_fn read; /* the message (LF line ends) */
	void *ctx;
	long long size; /* expected size of the message without the
	                      * prefix, for the quota check */
	long long quota; /* bytes; 0: no quota */
	bool quota_bounce; /* over quota: 5.2.2 instead of 4.2.2 */
};

/* Deliver through an unnamed file in new/ (O_TMPFILE, the default; off
 * by itself where the file system or a missing /proc does not allow it)
 * or, with on false, through tmp/ as the spec describes. */
void maildir_set_tmpfile(bool on);
/* Deliver. Returns 2 (delivered: name holds "new/FILE"), 4 (try again)
 * or 5 (failed for good), with an RFC 3463 code in dsn and the reason
 * ("mailbox full", "maildir .../tmp: No such file or directory") in
 * reason. Nothing is left in tmp/ or new/ unless 2 is returned. */
int maildir_deliver(const struct maildir_delivery *d, struct buf *name,
                    char dsn[16], struct buf *reason);

/* A new unique file name: "SEC.MUSECPpidQn.HOST" (the spec's
 * recommendation; '/', ':' and ',' in the host name are written as \057,
 * \072 and \054). */
void maildir_unique_name(struct buf *out);

/* The bytes held under dir/cur and dir/new: the S= size in a file name
 * where present, else the file's size. -1 (reason in err) when a
 * directory cannot be read. */
int maildir_usage(const char *dir, long long *bytes, struct buf *err);

/* write(2) all len bytes, retrying after EINTR and short writes; -1 with
 * errno set. (Also used by local for files and pipes.) */
int maildir_write_all(int fd, const char *data, size_t len);

#endif
