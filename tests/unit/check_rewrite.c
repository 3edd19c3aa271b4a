/* check_rewrite.c: unit tests for lib/rewrite.c (lookup order, result
 * splitting, canonical mapping, virtual alias expansion with loops and
 * limits, the address set). Tables are arrays behind a lookup callback. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "rewrite.h"

/* A table: NULL-terminated key/value pairs; a value "!" is an error. */
struct table {
	const char *const *pairs;
	int lookups;
	const char *local; /* the one local domain, or NULL */
};

static int table_lookup(void *ctx, const char *key, struct buf *value,
                        struct buf *err)
{
	struct table *t = ctx;

	t->lookups++;
	for (const char *const *p = t->pairs; p[0]; p += 2) {
		if (strcasecmp(p[0], key) != 0)
			continue;
		if (strcmp(p[1], "!") == 0) {
			buf_sprintf(err, "table error for %s", key);
			return -1;
		}
		buf_set_str(value, p[1]);
		return 1;
	}
	return 0;
}

static bool table_is_local(void *ctx, const char *domain)
{
	struct table *t = ctx;

	return t->local && strcasecmp(t->local, domain) == 0;
}

static struct rewrite_table make(struct table *t)
{
	struct rewrite_table rt = {table_lookup, t, table_is_local, t};

	return rt;
}

/* Expand addr; the result joined by ' ' into out. */
static int expand(const char *const *pairs, const char *local, const char *addr,
                  size_t recursion, size_t expansion, struct buf *out,
                  struct rewrite_stats *stats)
{
	struct table t = {pairs, 0, local};
	struct rewrite_table rt = make(&t);
	struct rewrite_limits lim = {recursion, expansion};
	struct rewrite_set *set = rewrite_set_create();
	struct buf *err = buf_create(0, 1000);
	int r = rewrite_virtual(&rt, addr, &lim, set, stats, err);

	buf_reset(out);
	for (size_t i = 0; i < rewrite_set_count(set); i++)
		buf_printf(out, "%s%s", i ? " " : "", rewrite_set_at(set, i));
	if (r != REWRITE_OK)
		ck_assert_uint_gt(buf_len(err), 0);
	rewrite_set_destroy(&set);
	buf_destroy(&err);
	return r;
}

static const char *const one_to_three[] = {"team@x", "b@x, c@x d@x", NULL};
static const char *const two_cycle[] = {"a@x", "b@x", "b@x", "a@x", NULL};
static const char *const three_cycle[] = {"a@x", "b@x", "b@x", "c@x",
                                          "c@x", "a@x", NULL};
static const char *const self[] = {"a@x", "a@x, b@x", NULL};
static const char *const self_case[] = {"A@x", "a@X", NULL};
static const char *const nested[] = {"a@x", "b@x, c@x", "b@x", "d@x, e@x",
                                     NULL};
static const char *const dup[] = {"a@x", "b@x, c@x", "b@x", "c@x", NULL};
static const char *const branch_loop[] = {"a@x", "b@x, c@x", "c@x", "a@x",
                                          NULL};
static const char *const catchall[] = {"@x", "catch@y", NULL};
static const char *const other_domain[] = {"@x", "@y", NULL};
static const char *const bare_user[] = {"a", "z@y", NULL};
static const char *const err_mid[] = {"a@x", "b@x, c@x", "c@x", "!", NULL};
static const char *const bad_result[] = {"a@x", "b\001@x", NULL};
static const char *const unterminated[] = {"a@x", "\"b@x", NULL};
static const char *const quoted[] = {"a@x", "\"p,q\"@x, \"r s\"@x", NULL};
static const char *const empty[] = {"a@x", " , ", NULL};
static const char *const at_only[] = {"a@x", "@", NULL};

static const struct {
	const char *const *pairs;
	const char *local;
	const char *addr;
	size_t recursion, expansion;
	int want;
	const char *result;
	size_t loops;
} virtual_cases[] = {
    {one_to_three, NULL, "team@x", 1000, 1000, REWRITE_OK, "b@x c@x d@x", 0},
    {one_to_three, NULL, "TEAM@X", 1000, 1000, REWRITE_OK, "b@x c@x d@x", 0},
    {one_to_three, NULL, "other@x", 1000, 1000, REWRITE_OK, "other@x", 0},
    {two_cycle, NULL, "a@x", 1000, 1000, REWRITE_OK, "a@x", 1},
    {two_cycle, NULL, "b@x", 1000, 1000, REWRITE_OK, "b@x", 1},
    {two_cycle, NULL, "a@x", 1, 1000, REWRITE_ERR_RECURSION, "", 0},
    {three_cycle, NULL, "a@x", 1000, 1000, REWRITE_OK, "a@x", 1},
    {self, NULL, "a@x", 1000, 1000, REWRITE_OK, "a@x b@x", 0},
    {self_case, NULL, "A@x", 1000, 1000, REWRITE_OK, "a@X", 0},
    {nested, NULL, "a@x", 1000, 1000, REWRITE_OK, "d@x e@x c@x", 0},
    {nested, NULL, "a@x", 2, 1000, REWRITE_OK, "d@x e@x c@x", 0},
    {nested, NULL, "a@x", 1, 1000, REWRITE_ERR_RECURSION, "", 0},
    {nested, NULL, "a@x", 1000, 3, REWRITE_OK, "d@x e@x c@x", 0},
    {nested, NULL, "a@x", 1000, 2, REWRITE_ERR_EXPANSION, "d@x e@x", 0},
    {dup, NULL, "a@x", 1000, 1000, REWRITE_OK, "c@x", 0},
    {branch_loop, NULL, "a@x", 1000, 1000, REWRITE_OK, "b@x a@x", 1},
    {catchall, NULL, "anyone@x", 1000, 1000, REWRITE_OK, "catch@y", 0},
    {catchall, NULL, "anyone@y", 1000, 1000, REWRITE_OK, "anyone@y", 0},
    {other_domain, NULL, "joe@x", 1000, 1000, REWRITE_OK, "joe@y", 0},
    {bare_user, "x", "a@x", 1000, 1000, REWRITE_OK, "z@y", 0},
    {bare_user, "x", "a@X", 1000, 1000, REWRITE_OK, "z@y", 0},
    {bare_user, NULL, "a@x", 1000, 1000, REWRITE_OK, "a@x", 0},
    {bare_user, "x", "a", 1000, 1000, REWRITE_OK, "z@y", 0},
    {err_mid, NULL, "a@x", 1000, 1000, REWRITE_ERR_LOOKUP, "b@x", 0},
    {bad_result, NULL, "a@x", 1000, 1000, REWRITE_ERR_LOOKUP, "", 0},
    {unterminated, NULL, "a@x", 1000, 1000, REWRITE_ERR_LOOKUP, "", 0},
    {quoted, NULL, "a@x", 1000, 1000, REWRITE_OK, "\"p,q\"@x \"r s\"@x", 0},
    {empty, NULL, "a@x", 1000, 1000, REWRITE_ERR_LOOKUP, "", 0},
    {at_only, NULL, "a@x", 1000, 1000, REWRITE_ERR_LOOKUP, "", 0},
};

START_TEST(test_virtual)
{
	struct buf *out = buf_create(0, 0);
	struct rewrite_stats stats;
	int r = expand(virtual_cases[_i].pairs, virtual_cases[_i].local,
	               virtual_cases[_i].addr, virtual_cases[_i].recursion,
	               virtual_cases[_i].expansion, out, &stats);

	ck_assert_int_eq(r, virtual_cases[_i].want);
	ck_assert_str_eq(buf_str(out), virtual_cases[_i].result);
	ck_assert_uint_eq(stats.loops, virtual_cases[_i].loops);
	if (stats.loops)
		ck_assert_str_ne(stats.loop_addr, "");
	buf_destroy(&out);
}
END_TEST

/* A chain a0 -> a1 -> ... -> a(n-1): n - 1 levels of nesting. */
START_TEST(test_chain_depth)
{
	static char keys[12][16], values[12][16];
	const char *pairs[2 * 12 + 1];
	struct buf *out = buf_create(0, 0);
	int n = 10;

	for (int i = 0; i < n - 1; i++) {
		snprintf(keys[i], sizeof(keys[i]), "a%d@x", i);
		snprintf(values[i], sizeof(values[i]), "a%d@x", i + 1);
		pairs[2 * i] = keys[i];
		pairs[2 * i + 1] = values[i];
	}
	pairs[2 * (n - 1)] = NULL;
	ck_assert_int_eq(expand(pairs, NULL, "a0@x", 9, 1000, out, NULL),
	                 REWRITE_OK);
	ck_assert_str_eq(buf_str(out), "a9@x");
	ck_assert_int_eq(expand(pairs, NULL, "a0@x", 8, 1000, out, NULL),
	                 REWRITE_ERR_RECURSION);
	buf_destroy(&out);
}
END_TEST

/* Every level maps to the same two addresses of the next level: 2^30
 * paths, but each address is expanded once. */
START_TEST(test_dag_is_linear)
{
	static char keys[31][16], values[31][40];
	const char *pairs[2 * 31 + 1];
	struct table t;
	struct rewrite_table rt;
	struct rewrite_limits lim = {1000, 1000};
	struct rewrite_set *set = rewrite_set_create();
	struct buf *err = buf_create(0, 1000);
	int k = 0;

	for (int level = 0; level < 30; level++) {
		for (int side = 0; side < 2; side++) {
			if (level == 0 && side == 1)
				continue;
			snprintf(keys[k], sizeof(keys[k]), "%c%d@x",
			         side ? 'r' : 'l', level);
			snprintf(values[k], sizeof(values[k]), "l%d@x, r%d@x",
			         level + 1, level + 1);
			pairs[2 * k] = keys[k];
			pairs[2 * k + 1] = values[k];
			if (++k == 30)
				break;
		}
		if (k == 30)
			break;
	}
	pairs[2 * k] = NULL;
	t.pairs = pairs;
	t.lookups = 0;
	t.local = NULL;
	rt = make(&t);
	ck_assert_int_eq(rewrite_virtual(&rt, "l0@x", &lim, set, NULL, err),
	                 REWRITE_OK);
	ck_assert_uint_le(rewrite_set_count(set), 4);
	/* Each distinct address costs at most three lookups (its keys). */
	ck_assert_int_lt(t.lookups, 3 * 40);
	rewrite_set_destroy(&set);
	buf_destroy(&err);
}
END_TEST

/* A lookup budget stops a table that invents ever new addresses. */
static int endless_lookup(void *ctx, const char *key, struct buf *value,
                          struct buf *err)
{
	int *calls = ctx;

	(*calls)++;
	if (strchr(key, '@') == NULL || key[0] == '@')
		return 0;
	buf_sprintf(value, "1%s, 2%s", key, key);
	if (strlen(key) > 900)
		return 0;
	return 1;
}

START_TEST(test_lookup_budget)
{
	int calls = 0;
	struct rewrite_table rt = {endless_lookup, &calls, NULL, NULL};
	struct rewrite_limits lim = {100000, 50};
	struct rewrite_set *set = rewrite_set_create();
	struct buf *err = buf_create(0, 1000);
	int r = rewrite_virtual(&rt, "a@x", &lim, set, NULL, err);

	ck_assert(r == REWRITE_ERR_EXPANSION || r == REWRITE_ERR_LOOKUP);
	ck_assert_int_le(calls, 50 * 10 * 3 + 3);
	rewrite_set_destroy(&set);
	buf_destroy(&err);
}
END_TEST

static const char *const canon[] = {
    "old@x",   "new@y, ignored@z", "@olddomain", "@newdomain", "boss",
    "chief@y", "broken@x",         "!",          "empty@x",    ",",
    NULL};

static const struct {
	const char *addr;
	int want;
	const char *result;
} canon_cases[] = {
    {"old@x", 1, "new@y"},
    {"OLD@X", 1, "new@y"},
    {"joe@olddomain", 1, "joe@newdomain"},
    {"boss@x", 1, "chief@y"}, /* x is local */
    {"boss@elsewhere", 0, "unchanged"},
    {"nobody@x", 0, "unchanged"},
    {"broken@x", -1, "unchanged"},
    {"empty@x", -1, "unchanged"},
    {"\"a@b\"@x", 0, "unchanged"},
};

START_TEST(test_canonical)
{
	struct table t = {canon, 0, "x"};
	struct rewrite_table rt = make(&t);
	struct buf *out = buf_create(0, 100);
	struct buf *err = buf_create(0, 100);

	buf_set_str(out, "unchanged");
	ck_assert_int_eq(rewrite_canonical(&rt, canon_cases[_i].addr, out, err),
	                 canon_cases[_i].want);
	ck_assert_str_eq(buf_str(out), canon_cases[_i].result);
	buf_destroy(&out);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_lookup_order)
{
	static const char *const all[] = {"u@x", "full",   "u", "bare",
	                                  "@x",  "domain", NULL};
	static const char *const two[] = {"u", "bare", "@x", "domain", NULL};
	struct table t = {all, 0, "x"};
	struct rewrite_table rt = make(&t);
	struct buf *v = buf_create(0, 100), *err = buf_create(0, 100);
	bool dom = true;

	ck_assert_int_eq(rewrite_lookup(&rt, "u@x", v, &dom, err), 1);
	ck_assert_str_eq(buf_str(v), "full");
	ck_assert(!dom);
	t.pairs = two;
	ck_assert_int_eq(rewrite_lookup(&rt, "u@x", v, &dom, err), 1);
	ck_assert_str_eq(buf_str(v), "bare");
	t.local = NULL;
	ck_assert_int_eq(rewrite_lookup(&rt, "u@x", v, &dom, err), 1);
	ck_assert_str_eq(buf_str(v), "domain");
	ck_assert(dom);
	ck_assert_int_eq(rewrite_lookup(&rt, "u@y", v, NULL, err), 0);
	buf_destroy(&v);
	buf_destroy(&err);
}
END_TEST

static int count_fn(void *ctx, const char *address)
{
	struct buf *b = ctx;

	buf_printf(b, "[%s]", address);
	return 0;
}

static const struct {
	const char *result, *addr;
	int want;
	const char *list;
} split_cases[] = {
    {"a@x", "u@d", 1, "[a@x]"},
    {" a@x ,, b@y\tc@z\n", "u@d", 3, "[a@x][b@y][c@z]"},
    {"@other", "user@d", 1, "[user@other]"},
    {"@other", "bare", 1, "[bare@other]"},
    {"\"x y\"@d", "u@d", 1, "[\"x y\"@d]"},
    {"\"x\\\"y\"@d", "u@d", 1, "[\"x\\\"y\"@d]"},
    {"", "u@d", 0, ""},
    {"\"open", "u@d", -1, ""},
    {"a\177@x", "u@d", -1, ""},
};

START_TEST(test_split)
{
	struct buf *b = buf_create(0, 0), *err = buf_create(0, 100);

	ck_assert_int_eq(rewrite_split(split_cases[_i].result,
	                               split_cases[_i].addr, count_fn, b, err),
	                 split_cases[_i].want);
	if (split_cases[_i].want >= 0)
		ck_assert_str_eq(buf_str(b), split_cases[_i].list);
	buf_destroy(&b);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_split_too_long)
{
	struct buf *b = buf_create(0, 0), *err = buf_create(0, 100);
	char big[REWRITE_ADDR_MAX + 10];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ck_assert_int_eq(rewrite_split(big, "u@d", count_fn, b, err), -1);
	big[REWRITE_ADDR_MAX] = 0;
	ck_assert_int_eq(rewrite_split(big, "u@d", count_fn, b, err), 1);
	buf_destroy(&b);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_set)
{
	struct rewrite_set *s = rewrite_set_create();
	char name[32];

	ck_assert_int_eq(rewrite_set_add(s, "A@x"), 1);
	ck_assert_int_eq(rewrite_set_add(s, "a@X"), 0);
	ck_assert(rewrite_set_contains(s, "a@x"));
	ck_assert(!rewrite_set_contains(s, "b@x"));
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "u%d@x", i);
		ck_assert_int_eq(rewrite_set_add(s, name), 1);
	}
	ck_assert_uint_eq(rewrite_set_count(s), 1001);
	ck_assert_str_eq(rewrite_set_at(s, 0), "A@x");
	ck_assert_str_eq(rewrite_set_at(s, 1000), "u999@x");
	ck_assert(rewrite_set_contains(s, "U500@X"));
	rewrite_set_reset(s);
	ck_assert_uint_eq(rewrite_set_count(s), 0);
	ck_assert(!rewrite_set_contains(s, "a@x"));
	rewrite_set_destroy(&s);
	ck_assert_ptr_null(s);
}
END_TEST

#define N(a) (sizeof(a) / sizeof((a)[0]))

Suite *rewrite_suite(void)
{
	Suite *s = suite_create("rewrite");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_virtual, 0, N(virtual_cases));
	tcase_add_test(tc, test_chain_depth);
	tcase_add_test(tc, test_dag_is_linear);
	tcase_add_test(tc, test_lookup_budget);
	tcase_add_loop_test(tc, test_canonical, 0, N(canon_cases));
	tcase_add_test(tc, test_lookup_order);
	tcase_add_loop_test(tc, test_split, 0, N(split_cases));
	tcase_add_test(tc, test_split_too_long);
	tcase_add_test(tc, test_set);
	suite_add_tcase(s, tc);
	return s;
}
