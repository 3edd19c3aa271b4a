/* check_smtp_command.c: unit tests for lib/smtp_command.c: verb split,
 * MAIL/RCPT paths and ESMTP parameters (SIZE, BODY, SMTPUTF8, RET, ENVID,
 * AUTH, NOTIFY, ORCPT), BDAT arguments, xtext; hostile inputs in the
 * tables. */
#include <check.h>
#include <string.h>

#include "buf.h"
#include "queue_file.h"
#include "smtp_command.h"

static const struct {
	const char *line;
	int ret;
	enum smtp_verb verb;
	const char *arg;
} verb_cases[] = {
    {"EHLO client.example", 0, SMTP_VERB_EHLO, "client.example"},
    {"ehlo   client.example  ", 0, SMTP_VERB_EHLO, "client.example"},
    {"HeLo x", 0, SMTP_VERB_HELO, "x"},
    {"MAIL FROM:<a@b> SIZE=10", 0, SMTP_VERB_MAIL, "FROM:<a@b> SIZE=10"},
    {"rcpt\tTO:<a@b>", 0, SMTP_VERB_RCPT, "TO:<a@b>"},
    {"DATA", 0, SMTP_VERB_DATA, ""},
    {"BDAT 10 LAST", 0, SMTP_VERB_BDAT, "10 LAST"},
    {"RSET", 0, SMTP_VERB_RSET, ""},
    {"NOOP anything", 0, SMTP_VERB_NOOP, "anything"},
    {"QUIT", 0, SMTP_VERB_QUIT, ""},
    {"VRFY postmaster", 0, SMTP_VERB_VRFY, "postmaster"},
    {"EXPN list", 0, SMTP_VERB_EXPN, "list"},
    {"HELP", 0, SMTP_VERB_HELP, ""},
    {"STARTTLS", 0, SMTP_VERB_STARTTLS, ""},
    {"AUTH PLAIN", 0, SMTP_VERB_AUTH, "PLAIN"},
    {"ETRN x", 0, SMTP_VERB_ETRN, "x"},
    {"", 0, SMTP_VERB_UNKNOWN, ""},
    {"   ", 0, SMTP_VERB_UNKNOWN, ""},
    {"MAILFROM:<a@b>", 0, SMTP_VERB_UNKNOWN, ""},
    {"MAI", 0, SMTP_VERB_UNKNOWN, ""},
    {"QUITX", 0, SMTP_VERB_UNKNOWN, ""},
    {"GET / HTTP/1.0", 0, SMTP_VERB_UNKNOWN, "/ HTTP/1.0"},
    /* Control characters refuse the line. */
    {"NOOP \r", -1, SMTP_VERB_UNKNOWN, NULL},
    {"NOOP \x7f", -1, SMTP_VERB_UNKNOWN, NULL},
    {"NO\x01OP", -1, SMTP_VERB_UNKNOWN, NULL},
    /* UTF-8 is not a control character. */
    {"VRFY j\xc3\xb6rg", 0, SMTP_VERB_VRFY, "j\xc3\xb6rg"},
};

START_TEST(test_verbs)
{
	for (size_t i = 0; i < sizeof(verb_cases) / sizeof(verb_cases[0]);
	     i++) {
		struct smtp_command cmd = {SMTP_VERB_COUNT, NULL, 99};
		const char *line = verb_cases[i].line;
		int r = smtp_command_parse(line, strlen(line), &cmd);

		ck_assert_msg(r == verb_cases[i].ret, "%s", line);
		if (r < 0) {
			ck_assert_int_eq(cmd.verb, SMTP_VERB_COUNT);
			continue;
		}
		ck_assert_msg(cmd.verb == verb_cases[i].verb, "%s", line);
		if (cmd.verb != SMTP_VERB_UNKNOWN || *verb_cases[i].arg) {
			ck_assert_uint_eq(cmd.arglen,
			                  strlen(verb_cases[i].arg));
			ck_assert(memcmp(cmd.arg, verb_cases[i].arg,
			                 cmd.arglen) == 0);
		}
	}
	/* A NUL anywhere refuses the line. */
	{
		struct smtp_command cmd;

		ck_assert_int_eq(smtp_command_parse("NOOP\0x", 6, &cmd), -1);
	}
	ck_assert_str_eq(smtp_verb_name(SMTP_VERB_EHLO), "ehlo");
	ck_assert_str_eq(smtp_verb_name(SMTP_VERB_UNKNOWN), "unknown");
	ck_assert_str_eq(smtp_verb_name((enum smtp_verb)999), "unknown");
	ck_assert_uint_eq(smtp_verb_line_max(SMTP_VERB_NOOP), 512);
	ck_assert_uint_eq(smtp_verb_line_max(SMTP_VERB_RCPT), 1012);
	ck_assert_uint_gt(smtp_verb_line_max(SMTP_VERB_MAIL), 1012);
}
END_TEST

static const struct {
	const char *arg;
	long long limit;
	int code; /* 0: accepted */
	const char *dsn;
	const char *sender;
	long long size;
	enum smtp_body body;
	bool utf8;
	const char *ret;
	const char *envid; /* NULL: none */
} mail_cases[] = {
    {"FROM:<a@example.org>", 0, 0, NULL, "a@example.org", -1, 0, 0, NULL, NULL},
    {"from:<>", 0, 0, NULL, "", -1, 0, 0, NULL, NULL},
    {"FROM: <a@example.org>", 0, 0, NULL, "a@example.org", -1, 0, 0, NULL,
     NULL},
    {"FROM:a@example.org SIZE=5", 0, 0, NULL, "a@example.org", 5, 0, 0, NULL,
     NULL},
    {"FROM:<a@example.org> SIZE=10240000 BODY=8BITMIME", 10240000, 0, NULL,
     "a@example.org", 10240000, SMTP_BODY_8BITMIME, 0, NULL, NULL},
    {"FROM:<a@example.org> body=7bit", 0, 0, NULL, "a@example.org", -1,
     SMTP_BODY_7BIT, 0, NULL, NULL},
    {"FROM:<a@example.org>  RET=HDRS   ENVID=QQ+2B123+3D", 0, 0, NULL,
     "a@example.org", -1, 0, 0, "HDRS", "QQ+123="},
    {"FROM:<a@example.org> ret=full", 0, 0, NULL, "a@example.org", -1, 0, 0,
     "FULL", NULL},
    {"FROM:<j\xc3\xb6rg@example.org> SMTPUTF8", 0, 0, NULL,
     "j\xc3\xb6rg@example.org", -1, 0, 1, NULL, NULL},
    {"FROM:<a@example.org> AUTH=<>", 0, 0, NULL, "a@example.org", -1, 0, 0,
     NULL, NULL},
    /* Refusals. */
    {"FROM:<a@example.org> SIZE=20000000", 10240000, 552, "5.3.4", NULL, 0, 0,
     0, NULL, NULL},
    {"FROM:<a@example.org> SIZE=99999999999999999999", 10240000, 552, "5.3.4",
     NULL, 0, 0, 0, NULL, NULL},
    {"FROM:<a@example.org> SIZE=1x", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL,
     NULL},
    {"FROM:<a@example.org> SIZE", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL, NULL},
    {"FROM:<a@example.org> SIZE=", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL, NULL},
    {"FROM:<a@example.org> BODY=BINARYMIME", 0, 501, "5.5.4", NULL, 0, 0, 0,
     NULL, NULL},
    {"FROM:<a@example.org> SMTPUTF8=yes", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL,
     NULL},
    {"FROM:<a@example.org> RET=ALL", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL,
     NULL},
    {"FROM:<a@example.org> ENVID=a+2", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL,
     NULL},
    {"FROM:<a@example.org> ENVID=a+2b", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL,
     NULL},
    {"FROM:<a@example.org> ENVID=a+00", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL,
     NULL},
    {"FROM:<a@example.org> ENVID=a+0A", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL,
     NULL},
    {"FROM:<a@example.org> ENVID=+C3+B6", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL,
     NULL},
    {"FROM:<a@example.org> ENVID="
     "12345678901234567890123456789012345678901234567890"
     "123456789012345678901234567890123456789012345678901",
     0, 501, "5.5.4", NULL, 0, 0, 0, NULL, NULL},
    {"FROM:<a@example.org> XFOO=1", 0, 555, "5.5.4", NULL, 0, 0, 0, NULL, NULL},
    {"FROM:<a@example.org> SIZE=1 size=2", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL,
     NULL},
    {"FROM:<a@example.org> -X=1", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL, NULL},
    {"FROM:<a@example.org> =1", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL, NULL},
    {"FROM:<a@example.org> X=a=b", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL, NULL},
    {"FROM:<a@example.org>SIZE=1", 0, 501, "5.1.7", NULL, 0, 0, 0, NULL, NULL},
    {"FROM:<a@example.org> A B C D E F G H I J K L M N O P Q", 0, 501, "5.5.4",
     NULL, 0, 0, 0, NULL, NULL},
    {"FROM <a@example.org>", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL, NULL},
    {"TO:<a@example.org>", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL, NULL},
    {"", 0, 501, "5.5.4", NULL, 0, 0, 0, NULL, NULL},
    {"FROM:", 0, 501, "5.1.7", NULL, 0, 0, 0, NULL, NULL},
    {"FROM:<a@@example.org>", 0, 501, "5.1.7", NULL, 0, 0, 0, NULL, NULL},
    {"FROM:<a@example.org", 0, 501, "5.1.7", NULL, 0, 0, 0, NULL, NULL},
    /* RFC 6531: UTF-8 only with SMTPUTF8. */
    {"FROM:<j\xc3\xb6rg@example.org>", 0, 553, "5.6.7", NULL, 0, 0, 0, NULL,
     NULL},
    /* Malformed UTF-8 is a syntax error even with SMTPUTF8. */
    {"FROM:<j\xc3rg@example.org> SMTPUTF8", 0, 501, "5.1.7", NULL, 0, 0, 0,
     NULL, NULL},
};

START_TEST(test_mail)
{
	struct buf *sender = buf_create(0, 1024);

	for (size_t i = 0; i < sizeof(mail_cases) / sizeof(mail_cases[0]);
	     i++) {
		struct smtp_mail_args a;
		struct smtp_parse_error err;
		const char *arg = mail_cases[i].arg;
		int r = smtp_mail_parse(arg, strlen(arg), mail_cases[i].limit,
		                        sender, &a, &err);

		if (mail_cases[i].code) {
			ck_assert_msg(r == -1, "%s", arg);
			ck_assert_msg(err.code == mail_cases[i].code,
			              "%s: %d %s", arg, err.code, err.text);
			ck_assert_str_eq(err.dsn, mail_cases[i].dsn);
			ck_assert(strlen(err.text) > 0);
			continue;
		}
		ck_assert_msg(r == 0, "%s: %s", arg, err.text);
		ck_assert_str_eq(buf_str(sender), mail_cases[i].sender);
		ck_assert_int_eq(a.size, mail_cases[i].size);
		ck_assert_int_eq(a.body, mail_cases[i].body);
		ck_assert_int_eq(a.smtputf8, mail_cases[i].utf8);
		if (mail_cases[i].ret)
			ck_assert_str_eq(a.ret, mail_cases[i].ret);
		else
			ck_assert_ptr_null(a.ret);
		ck_assert_int_eq(a.have_envid, mail_cases[i].envid != NULL);
		if (mail_cases[i].envid)
			ck_assert_str_eq(a.envid, mail_cases[i].envid);
	}
	buf_destroy(&sender);
}
END_TEST

START_TEST(test_mail_error_text_is_safe)
{
	struct buf *sender = buf_create(0, 1024);
	struct smtp_mail_args a;
	struct smtp_parse_error err;
	const char *arg = "FROM:<> X\xc3\xb6Y=1";
	char longarg[400];

	ck_assert_int_eq(smtp_mail_parse(arg, strlen(arg), 0, sender, &a, &err),
	                 -1);
	ck_assert_int_eq(err.code, 501);
	for (const char *p = err.text; *p; p++)
		ck_assert((unsigned char)*p >= 0x20 &&
		          (unsigned char)*p < 0x7f);
	/* An unknown keyword is echoed, shortened. */
	memset(longarg, 'K', sizeof(longarg));
	memcpy(longarg, "FROM:<> ", 8);
	ck_assert_int_eq(
	    smtp_mail_parse(longarg, sizeof(longarg), 0, sender, &a, &err), -1);
	ck_assert_int_eq(err.code, 555);
	ck_assert_uint_lt(strlen(err.text), 100);
	ck_assert_ptr_nonnull(strstr(err.text, "KKK..."));
	buf_destroy(&sender);
}
END_TEST

static const struct {
	const char *arg;
	bool utf8;
	int code;
	const char *rcpt;
	int notify;
	const char *orcpt; /* NULL: none */
} rcpt_cases[] = {
    {"TO:<b@example.org>", 0, 0, "b@example.org", 0, NULL},
    {"to:<Postmaster>", 0, 0, "postmaster", 0, NULL},
    {"TO:<b@example.org> NOTIFY=SUCCESS,FAILURE", 0, 0, "b@example.org",
     QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE, NULL},
    {"TO:<b@example.org> notify=never ORCPT=rfc822;b+40example.org", 0, 0,
     "b@example.org", QUEUE_NOTIFY_NEVER, "rfc822;b@example.org"},
    {"TO:<b@example.org> ORCPT=rfc822;x+2By+20z@example.org", 0, 0,
     "b@example.org", 0, "rfc822;x+y z@example.org"},
    {"TO:<\xc3\xa9@example.org>", 1, 0, "\xc3\xa9@example.org", 0, NULL},
    {"TO:<\xc3\xa9@example.org>", 0, 553, NULL, 0, NULL},
    {"TO:<>", 0, 501, NULL, 0, NULL},
    {"TO:<b@example.org> NOTIFY=NEVER,DELAY", 0, 501, NULL, 0, NULL},
    {"TO:<b@example.org> NOTIFY=SOMETIMES", 0, 501, NULL, 0, NULL},
    {"TO:<b@example.org> NOTIFY", 0, 501, NULL, 0, NULL},
    {"TO:<b@example.org> ORCPT=b@example.org", 0, 501, NULL, 0, NULL},
    {"TO:<b@example.org> ORCPT=;b@example.org", 0, 501, NULL, 0, NULL},
    {"TO:<b@example.org> ORCPT=rfc822;", 0, 501, NULL, 0, NULL},
    {"TO:<b@example.org> ORCPT=rfc<822;b", 0, 501, NULL, 0, NULL},
    {"TO:<b@example.org> ORCPT=rfc822;b+0D+0A", 0, 501, NULL, 0, NULL},
    {"TO:<b@example.org> SIZE=1", 0, 555, NULL, 0, NULL},
    {"TO:<b@example.org> NOTIFY=DELAY NOTIFY=DELAY", 0, 501, NULL, 0, NULL},
    {"FROM:<b@example.org>", 0, 501, NULL, 0, NULL},
    {"TO:b@example.org", 0, 0, "b@example.org", 0, NULL},
};

START_TEST(test_rcpt)
{
	struct buf *rcpt = buf_create(0, 1024);

	for (size_t i = 0; i < sizeof(rcpt_cases) / sizeof(rcpt_cases[0]);
	     i++) {
		struct smtp_rcpt_args a;
		struct smtp_parse_error err;
		const char *arg = rcpt_cases[i].arg;
		int r = smtp_rcpt_parse(arg, strlen(arg), rcpt_cases[i].utf8,
		                        rcpt, &a, &err);

		if (rcpt_cases[i].code) {
			ck_assert_msg(r == -1 && err.code == rcpt_cases[i].code,
			              "%s", arg);
			continue;
		}
		ck_assert_msg(r == 0, "%s: %s", arg, err.text);
		ck_assert_str_eq(buf_str(rcpt), rcpt_cases[i].rcpt);
		ck_assert_int_eq(a.notify, rcpt_cases[i].notify);
		ck_assert_int_eq(a.have_orcpt, rcpt_cases[i].orcpt != NULL);
		if (rcpt_cases[i].orcpt)
			ck_assert_str_eq(a.orcpt, rcpt_cases[i].orcpt);
	}
	buf_destroy(&rcpt);
}
END_TEST

START_TEST(test_orcpt_length)
{
	struct buf *rcpt = buf_create(0, 1024);
	struct buf *arg = buf_create(0, 4096);
	struct smtp_rcpt_args a;
	struct smtp_parse_error err;

	/* 7 + 493 = 500 characters fit, one more does not. */
	buf_set_str(arg, "TO:<b@x.org> ORCPT=rfc822;");
	for (int i = 0; i < 493; i++)
		buf_append_char(arg, 'y');
	ck_assert_int_eq(
	    smtp_rcpt_parse(buf_str(arg), buf_len(arg), false, rcpt, &a, &err),
	    0);
	ck_assert_uint_eq(strlen(a.orcpt), 500);
	buf_append_char(arg, 'y');
	ck_assert_int_eq(
	    smtp_rcpt_parse(buf_str(arg), buf_len(arg), false, rcpt, &a, &err),
	    -1);
	buf_destroy(&rcpt);
	buf_destroy(&arg);
}
END_TEST

static const struct {
	const char *arg;
	int ret;
	long long size;
	bool last;
} bdat_cases[] = {
    {"0", 0, 0, false},
    {"0 LAST", 0, 0, true},
    {"1024", 0, 1024, false},
    {"1024 last", 0, 1024, true},
    {"1024  LAST", 0, 1024, true},
    {"1125899906842624", 0, 1LL << 50, false},
    {"1125899906842625", -1, 0, false},
    {"99999999999999999999999999", -1, 0, false},
    {"", -1, 0, false},
    {"LAST", -1, 0, false},
    {"-1", -1, 0, false},
    {"10 LASTX", -1, 0, false},
    {"10 FIRST", -1, 0, false},
    {"10LAST", -1, 0, false},
    {"0x10", -1, 0, false},
};

START_TEST(test_bdat)
{
	for (size_t i = 0; i < sizeof(bdat_cases) / sizeof(bdat_cases[0]);
	     i++) {
		struct smtp_parse_error err;
		long long size = -7;
		bool last = false;
		const char *arg = bdat_cases[i].arg;
		int r = smtp_bdat_parse(arg, strlen(arg), &size, &last, &err);

		ck_assert_msg(r == bdat_cases[i].ret, "%s", arg);
		if (r == 0) {
			ck_assert_int_eq(size, bdat_cases[i].size);
			ck_assert_int_eq(last, bdat_cases[i].last);
		} else {
			ck_assert_int_eq(err.code, 501);
			ck_assert_str_eq(err.dsn, "5.5.4");
		}
	}
}
END_TEST

START_TEST(test_xtext)
{
	struct buf *out = buf_create(0, 16);
	struct buf *enc = buf_create(0, 64);

	ck_assert_int_eq(smtp_xtext_decode("a+2Bb+3D", 8, out), 0);
	ck_assert_str_eq(buf_str(out), "a+b=");
	ck_assert_int_eq(smtp_xtext_decode("", 0, out), 0);
	ck_assert_uint_eq(buf_len(out), 0);
	ck_assert_int_eq(smtp_xtext_decode("a=b", 3, out), -1);
	ck_assert_int_eq(smtp_xtext_decode("a b", 3, out), -1);
	ck_assert_int_eq(smtp_xtext_decode("+", 1, out), -1);
	ck_assert_int_eq(smtp_xtext_decode("+4", 2, out), -1);
	ck_assert_int_eq(smtp_xtext_decode("+4g", 3, out), -1);
	ck_assert_int_eq(smtp_xtext_decode("+2b", 3, out), -1);
	ck_assert_int_eq(smtp_xtext_decode("+00", 3, out), -1);
	ck_assert_int_eq(smtp_xtext_decode("\xc3\xa9", 2, out), -1);
	/* Past the output limit. */
	ck_assert_int_eq(smtp_xtext_decode("12345678901234567", 17, out), -1);
	/* Round trip. */
	ck_assert_int_eq(smtp_xtext_encode("a+b= \xff", 6, enc), 0);
	ck_assert_str_eq(buf_str(enc), "a+2Bb+3D+20+FF");
	ck_assert_int_eq(smtp_xtext_decode(buf_str(enc), buf_len(enc), out), 0);
	ck_assert_str_eq(buf_str(out), "a+b= \xff");
	buf_destroy(&out);
	buf_destroy(&enc);
}
END_TEST

Suite *smtp_command_suite(void)
{
	Suite *s = suite_create("smtp_command");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_verbs);
	tcase_add_test(tc, test_mail);
	tcase_add_test(tc, test_mail_error_text_is_safe);
	tcase_add_test(tc, test_rcpt);
	tcase_add_test(tc, test_orcpt_length);
	tcase_add_test(tc, test_bdat);
	tcase_add_test(tc, test_xtext);
	suite_add_tcase(s, tc);
	return s;
}
