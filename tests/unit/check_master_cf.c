/* check_master_cf.c: unit tests for lib/master_cf.c, table-driven with
 * hostile inputs (bad types, bad y/n, bad numbers, unsafe names, NUL bytes,
 * overlong lines, duplicates, too many services). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "master_cf.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *text;
	size_t len; /* 0: strlen */
	int ok;
	const char *want; /* error substring, or a summary of the last
			   * service: "name/type p u c wakeup[?] maxproc
			   * command|args...|-o name=value..." */
	size_t count;
} parse_cases[] = {
    {"smtp inet n - n - - smtpd\n", 0, 0, "smtp/inet n y n 0 -1 smtpd|", 1},
    {"smtp      inet  n       -       n       -       -       smtpd", 0, 0,
     "smtp/inet n y n 0 -1 smtpd|", 1},
    {"pickup unix n - n 60 1 pickup\n", 0, 0, "pickup/unix n y n 60 1 pickup|",
     1},
    {"qmgr unix n - y 300? 1 qmgr\n", 0, 0, "qmgr/unix n y y 300? 1 qmgr|", 1},
    {"cleanup unix y y - 0 0 cleanup\n", 0, 0,
     "cleanup/unix y y n 0 0 cleanup|", 1},
    {"submission inet n - n - - smtpd\n"
     "  -o syslog_name=posthorn/submission\n"
     "\t-o smtpd_tls_security_level=encrypt\n"
     "  -o smtpd_client_restrictions=\n",
     0, 0,
     "submission/inet n y n 0 -1 smtpd|-o "
     "syslog_name=posthorn/submission -o "
     "smtpd_tls_security_level=encrypt -o smtpd_client_restrictions=",
     1},
    {"# comment\n\nsmtp inet n - n - - smtpd\n"
     "# comment inside\n\n  -o a=b\n   # indented comment\n  -v\n",
     0, 0, "smtp/inet n y n 0 -1 smtpd -v|-o a=b", 1},
    {"s inet n - n - - smtpd -v -o a=b extra -o c=d\n", 0, 0,
     "s/inet n y n 0 -1 smtpd -v extra -o c=d|-o a=b", 1},
    {"p unix - n n - - pipe flags=R argv=/bin/x -o y\n", 0, 0,
     "p/unix y n n 0 -1 pipe flags=R argv=/bin/x -o y|", 1},
    {"s inet n - n - - smtpd -- -o a=b\n", 0, 0,
     "s/inet n y n 0 -1 smtpd -- -o a=b|", 1},
    {"127.0.0.1:10025 inet n - n - - smtpd\n", 0, 0,
     "127.0.0.1:10025/inet n y n 0 -1 smtpd|", 1},
    {"[::1]:25 inet n - n - 10 smtpd\n", 0, 0,
     "[::1]:25/inet n y n 0 10 smtpd|", 1},
    {"a unix - - - - - c\na inet - - - - - c\n", 0, 0, "a/inet y y n 0 -1 c|",
     2},
    {"x fifo - - - - - c\ny pass - - - - - c\n", 0, 0, "y/pass y y n 0 -1 c|",
     2},
    {"", 0, 0, NULL, 0},
    {"# only comments\n\n   \n", 0, 0, NULL, 0},
    {"smtp inet n - n - - smtpd\r\n", 0, 0, "smtp/inet n y n 0 -1 smtpd|", 1},
    /* Errors. */
    {"x unixx - - - - - cmd\n", 0, -1, "master.cf:1: bad service type", 0},
    {"x unix-dgram - - - - - cmd\n", 0, -1, "bad service type", 0},
    {"x unix maybe - - - - cmd\n", 0, -1, "bad private field \"maybe\"", 0},
    {"x unix - Y - - - cmd\n", 0, -1, "bad unpriv field", 0},
    {"x unix - - yes - - cmd\n", 0, -1, "bad chroot field", 0},
    {"x unix - - - - abc cmd\n", 0, -1, "bad maxproc field \"abc\"", 0},
    {"x unix - - - - -1 cmd\n", 0, -1, "bad maxproc", 0},
    {"x unix - - - - 100001 cmd\n", 0, -1, "bad maxproc", 0},
    {"x unix - - - - 18446744073709551616 cmd\n", 0, -1, "bad maxproc", 0},
    {"x unix - - - 5?? - cmd\n", 0, -1, "bad wakeup field", 0},
    {"x unix - - - ? - cmd\n", 0, -1, "bad wakeup field", 0},
    {"x unix - - - -5 - cmd\n", 0, -1, "bad wakeup field", 0},
    {"x unix - - - 1w - cmd\n", 0, -1, "bad wakeup field", 0},
    {"x unix - - - 99999999999999999999999999999999999? - cmd\n", 0, -1,
     "bad wakeup field", 0},
    {"x unix - - - - -\n", 0, -1, "missing fields (need at least 8, got 7)", 0},
    {"a unix - - - - - c\nb unix - - - - - c\na unix - - - - - d\n", 0, -1,
     "master.cf:3: duplicate service a/unix (first at line 1)", 0},
    {"  -o a=b\nx unix - - - - - c\n", 0, -1, "master.cf:1: continuation line",
     0},
    {"x unix - - - - - c\0\n", 20, -1, "master.cf:1: NUL byte", 0},
    {"x unix - - - - - c\n\n\n\0", 22, -1, "master.cf:4: NUL byte", 0},
    {"x unix - - - - - c -o\n", 0, -1, "-o without name=value", 0},
    {"x unix - - - - - c -o noequals\n", 0, -1, "bad -o override", 0},
    {"x unix - - - - - c -o =v\n", 0, -1, "bad -o override", 0},
    {"x unix - - - - - c -o a-b=v\n", 0, -1, "bad -o override", 0},
    {"../evil unix - - - - - c\n", 0, -1, "starts with '.'", 0},
    {"a/b unix - - - - - c\n", 0, -1, "bad character in service name", 0},
    {"a/b fifo - - - - - c\n", 0, -1, "bad character", 0},
    {"a\x01 inet - - - - - c\n", 0, -1, "bad character", 0},
    {"ok unix - - - - - c\nbad unix - - - - x c\n", 0, -1,
     "master.cf:2: bad maxproc", 0},
};

static void summarize(const struct master_service *s, char *out, size_t len)
{
	struct buf *b = buf_create(0, 0);
	size_t i;

	buf_printf(b, "%s/%s %c %c %c %d%s %d %s", s->name,
	           master_type_name(s->type), s->private_ ? 'y' : 'n',
	           s->unpriv ? 'y' : 'n', s->chroot ? 'y' : 'n', s->wakeup,
	           s->wakeup_if_used ? "?" : "", s->maxproc, s->command);
	for (i = 0; i < s->nargs; i++)
		buf_printf(b, " %s", s->args[i]);
	ck_assert_ptr_null(s->args[s->nargs]);
	buf_append_str(b, "|");
	for (i = 0; i < s->noverrides; i++)
		buf_printf(b, "%s-o %s=%s", i ? " " : "", s->override_names[i],
		           s->override_values[i]);
	snprintf(out, len, "%s", buf_str(b));
	buf_destroy(&b);
}

START_TEST(test_parse)
{
	const char *text = parse_cases[_i].text;
	size_t len = parse_cases[_i].len ? parse_cases[_i].len : strlen(text);
	struct buf *err = buf_create(0, 0);
	struct master_cf *m = master_cf_parse(text, len, "master.cf", err);

	if (parse_cases[_i].ok == 0) {
		ck_assert_msg(m != NULL, "case %d: %s", _i, buf_str(err));
		ck_assert_uint_eq(m->count, parse_cases[_i].count);
		if (m->count > 0) {
			char got[512];
			summarize(&m->services[m->count - 1], got, sizeof(got));
			ck_assert_str_eq(got, parse_cases[_i].want);
		}
	} else {
		ck_assert_msg(m == NULL, "case %d parsed", _i);
		ck_assert_msg(strstr(buf_str(err), parse_cases[_i].want),
		              "case %d: err '%s'", _i, buf_str(err));
	}
	master_cf_destroy(&m);
	ck_assert_ptr_null(m);
	buf_destroy(&err);
}
END_TEST

/* Generated: overlong lines, too many services, too many words. */
START_TEST(test_limits)
{
	struct buf *text = buf_create(0, 0), *err = buf_create(0, 0);
	struct master_cf *m;
	int i;

	buf_append_str(text, "x unix - - - - - cmd ");
	for (i = 0; i < 70000; i++)
		buf_append_char(text, 'a');
	m = master_cf_parse(buf_str(text), buf_len(text), NULL, err);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(
	    strstr(buf_str(err), "master.cf:1: line too long"));

	buf_reset(text);
	for (i = 0; i < 1000; i++)
		buf_printf(text, "s%d unix - - - - - c\n", i);
	m = master_cf_parse(buf_str(text), buf_len(text), "m", err);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->count, 1000);
	ck_assert_int_eq(m->services[999].line, 1000);
	master_cf_destroy(&m);
	buf_printf(text, "one_more unix - - - - - c\n");
	m = master_cf_parse(buf_str(text), buf_len(text), "m", err);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(
	    strstr(buf_str(err), "m:1001: too many services"));

	buf_reset(text);
	buf_append_str(text, "x unix - - - - - cmd");
	for (i = 0; i < 1100; i++)
		buf_append_str(text, "\n a");
	m = master_cf_parse(buf_str(text), buf_len(text), "m", err);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "m:1: too many words"));

	buf_destroy(&text);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_read)
{
	char path[] = "/tmp/check_master_cf.XXXXXX";
	struct buf *err = buf_create(0, 0);
	struct master_cf *m;
	int fd = mkstemp(path);
	const char *text = "smtp inet n - n - - smtpd\n"
	                   "  -o smtpd_tls_wrappermode=yes\n"
	                   "cleanup unix n - n - 0 cleanup\n";

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	m = master_cf_read(path, err);
	ck_assert_msg(m != NULL, "%s", buf_str(err));
	ck_assert_uint_eq(m->count, 2);
	ck_assert_str_eq(m->services[0].override_names[0],
	                 "smtpd_tls_wrappermode");
	ck_assert_str_eq(m->services[0].override_values[0], "yes");
	ck_assert_int_eq(m->services[1].line, 3);
	ck_assert_int_eq(m->services[1].maxproc, 0);
	master_cf_destroy(&m);
	unlink(path);

	m = master_cf_read(path, err);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(strstr(buf_str(err), path));
	ck_assert_ptr_null(master_cf_read("/", err)); /* not a file */
	buf_destroy(&err);
}
END_TEST

START_TEST(test_type_names)
{
	ck_assert_str_eq(master_type_name(MASTER_INET), "inet");
	ck_assert_str_eq(master_type_name(MASTER_UNIX), "unix");
	ck_assert_str_eq(master_type_name(MASTER_PASS), "pass");
	ck_assert_str_eq(master_type_name(MASTER_FIFO), "fifo");
}
END_TEST

Suite *master_cf_suite(void)
{
	Suite *s = suite_create("master_cf");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_parse, 0, NELEM(parse_cases));
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_read);
	tcase_add_test(tc, test_type_names);
	suite_add_tcase(s, tc);
	return s;
}
