/* check_domain_list.c: unit tests for lib/domain_list.c: Postfix domain
 * lists: exact names, ".domain" subdomain patterns, the parent style
 * (parent_domain_matches_subdomains), type:table entries (inline and lmdb,
 * with parent lookups), /file patterns, negation, first match wins, $name
 * expansion through main.cf, word splitting with braces, and hostile
 * domains and patterns in the tables. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "domain_list.h"
#include "map.h"
#include "mem.h"
#include "unit_tmp.h"

static char tmpdir[256];

static void setup(void)
{
	unit_tmpdir_make(tmpdir, sizeof(tmpdir), "dl");
}

static void teardown(void)
{
	unit_tmpdir_remove(tmpdir);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
}

/* list, flags, domain, expected. */
#define P DOMAIN_LIST_PARENT_MATCHES
static const struct {
	const char *list;
	unsigned flags;
	const char *domain;
	int match;
} rows[] = {
    {"example.com", 0, "example.com", 1},
    {"example.com", 0, "EXAMPLE.Com", 1},
    {"example.com", 0, "example.com.", 1},
    {"example.com.", 0, "example.com", 1},
    {"Example.COM", 0, "example.com", 1},
    {"example.com", 0, "sub.example.com", 0},
    {"example.com", P, "sub.example.com", 1},
    {"example.com", P, "a.b.sub.example.com", 1},
    {"example.com", P, "badexample.com", 0},
    {"example.com", P, "example.com.evil", 0},
    {"example.com", 0, "example.co", 0},
    {"example.com", 0, "xexample.com", 0},
    {".example.com", 0, "sub.example.com", 1},
    {".example.com", 0, "example.com", 0},
    {".example.com", 0, "badexample.com", 0},
    {".example.com", P, "example.com", 0},
    {"a.example, b.example c.example\td.example", 0, "c.example", 1},
    {"a.example, b.example c.example\td.example", 0, "d.example", 1},
    {"a.example,,b.example", 0, "b.example", 1},
    {"", 0, "example.com", 0},
    {"  , ", 0, "example.com", 0},
    /* Negation: the first match decides. */
    {"!sub.example.com, example.com", P, "sub.example.com", 0},
    {"!sub.example.com, example.com", P, "other.example.com", 1},
    {"example.com, !sub.example.com", P, "sub.example.com", 1},
    {"!!example.com", 0, "example.com", 1},
    /* Tables: found = match (value ignored). */
    {"inline:{example.org=x, other.net=y}", 0, "example.org", 1},
    {"inline:{example.org=x, other.net=y}", 0, "EXAMPLE.ORG", 1},
    {"inline:{example.org=x, other.net=y}", 0, "nope.org", 0},
    {"inline:{example.org=x}", 0, "sub.example.org", 0},
    {"inline:{example.org=x}", P, "sub.example.org", 1},
    {"inline:{.example.org=x}", 0, "sub.example.org", 1},
    {"inline:{.example.org=x}", 0, "a.sub.example.org", 1},
    {"inline:{.example.org=x}", 0, "example.org", 0},
    {"!inline:{bad.example.org=x}, .example.org", 0, "bad.example.org", 0},
    {"!inline:{bad.example.org=x}, .example.org", 0, "ok.example.org", 1},
    {"static:anything", 0, "whatever.example", 1},
    /* Hostile domains. */
    {"example.com", 0, "", 0},
    {"example.com", 0, ".", 0},
    {"example.com", P, ".example.com", 0},
    {".example.com", 0, ".example.com", 0},
    {"example.com", P, "..example.com", 0},
    {"example.com", P, "a..example.com", 0},
    {"inline:{example.org=x}", P, "a..example.org", 0},
    {"example.com", P, "example.com..", 0},
    {"inline:{example.org=x}", P, "..", 0},
    {"inline:{example.org=x}", 0, ".", 0},
    {"inline:{example.org=x}", P, "a.", 0},
    {"example.com", 0, "example.com\r\n", 0},
    {"example.com", 0, "exa mple.com", 0},
};
#undef P

START_TEST(test_rows)
{
	struct buf *err = buf_create(0, 4096);
	struct domain_list *l =
	    domain_list_create(rows[_i].list, rows[_i].flags, err);
	int r;

	ck_assert_msg(l != NULL, "\"%s\": %s", rows[_i].list, buf_str(err));
	r = domain_list_match(l, rows[_i].domain, err);
	ck_assert_msg(r == rows[_i].match, "\"%s\" in \"%s\" (flags %u): %d",
	              rows[_i].domain, rows[_i].list, rows[_i].flags, r);
	domain_list_destroy(&l);
	ck_assert_ptr_null(l);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_long_domain)
{
	struct buf *err = buf_create(0, 4096);
	struct domain_list *l =
	    domain_list_create("example.com inline:{a=b}", 1, err);
	char big[2000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ck_assert_int_eq(domain_list_match(l, big, err), 0);
	/* 255 octets is the limit; longer never matches. */
	memset(big, 'a', 300);
	strcpy(big + 300 - 12, ".example.com");
	ck_assert_int_eq(domain_list_match(l, big, err), 0);
	memset(big, 'a', 250);
	strcpy(big + 250 - 12, ".example.com");
	ck_assert_int_eq(domain_list_match(l, big, err), 1);
	ck_assert_int_eq(domain_list_match(l, NULL, err), 0);
	domain_list_destroy(&l);
	buf_destroy(&err);
}
END_TEST

static const char *const bad_lists[] = {
    "!",
    "example.com, !",
    "nosuchtype:/x",
    "inline:{unterminated",
    "/nonexistent/posthorn/file",
    "!/etc/hosts",
    ".",
    "..",
};

START_TEST(test_bad)
{
	struct buf *err = buf_create(0, 4096);
	struct domain_list *l = domain_list_create(bad_lists[_i], 0, err);

	ck_assert_msg(l == NULL, "accepted \"%s\"", bad_lists[_i]);
	ck_assert_uint_gt(buf_len(err), 0);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_lmdb_table)
{
	struct buf *err = buf_create(0, 4096);
	char src[512], spec[600], lmdb[600];
	struct domain_list *l;

	snprintf(src, sizeof(src), "%s/relay", tmpdir);
	write_file(src, "example.net OK\n.wild.example x\n");
	ck_assert_int_eq(map_build_text(src, err), 2);
	snprintf(spec, sizeof(spec), "lmdb:%s", src);
	l = domain_list_create(spec, 0, err);
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(domain_list_match(l, "example.net", err), 1);
	ck_assert_int_eq(domain_list_match(l, "sub.example.net", err), 0);
	ck_assert_int_eq(domain_list_match(l, "a.wild.example", err), 1);
	ck_assert_int_eq(domain_list_match(l, "wild.example", err), 0);
	/* A table that turns bad is an error, never "no match". */
	snprintf(lmdb, sizeof(lmdb), "%s.lmdb", src);
	ck_assert_int_eq(unlink(lmdb), 0);
	write_file(lmdb, "this is not an lmdb file");
	buf_reset(err);
	ck_assert_int_eq(domain_list_match(l, "other.example", err), -1);
	ck_assert_uint_gt(buf_len(err), 0);
	/* A name before the table still matches. */
	domain_list_destroy(&l);
	snprintf(spec, sizeof(spec), "first.example lmdb:%s", src);
	l = domain_list_create(spec, 0, err);
	ck_assert_ptr_null(l); /* cannot open the broken file */
	buf_destroy(&err);
}
END_TEST

START_TEST(test_pattern_file)
{
	struct buf *err = buf_create(0, 4096);
	char path[512], list[600];
	struct domain_list *l;

	snprintf(path, sizeof(path), "%s/domains", tmpdir);
	write_file(path, "# local domains\n"
	                 "one.example two.example # trailing comment\n"
	                 "  .three.example\n"
	                 "!bad.four.example\n"
	                 ".four.example\n");
	snprintf(list, sizeof(list), "zero.example, %s", path);
	l = domain_list_create(list, 0, err);
	ck_assert_msg(l != NULL, "%s", buf_str(err));
	ck_assert_int_eq(domain_list_match(l, "zero.example", err), 1);
	ck_assert_int_eq(domain_list_match(l, "two.example", err), 1);
	ck_assert_int_eq(domain_list_match(l, "x.three.example", err), 1);
	ck_assert_int_eq(domain_list_match(l, "bad.four.example", err), 0);
	ck_assert_int_eq(domain_list_match(l, "ok.four.example", err), 1);
	ck_assert_int_eq(domain_list_match(l, "comment", err), 0);
	ck_assert_int_eq(domain_list_match(l, "trailing", err), 0);
	domain_list_destroy(&l);
	/* Files do not nest. */
	write_file(path, "/etc/hosts\n");
	ck_assert_ptr_null(domain_list_create(path, 0, err));
	buf_destroy(&err);
}
END_TEST

START_TEST(test_config)
{
	struct buf *err = buf_create(0, 4096);
	struct config *c = config_create();
	struct domain_list *l;

	ck_assert_int_eq(config_set(c, "myhostname", "mx.example.com"), 0);
	ck_assert_int_eq(config_set(c, "mydomain", "example.com"), 0);
	ck_assert_int_eq(
	    config_set(c, "mydestination", "$myhostname, localhost.$mydomain"),
	    0);
	ck_assert_int_eq(config_set(c, "relay_domains", "$mydomain"), 0);
	/* Postfix default: relay_domains in the parent style list,
	 * mydestination not. */
	ck_assert(domain_list_parent_style(c, "relay_domains"));
	ck_assert(domain_list_parent_style(c, "smtpd_access_maps"));
	ck_assert(!domain_list_parent_style(c, "mydestination"));
	ck_assert(!domain_list_parent_style(c, "relay"));

	l = domain_list_from_config(c, "mydestination", err);
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(domain_list_match(l, "mx.example.com", err), 1);
	ck_assert_int_eq(domain_list_match(l, "localhost.example.com", err), 1);
	ck_assert_int_eq(domain_list_match(l, "a.mx.example.com", err), 0);
	domain_list_destroy(&l);

	l = domain_list_from_config(c, "relay_domains", err);
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(domain_list_match(l, "example.com", err), 1);
	ck_assert_int_eq(domain_list_match(l, "sub.example.com", err), 1);
	domain_list_destroy(&l);

	/* Without relay_domains in the parameter, only ".example.com"
	 * patterns match subdomains. */
	ck_assert_int_eq(
	    config_set(c, "parent_domain_matches_subdomains", "mynetworks"), 0);
	l = domain_list_from_config(c, "relay_domains", err);
	ck_assert_int_eq(domain_list_match(l, "sub.example.com", err), 0);
	domain_list_destroy(&l);

	ck_assert_int_eq(config_set(c, "relay_domains", "inline:{broken"), 0);
	ck_assert_ptr_null(domain_list_from_config(c, "relay_domains", err));
	ck_assert_msg(strstr(buf_str(err), "relay_domains: ") == buf_str(err),
	              "%s", buf_str(err));
	config_destroy(&c);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_next_word)
{
	const char *p = " a, inline:{x=1, y=2}  ,b\tc{d e}f, {unclosed x";
	const char *want[] = {"a", "inline:{x=1, y=2}", "b", "c{d e}f",
	                      "{unclosed x"};
	char *w;
	size_t n = 0;

	while ((w = domain_list_next_word(&p)) != NULL) {
		ck_assert_uint_lt(n, 5);
		ck_assert_str_eq(w, want[n]);
		n++;
		mem_free(w);
	}
	ck_assert_uint_eq(n, 5);
	ck_assert_ptr_null(domain_list_next_word(&p));
}
END_TEST

START_TEST(test_empty)
{
	struct buf *err = buf_create(0, 4096);
	struct domain_list *l = domain_list_create(NULL, 0, err);

	ck_assert(domain_list_empty(l));
	domain_list_destroy(&l);
	l = domain_list_create("x.example", 0, err);
	ck_assert(!domain_list_empty(l));
	domain_list_destroy(&l);
	domain_list_destroy(&l);
	buf_destroy(&err);
}
END_TEST

Suite *domain_list_suite(void)
{
	Suite *s = suite_create("domain_list");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_rows, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_test(tc, test_long_domain);
	tcase_add_loop_test(tc, test_bad, 0,
	                    sizeof(bad_lists) / sizeof(bad_lists[0]));
	tcase_add_test(tc, test_lmdb_table);
	tcase_add_test(tc, test_pattern_file);
	tcase_add_test(tc, test_config);
	tcase_add_test(tc, test_next_word);
	tcase_add_test(tc, test_empty);
	suite_add_tcase(s, tc);
	return s;
}
