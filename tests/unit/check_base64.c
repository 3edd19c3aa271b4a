/* check_base64.c: unit tests for lib/base64.c: the RFC 4648 section 10
 * test vectors both ways, binary data with NUL bytes, and strict
 * rejection of hostile input (bad length, characters outside the
 * alphabet, white space, padding in the middle, non-zero pad bits, data
 * after the padding, an output limit). */
#include <check.h>
#include <string.h>

#include "base64.h"

static const char *vectors[][2] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

START_TEST(test_vectors)
{
	for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		struct buf *b = buf_create(16, 0);

		ck_assert_int_eq(
		    base64_encode(vectors[i][0], strlen(vectors[i][0]), b), 0);
		ck_assert_str_eq(buf_str(b), vectors[i][1]);
		ck_assert_uint_eq(base64_encoded_len(strlen(vectors[i][0])),
		                  strlen(vectors[i][1]));
		buf_reset(b);
		ck_assert_int_eq(
		    base64_decode(vectors[i][1], strlen(vectors[i][1]), b), 0);
		ck_assert_str_eq(buf_str(b), vectors[i][0]);
		buf_destroy(&b);
	}
}
END_TEST

START_TEST(test_binary_round_trip)
{
	unsigned char data[256];
	struct buf *enc = buf_create(16, 0), *dec = buf_create(16, 0);

	for (int i = 0; i < 256; i++)
		data[i] = (unsigned char)(255 - i);
	for (size_t len = 0; len <= sizeof data; len++) {
		buf_reset(enc);
		buf_reset(dec);
		ck_assert_int_eq(base64_encode(data, len, enc), 0);
		ck_assert_int_eq(base64_decode(buf_str(enc), buf_len(enc), dec),
		                 0);
		ck_assert_uint_eq(buf_len(dec), len);
		ck_assert(memcmp(buf_data(dec), data, len) == 0);
	}
	buf_destroy(&enc);
	buf_destroy(&dec);
}
END_TEST

START_TEST(test_hostile)
{
	static const char *bad[] = {
	    "Zg",        "Zg=",
	    "Z===",      "====",
	    "Zm9v Yg==", "Zm9v\r\n",
	    "Zm-v",      "Zm_v",
	    "Zg==Zm9v",  "Zm=v",
	    "Zh==",      "Zm9=",
	    "Zm9vYg=a",  "\x80\x80\x80\x80",
	    "*",
	};
	struct buf *b = buf_create(16, 0);

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		buf_reset(b);
		ck_assert_msg(base64_decode(bad[i], strlen(bad[i]), b) < 0,
		              "accepted %s", bad[i]);
	}
	/* A NUL inside the text is not base64 either. */
	ck_assert_int_lt(base64_decode("Zg\0=", 4, b), 0);
	buf_destroy(&b);
}
END_TEST

START_TEST(test_limit)
{
	struct buf *b = buf_create(4, 5);

	ck_assert_int_eq(base64_decode("Zm9vYg==", 8, b), 0);
	ck_assert_int_lt(base64_decode("Zm9vYmFy", 8, b), 0);
	buf_reset(b);
	ck_assert_int_lt(base64_encode("foobar", 6, b), 0);
	buf_destroy(&b);
}
END_TEST

Suite *base64_suite(void)
{
	Suite *s = suite_create("base64");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_vectors);
	tcase_add_test(tc, test_binary_round_trip);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_limit);
	suite_add_tcase(s, tc);
	return s;
}
