/* check_buf.c: unit tests for lib/buf.c (caps, binary safety, printf). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

START_TEST(test_append_binary)
{
	struct buf *b = buf_create(0, 64);
	ck_assert_int_eq(buf_append(b, "a\0b", 3), 0);
	ck_assert_uint_eq(buf_len(b), 3);
	ck_assert_int_eq(memcmp(buf_str(b), "a\0b", 4), 0);
	buf_destroy(&b);
	ck_assert_ptr_null(b);
}
END_TEST

START_TEST(test_cap_enforced)
{
	struct buf *b = buf_create(4, 10);
	ck_assert_int_eq(buf_append_str(b, "0123456789"), 0);
	ck_assert_int_eq(buf_append_char(b, 'x'), -1);
	ck_assert_uint_eq(buf_len(b), 10);
	ck_assert_str_eq(buf_str(b), "0123456789");
	ck_assert_int_eq(buf_printf(b, "%s", "y"), -1);
	ck_assert_str_eq(buf_str(b), "0123456789");
	buf_destroy(&b);
}
END_TEST

START_TEST(test_huge_append_refused)
{
	struct buf *b = buf_create(0, 100);
	ck_assert_int_eq(buf_append(b, "x", (size_t)-1), -1);
	ck_assert_ptr_null(buf_reserve(b, (size_t)-1));
	ck_assert_uint_eq(buf_len(b), 0);
	buf_destroy(&b);
}
END_TEST

START_TEST(test_printf_grows)
{
	struct buf *b = buf_create(1, 0);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(buf_printf(b, "%04d", i), 0);
	ck_assert_uint_eq(buf_len(b), 4000);
	ck_assert(strncmp(buf_str(b) + 3996, "0999", 4) == 0);
	ck_assert_int_eq(buf_sprintf(b, "x=%d", 5), 0);
	ck_assert_str_eq(buf_str(b), "x=5");
	buf_destroy(&b);
}
END_TEST

START_TEST(test_consume_truncate_steal)
{
	struct buf *b = buf_create(0, 0);
	buf_append_str(b, "hello world");
	buf_consume(b, 6);
	ck_assert_str_eq(buf_str(b), "world");
	buf_truncate(b, 3);
	ck_assert_str_eq(buf_str(b), "wor");
	buf_truncate(b, 10);
	ck_assert_str_eq(buf_str(b), "wor");
	char *s = buf_steal(b);
	ck_assert_str_eq(s, "wor");
	ck_assert_uint_eq(buf_len(b), 0);
	free(s);
	buf_consume(b, 100);
	ck_assert_uint_eq(buf_len(b), 0);
	buf_destroy(&b);
}
END_TEST

START_TEST(test_reserve_commit)
{
	struct buf *b = buf_create(0, 32);
	char *p = buf_reserve(b, 5);
	ck_assert_ptr_nonnull(p);
	memcpy(p, "abcde", 5);
	buf_commit(b, 5);
	ck_assert_str_eq(buf_str(b), "abcde");
	ck_assert_ptr_null(buf_reserve(b, 28));
	buf_destroy(&b);
}
END_TEST

Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_append_binary);
	tcase_add_test(tc, test_cap_enforced);
	tcase_add_test(tc, test_huge_append_refused);
	tcase_add_test(tc, test_printf_grows);
	tcase_add_test(tc, test_consume_truncate_steal);
	tcase_add_test(tc, test_reserve_commit);
	suite_add_tcase(s, tc);
	return s;
}
