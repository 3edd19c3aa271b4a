/* check_maps.c: unit tests for lib/maps.c (table lists: splitting specs
 * outside braces, first match wins, errors). */
#include <check.h>
#include <string.h>

#include "buf.h"
#include "maps.h"

START_TEST(test_list_order)
{
	struct buf *err = buf_create(0, 1000), *v = buf_create(0, 1000);
	struct maps *m = maps_open(
	    " inline:{a=first, { b = x, y }},\n\tinline:{a=second, c=3} "
	    "static:fallback ",
	    err);

	ck_assert_msg(m != NULL, "%s", buf_str(err));
	ck_assert_uint_eq(maps_count(m), 3);
	ck_assert_int_eq(maps_lookup(m, "A", v, err), 1);
	ck_assert_str_eq(buf_str(v), "first");
	ck_assert_int_eq(maps_lookup(m, "b", v, err), 1);
	ck_assert_str_eq(buf_str(v), "x, y");
	ck_assert_int_eq(maps_lookup(m, "c", v, err), 1);
	ck_assert_str_eq(buf_str(v), "3");
	ck_assert_int_eq(maps_lookup(m, "zzz", v, err), 1);
	ck_assert_str_eq(buf_str(v), "fallback");
	maps_close(&m);
	ck_assert_ptr_null(m);
	buf_destroy(&err);
	buf_destroy(&v);
}
END_TEST

START_TEST(test_empty_list)
{
	struct buf *err = buf_create(0, 1000), *v = buf_create(0, 1000);
	struct maps *m = maps_open(" , \t", err);

	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(maps_count(m), 0);
	ck_assert_int_eq(maps_lookup(m, "a", v, err), 0);
	maps_close(&m);
	buf_destroy(&err);
	buf_destroy(&v);
}
END_TEST

static const char *const bad_lists[] = {
    "inline:{a=b}, nosuchtype:x",
    "lmdb:/nonexistent/dir/table",
    "inline:{a=b",
    "justaword",
};

START_TEST(test_bad_list)
{
	struct buf *err = buf_create(0, 1000);

	ck_assert_ptr_null(maps_open(bad_lists[_i], err));
	ck_assert_uint_gt(buf_len(err), 0);
	buf_destroy(&err);
}
END_TEST

Suite *maps_suite(void)
{
	Suite *s = suite_create("maps");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_list_order);
	tcase_add_test(tc, test_empty_list);
	tcase_add_loop_test(tc, test_bad_list, 0,
	                    sizeof(bad_lists) / sizeof(bad_lists[0]));
	suite_add_tcase(s, tc);
	return s;
}
