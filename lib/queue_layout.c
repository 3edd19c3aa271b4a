/*
 * queue_layout.c: creates and repairs the queue directory tree under
 * queue_directory (DESIGN.md: Queue; lib/queue_layout.h has the table of
 * owners and modes). Missing directories are created, existing ones get
 * their mode (and, as root, their owner and group) set back to what the
 * layout says, so a tree damaged by hand is repaired at every start.
 * SECURITY: every directory is opened relative to its parent with
 * O_NOFOLLOW | O_DIRECTORY and changed through that descriptor
 * (fchown/fchmod), so a symlink or a file planted in place of a queue
 * directory is refused instead of followed. When not run as root, owners
 * are left alone (the instance runs as its invoking user).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue_layout.h"
#include "queue_file.h"

/* Who owns a directory (when run as root). */
enum layout_owner {
	LAYOUT_ROOT, /* root:root */
	LAYOUT_MAIL, /* mail_owner:its primary group */
	LAYOUT_MAIL_SETGID, /* mail_owner:setgid_group */
};

static const struct layout_dir {
	const char *name;
	mode_t mode;
	enum layout_owner owner;
} layout_dirs[] = {
    /* Local users write here only through the setgid postdrop. */
    {QUEUE_MAILDROP, 0730, LAYOUT_MAIL_SETGID},
    {QUEUE_INCOMING, 0700, LAYOUT_MAIL},
    {QUEUE_ACTIVE, 0700, LAYOUT_MAIL},
    {QUEUE_DEFERRED, 0700, LAYOUT_MAIL},
    {QUEUE_HOLD, 0700, LAYOUT_MAIL},
    {QUEUE_CORRUPT, 0700, LAYOUT_MAIL},
    {QUEUE_BOUNCE, 0700, LAYOUT_MAIL},
    {QUEUE_DEFER, 0700, LAYOUT_MAIL},
    {"private", 0700, LAYOUT_MAIL},
    /* Trigger sockets: reachable by the postdrop group only. */
    {"public", 0710, LAYOUT_MAIL_SETGID},
    {"pid", 0755, LAYOUT_ROOT},
};

#define LAYOUT_NDIRS (sizeof(layout_dirs) / sizeof(layout_dirs[0]))

struct layout_ids {
	bool as_root;
	uid_t mail_uid;
	gid_t mail_gid, setgid_gid;
};

/* Create (if missing) parent/name, then give it its owner and mode. Returns
 * an open descriptor of the directory, or -1 with the reason in err. */
static int layout_dir_fix(int parent, const char *shown, const char *name,
                          mode_t mode, enum layout_owner owner,
                          const struct layout_ids *ids, struct buf *err)
{
	struct stat st;
	int fd;

	if (mkdirat(parent, name, mode) < 0 && errno != EEXIST) {
		buf_sprintf(err, "mkdir %s: %s", shown, strerror(errno));
		return -1;
	}
	fd = openat(parent, name,
	            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOTDIR || errno == ELOOP)
			buf_sprintf(err, "%s exists and is not a directory",
			            shown);
		else
			buf_sprintf(err, "open %s: %s", shown, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		buf_sprintf(err, "stat %s: %s", shown, strerror(errno));
		close(fd);
		return -1;
	}
	if (ids->as_root) {
		uid_t uid = owner == LAYOUT_ROOT ? 0 : ids->mail_uid;
		gid_t gid = owner == LAYOUT_ROOT          ? 0
		            : owner == LAYOUT_MAIL_SETGID ? ids->setgid_gid
		                                          : ids->mail_gid;
		if ((st.st_uid != uid || st.st_gid != gid) &&
		    fchown(fd, uid, gid) < 0) {
			buf_sprintf(err, "chown %s: %s", shown,
			            strerror(errno));
			close(fd);
			return -1;
		}
	}
	/* Only when it differs: a non-root instance user may not own a
	 * directory it only needs to read. */
	if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0) {
		buf_sprintf(err, "chmod %s: %s", shown, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* As root: the numeric ids of mail_owner and setgid_group. */
static int layout_resolve(struct config *c, struct layout_ids *ids,
                          struct buf *err)
{
	const char *owner = config_str(c, "mail_owner");
	const char *group = config_str(c, "setgid_group");
	struct passwd *pw;
	struct group *gr;

	ids->as_root = geteuid() == 0;
	if (!ids->as_root)
		return 0;
	if ((pw = getpwnam(owner)) == NULL) {
		buf_sprintf(err, "mail_owner: unknown user '%s'", owner);
		return -1;
	}
	ids->mail_uid = pw->pw_uid;
	ids->mail_gid = pw->pw_gid;
	if ((gr = getgrnam(group)) == NULL) {
		buf_sprintf(err, "setgid_group: unknown group '%s'", group);
		return -1;
	}
	ids->setgid_gid = gr->gr_gid;
	return 0;
}

int queue_layout_ensure(struct config *c, struct buf *err)
{
	const char *qdir = config_str(c, "queue_directory");
	struct buf *shown = buf_create(256, 8192);
	struct buf *why = buf_create(256, 8192);
	struct layout_ids ids = {0};
	int qfd = -1, ret = -1;

	if (layout_resolve(c, &ids, why) < 0)
		goto out;
	if (*qdir != '/') {
		buf_sprintf(why, "queue_directory '%s' is not an absolute path",
		            qdir);
		goto out;
	}
	/* queue_directory itself: created if missing, never re-owned (it
	 * may be shared with things the layout does not know about). */
	if (mkdir(qdir, 0755) < 0 && errno != EEXIST) {
		buf_sprintf(why, "mkdir %s: %s", qdir, strerror(errno));
		goto out;
	}
	qfd = open(qdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (qfd < 0) {
		buf_sprintf(why, "open %s: %s", qdir, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < LAYOUT_NDIRS; i++) {
		const struct layout_dir *d = &layout_dirs[i];
		int fd;

		buf_sprintf(shown, "%s/%s", qdir, d->name);
		fd = layout_dir_fix(qfd, buf_str(shown), d->name, d->mode,
		                    d->owner, &ids, why);
		if (fd < 0)
			goto out;
		if (queue_dir_hashed(d->name)) {
			static const char hex[] = "0123456789ABCDEF";
			for (int h = 0; h < 16; h++) {
				char sub[2] = {hex[h], 0};
				int sfd;

				buf_sprintf(shown, "%s/%s/%s", qdir, d->name,
				            sub);
				sfd = layout_dir_fix(fd, buf_str(shown), sub,
				                     d->mode, d->owner, &ids,
				                     why);
				if (sfd < 0) {
					close(fd);
					goto out;
				}
				close(sfd);
			}
		}
		close(fd);
	}
	ret = 0;
out:
	if (ret < 0)
		buf_set_str(err, buf_str(why));
	if (qfd >= 0)
		close(qfd);
	buf_destroy(&shown);
	buf_destroy(&why);
	return ret;
}
