/*
 * map_lmdb.c: "lmdb:/path/file" tables: the reader (opens /path/file.lmdb),
 * the builder (writes a private temporary file and renames it into place)
 * and map_build_text, the postmap-style compiler from "key value" text.
 *
 * A table file is never modified after it is renamed into place: a rebuild
 * writes a new file and renames it over the old one. So readers open it
 * MDB_RDONLY|MDB_NOLOCK: with nothing ever writing to the file there is no
 * writer to coordinate with, hence no lock file (which would otherwise have
 * to be writable by every reader and would be left behind beside the
 * table). A reader keeps the file it opened (and its inode) until it
 * notices, by stat before each lookup, that the path now names a different
 * file (device, inode, size or mtime differ), and then reopens. The inode
 * check alone is sound: the old file stays open, so its inode number cannot
 * be reused by the new file, even within the same second.
 *
 * Keys are stored folded to ASCII lowercase; values are stored with their
 * length and no trailing NUL.
 *
 * SECURITY: .lmdb files are trusted (built by root with `posthorn map
 * build`); lookup keys are untrusted and bounded by the dispatcher
 * (MAP_KEY_MAX) and by LMDB's maximum key size. Source text is read with
 * the map_text limits; keys past LMDB's maximum key size and values past
 * MAP_VALUE_MAX are refused with a line-numbered error. The built file gets
 * the source file's permission bits (a password map stays private) and,
 * when run as root, its owner and group.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "map.h"
#include "map_impl.h"
#include "mem.h"
#include "msg.h"
#include "str.h"

/* The builder's first map size, and where it gives up doubling it. */
#define LMDB_MAPSIZE_INITIAL ((size_t)32 << 20)
#define LMDB_MAPSIZE_MAX ((size_t)64 << 30)
/* Commit the build transaction after this many bytes of entries; the
 * entries since the last commit are kept to replay them after growing the
 * map (an LMDB transaction that hits MDB_MAP_FULL is lost). */
#define LMDB_BATCH_BYTES ((size_t)4 << 20)

/* The reader. */

struct map_lmdb {
	char *path; /* PATH.lmdb */
	MDB_env *env;
	MDB_txn *txn; /* one read transaction for the file's lifetime */
	MDB_dbi dbi;
	size_t maxkey;
	struct stat st; /* of the file actually opened */
};

/* Open path read-only into ml's env/txn/dbi/st (which are only written on
 * success); -1 with reason. */
static int lmdb_open_file(struct map_lmdb *ml, struct buf *err)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	struct stat st;
	int rc, fd;

	if ((rc = mdb_env_create(&env)) != 0) {
		map_error(err, "lmdb: %s: mdb_env_create: %s", ml->path,
		          mdb_strerror(rc));
		return -1;
	}
	rc = mdb_env_open(env, ml->path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK,
	                  0);
	if (rc != 0) {
		map_error(
		    err, "lmdb: open %s: %s%s", ml->path, mdb_strerror(rc),
		    rc == ENOENT ? " (build it with posthorn map build)" : "");
		goto fail;
	}
	/* Identify the file that was opened, not whatever the path names by
	 * now: a rename between a stat and the open would be missed. */
	if ((rc = mdb_env_get_fd(env, &fd)) != 0 || fstat(fd, &st) < 0) {
		map_error(err, "lmdb: %s: fstat: %s", ml->path,
		          rc ? mdb_strerror(rc) : strerror(errno));
		goto fail;
	}
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0) {
		map_error(err, "lmdb: %s: %s", ml->path, mdb_strerror(rc));
		goto fail;
	}
	if (ml->txn)
		mdb_txn_abort(ml->txn);
	if (ml->env)
		mdb_env_close(ml->env);
	ml->env = env;
	ml->txn = txn;
	ml->dbi = dbi;
	ml->st = st;
	ml->maxkey = (size_t)mdb_env_get_maxkeysize(env);
	return 0;

fail:
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return -1;
}

static void lmdb_close(void *priv)
{
	struct map_lmdb *ml = priv;

	if (ml->txn)
		mdb_txn_abort(ml->txn);
	if (ml->env)
		mdb_env_close(ml->env);
	mem_free(ml->path);
	mem_free(ml);
}

static void *lmdb_open(const char *name, struct buf *err)
{
	struct map_lmdb *ml;
	char path[PATH_MAX];

	if (*name == 0) {
		map_error(err, "lmdb: missing file name (lmdb:/path/file)");
		return NULL;
	}
	if (str_format(path, sizeof(path), "%s.lmdb", name) < 0) {
		map_error(err, "lmdb: file name too long: %.100s...", name);
		return NULL;
	}
	ml = mem_zalloc(sizeof(*ml));
	ml->path = mem_strdup(path);
	if (lmdb_open_file(ml, err) < 0) {
		lmdb_close(ml);
		return NULL;
	}
	return ml;
}

static bool lmdb_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static int lmdb_lookup(void *priv, const char *key, size_t keylen,
                       struct buf *value, struct buf *err)
{
	struct map_lmdb *ml = priv;
	char folded[MAP_KEY_MAX + 1];
	struct stat st;
	MDB_val k, v;
	int rc;

	/* If the path is gone (removed by hand) keep serving the file we
	 * have; if it names a new file, switch, or fail this lookup (and try
	 * again next time) while the old table stays open. */
	if (stat(ml->path, &st) == 0 && !lmdb_same_file(&st, &ml->st) &&
	    lmdb_open_file(ml, err) < 0)
		return -1;
	/* The builder refuses empty and overlong keys: such keys are not in
	 * any table. */
	if (keylen == 0 || keylen > ml->maxkey)
		return 0;
	if (map_fold_key(folded, sizeof(folded), key, keylen) < 0)
		return 0;
	k.mv_size = keylen;
	k.mv_data = folded;
	rc = mdb_get(ml->txn, ml->dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		map_error(err, "lmdb: %s: lookup: %s", ml->path,
		          mdb_strerror(rc));
		return -1;
	}
	if (v.mv_size > MAP_VALUE_MAX) {
		map_error(err, "lmdb: %s: value of %zu bytes is too long",
		          ml->path, v.mv_size);
		return -1;
	}
	return map_set_value(value, v.mv_data, v.mv_size, err) < 0 ? -1 : 1;
}

const struct map_type map_type_lmdb = {
    .name = "lmdb",
    .open = lmdb_open,
    .lookup = lmdb_lookup,
    .close = lmdb_close,
};

/* The builder. */

struct map_builder {
	char *path; /* PATH.lmdb */
	char *tmp; /* PATH.lmdb.tmp.PID */
	MDB_env *env;
	MDB_txn *txn; /* NULL between batches */
	MDB_dbi dbi;
	size_t mapsize;
	size_t maxkey;
	struct buf *key; /* the folded key */
	struct buf *batch; /* entries since the last commit: klen vlen k v */
	bool failed; /* an LMDB error left the builder unusable */
};

static void builder_free(struct map_builder *b)
{
	if (b->txn)
		mdb_txn_abort(b->txn);
	if (b->env)
		mdb_env_close(b->env);
	buf_destroy(&b->key);
	buf_destroy(&b->batch);
	mem_free(b->path);
	mem_free(b->tmp);
	mem_free(b);
}

/* Put one entry; *replaced says whether the key was there already. Returns
 * an LMDB code. */
static int builder_put(struct map_builder *b, const char *key, size_t klen,
                       const char *value, size_t vlen, bool *replaced)
{
	MDB_val k = {klen, (void *)key};
	MDB_val v = {vlen, (void *)value};
	int rc;

	*replaced = false;
	rc = mdb_put(b->txn, b->dbi, &k, &v, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST) {
		*replaced = true;
		v.mv_size = vlen; /* MDB_KEYEXIST returned the old value */
		v.mv_data = (void *)value;
		rc = mdb_put(b->txn, b->dbi, &k, &v, 0);
	}
	return rc;
}

/* Begin a transaction and put every entry of the batch again; *replaced is
 * set for the last one. Returns an LMDB code (the transaction stays open
 * on success). */
static int builder_replay(struct map_builder *b, bool *replaced)
{
	const char *p = buf_str(b->batch), *end = p + buf_len(b->batch);
	size_t klen, vlen;
	int rc;

	*replaced = false;
	if ((rc = mdb_txn_begin(b->env, NULL, 0, &b->txn)) != 0)
		return rc;
	while (p < end) {
		memcpy(&klen, p, sizeof(klen));
		memcpy(&vlen, p + sizeof(klen), sizeof(vlen));
		p += 2 * sizeof(size_t);
		rc = builder_put(b, p, klen, p + klen, vlen, replaced);
		if (rc != 0)
			return rc;
		p += klen + vlen;
	}
	return 0;
}

/* The map filled up and the transaction is gone: double the map size and
 * replay the batch until it fits. -1 with reason. */
static int builder_grow(struct map_builder *b, bool *replaced, struct buf *err)
{
	int rc;

	for (;;) {
		if (b->txn) {
			mdb_txn_abort(b->txn);
			b->txn = NULL;
		}
		if (b->mapsize >= LMDB_MAPSIZE_MAX) {
			map_error(err, "%s: table larger than %zu bytes",
			          b->tmp, LMDB_MAPSIZE_MAX);
			return -1;
		}
		b->mapsize *= 2;
		if ((rc = mdb_env_set_mapsize(b->env, b->mapsize)) != 0) {
			map_error(err, "%s: mdb_env_set_mapsize: %s", b->tmp,
			          mdb_strerror(rc));
			return -1;
		}
		rc = builder_replay(b, replaced);
		if (rc == 0)
			return 0;
		if (rc != MDB_MAP_FULL) {
			map_error(err, "%s: mdb_put: %s", b->tmp,
			          mdb_strerror(rc));
			return -1;
		}
	}
}

/* Commit the current batch (growing the map as needed); afterwards no
 * transaction is open. -1 with reason. */
static int builder_checkpoint(struct map_builder *b, struct buf *err)
{
	bool replaced;
	int rc;

	while (b->txn) {
		rc = mdb_txn_commit(b->txn);
		b->txn = NULL; /* freed by commit, success or not */
		if (rc == MDB_MAP_FULL) {
			if (builder_grow(b, &replaced, err) < 0)
				return -1;
			continue;
		}
		if (rc != 0) {
			map_error(err, "%s: mdb_txn_commit: %s", b->tmp,
			          mdb_strerror(rc));
			return -1;
		}
	}
	buf_reset(b->batch);
	return 0;
}

struct map_builder *map_builder_create(const char *path, struct buf *err)
{
	struct map_builder *b;
	char lmdb[PATH_MAX], tmp[PATH_MAX];
	struct stat src;
	bool have_src;
	mode_t mode;
	int fd, rc;

	if (*path == 0) {
		map_error(err, "map_builder_create: empty path");
		return NULL;
	}
	if (str_format(lmdb, sizeof(lmdb), "%s.lmdb", path) < 0 ||
	    str_format(tmp, sizeof(tmp), "%s.lmdb.tmp.%ld", path,
	               (long)getpid()) < 0) {
		map_error(err, "map_builder_create: path too long: %.100s...",
		          path);
		return NULL;
	}
	have_src = stat(path, &src) == 0 && S_ISREG(src.st_mode);
	mode = have_src ? (src.st_mode & 0666) : 0644;

	/* A leftover of a crashed build by a process with our pid. */
	if (unlink(tmp) < 0 && errno != ENOENT) {
		map_error(err, "map_builder_create: unlink %s: %s", tmp,
		          strerror(errno));
		return NULL;
	}
	/* Created here (not by LMDB) to refuse symlinks and existing files
	 * and to set the mode before any entry is written. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	          0600);
	if (fd < 0) {
		map_error(err, "map_builder_create: create %s: %s", tmp,
		          strerror(errno));
		return NULL;
	}
	if (fchmod(fd, mode) < 0 || (have_src && geteuid() == 0 &&
	                             fchown(fd, src.st_uid, src.st_gid) < 0)) {
		map_error(err, "map_builder_create: %s: set permissions: %s",
		          tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return NULL;
	}
	close(fd);

	b = mem_zalloc(sizeof(*b));
	b->path = mem_strdup(lmdb);
	b->tmp = mem_strdup(tmp);
	b->mapsize = LMDB_MAPSIZE_INITIAL;
	b->key = buf_create(64, MAP_KEY_MAX + 1);
	b->batch = buf_create(4096, LMDB_BATCH_BYTES + MAP_KEY_MAX +
	                                MAP_VALUE_MAX + 64);
	/* NOLOCK: the file is private to this process until the rename.
	 * NOSYNC: intermediate commits need no flush; commit syncs once. */
	if ((rc = mdb_env_create(&b->env)) != 0 ||
	    (rc = mdb_env_set_mapsize(b->env, b->mapsize)) != 0 ||
	    (rc = mdb_env_open(b->env, tmp,
	                       MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC, 0600)) !=
	        0 ||
	    (rc = mdb_txn_begin(b->env, NULL, 0, &b->txn)) != 0 ||
	    (rc = mdb_dbi_open(b->txn, NULL, 0, &b->dbi)) != 0) {
		map_error(err, "map_builder_create: %s: %s", tmp,
		          mdb_strerror(rc));
		map_builder_abort(&b);
		return NULL;
	}
	b->maxkey = (size_t)mdb_env_get_maxkeysize(b->env);
	return b;
}

/* Add one entry; errors read "WHERE: reason". *replaced (may be NULL) says
 * whether the key was already there. */
static int builder_add(struct map_builder *b, const char *key,
                       const char *value, const char *where, bool *replaced,
                       struct buf *err)
{
	size_t klen = strlen(key), vlen = strlen(value);
	bool dup = false;
	int rc;

	if (b->failed) {
		map_error(err, "%s: the build failed earlier", where);
		return -1;
	}
	if (klen == 0) {
		map_error(err, "%s: empty key", where);
		return -1;
	}
	if (klen > b->maxkey) {
		map_error(err, "%s: key too long (%zu bytes, max %zu)", where,
		          klen, b->maxkey);
		return -1;
	}
	if (vlen > MAP_VALUE_MAX) {
		map_error(err, "%s: value too long (%zu bytes, max %d)", where,
		          vlen, MAP_VALUE_MAX);
		return -1;
	}
	buf_reset(b->key);
	if (buf_append(b->key, key, klen) < 0)
		msg_panic("builder_add: key cap below the LMDB key size");
	str_lower(buf_data(b->key));
	if (buf_append(b->batch, &klen, sizeof(klen)) < 0 ||
	    buf_append(b->batch, &vlen, sizeof(vlen)) < 0 ||
	    buf_append(b->batch, buf_str(b->key), klen) < 0 ||
	    buf_append(b->batch, value, vlen) < 0)
		msg_panic("builder_add: batch passed its cap");
	if (b->txn == NULL && (rc = mdb_txn_begin(b->env, NULL, 0, &b->txn))) {
		map_error(err, "%s: %s: mdb_txn_begin: %s", where, b->tmp,
		          mdb_strerror(rc));
		b->failed = true;
		return -1;
	}
	rc = builder_put(b, buf_str(b->key), klen, value, vlen, &dup);
	if (rc == MDB_MAP_FULL) {
		if (builder_grow(b, &dup, err) < 0) {
			b->failed = true;
			return -1;
		}
	} else if (rc != 0) {
		map_error(err, "%s: %s: mdb_put: %s", where, b->tmp,
		          mdb_strerror(rc));
		b->failed = true;
		return -1;
	}
	if (replaced)
		*replaced = dup;
	if (buf_len(b->batch) >= LMDB_BATCH_BYTES &&
	    builder_checkpoint(b, err) < 0) {
		b->failed = true;
		return -1;
	}
	return 0;
}

int map_builder_add(struct map_builder *b, const char *key, const char *value,
                    struct buf *err)
{
	return builder_add(b, key, value, b->path, NULL, err);
}

/* fsync the directory holding path, so the rename is durable. */
static int builder_sync_dir(const char *path, struct buf *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL)
		str_copy(dir, sizeof(dir), ".");
	else if (slash == path)
		str_copy(dir, sizeof(dir), "/");
	else
		str_format(dir, sizeof(dir), "%.*s", (int)(slash - path),
		           path); /* fits: path itself did */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(fd) < 0) {
		map_error(err, "map_builder_commit: fsync %s: %s", dir,
		          strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Commit, sync and rename; *entries (may be NULL) gets the number of keys.
 * Frees the builder either way. */
static int builder_commit(struct map_builder **bp, long *entries,
                          struct buf *err)
{
	struct map_builder *b = *bp;
	MDB_stat ms;
	int rc, fd;

	if (b->failed) {
		map_error(err,
		          "map_builder_commit: %s: the build failed "
		          "earlier",
		          b->path);
		goto fail;
	}
	if (builder_checkpoint(b, err) < 0)
		goto fail;
	if ((rc = mdb_env_stat(b->env, &ms)) != 0 ||
	    (rc = mdb_env_sync(b->env, 1)) != 0) {
		map_error(err, "map_builder_commit: %s: %s", b->tmp,
		          mdb_strerror(rc));
		goto fail;
	}
	mdb_env_close(b->env);
	b->env = NULL;
	/* mdb_env_sync flushed the data already; this also covers the
	 * file's metadata (size) before it becomes visible. */
	if ((fd = open(b->tmp, O_RDONLY | O_CLOEXEC)) < 0 || fsync(fd) < 0) {
		map_error(err, "map_builder_commit: fsync %s: %s", b->tmp,
		          strerror(errno));
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	close(fd);
	if (rename(b->tmp, b->path) < 0) {
		map_error(err, "map_builder_commit: rename %s to %s: %s",
		          b->tmp, b->path, strerror(errno));
		goto fail;
	}
	if (builder_sync_dir(b->path, err) < 0) {
		/* The new table is in place; only durability is in doubt. */
		builder_free(b);
		*bp = NULL;
		return -1;
	}
	if (entries)
		*entries = (long)ms.ms_entries;
	builder_free(b);
	*bp = NULL;
	return 0;

fail:
	map_builder_abort(bp);
	return -1;
}

int map_builder_commit(struct map_builder **bp, struct buf *err)
{
	return builder_commit(bp, NULL, err);
}

void map_builder_abort(struct map_builder **bp)
{
	struct map_builder *b = *bp;

	if (b == NULL)
		return;
	if (b->txn) {
		mdb_txn_abort(b->txn);
		b->txn = NULL;
	}
	if (b->env) {
		mdb_env_close(b->env);
		b->env = NULL;
	}
	unlink(b->tmp);
	builder_free(b);
	*bp = NULL;
}

long map_build_text(const char *path, struct buf *err)
{
	struct map_builder *b = NULL;
	struct map_text *t;
	char where[PATH_MAX + 32];
	long lineno, entries = 0;
	char *line;
	int r;

	if ((t = map_text_open(path, err)) == NULL)
		return -1;
	if ((b = map_builder_create(path, err)) == NULL) {
		map_text_close(&t);
		return -1;
	}
	while ((r = map_text_next(t, &line, &lineno, err)) == 1) {
		char *key = line, *value = line;
		bool dup = false;

		while (*value && !isspace((unsigned char)*value))
			value++;
		if (*value == 0) {
			map_error(err, "%s:%ld: missing value", path, lineno);
			r = -1;
			break;
		}
		*value++ = 0;
		value = str_trim(value);
		(void)str_format(where, sizeof(where), "%s:%ld", path, lineno);
		if (builder_add(b, key, value, where, &dup, err) < 0) {
			r = -1;
			break;
		}
		if (dup)
			msg_warn("%s: duplicate key \"%s\": the last value "
			         "wins",
			         where, key);
	}
	map_text_close(&t);
	if (r < 0) {
		map_builder_abort(&b);
		return -1;
	}
	if (builder_commit(&b, &entries, err) < 0)
		return -1;
	return entries;
}
