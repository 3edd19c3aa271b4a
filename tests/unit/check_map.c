/* check_map.c: unit tests for lib/map*.c: building lmdb tables from text
 * in a temporary directory, lookups with case folding, rebuilds noticed by
 * an open map (also under a concurrent rebuilder), static/inline specs,
 * regexp tables, and hostile inputs (bad specs, overlong keys and lines,
 * NUL bytes, bad patterns) in the tables. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "map.h"
#include "unit_tmp.h"

static char tmpdir[256];

static void setup(void)
{
	unit_tmpdir_make(tmpdir, sizeof(tmpdir), "map");
}

static void teardown(void)
{
	unit_tmpdir_remove(tmpdir);
}

/* tmpdir/name into out. */
static const char *tpath(char *out, size_t len, const char *name)
{
	ck_assert_int_lt(snprintf(out, len, "%s/%s", tmpdir, name), (int)len);
	return out;
}

static void write_bytes(const char *path, const char *data, size_t len)
{
	char tmp[512];
	FILE *fp;

	/* Write and rename, so a concurrent reader of the text never sees
	 * half a file. */
	snprintf(tmp, sizeof(tmp), "%s.w%ld", path, (long)getpid());
	fp = fopen(tmp, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
}

static void write_text(const char *path, const char *text)
{
	write_bytes(path, text, strlen(text));
}

/* A string of n copies of c (static storage, reused). */
static const char *repeat(int c, size_t n)
{
	static char *s;

	free(s);
	s = malloc(n + 1);
	memset(s, c, n);
	s[n] = 0;
	return s;
}

/* Build "name" from text; returns the entry count (-1: error in err). */
static long build(const char *name, const char *text, struct buf *err)
{
	char p[512];

	write_text(tpath(p, sizeof(p), name), text);
	return map_build_text(p, err);
}

static struct map *open_lmdb(const char *name)
{
	struct buf *err = buf_create(0, 0);
	char spec[600];
	struct map *m;

	snprintf(spec, sizeof(spec), "lmdb:%s/%s", tmpdir, name);
	m = map_open(spec, err);
	ck_assert_msg(m != NULL, "map_open %s: %s", spec, buf_str(err));
	ck_assert_str_eq(map_spec(m), spec);
	buf_destroy(&err);
	return m;
}

/* map_build_text on hostile and ordinary source files. */
static const struct {
	const char *text;
	size_t len; /* 0: strlen(text) */
	long want; /* entries, or -1 */
	const char *errpart; /* on error; else a key to look up */
	const char *value; /* its value */
} build_cases[] = {
    {"a 1\nb 2\n", 0, 2, "B", "2"},
    {"# comment\n\n   \nA  Value One  \n", 0, 1, "a", "Value One"},
    {"a 1\r\nb 2\r\n", 0, 2, "a", "1"},
    {"no-newline-at-end value", 0, 1, "no-newline-at-end", "value"},
    {"", 0, 0, NULL, NULL},
    {"a 1\nA 2\n", 0, 1, "a", "2"}, /* warns; the last one wins */
    {"key\n  value on next line\n", 0, 1, "key", "value on next line"},
    {"k v\n  # comment, not continuation\n", 0, 1, "k", "v"},
    {"a\n", 0, -1, ":1: missing value", NULL},
    {"a 1\n# c\nb\n", 0, -1, ":3: missing value", NULL},
    {"  indented first\n", 0, -1, ":1: continuation line", NULL},
    {"a 1\nb\0c 2\n", 10, -1, ":2: NUL byte", NULL},
    {NULL, 0, -1, ":2: key too long", NULL}, /* 600-byte key */
    {NULL, 0, -1, ":1: line longer than", NULL}, /* 70000 bytes */
};

START_TEST(test_build_text)
{
	struct buf *err = buf_create(0, 0);
	char p[512], lp[512];
	struct buf *text = buf_create(0, 0);
	long n;

	if (build_cases[_i].text) {
		size_t len = build_cases[_i].len ? build_cases[_i].len
		                                 : strlen(build_cases[_i].text);
		write_bytes(tpath(p, sizeof(p), "t"), build_cases[_i].text,
		            len);
	} else if (strstr(build_cases[_i].errpart, "key too long")) {
		buf_printf(text, "ok 1\n%s value\n", repeat('k', 600));
		write_text(tpath(p, sizeof(p), "t"), buf_str(text));
	} else {
		buf_printf(text, "k %s\n", repeat('v', 70000));
		write_text(tpath(p, sizeof(p), "t"), buf_str(text));
	}
	n = map_build_text(p, err);
	ck_assert_msg(n == build_cases[_i].want, "case %d: got %ld (%s)", _i, n,
	              buf_str(err));
	tpath(lp, sizeof(lp), "t.lmdb");
	if (n < 0) {
		ck_assert_msg(strstr(buf_str(err), build_cases[_i].errpart),
		              "case %d: error '%s'", _i, buf_str(err));
		ck_assert_msg(strncmp(buf_str(err), p, strlen(p)) == 0,
		              "error names the file: %s", buf_str(err));
		/* No table appears, and no temporary file is left. */
		ck_assert_int_eq(access(lp, F_OK), -1);
	} else {
		ck_assert_int_eq(access(lp, F_OK), 0);
	}
	if (n >= 0 && build_cases[_i].errpart) {
		struct buf *v = buf_create(0, 0);
		struct map *m = open_lmdb("t");

		ck_assert_int_eq(map_lookup(m, build_cases[_i].errpart, v, err),
		                 1);
		ck_assert_str_eq(buf_str(v), build_cases[_i].value);
		map_close(&m);
		buf_destroy(&v);
	}
	buf_destroy(&text);
	buf_destroy(&err);
}
END_TEST

static const char lookup_text[] = "# aliases\n"
                                  "ALICE@Example.COM   alice@mailhost\n"
                                  "bob bob@one,\n"
                                  "    bob@two\n"
                                  "\tbob@three\n"
                                  "empty-after-trim \t x \n"
                                  "dollar $1 $$ literal\n";

static const struct {
	const char *key;
	int want;
	const char *value;
} lookup_cases[] = {
    {"alice@example.com", 1, "alice@mailhost"},
    {"ALICE@EXAMPLE.COM", 1, "alice@mailhost"},
    {"Alice@Example.Com", 1, "alice@mailhost"},
    {"bob", 1, "bob@one, bob@two bob@three"},
    {"empty-after-trim", 1, "x"},
    {"dollar", 1, "$1 $$ literal"},
    {"carol", 0, NULL},
    {"alice", 0, NULL},
    {"", 0, NULL},
    {"bob ", 0, NULL},
    {"bob\n", 0, NULL},
    {"\xff\xfe\x80", 0, NULL},
    {"# aliases", 0, NULL},
};

START_TEST(test_lmdb_lookup)
{
	struct buf *err = buf_create(0, 0), *v = buf_create(0, 0);
	struct map *m;
	int r;

	ck_assert_int_eq(build("aliases", lookup_text, err), 4);
	m = open_lmdb("aliases");
	buf_set_str(v, "untouched");
	r = map_lookup(m, lookup_cases[_i].key, v, err);
	ck_assert_msg(r == lookup_cases[_i].want, "key '%s': %d (%s)",
	              lookup_cases[_i].key, r, buf_str(err));
	if (r == 1)
		ck_assert_str_eq(buf_str(v), lookup_cases[_i].value);
	else
		ck_assert_str_eq(buf_str(v), "untouched");
	map_close(&m);
	ck_assert_ptr_null(m);
	buf_destroy(&v);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_lmdb_hostile_keys)
{
	struct buf *err = buf_create(0, 0), *v = buf_create(0, 0);
	struct map *m;

	ck_assert_int_eq(build("t", "a 1\n", err), 1);
	m = open_lmdb("t");
	/* Past LMDB's key size but within MAP_KEY_MAX: cannot be stored,
	 * so simply not found. */
	ck_assert_int_eq(map_lookup(m, repeat('a', 600), v, err), 0);
	ck_assert_int_eq(map_lookup(m, repeat('a', 4096), v, err), 0);
	/* Past MAP_KEY_MAX: refused. */
	buf_reset(err);
	ck_assert_int_eq(map_lookup(m, repeat('a', 4097), v, err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "key longer than"));
	ck_assert_int_eq(map_lookup(m, repeat('A', 100000), v, err), -1);
	/* Still usable. */
	ck_assert_int_eq(map_lookup(m, "A", v, err), 1);
	ck_assert_str_eq(buf_str(v), "1");
	map_close(&m);
	buf_destroy(&v);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_value_too_big_for_buffer)
{
	struct buf *err = buf_create(0, 0), *v = buf_create(0, 4);
	struct map *m;

	ck_assert_int_eq(build("t", "a 1234\nb 12345\n", err), 2);
	m = open_lmdb("t");
	ck_assert_int_eq(map_lookup(m, "a", v, err), 1);
	ck_assert_str_eq(buf_str(v), "1234");
	ck_assert_int_eq(map_lookup(m, "b", v, err), -1);
	ck_assert_str_eq(buf_str(v), "1234");
	ck_assert_uint_gt(buf_len(err), 0);
	map_close(&m);
	buf_destroy(&v);
	buf_destroy(&err);
}
END_TEST

/* 100,000 entries built in one go, then sampled. */
START_TEST(test_lmdb_big)
{
	struct buf *err = buf_create(0, 0), *v = buf_create(0, 0);
	struct buf *text = buf_create(0, 0);
	struct timespec t0, t1;
	char key[64], want[64];
	struct map *m;
	long n;

	for (int i = 0; i < 100000; i++)
		buf_printf(text, "User%06d@Example.com relay:[host%d]:%d\n", i,
		           i % 97, i);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = build("big", buf_str(text), err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_msg(n == 100000, "%ld: %s", n, buf_str(err));
	fprintf(stderr, "check_map: 100000 entries built in %.3f s\n",
	        (double)(t1.tv_sec - t0.tv_sec) +
	            (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	m = open_lmdb("big");
	for (int i = 0; i < 100000; i += 997) {
		snprintf(key, sizeof(key), "USER%06d@EXAMPLE.COM", i);
		snprintf(want, sizeof(want), "relay:[host%d]:%d", i % 97, i);
		ck_assert_int_eq(map_lookup(m, key, v, err), 1);
		ck_assert_str_eq(buf_str(v), want);
	}
	ck_assert_int_eq(map_lookup(m, "user100000@example.com", v, err), 0);
	ck_assert_int_eq(map_lookup(m, "user099999@example.com", v, err), 1);
	map_close(&m);
	buf_destroy(&text);
	buf_destroy(&v);
	buf_destroy(&err);
}
END_TEST

/* Values big enough to pass the builder's first map size: it must grow
 * and replay, not fail. */
START_TEST(test_builder_grows)
{
	struct buf *err = buf_create(0, 0), *v = buf_create(0, 0);
	struct map_builder *b;
	char p[512], key[32];
	const char *big = repeat('x', 1024 * 1024);
	struct map *m;

	b = map_builder_create(tpath(p, sizeof(p), "grow"), err);
	ck_assert_msg(b != NULL, "%s", buf_str(err));
	for (int i = 0; i < 48; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_msg(map_builder_add(b, key, big, err) == 0, "%s",
		              buf_str(err));
	}
	ck_assert_int_eq(map_builder_commit(&b, err), 0);
	ck_assert_ptr_null(b);
	m = open_lmdb("grow");
	ck_assert_int_eq(map_lookup(m, "k0", v, err), 1);
	ck_assert_uint_eq(buf_len(v), 1024 * 1024);
	ck_assert_int_eq(map_lookup(m, "K47", v, err), 1);
	ck_assert_uint_eq(buf_len(v), 1024 * 1024);
	map_close(&m);
	buf_destroy(&v);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_builder_api)
{
	struct buf *err = buf_create(0, 0), *v = buf_create(0, 0);
	struct map_builder *b;
	char p[512], lp[512];
	struct map *m;
	DIR *d;
	struct dirent *e;
	int files = 0;

	tpath(p, sizeof(p), "api");
	tpath(lp, sizeof(lp), "api.lmdb");
	/* Abort leaves nothing behind. */
	b = map_builder_create(p, err);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(map_builder_add(b, "k", "v", err), 0);
	map_builder_abort(&b);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(access(lp, F_OK), -1);
	d = opendir(tmpdir);
	while ((e = readdir(d)) != NULL)
		files += e->d_name[0] != '.';
	closedir(d);
	ck_assert_int_eq(files, 0);

	b = map_builder_create(p, err);
	ck_assert_int_eq(map_builder_add(b, "", "v", err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "empty key"));
	ck_assert_int_eq(map_builder_add(b, repeat('k', 512), "v", err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "key too long"));
	/* A refused key leaves the builder usable. */
	ck_assert_int_eq(map_builder_add(b, "Key", "first", err), 0);
	ck_assert_int_eq(map_builder_add(b, "KEY", "second", err), 0);
	ck_assert_int_eq(map_builder_add(b, "empty", "", err), 0);
	ck_assert_int_eq(map_builder_add(b, repeat('k', 511), "max", err), 0);
	ck_assert_int_eq(map_builder_commit(&b, err), 0);
	m = open_lmdb("api");
	ck_assert_int_eq(map_lookup(m, "key", v, err), 1);
	ck_assert_str_eq(buf_str(v), "second");
	ck_assert_int_eq(map_lookup(m, "empty", v, err), 1);
	ck_assert_str_eq(buf_str(v), "");
	ck_assert_int_eq(map_lookup(m, repeat('K', 511), v, err), 1);
	ck_assert_str_eq(buf_str(v), "max");
	map_close(&m);
	buf_destroy(&v);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_build_copies_mode)
{
	struct buf *err = buf_create(0, 0);
	char p[512], lp[512];
	struct stat st;

	tpath(p, sizeof(p), "secret");
	write_text(p, "user password\n");
	ck_assert_int_eq(chmod(p, 0640), 0);
	ck_assert_int_eq(map_build_text(p, err), 1);
	ck_assert_int_eq(stat(tpath(lp, sizeof(lp), "secret.lmdb"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(chmod(p, 0600), 0);
	ck_assert_int_eq(map_build_text(p, err), 1);
	ck_assert_int_eq(stat(lp, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_build_missing_source)
{
	struct buf *err = buf_create(0, 0);
	char p[512];

	ck_assert_int_eq(map_build_text(tpath(p, sizeof(p), "nope"), err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "No such file"));
	buf_destroy(&err);
}
END_TEST

/* A rebuild is seen by the next lookup of an open map, even within the
 * same second (the rename gives a new inode). */
START_TEST(test_lmdb_rebuild_noticed)
{
	struct buf *err = buf_create(0, 0), *v = buf_create(0, 0);
	char p[512];
	struct map *m;

	ck_assert_int_eq(build("t", "k old\ngone 1\n", err), 2);
	m = open_lmdb("t");
	ck_assert_int_eq(map_lookup(m, "k", v, err), 1);
	ck_assert_str_eq(buf_str(v), "old");
	ck_assert_int_eq(build("t", "k new\n", err), 1);
	ck_assert_int_eq(map_lookup(m, "k", v, err), 1);
	ck_assert_str_eq(buf_str(v), "new");
	ck_assert_int_eq(map_lookup(m, "gone", v, err), 0);
	ck_assert_int_eq(build("t", "k newer\n", err), 1);
	ck_assert_int_eq(map_lookup(m, "K", v, err), 1);
	ck_assert_str_eq(buf_str(v), "newer");
	/* The table removed by hand: keep serving what is open. */
	ck_assert_int_eq(unlink(tpath(p, sizeof(p), "t.lmdb")), 0);
	ck_assert_int_eq(map_lookup(m, "k", v, err), 1);
	ck_assert_str_eq(buf_str(v), "newer");
	/* A garbage file renamed into place: the lookup fails, the next one
	 * after a good rebuild works again. */
	write_text(p,
	           "this is not an lmdb file, just text padding it out.....");
	ck_assert_int_eq(map_lookup(m, "k", v, err), -1);
	ck_assert_uint_gt(buf_len(err), 0);
	ck_assert_int_eq(build("t", "k fixed\n", err), 1);
	ck_assert_int_eq(map_lookup(m, "k", v, err), 1);
	ck_assert_str_eq(buf_str(v), "fixed");
	map_close(&m);
	buf_destroy(&v);
	buf_destroy(&err);
}
END_TEST

/* A child rebuilds the table 20 times while we look up: every lookup finds
 * the key with an old or a new value, never an error. */
START_TEST(test_lmdb_concurrent_rebuild)
{
	struct buf *err = buf_create(0, 0), *v = buf_create(0, 0);
	struct buf *text = buf_create(0, 0);
	struct map *m;
	int status, lookups = 0, seen = 0;
	char last[32] = "";
	pid_t pid;

	for (int i = 0; i < 2000; i++)
		buf_printf(text, "filler%d x%d\n", i, i);
	buf_append_str(text, "k v-initial\n");
	ck_assert_int_eq(build("t", buf_str(text), err), 2001);
	m = open_lmdb("t");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (int round = 0; round < 20; round++) {
			buf_truncate(text,
			             buf_len(text) - strlen("k v-initial\n"));
			buf_printf(text, "k v-%02d\n", round);
			if (build("t", buf_str(text), err) != 2001)
				_exit(1);
			buf_truncate(text, buf_len(text) - strlen("k v-00\n"));
			buf_append_str(text, "k v-initial\n");
			usleep(2000);
		}
		_exit(0);
	}
	for (;;) {
		int r = map_lookup(m, "K", v, err);

		ck_assert_msg(r == 1, "lookup %d: %d (%s)", lookups, r,
		              buf_str(err));
		ck_assert_msg(strncmp(buf_str(v), "v-", 2) == 0, "value '%s'",
		              buf_str(v));
		if (strcmp(buf_str(v), last) != 0) {
			seen++;
			snprintf(last, sizeof(last), "%s", buf_str(v));
		}
		if (++lookups >= 2000 && waitpid(pid, &status, WNOHANG) == pid)
			break;
		ck_assert_int_lt(lookups, 50000000);
	}
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fprintf(stderr,
	        "check_map: %d lookups during 20 rebuilds saw %d values\n",
	        lookups, seen);
	ck_assert_int_eq(map_lookup(m, "k", v, err), 1);
	ck_assert_str_eq(buf_str(v), "v-19");
	map_close(&m);
	buf_destroy(&text);
	buf_destroy(&v);
	buf_destroy(&err);
}
END_TEST

/* Specs map_open must refuse, with part of the reason. */
static const struct {
	const char *spec;
	const char *errpart;
} bad_specs[] = {
    {"nosuch:x", "unsupported map type"},
    {"LMDB:/x", "unsupported map type"},
    {"noco1on", "expected type:name"},
    {":x", "expected type:name"},
    {"", "expected type:name"},
    {"lmdb:", "missing file name"},
    {"lmdb:/nonexistent/posthorn/table", "No such file"},
    {"inline:{", "missing closing '}'"},
    {"inline:{a=1", "missing closing '}'"},
    {"inline:{a=1, {b=2}", "missing closing '}'"},
    {"inline:{a=1, {b=2", "missing '}'"},
    {"inline:a=1", "enclosed in braces"},
    {"inline:", "enclosed in braces"},
    {"inline:{a}", "missing '='"},
    {"inline:{a=1 b}", "missing '='"},
    {"inline:{ {no equals} }", "missing '='"},
    {"inline:{=1}", "empty key"},
    {"inline:{a=1} junk", "text after"},
    {"static:{abc", "missing closing '}'"},
    {"regexp:", "missing file name"},
    {"regexp:/nonexistent/posthorn/regexp", "No such file"},
};

START_TEST(test_bad_spec)
{
	struct buf *err = buf_create(0, 0);
	struct map *m = map_open(bad_specs[_i].spec, err);

	ck_assert_msg(m == NULL, "spec '%s' opened", bad_specs[_i].spec);
	ck_assert_msg(strstr(buf_str(err), bad_specs[_i].errpart) != NULL,
	              "spec '%s': error '%s'", bad_specs[_i].spec,
	              buf_str(err));
	buf_destroy(&err);
}
END_TEST

START_TEST(test_spec_too_long)
{
	struct buf *err = buf_create(0, 0);
	struct buf *spec = buf_create(0, 0);

	buf_append_str(spec, "static:");
	buf_append_str(spec, repeat('x', 70000));
	ck_assert_ptr_null(map_open(buf_str(spec), err));
	ck_assert_ptr_nonnull(strstr(buf_str(err), "longer than"));
	buf_destroy(&spec);
	buf_destroy(&err);
}
END_TEST

/* static: and inline: lookups. */
static const struct {
	const char *spec, *key;
	int want;
	const char *value;
} spec_cases[] = {
    {"static:relay", "anything", 1, "relay"},
    {"static:relay", "", 1, "relay"},
    {"static:", "x", 1, ""},
    {"static:{ text with spaces }", "x", 1, "text with spaces"},
    {"static:a b:c", "x", 1, "a b:c"},
    {"inline:{a=1, b=2}", "a", 1, "1"},
    {"inline:{a=1, b=2}", "B", 1, "2"},
    {"inline:{a=1, b=2}", "c", 0, NULL},
    {"inline:{a=1,b=2,,c=3}", "c", 1, "3"},
    {"inline:{a=1 b=2}", "b", 1, "2"},
    {"inline:{ Key = Value }", "KEY", 1, "Value"},
    {" inline:{x=y}", "x", -2, NULL}, /* no type " inline" */
    {"inline: { x=y } ", "X", 1, "y"},
    {"inline:{ a=1, { b = text with, commas and spaces } , c=3 }", "b", 1,
     "text with, commas and spaces"},
    {"inline:{ a=1, { b = text with, commas and spaces } , c=3 }", "c", 1, "3"},
    {"inline:{ {k = {nested} ok} }", "k", 1, "{nested} ok"},
    {"inline:{ {k=} }", "k", 1, ""},
    {"inline:{a=, b=2}", "a", 1, ""},
    {"inline:{A=1, a=2}", "a", 1, "2"},
    {"inline:{}", "a", 0, NULL},
    {"inline:{ }", "", 0, NULL},
    {"inline:{user@Example.COM=ok}", "USER@example.com", 1, "ok"},
};

START_TEST(test_spec_lookup)
{
	struct buf *err = buf_create(0, 0), *v = buf_create(0, 0);
	struct map *m = map_open(spec_cases[_i].spec, err);
	int r;

	if (spec_cases[_i].want == -2) {
		ck_assert_ptr_null(m);
		buf_destroy(&v);
		buf_destroy(&err);
		return;
	}
	ck_assert_msg(m != NULL, "'%s': %s", spec_cases[_i].spec, buf_str(err));
	r = map_lookup(m, spec_cases[_i].key, v, err);
	ck_assert_msg(r == spec_cases[_i].want, "'%s' key '%s': %d",
	              spec_cases[_i].spec, spec_cases[_i].key, r);
	if (r == 1)
		ck_assert_str_eq(buf_str(v), spec_cases[_i].value);
	ck_assert_int_eq(map_lookup(m, repeat('a', 5000), v, err), -1);
	map_close(&m);
	buf_destroy(&v);
	buf_destroy(&err);
}
END_TEST

/* regexp: lookups. */
static const struct {
	const char *text, *key;
	int want;
	const char *value;
} re_cases[] = {
    {"/^(.*)@example\\.com$/ local:$1\n", "Bob@EXAMPLE.com", 1, "local:Bob"},
    {"/^(.*)@example\\.com$/ local:$1\n", "bob@example.org", 0, NULL},
    {"/^a/ ci\n", "ABC", 1, "ci"},
    {"/^a/i cs\n", "ABC", 0, NULL},
    {"/^a/i cs\n", "abc", 1, "cs"},
    {"!/^ok/ bad\n", "nope", 1, "bad"},
    {"!/^ok/ bad\n", "okay", 0, NULL},
    {"/(a)(b)?/ [$1][${2}][$$][${1}]\n", "xa", 1, "[a][][$][a]"},
    {"/(a)(b)/ $2$1\n", "ab", 1, "ba"},
    {"/x/ first\n/x/ second\n", "x", 1, "first"},
    {"# comment\n\n/^k/ long\n  value\n", "k", 1, "long value"},
    {"|a/b| pipe\n", "A/B", 1, "pipe"},
    {"/a\\/b/ escaped\n", "a/b", 1, "escaped"},
    {"%^(x+)$% percent $1\n", "xxx", 1, "percent xxx"},
    {"#^(x+)$# comment\n", "xxx", 0, NULL}, /* '#' starts a comment */
    {"if /example/\n/^x/ inside\nendif\n/./ outside\n", "x@example", 1,
     "inside"},
    {"if /example/\n/^x/ inside\nendif\n/./ outside\n", "x@other", 1,
     "outside"},
    {"if !/example/\n/./ not-example\nendif\n", "a@example", 0, NULL},
    {"if /a/\nif /b/\n/c/ abc\nendif\n/./ a-only\nendif\n", "ac", 1, "a-only"},
    {"if /a/\nif /b/\n/c/ abc\nendif\n/./ a-only\nendif\n", "abc", 1, "abc"},
    {"/^(.*)$/ $1$1$1$1\n", "", 1, ""},
    {"/a|b/ alt\n", "b", 1, "alt"},
    {"/a.b/m dot\n", "a\nb", 0, NULL},
    {"/a.b/ dot\n", "a\nb", 1, "dot"},
};

static struct map *open_regexp(const char *text, struct buf *err)
{
	char p[512], spec[600];

	write_text(tpath(p, sizeof(p), "re"), text);
	snprintf(spec, sizeof(spec), "regexp:%s", p);
	return map_open(spec, err);
}

START_TEST(test_regexp_lookup)
{
	struct buf *err = buf_create(0, 0), *v = buf_create(0, 0);
	struct map *m = open_regexp(re_cases[_i].text, err);
	int r;

	ck_assert_msg(m != NULL, "case %d: %s", _i, buf_str(err));
	r = map_lookup(m, re_cases[_i].key, v, err);
	ck_assert_msg(r == re_cases[_i].want, "case %d key '%s': %d (%s)", _i,
	              re_cases[_i].key, r, buf_str(err));
	if (r == 1)
		ck_assert_str_eq(buf_str(v), re_cases[_i].value);
	map_close(&m);
	buf_destroy(&v);
	buf_destroy(&err);
}
END_TEST

/* regexp: files map_open must refuse. */
static const struct {
	const char *text;
	const char *errpart;
} re_bad[] = {
    {"/(/ x\n", ":1: bad pattern"},
    {"/a[/ x\n", ":1: bad pattern"},
    {"# c\nabc x\n", ":2: missing pattern delimiter"},
    {"/abc x\n", ":1: missing closing delimiter '/'"},
    {"/(a)/ $9\n", ":1: $9 refers to a group"},
    {"/(a)(b)/ ${3}\n", ":1: $3 refers to a group"},
    {"/a/ $x\n", ":1: bad '$'"},
    {"/a/ cost $\n", ":1: bad '$'"},
    {"/a/ ${10}\n", ":1: bad '$'"},
    {"/a/ $0\n", ":1: bad '$'"},
    {"!/(a)/ $1\n", ":1: $1 in the result of a negated"},
    {"/a/q x\n", ":1: unknown pattern flag 'q'"},
    {"/a/\n", ":1: missing result"},
    {"endif\n", ":1: endif without if"},
    {"if /a/\n/b/ c\n", "missing endif for the if on line 1"},
    {"if /a/ junk\nendif\n", ":1: text after the if"},
    {"endif junk\n", ":1: text after endif"},
    {"  /a/ x\n", ":1: continuation line"},
    {"/a/ x\n/b\0/ y\n", ":2: NUL byte"},
    {NULL, ":1: line longer than"},
};

START_TEST(test_regexp_bad)
{
	struct buf *err = buf_create(0, 0), *text = buf_create(0, 0);
	char p[512], spec[600];
	struct map *m;

	tpath(p, sizeof(p), "re");
	if (re_bad[_i].text == NULL) {
		buf_printf(text, "/%s/ x\n", repeat('a', 70000));
		write_text(p, buf_str(text));
	} else if (strstr(re_bad[_i].errpart, "NUL")) {
		write_bytes(p, re_bad[_i].text, 13);
	} else {
		write_text(p, re_bad[_i].text);
	}
	snprintf(spec, sizeof(spec), "regexp:%s", p);
	m = map_open(spec, err);
	ck_assert_msg(m == NULL, "case %d opened", _i);
	ck_assert_msg(strstr(buf_str(err), re_bad[_i].errpart) != NULL,
	              "case %d: error '%s'", _i, buf_str(err));
	buf_destroy(&text);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_regexp_result_cap)
{
	struct buf *err = buf_create(0, 0), *v = buf_create(0, 0);
	struct buf *text = buf_create(0, 0);
	struct map *m;

	/* 30000 references to a 4 KiB group: 120 MB if unbounded. */
	buf_append_str(text, "/^(.*)$/ ");
	for (int i = 0; i < 30000; i++)
		buf_append_str(text, "$1");
	buf_append_char(text, '\n');
	m = open_regexp(buf_str(text), err);
	ck_assert_msg(m != NULL, "%s", buf_str(err));
	buf_set_str(v, "untouched");
	ck_assert_int_eq(map_lookup(m, repeat('z', 4096), v, err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "result longer than"));
	ck_assert_str_eq(buf_str(v), "untouched");
	ck_assert_int_eq(map_lookup(m, "ab", v, err), 1);
	ck_assert_uint_eq(buf_len(v), 60000);
	map_close(&m);
	buf_destroy(&text);
	buf_destroy(&v);
	buf_destroy(&err);
}
END_TEST

Suite *map_suite(void)
{
	Suite *s = suite_create("map");
	TCase *tc = tcase_create("core");

	/* The 100,000-entry build and the concurrent rebuild need more than
	 * Check's default 4 s under the sanitizers. */
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_build_text, 0,
	                    sizeof(build_cases) / sizeof(build_cases[0]));
	tcase_add_loop_test(tc, test_lmdb_lookup, 0,
	                    sizeof(lookup_cases) / sizeof(lookup_cases[0]));
	tcase_add_test(tc, test_lmdb_hostile_keys);
	tcase_add_test(tc, test_value_too_big_for_buffer);
	tcase_add_test(tc, test_lmdb_big);
	tcase_add_test(tc, test_builder_grows);
	tcase_add_test(tc, test_builder_api);
	tcase_add_test(tc, test_build_copies_mode);
	tcase_add_test(tc, test_build_missing_source);
	tcase_add_test(tc, test_lmdb_rebuild_noticed);
	tcase_add_test(tc, test_lmdb_concurrent_rebuild);
	tcase_add_loop_test(tc, test_bad_spec, 0,
	                    sizeof(bad_specs) / sizeof(bad_specs[0]));
	tcase_add_test(tc, test_spec_too_long);
	tcase_add_loop_test(tc, test_spec_lookup, 0,
	                    sizeof(spec_cases) / sizeof(spec_cases[0]));
	tcase_add_loop_test(tc, test_regexp_lookup, 0,
	                    sizeof(re_cases) / sizeof(re_cases[0]));
	tcase_add_loop_test(tc, test_regexp_bad, 0,
	                    sizeof(re_bad) / sizeof(re_bad[0]));
	tcase_add_test(tc, test_regexp_result_cap);
	suite_add_tcase(s, tc);
	return s;
}
