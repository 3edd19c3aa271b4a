/* check_aliases.c: unit tests for lib/aliases.c: the aliases(5) parser on
 * ordinary and hostile files (continuations, comments, quoting, commands
 * with commas, NUL bytes, over-long lines, names and targets, too many
 * targets, unterminated quotes, bad names), the canonical value form and
 * its round trip through aliases_split, :include: files, and building
 * aliases.lmdb (lookups, first of duplicate names wins, a bad file keeps
 * the old table, size limit, alias_database lists). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aliases.h"
#include "buf.h"
#include "config.h"
#include "map.h"
#include "unit_tmp.h"

static char tmpdir[256];

static void setup(void)
{
	unit_tmpdir_make(tmpdir, sizeof(tmpdir), "aliases");
}

static void teardown(void)
{
	unit_tmpdir_remove(tmpdir);
}

static void write_bytes(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
}

/* Entries as "name=value\n" lines. */
static int collect(void *ctx, const char *name, const char *value, long line)
{
	struct buf *out = ctx;

	buf_printf(out, "%s=%s@%ld\n", name, value, line);
	return 0;
}

/* Targets as "[target]" items. */
static int collect_target(void *ctx, const char *target)
{
	struct buf *out = ctx;

	buf_printf(out, "[%s]", target);
	return 0;
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

/* aliases_parse: text -> entries "name=value@line\n...", or an error
 * containing errpart. */
static const struct {
	const char *text;
	size_t len; /* 0: strlen(text) */
	const char *want; /* NULL: an error is expected */
	const char *errpart;
} parse_cases[] = {
    {"postmaster: root\n", 0, "postmaster=root@1\n", NULL},
    {"# comment\n\n  \nRoot: a@example.com, b\n", 0,
     "root=a@example.com, b@4\n", NULL},
    {"a: b,\n  c\n\t, d\nx: y", 0, "a=b, c, d@1\nx=y@4\n", NULL},
    {"a: b\n  # a comment inside\n  c\n", 0, "a=b, c@1\n", NULL},
    {"a: b c\td\n", 0, "a=b, c, d@1\n", NULL}, /* white space separates */
    {"a:b\r\n", 0, "a=b@1\n", NULL},
    {"a : b\n", 0, "a=b@1\n", NULL},
    /* commands: the rest up to a comma outside quotes, quotes kept */
    {"a: |/usr/bin/prog -x arg, b\n", 0, "a=\"|/usr/bin/prog -x arg\", b@1\n",
     NULL},
    {"a: \"|cmd a,b\", c\n", 0, "a=\"|cmd a,b\", c@1\n", NULL},
    {"a: |cmd \"a,b\" x\n", 0, "a=\"|cmd \\\"a,b\\\" x\"@1\n", NULL},
    {"a: |cmd\n", 0, "a=|cmd@1\n", NULL},
    {"a: /var/log/mail.file, :include:/etc/list\n", 0,
     "a=/var/log/mail.file, :include:/etc/list@1\n", NULL},
    {"a: \"/path with space\"\n", 0, "a=\"/path with space\"@1\n", NULL},
    {"a: \"john doe\"@example.com\n", 0,
     "a=\"\\\"john doe\\\"@example.com\"@1\n", NULL},
    {"\"Quoted Name\": x\n", 0, "quoted name=x@1\n", NULL},
    {"\"a\\\"b\": x\n", 0, "a\"b=x@1\n", NULL},
    {"\"list@host\": x\n", 0, "list@host=x@1\n", NULL},
    {"", 0, "", NULL},
    {"\n\n# only comments\n", 0, "", NULL},
    {"last: line-without-newline", 0, "last=line-without-newline@1\n", NULL},
    /* hostile rows */
    {"  x: y\n", 0, NULL, ":1: continuation line without an entry"},
    {"a b\n", 0, NULL, ":1: missing ':'"},
    {"a\n", 0, NULL, ":1: missing ':'"},
    {"a:\n", 0, NULL, ":1: no targets for alias 'a'"},
    {"a: , ,\n", 0, NULL, ":1: no targets"},
    {": x\n", 0, NULL, ":1: empty alias name"},
    {"\"\": x\n", 0, NULL, ":1: empty alias name"},
    {"a@b.c: x\n", 0, NULL, ":1: alias name 'a@b.c' has a domain"},
    {"a\"b: x\n", 0, NULL, ":1: quote inside an unquoted"},
    {"\"ab: x\n", 0, NULL, ":1: unterminated quoted name"},
    {"a: \"b\n", 0, NULL, ":1: unterminated quoted string"},
    {"a: |cmd \"x\n", 0, NULL, ":1: unterminated quoted string"},
    {"a: b\nc: d\0e\n", 11, NULL, ":2: NUL byte"},
    {"a: b\x01\n", 0, NULL, ":1: control character 0x01"},
    {"\"a\x02\": b\n", 0, NULL, ":1: control character 0x02 in alias name"},
    {"a: |\n", 0, NULL, ":1: empty |command"},
    {"a: |   ,b\n", 0, NULL, ":1: empty |command"},
    {"a: :include:etc/rel\n", 0, NULL, ":include: needs an absolute path"},
    {"a: \"\"\n", 0, NULL, ":1: empty target"},
    {"ok: x\n\nbad\n", 0, NULL, ":3: missing ':'"},
    {"a: b\n  c: d\n  e\n", 0, "a=b, c:, d, e@1\n", NULL},
};

START_TEST(test_parse)
{
	struct buf *out = buf_create(0, 0), *err = buf_create(0, 4096);
	size_t len = parse_cases[_i].len ? parse_cases[_i].len
	                                 : strlen(parse_cases[_i].text);
	int n =
	    aliases_parse(parse_cases[_i].text, len, "f", collect, out, err);

	if (parse_cases[_i].want != NULL) {
		ck_assert_msg(n >= 0, "case %d: %s", _i, buf_str(err));
		ck_assert_str_eq(buf_str(out), parse_cases[_i].want);
	} else {
		ck_assert_int_eq(n, -1);
		ck_assert_msg(strstr(buf_str(err), parse_cases[_i].errpart) !=
		                  NULL,
		              "case %d: error '%s' lacks '%s'", _i,
		              buf_str(err), parse_cases[_i].errpart);
		ck_assert_msg(strncmp(buf_str(err), "f:", 2) == 0,
		              "case %d: no file:line in '%s'", _i,
		              buf_str(err));
	}
	buf_destroy(&out);
	buf_destroy(&err);
}
END_TEST

/* Limits: over-long names, targets, entries and too many targets. */
START_TEST(test_parse_limits)
{
	struct buf *text = buf_create(0, 0), *err = buf_create(0, 4096);

	buf_sprintf(text, "%s: x\n", repeat('n', ALIASES_NAME_MAX + 1));
	ck_assert_int_eq(
	    aliases_parse(buf_str(text), buf_len(text), "f", NULL, NULL, err),
	    -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "alias name longer"));

	buf_sprintf(text, "a: %s\n", repeat('t', ALIASES_TARGET_MAX + 1));
	ck_assert_int_eq(
	    aliases_parse(buf_str(text), buf_len(text), "f", NULL, NULL, err),
	    -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "target longer"));

	buf_sprintf(text, "a: %s\n", repeat('t', ALIASES_TARGET_MAX));
	ck_assert_int_eq(
	    aliases_parse(buf_str(text), buf_len(text), "f", NULL, NULL, err),
	    1);

	buf_sprintf(text, "a: x\n%s\n", repeat(' ', ALIASES_LINE_MAX + 10));
	buf_append_str(text, "  y\n");
	ck_assert_int_eq(
	    aliases_parse(buf_str(text), buf_len(text), "f", NULL, NULL, err),
	    1); /* a white-space-only line is blank */

	buf_sprintf(text, "a: %s\n", repeat('t', ALIASES_LINE_MAX));
	ck_assert_int_eq(
	    aliases_parse(buf_str(text), buf_len(text), "f", NULL, NULL, err),
	    -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "f:1: "));

	buf_set_str(text, "a: x");
	for (int i = 0; i < ALIASES_TARGETS_MAX; i++)
		buf_append_str(text, ",y");
	buf_append_str(text, "\n");
	ck_assert_int_eq(
	    aliases_parse(buf_str(text), buf_len(text), "f", NULL, NULL, err),
	    -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "more than 1000 targets"));

	/* Many entries, a long file. */
	buf_reset(text);
	for (int i = 0; i < 20000; i++)
		buf_printf(text, "name%d: target%d@example.com\n", i, i);
	ck_assert_int_eq(
	    aliases_parse(buf_str(text), buf_len(text), "f", NULL, NULL, err),
	    20000);
	buf_destroy(&text);
	buf_destroy(&err);
}
END_TEST

/* aliases_split on canonical and file forms; round trip of quoting. */
static const struct {
	const char *list;
	const char *want; /* NULL: error */
} split_cases[] = {
    {"a, b", "[a][b]"},
    {"  a ,, b  ", "[a][b]"},
    {"\"|cmd a,b\", x", "[|cmd a,b][x]"},
    {"|cmd a b , x", "[|cmd a b][x]"},
    {"|cmd \"a, b\"", "[|cmd \"a, b\"]"},
    {"\"a\\\\b\"", "[a\\b]"},
    {"\"x\\\"y\"", "[x\"y]"},
    {"\"a b\"@c.d, e", "[\"a b\"@c.d][e]"},
    {"a\"b,c\"d", "[a\"b,c\"d]"},
    {":INCLUDE:/x", "[:INCLUDE:/x]"},
    {"", ""},
    {"\"", NULL},
    {"a, \"b", NULL},
    {"|", NULL},
    {":include:", NULL},
    {"\"\"", NULL},
};

START_TEST(test_split)
{
	struct buf *out = buf_create(0, 0), *err = buf_create(0, 4096);
	int n =
	    aliases_split(split_cases[_i].list, strlen(split_cases[_i].list),
	                  collect_target, out, err);

	if (split_cases[_i].want == NULL) {
		ck_assert_int_eq(n, -1);
		ck_assert_uint_gt(buf_len(err), 0);
	} else {
		ck_assert_msg(n >= 0, "%s", buf_str(err));
		ck_assert_str_eq(buf_str(out), split_cases[_i].want);
	}
	buf_destroy(&out);
	buf_destroy(&err);
}
END_TEST

static const char *const quote_targets[] = {
    "plain",     "user@example.com",
    "|cmd a,b",  "|/bin/echo \"x\\y\"",
    "/a file",   ":include:/x y",
    "\"q\"@d",   "back\\slash",
    "tab\there", "a,b",
    "|x",        "\"",
};

static int one_target(void *ctx, const char *target)
{
	struct buf *out = ctx;

	ck_assert_uint_eq(buf_len(out), 0);
	buf_set_str(out, target);
	return 0;
}

START_TEST(test_quote_roundtrip)
{
	struct buf *q = buf_create(0, 0), *back = buf_create(0, 0);
	struct buf *err = buf_create(0, 4096);
	const char *t = quote_targets[_i];

	ck_assert_int_eq(aliases_quote(t, q), 0);
	/* Tabs are control characters in targets: refused on the way
	 * back, but quoting must still keep them inside one string. */
	if (strchr(t, '\t') != NULL) {
		ck_assert_int_eq(aliases_split(buf_str(q), buf_len(q),
		                               one_target, back, err),
		                 -1);
	} else {
		ck_assert_msg(aliases_split(buf_str(q), buf_len(q), one_target,
		                            back, err) == 1,
		              "%s -> %s: %s", t, buf_str(q), buf_str(err));
		ck_assert_str_eq(buf_str(back), t);
	}
	/* Too small a buffer: -1 and nothing appended. */
	struct buf *tiny = buf_create(0, 4);
	buf_set_str(tiny, "ab");
	if (strlen(t) + 2 > 2) {
		int r = aliases_quote(t, tiny);
		if (r < 0)
			ck_assert_str_eq(buf_str(tiny), "ab");
	}
	buf_destroy(&tiny);
	buf_destroy(&q);
	buf_destroy(&back);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_target_type)
{
	const char *rest;

	ck_assert_int_eq(alias_target_type("|cmd", &rest),
	                 ALIAS_TARGET_COMMAND);
	ck_assert_str_eq(rest, "cmd");
	ck_assert_int_eq(alias_target_type("/f", &rest), ALIAS_TARGET_FILE);
	ck_assert_str_eq(rest, "/f");
	ck_assert_int_eq(alias_target_type(":include:/i", &rest),
	                 ALIAS_TARGET_INCLUDE);
	ck_assert_str_eq(rest, "/i");
	ck_assert_int_eq(alias_target_type("u@d", &rest), ALIAS_TARGET_ADDRESS);
	ck_assert_str_eq(rest, "u@d");
	ck_assert_int_eq(alias_target_type("u", NULL), ALIAS_TARGET_ADDRESS);
}
END_TEST

START_TEST(test_include)
{
	struct buf *out = buf_create(0, 0), *err = buf_create(0, 4096);
	const char *text = "# members\nalice, bob\n\n  carol\n\"|cmd x,y\"\n";
	struct buf *big = buf_create(0, 0);

	ck_assert_int_eq(aliases_parse_include(text, strlen(text), "inc",
	                                       collect_target, out, err),
	                 4);
	ck_assert_str_eq(buf_str(out), "[alice][bob][carol][|cmd x,y]");

	ck_assert_int_eq(
	    aliases_parse_include("a\n\"b\n", 5, "inc", NULL, NULL, err), -1);
	ck_assert_str_eq(buf_str(err), "inc:2: unterminated quoted string");

	ck_assert_int_eq(
	    aliases_parse_include("a\0b\n", 4, "inc", NULL, NULL, err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "inc:1: NUL"));

	for (int i = 0; i <= ALIASES_TARGETS_MAX; i++)
		buf_printf(big, "u%d\n", i);
	ck_assert_int_eq(aliases_parse_include(buf_str(big), buf_len(big),
	                                       "inc", NULL, NULL, err),
	                 -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "more than 1000"));

	buf_reset(big);
	buf_append_str(big, repeat('x', (size_t)ALIASES_INCLUDE_MAX + 1));
	ck_assert_int_eq(aliases_parse_include(buf_str(big), buf_len(big),
	                                       "inc", NULL, NULL, err),
	                 -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "larger than"));
	buf_destroy(&big);
	buf_destroy(&out);
	buf_destroy(&err);
}
END_TEST

/* Look key up in tmpdir/aliases.lmdb: the value, or "" if not found. */
static const char *lookup(const char *key)
{
	static char value[4096];
	struct buf *err = buf_create(0, 4096), *v = buf_create(0, 0);
	char spec[600];
	struct map *m;
	int r;

	snprintf(spec, sizeof(spec), "lmdb:%s/aliases", tmpdir);
	m = map_open(spec, err);
	ck_assert_msg(m != NULL, "%s", buf_str(err));
	r = map_lookup(m, key, v, err);
	ck_assert_int_ge(r, 0);
	snprintf(value, sizeof(value), "%s", r == 1 ? buf_str(v) : "");
	map_close(&m);
	buf_destroy(&err);
	buf_destroy(&v);
	return value;
}

START_TEST(test_build)
{
	struct buf *err = buf_create(0, 4096);
	char path[512];
	const char *text =
	    "postmaster: root\n"
	    "MAILER-DAEMON: postmaster\n"
	    "list: alice@example.com, \"|/usr/bin/archive -d a,b\",\n"
	    "\t/var/mail/list.mbox, :include:/etc/posthorn/list\n"
	    "Root: first@example.com\n"
	    "root: second@example.com\n";

	snprintf(path, sizeof(path), "%s/aliases", tmpdir);
	write_bytes(path, text, strlen(text));
	ck_assert_int_eq(aliases_build(path, err), 4);
	ck_assert_str_eq(lookup("postmaster"), "root");
	ck_assert_str_eq(lookup("mailer-daemon"), "postmaster");
	ck_assert_str_eq(lookup("MAILER-DAEMON"), "postmaster");
	ck_assert_str_eq(lookup("list"),
	                 "alice@example.com, \"|/usr/bin/archive -d a,b\", "
	                 "/var/mail/list.mbox, :include:/etc/posthorn/list");
	/* Postfix keeps the first of duplicate names. */
	ck_assert_str_eq(lookup("root"), "first@example.com");
	ck_assert_str_eq(lookup("nobody"), "");

	/* A bad file: an error with file:line, the old table stays. */
	write_bytes(path, "ok: x\nbroken\n", 13);
	ck_assert_int_eq(aliases_build(path, err), ALIASES_ERR_SYNTAX);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "/aliases:2: missing"));
	ck_assert_str_eq(lookup("postmaster"), "root");
	ck_assert_str_eq(lookup("ok"), "");

	/* An empty file gives an empty table. */
	write_bytes(path, "", 0);
	ck_assert_int_eq(aliases_build(path, err), 0);
	ck_assert_str_eq(lookup("postmaster"), "");
	buf_destroy(&err);
}
END_TEST

START_TEST(test_build_errors)
{
	struct buf *err = buf_create(0, 4096);
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	ck_assert_int_eq(aliases_build(path, err), ALIASES_ERR_IO);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "missing"));

	/* A directory is not an aliases file. */
	ck_assert_int_eq(aliases_build(tmpdir, err), ALIASES_ERR_IO);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "not a regular file"));

	/* Larger than the limit (sparse). */
	snprintf(path, sizeof(path), "%s/huge", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, ALIASES_FILE_MAX + 1), 0);
	close(fd);
	ck_assert_int_eq(aliases_build(path, err), ALIASES_ERR_IO);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "larger than"));
	buf_destroy(&err);
}
END_TEST

START_TEST(test_build_all)
{
	struct buf *err = buf_create(0, 4096);
	struct buf *list = buf_create(0, 0);
	struct config *c = config_create();
	char path[512], path2[512];

	snprintf(path, sizeof(path), "%s/aliases", tmpdir);
	snprintf(path2, sizeof(path2), "%s/more", tmpdir);
	write_bytes(path, "a: b\nc: d\n", 10);
	write_bytes(path2, "e: f\n", 5);
	buf_sprintf(list, "lmdb:%s, static:x inline:{a=b} lmdb:%s", path,
	            path2);
	ck_assert_int_eq(config_set(c, "alias_database", buf_str(list)), 0);
	ck_assert_int_eq(aliases_build_all(c, err), 3);
	ck_assert_str_eq(lookup("c"), "d");

	ck_assert_int_eq(config_set(c, "alias_database", "lmdb:"), 0);
	ck_assert_int_eq(aliases_build_all(c, err), ALIASES_ERR_SYNTAX);

	ck_assert_int_eq(config_set(c, "alias_database", ""), 0);
	ck_assert_int_eq(aliases_build_all(c, err), 0);

	write_bytes(path2, "bad\n", 4);
	buf_sprintf(list, "lmdb:%s lmdb:%s", path, path2);
	ck_assert_int_eq(config_set(c, "alias_database", buf_str(list)), 0);
	ck_assert_int_eq(aliases_build_all(c, err), ALIASES_ERR_SYNTAX);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "more:1:"));
	config_destroy(&c);
	buf_destroy(&err);
	buf_destroy(&list);
}
END_TEST

Suite *aliases_suite(void)
{
	Suite *s = suite_create("aliases");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_parse, 0,
	                    sizeof(parse_cases) / sizeof(parse_cases[0]));
	tcase_add_test(tc, test_parse_limits);
	tcase_add_loop_test(tc, test_split, 0,
	                    sizeof(split_cases) / sizeof(split_cases[0]));
	tcase_add_loop_test(tc, test_quote_roundtrip, 0,
	                    sizeof(quote_targets) / sizeof(quote_targets[0]));
	tcase_add_test(tc, test_target_type);
	tcase_add_test(tc, test_include);
	tcase_add_test(tc, test_build);
	tcase_add_test(tc, test_build_errors);
	tcase_add_test(tc, test_build_all);
	suite_add_tcase(s, tc);
	return s;
}
