/* check_number.c: unit tests for lib/number.c, table-driven with hostile
 * inputs (2^64, signs, junk, bad units). */
#include <check.h>
#include <limits.h>

#include "number.h"

static const struct {
	const char *in;
	long long min, max;
	int ok;
	long long want;
} int_cases[] = {
    {"0", 0, 10, 0, 0},
    {"10", 0, 10, 0, 10},
    {"11", 0, 10, -1, 0},
    {"-1", 0, 10, -1, 0},
    {"-5", -10, 10, 0, -5},
    {"", 0, 10, -1, 0},
    {" 1", 0, 10, -1, 0},
    {"1 ", 0, 10, -1, 0},
    {"1x", 0, 10, -1, 0},
    {"+7", 0, 10, 0, 7},
    {"-", 0, 10, -1, 0},
    {"18446744073709551616", 0, LLONG_MAX, -1, 0}, /* 2^64 */
    {"18446744073709551615", 0, LLONG_MAX, -1, 0},
    {"9223372036854775807", 0, LLONG_MAX, 0, LLONG_MAX},
    {"9223372036854775808", 0, LLONG_MAX, -1, 0},
    {"-9223372036854775808", LLONG_MIN, 0, 0, LLONG_MIN},
    {"99999999999999999999999999999", 0, LLONG_MAX, -1, 0},
    {"0x10", 0, 100, -1, 0},
};

START_TEST(test_parse_int)
{
	long long v = 4242;
	const char *why = NULL;
	int r = number_parse(int_cases[_i].in, int_cases[_i].min,
	                     int_cases[_i].max, &v, &why);
	ck_assert_msg(r == int_cases[_i].ok, "input '%s'", int_cases[_i].in);
	if (r == 0)
		ck_assert(v == int_cases[_i].want);
	else {
		ck_assert(v == 4242);
		ck_assert_ptr_nonnull(why);
	}
}
END_TEST

static const struct {
	const char *in;
	int unit;
	int ok;
	long long want;
} time_cases[] = {
    {"10", 's', 0, 10},    {"10s", 's', 0, 10},
    {"5m", 's', 0, 300},   {"2h", 's', 0, 7200},
    {"1d", 's', 0, 86400}, {"1w", 's', 0, 604800},
    {"3", 'd', 0, 259200}, {"5x", 's', -1, 0},
    {"5ms", 's', -1, 0},   {"h", 's', -1, 0},
    {"", 's', -1, 0},      {"9223372036854775807w", 's', -1, 0},
};

START_TEST(test_parse_time)
{
	long long v = -1;
	int r = number_parse_time(time_cases[_i].in, time_cases[_i].unit, 0,
	                          LLONG_MAX, &v, NULL);
	ck_assert_msg(r == time_cases[_i].ok, "input '%s'", time_cases[_i].in);
	if (r == 0)
		ck_assert(v == time_cases[_i].want);
}
END_TEST

static const struct {
	const char *in;
	int ok;
	long long want;
} size_cases[] = {
    {"1024", 0, 1024},     {"10k", 0, 10240},          {"10M", 0, 10485760},
    {"1g", 0, 1073741824}, {"1kb", 0, 1024},           {"1q", -1, 0},
    {"k", -1, 0},          {"99999999999999g", -1, 0}, {"-1", -1, 0},
};

START_TEST(test_parse_size)
{
	long long v = -1;
	int r = number_parse_size(size_cases[_i].in, 0, LLONG_MAX, &v, NULL);
	ck_assert_msg(r == size_cases[_i].ok, "input '%s'", size_cases[_i].in);
	if (r == 0)
		ck_assert(v == size_cases[_i].want);
}
END_TEST

Suite *number_suite(void)
{
	Suite *s = suite_create("number");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_parse_int, 0,
	                    sizeof(int_cases) / sizeof(int_cases[0]));
	tcase_add_loop_test(tc, test_parse_time, 0,
	                    sizeof(time_cases) / sizeof(time_cases[0]));
	tcase_add_loop_test(tc, test_parse_size, 0,
	                    sizeof(size_cases) / sizeof(size_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}
