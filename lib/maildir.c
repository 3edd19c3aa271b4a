/*
 * maildir.c: Maildir delivery (the Maildir spec, cr.yp.to/proto/
 * maildir.html; Maildir++ ",S=size" in the final name) and the quota
 * scan. A message becomes visible only once it is complete and on disk:
 * an unnamed file made in new/ (O_TMPFILE) is written, fsync'ed and
 * linked as new/NAME,S=SIZE without ever replacing a file; where the file
 * system or a missing /proc does not allow that, the spec's way: tmp/NAME
 * is written and fsync'ed, renamed to new/NAME,S=SIZE without replacing
 * (RENAME_NOREPLACE; link + unlink, as the spec says, where the file
 * system lacks it). Then new/ is fsync'ed; only then is success
 * returned. Quota: the sum of the sizes
 * under cur/ and new/ (from the S= field when a name has one, else
 * lstat), at most MAILDIR_SCAN_MAX entries; folders are not counted.
 * Owns the unique-name counter of the process.
 * SECURITY: runs with the mailbox owner's privileges (local switches to
 * vmail_owner first). Files are created O_EXCL|O_NOFOLLOW, mode 0600;
 * names in cur/ and new/ are only parsed for their S= number, bounded.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* renameat2, RENAME_NOREPLACE */
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <stdbool.h>
#include <unistd.h>

#include "maildir.h"
#include "number.h"
#include "str.h"

static unsigned long maildir_counter;

void maildir_unique_name(struct buf *out)
{
	struct timeval tv;
	char host[256];

	gettimeofday(&tv, NULL);
	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == 0)
		str_copy(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = 0;
	buf_sprintf(out, "%lld.M%ldP%ldQ%lu.", (long long)tv.tv_sec,
	            (long)tv.tv_usec, (long)getpid(), ++maildir_counter);
	for (const char *h = host; *h; h++) {
		/* The spec: '/' and ':' as octal escapes; ',' too, since
		 * Maildir++ fields follow a ','. */
		if (*h == '/')
			buf_append_str(out, "\\057");
		else if (*h == ':')
			buf_append_str(out, "\\072");
		else if (*h == ',')
			buf_append_str(out, "\\054");
		else
			buf_append_char(out, *h);
	}
}

/* The S=NNN field of a Maildir++ name, or -1. */
static long long maildir_name_size(const char *name)
{
	const char *s = strstr(name, ",S=");
	char digits[24];
	size_t n = 0;
	long long v;

	if (s == NULL)
		return -1;
	for (s += 3; *s >= '0' && *s <= '9' && n < sizeof(digits) - 1; s++)
		digits[n++] = *s;
	digits[n] = 0;
	if (n == 0 || number_parse(digits, 0, (long long)1 << 50, &v, NULL) < 0)
		return -1;
	return v;
}

/* Add the sizes under dir/sub; *budget counts entries left to look at. */
static int maildir_usage_dir(const char *dir, const char *sub, long long *bytes,
                             long *budget, struct buf *err)
{
	struct buf *path = buf_create(256, 8192);
	struct dirent *e;
	DIR *d;
	int ret = -1;

	if (buf_sprintf(path, "%s/%s", dir, sub) < 0 ||
	    (d = opendir(buf_str(path))) == NULL) {
		buf_sprintf(err, "maildir %s/%s: %s", dir, sub,
		            strerror(errno));
		goto out;
	}
	while (*budget > 0 && (e = readdir(d)) != NULL) {
		long long size;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		(*budget)--;
		if ((size = maildir_name_size(e->d_name)) < 0) {
			/* A file gone meanwhile (expunged) counts nothing. */
			if (fstatat(dirfd(d), e->d_name, &st,
			            AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			size = (long long)st.st_size;
		}
		*bytes += size;
	}
	closedir(d);
	ret = 0;
out:
	buf_destroy(&path);
	return ret;
}

int maildir_usage(const char *dir, long long *bytes, struct buf *err)
{
	long long total = 0;
	long budget = MAILDIR_SCAN_MAX;

	if (maildir_usage_dir(dir, "cur", &total, &budget, err) < 0 ||
	    maildir_usage_dir(dir, "new", &total, &budget, err) < 0)
		return -1;
	*bytes = total;
	return 0;
}

/* The status of a failed write, fsync or close. */
static int maildir_io_status(int error, char dsn[16], struct buf *reason,
                             const char *what)
{
	if (error == EDQUOT) {
		str_copy(dsn, 16, "4.2.2");
		buf_sprintf(reason, "mailbox full: %s: %s", what,
		            strerror(error));
	} else if (error == ENOSPC) {
		str_copy(dsn, 16, "4.3.1");
		buf_sprintf(reason, "mail system full: %s: %s", what,
		            strerror(error));
	} else {
		str_copy(dsn, 16, "4.3.0");
		buf_sprintf(reason, "%s: %s", what, strerror(error));
	}
	return 4;
}

int maildir_write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write the prefix and the message to fd; sets *size. 4 on error. */
static int maildir_copy(const struct maildir_delivery *d, int fd,
                        long long *size, const char *tmp, char dsn[16],
                        struct buf *reason)
{
	const char *data;
	size_t len;
	int r;

	*size = 0;
	if (d->prefix != NULL) {
		len = strlen(d->prefix);
		if (maildir_write_all(fd, d->prefix, len) < 0)
			return maildir_io_status(errno, dsn, reason, tmp);
		*size += (long long)len;
	}
	while ((r = d->read(d->ctx, &data, &len, reason)) == 1) {
		if (maildir_write_all(fd, data, len) < 0)
			return maildir_io_status(errno, dsn, reason, tmp);
		*size += (long long)len;
	}
	if (r < 0) {
		str_copy(dsn, 16, "4.3.0");
		return 4; /* reason set by the source */
	}
	if (fsync(fd) < 0)
		return maildir_io_status(errno, dsn, reason, tmp);
	return 0;
}

/* fsync a directory. */
static int maildir_sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc, saved;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static int maildir_quota(const struct maildir_delivery *d, char dsn[16],
                         struct buf *reason)
{
	long long used;
	long long prefix = d->prefix ? (long long)strlen(d->prefix) : 0;

	if (d->quota <= 0)
		return 0;
	if (maildir_usage(d->dir, &used, reason) < 0) {
		str_copy(dsn, 16, "4.3.0");
		return 4;
	}
	if (used + d->size + prefix <= d->quota)
		return 0;
	buf_sprintf(reason, "mailbox full (%lld of %lld bytes used)", used,
	            d->quota);
	str_copy(dsn, 16, d->quota_bounce ? "5.2.2" : "4.2.2");
	return d->quota_bounce ? 5 : 4;
}

/* fsync new/, or take the file back (the retry delivers again). */
static int maildir_commit(const struct maildir_delivery *d, const char *dst,
                          char dsn[16], struct buf *reason)
{
	struct buf *dir = buf_create(256, 8192);
	int st = 2;

	buf_sprintf(dir, "%s/new", d->dir);
	if (maildir_sync_dir(buf_str(dir)) < 0) {
		st = maildir_io_status(errno, dsn, reason, buf_str(dir));
		unlink(dst);
	}
	buf_destroy(&dir);
	return st;
}

/* Set when this file system cannot make unnamed files in new/. */
static bool maildir_no_tmpfile;

void maildir_set_tmpfile(bool on)
{
	maildir_no_tmpfile = !on;
}

/*
 * Deliver through an unnamed file made in new/ (O_TMPFILE), written and
 * fsync'ed, then given its final name with linkat(), which never
 * replaces a file. Readers see it only when it is whole, as the spec's
 * tmp/ step ensures, but no name is made in tmp/ and taken away again,
 * tmp/ needs no sync and there is no rename between two directories:
 * two disk writes and two directory locks less per message
 * (docs/performance.md). -1 when O_TMPFILE cannot be used (the caller
 * uses tmp/), else the delivery status.
 */
static int maildir_deliver_tmpfile(const struct maildir_delivery *d,
                                   struct buf *name, char dsn[16],
                                   struct buf *reason)
{
	struct buf *unique = buf_create(128, 1024);
	struct buf *dst = buf_create(256, 8192);
	char self[64];
	long long size = 0;
	int fd, st, tries;

	buf_sprintf(dst, "%s/new", d->dir);
	fd = open(buf_str(dst), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)
			maildir_no_tmpfile = true;
		st = maildir_no_tmpfile
		         ? -1
		         : maildir_io_status(errno, dsn, reason, buf_str(dst));
		goto out;
	}
	if ((st = maildir_copy(d, fd, &size, buf_str(dst), dsn, reason)) != 0)
		goto out;
	/* linkat(fd, "", AT_EMPTY_PATH) needs a capability; the /proc
	 * name of the descriptor does not. */
	(void)str_format(self, sizeof(self), "/proc/self/fd/%d", fd);
	for (tries = 0;; tries++) {
		maildir_unique_name(unique);
		if (buf_sprintf(dst, "%s/new/%s,S=%lld", d->dir,
		                buf_str(unique), size) < 0) {
			str_copy(dsn, 16, "5.3.5");
			buf_set_str(reason, "maildir path too long");
			st = 5;
			goto out;
		}
		if (linkat(AT_FDCWD, self, AT_FDCWD, buf_str(dst),
		           AT_SYMLINK_FOLLOW) == 0)
			break;
		if (errno == ENOENT && tries == 0 && access(self, F_OK) < 0) {
			/* No /proc here (a chroot): use tmp/ from now on. */
			maildir_no_tmpfile = true;
			st = -1;
			goto out;
		}
		/* The spec: a name in use means a clock or pid problem;
		 * another counter value is another name. */
		if (errno != EEXIST || tries >= 3) {
			st =
			    maildir_io_status(errno, dsn, reason, buf_str(dst));
			goto out;
		}
	}
	if ((st = maildir_commit(d, buf_str(dst), dsn, reason)) != 2)
		goto out;
	buf_sprintf(name, "new/%s,S=%lld", buf_str(unique), size);
	str_copy(dsn, 16, "2.0.0");
	buf_set_str(reason, "delivered to maildir");
out:
	if (fd >= 0)
		close(fd); /* an unnamed file that was not linked goes away */
	buf_destroy(&unique);
	buf_destroy(&dst);
	return st;
}

int maildir_deliver(const struct maildir_delivery *d, struct buf *name,
                    char dsn[16], struct buf *reason)
{
	struct buf *unique = buf_create(128, 1024);
	struct buf *tmp = buf_create(256, 8192);
	struct buf *dst = buf_create(256, 8192);
	long long size = 0;
	int fd = -1, st, tries;

	buf_reset(reason);
	if ((st = maildir_quota(d, dsn, reason)) != 0)
		goto out;
	if (!maildir_no_tmpfile &&
	    (st = maildir_deliver_tmpfile(d, name, dsn, reason)) >= 0)
		goto out;
	for (tries = 0;; tries++) {
		maildir_unique_name(unique);
		if (buf_sprintf(tmp, "%s/tmp/%s", d->dir, buf_str(unique)) <
		    0) {
			str_copy(dsn, 16, "5.3.5");
			buf_set_str(reason, "maildir path too long");
			st = 5;
			goto out;
		}
		fd = open(buf_str(tmp),
		          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		          0600);
		if (fd >= 0)
			break;
		/* The spec: a name in use means a clock or pid problem;
		 * another counter value is another name. */
		if (errno != EEXIST || tries >= 3) {
			st =
			    maildir_io_status(errno, dsn, reason, buf_str(tmp));
			goto out;
		}
	}
	if ((st = maildir_copy(d, fd, &size, buf_str(tmp), dsn, reason)) != 0)
		goto unlink_tmp;
	if (close(fd) < 0) {
		fd = -1;
		st = maildir_io_status(errno, dsn, reason, buf_str(tmp));
		goto unlink_tmp;
	}
	fd = -1;
	if (buf_sprintf(dst, "%s/new/%s,S=%lld", d->dir, buf_str(unique),
	                size) < 0) {
		str_copy(dsn, 16, "5.3.5");
		buf_set_str(reason, "maildir path too long");
		st = 5;
		goto unlink_tmp;
	}
	/* A rename that never replaces an existing file does what the
	 * spec's link() + unlink() does in one step; file systems without
	 * RENAME_NOREPLACE (EINVAL) get link() + unlink(). */
	if (renameat2(AT_FDCWD, buf_str(tmp), AT_FDCWD, buf_str(dst),
	              RENAME_NOREPLACE) < 0) {
		if (errno != EINVAL && errno != ENOSYS) {
			st =
			    maildir_io_status(errno, dsn, reason, buf_str(dst));
			goto unlink_tmp;
		}
		if (link(buf_str(tmp), buf_str(dst)) < 0) {
			st =
			    maildir_io_status(errno, dsn, reason, buf_str(dst));
			goto unlink_tmp;
		}
		unlink(buf_str(tmp));
	}
	if ((st = maildir_commit(d, buf_str(dst), dsn, reason)) != 2)
		goto out;
	buf_sprintf(name, "new/%s,S=%lld", buf_str(unique), size);
	str_copy(dsn, 16, "2.0.0");
	buf_set_str(reason, "delivered to maildir");
	st = 2;
	goto out;
unlink_tmp:
	if (fd >= 0)
		close(fd);
	unlink(buf_str(tmp));
out:
	buf_destroy(&unique);
	buf_destroy(&tmp);
	buf_destroy(&dst);
	return st;
}
