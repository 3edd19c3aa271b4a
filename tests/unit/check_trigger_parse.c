/* check_trigger_parse.c: unit tests for lib/trigger_parse.c: one-byte
 * requests and named triggers in any mix on one connection, a name cut
 * across reads, names that are no queue ID (bad characters, too long,
 * empty) and a flood of bytes without a newline, which is counted but
 * never stored past one queue ID. */
#include <check.h>
#include <string.h>

#include "trigger_parse.h"

#define ID "6B03025338EB6QAC7C12"

/* Feed s; the items seen, as a string: b (byte), n (name), x (bad). */
static void feed(struct trigger_parse *tp, const char *s, size_t len,
                 char *items, size_t items_size)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char item = 0;

		switch (trigger_parse_byte(tp, (unsigned char)s[i])) {
		case TRIGGER_ITEM_NONE:
			break;
		case TRIGGER_ITEM_BYTE:
			item = 'b';
			break;
		case TRIGGER_ITEM_NAME:
			item = 'n';
			break;
		case TRIGGER_ITEM_BAD_NAME:
			item = 'x';
			break;
		}
		if (item && n + 1 < items_size)
			items[n++] = item;
	}
	items[n] = '\0';
}

START_TEST(test_bytes_and_names_mixed)
{
	struct trigger_parse tp;
	char items[16];
	const char *in = "AN" ID "\nWN" ID "\nD";

	trigger_parse_init(&tp);
	feed(&tp, in, strlen(in), items, sizeof(items));
	ck_assert_str_eq(items, "bnbnb");
	ck_assert_str_eq(tp.name, ID);
}
END_TEST

START_TEST(test_name_across_reads)
{
	struct trigger_parse tp;
	char items[16];

	trigger_parse_init(&tp);
	feed(&tp, "N6B0302", 7, items, sizeof(items));
	ck_assert_str_eq(items, "");
	feed(&tp, "5338EB6QAC7C12\n", 15, items, sizeof(items));
	ck_assert_str_eq(items, "n");
	ck_assert_str_eq(tp.name, ID);
}
END_TEST

START_TEST(test_bad_names)
{
	struct trigger_parse tp;
	char items[16];
	/* a slash (path traversal), lower case, empty, no Q */
	const char *in = "N../../etc/passwd\nN6b03025338eb6qac7c12\nN\n"
	                 "N6B03025338EB6AAC7C12\n";

	trigger_parse_init(&tp);
	feed(&tp, in, strlen(in), items, sizeof(items));
	ck_assert_str_eq(items, "xxxx");
	/* The connection goes on after a bad name. */
	feed(&tp, "N" ID "\n", strlen(ID) + 2, items, sizeof(items));
	ck_assert_str_eq(items, "n");
}
END_TEST

START_TEST(test_flood_without_newline)
{
	static char flood[100000];
	struct trigger_parse tp;
	char items[16];

	memset(flood, 'F', sizeof(flood));
	flood[0] = 'N';
	trigger_parse_init(&tp);
	feed(&tp, flood, sizeof(flood), items, sizeof(items));
	ck_assert_str_eq(items, "");
	ck_assert_uint_le(tp.len, sizeof(tp.name));
	/* A name one byte too long for any queue ID is refused whole, not
	 * cut to a valid-looking prefix. */
	feed(&tp, "\n", 1, items, sizeof(items));
	ck_assert_str_eq(items, "x");
	char longer[QUEUE_ID_MAX + 3];

	memset(longer, 'A', sizeof(longer));
	memcpy(longer, "N" ID, strlen(ID) + 1);
	longer[sizeof(longer) - 1] = '\n';
	feed(&tp, longer, sizeof(longer), items, sizeof(items));
	ck_assert_str_eq(items, "x");
}
END_TEST

Suite *trigger_parse_suite(void)
{
	Suite *s = suite_create("trigger_parse");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_bytes_and_names_mixed);
	tcase_add_test(tc, test_name_across_reads);
	tcase_add_test(tc, test_bad_names);
	tcase_add_test(tc, test_flood_without_newline);
	suite_add_tcase(s, tc);
	return s;
}
