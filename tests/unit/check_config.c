/* check_config.c: unit tests for lib/config.c and lib/param_table.c,
 * table-driven with hostile inputs (NUL bytes, overlong lines, expansion
 * loops, deep chains, blow-ups, 2^64 numbers, bad units). */
#include <check.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "msg.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* --- the table itself --- */

START_TEST(test_table_sorted)
{
	size_t i;

	ck_assert_uint_gt(param_table_count, 60);
	for (i = 1; i < param_table_count; i++)
		ck_assert_msg(
		    strcmp(param_table[i - 1].name, param_table[i].name) < 0,
		    "param_table not sorted or duplicate at %s / %s",
		    param_table[i - 1].name, param_table[i].name);
	for (i = 0; i < param_table_count; i++) {
		ck_assert_ptr_eq(param_find(param_table[i].name),
		                 &param_table[i]);
		ck_assert_ptr_nonnull(param_table[i].def);
		ck_assert_msg(param_table[i].doc && param_table[i].doc[0],
		              "%s: no doc", param_table[i].name);
		ck_assert_ptr_null(strchr(param_table[i].doc, '\n'));
		ck_assert(param_table[i].min <= param_table[i].max);
	}
	ck_assert_ptr_null(param_find("no_such_parameter"));
	ck_assert_ptr_null(param_find(""));
}
END_TEST

/* Every default expands and validates in a config holding only defaults. */
START_TEST(test_table_defaults_valid)
{
	struct config *c = config_create();
	struct buf *out = buf_create(0, 0), *err = buf_create(0, 0);
	size_t i;

	ck_assert_int_eq(config_set(c, "myhostname", "mx.example.org"), 0);
	for (i = 0; i < param_table_count; i++) {
		const struct param_def *p = &param_table[i];
		buf_reset(out);
		ck_assert_msg(config_expand(c, p->def, out, err) == 0, "%s: %s",
		              p->name, buf_str(err));
		ck_assert_msg(param_validate(p, buf_str(out), err) == 0,
		              "%s: %s", p->name, buf_str(err));
		/* The getter of the right type must not die either. */
		switch (p->type) {
		case PARAM_INT:
			(void)config_int(c, p->name);
			break;
		case PARAM_BOOL:
			(void)config_bool(c, p->name);
			break;
		case PARAM_TIME:
			(void)config_time(c, p->name);
			break;
		case PARAM_SIZE:
			(void)config_size(c, p->name);
			break;
		case PARAM_STR:
			ck_assert_ptr_nonnull(config_str(c, p->name));
			break;
		}
	}
	buf_destroy(&out);
	buf_destroy(&err);
	config_destroy(&c);
	ck_assert_ptr_null(c);
}
END_TEST

/* --- parsing --- */

static const struct {
	const char *text;
	size_t len; /* 0: strlen */
	int ok;
	const char *want; /* ok: "name=value" of the last entry; else error */
	size_t count; /* entries when ok */
} parse_cases[] = {
    {"a = b\n", 0, 0, "a=b", 1},
    {"a=b", 0, 0, "a=b", 1},
    {"a_1   =   b c  \n", 0, 0, "a_1=b c", 1},
    {"  a_1   =   b c  \n", 0, -1, "main.cf:1: continuation line", 0},
    {"# comment\n\n   # indented comment\na = b\n", 0, 0, "a=b", 1},
    {"a = b\n  c\n\td  \n", 0, 0, "a=b c d", 1},
    {"a =\n  x\n", 0, 0, "a=x", 1},
    {"a = b\n# comment between\n\n  more\n", 0, 0, "a=b more", 1},
    {"a = \n", 0, 0, "a=", 1},
    {"a = b # not a comment\n", 0, 0, "a=b # not a comment", 1},
    {"a = b\r\nc = d\r\n", 0, 0, "c=d", 2},
    {"a = 1\na = 2\n", 0, 0, "a=2", 2},
    {"a = x = y\n", 0, 0, "a=x = y", 1},
    {"a b\n", 0, -1, "main.cf:1: missing '=' in \"a b\"", 0},
    {"a = b\njunk\n", 0, -1, "main.cf:2: missing '='", 0},
    {"= x\n", 0, -1, "main.cf:1: bad parameter name", 0},
    {"a-b = x\n", 0, -1, "bad parameter name \"a-b\"", 0},
    {"a b = x\n", 0, -1, "bad parameter name", 0},
    {"a = b\0c\n", 8, -1, "main.cf:1: NUL byte", 0},
    {"a = b\nc = d\n\0", 13, -1, "main.cf:3: NUL byte", 0},
    {"", 0, 0, NULL, 0},
    {"\n\n\n", 0, 0, NULL, 0},
    {"\xff\xfe = x\n", 0, -1, "bad parameter name \"??\"", 0},
};

START_TEST(test_parse)
{
	struct config *c = config_create();
	struct buf *err = buf_create(0, 0);
	const char *text = parse_cases[_i].text;
	size_t len = parse_cases[_i].len ? parse_cases[_i].len : strlen(text);
	int r = config_parse(c, text, len, "main.cf", err);

	ck_assert_msg(r == parse_cases[_i].ok, "case %d: r=%d err=%s", _i, r,
	              buf_str(err));
	if (r == 0) {
		size_t n = config_entry_count(c);
		ck_assert_uint_eq(n, parse_cases[_i].count);
		if (n > 0) {
			char got[256];
			snprintf(got, sizeof(got), "%s=%s",
			         config_entry_name(c, n - 1),
			         config_entry_value(c, n - 1));
			ck_assert_str_eq(got, parse_cases[_i].want);
			ck_assert(config_is_set(c, config_entry_name(c, 0)));
		}
	} else {
		ck_assert_msg(strstr(buf_str(err), parse_cases[_i].want),
		              "case %d: err '%s'", _i, buf_str(err));
		ck_assert_uint_eq(config_entry_count(c), 0);
	}
	buf_destroy(&err);
	config_destroy(&c);
}
END_TEST

/* Overlong lines, an overlong joined value: errors, not truncation. */
START_TEST(test_parse_limits)
{
	struct config *c = config_create();
	struct buf *err = buf_create(0, 0);
	size_t n = 70000, i;
	char *text = malloc(n + 16);

	memcpy(text, "a = ", 4);
	memset(text + 4, 'x', n);
	ck_assert_int_eq(config_parse(c, text, n + 4, "main.cf", err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "main.cf:1: line too long"));

	/* 40 continuation lines of 30000 bytes: over the 1 MiB value cap. */
	struct buf *big = buf_create(0, 0);
	buf_append_str(big, "a = b\n");
	memset(text, 'y', 30000);
	text[30000] = 0;
	for (i = 0; i < 40; i++)
		buf_printf(big, " %s\n", text);
	ck_assert_int_eq(
	    config_parse(c, buf_str(big), buf_len(big), "main.cf", err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "value too long"));

	/* Too many settings. */
	buf_reset(big);
	for (i = 0; i < 10001; i++)
		buf_printf(big, "p%zu = v\n", i);
	ck_assert_int_eq(
	    config_parse(c, buf_str(big), buf_len(big), "main.cf", err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "too many settings"));
	ck_assert_uint_eq(config_entry_count(c), 0);

	free(text);
	buf_destroy(&big);
	buf_destroy(&err);
	config_destroy(&c);
}
END_TEST

/* A failed parse leaves the config as it was; later settings win. */
START_TEST(test_parse_atomic)
{
	struct config *c = config_create();
	struct buf *err = buf_create(0, 0);
	const char *good = "hopcount_limit = 7\nfoo = bar\n";
	const char *bad = "hopcount_limit = 9\nbroken\n";
	const char *more = "hopcount_limit = 8\n";

	ck_assert_int_eq(config_parse(c, good, strlen(good), "a.cf", err), 0);
	ck_assert_int_eq(config_int(c, "hopcount_limit"), 7);
	ck_assert_int_eq(config_parse(c, bad, strlen(bad), "b.cf", err), -1);
	ck_assert_str_eq(buf_str(err), "b.cf:2: missing '=' in \"broken\"");
	ck_assert_uint_eq(config_entry_count(c), 2);
	ck_assert_int_eq(config_int(c, "hopcount_limit"), 7);
	ck_assert_int_eq(config_parse(c, more, strlen(more), "c.cf", err), 0);
	ck_assert_int_eq(config_int(c, "hopcount_limit"), 8);
	ck_assert_uint_eq(config_entry_count(c), 3);
	ck_assert_str_eq(config_entry_value(c, 0), "7");
	ck_assert_int_eq(config_entry_line(c, 1), 2);
	ck_assert_ptr_null(config_entry_name(c, 3));
	ck_assert_str_eq(config_raw(c, "foo"), "bar");
	ck_assert_ptr_null(config_raw(c, "nope"));
	ck_assert_str_eq(config_raw(c, "relayhost"), "");
	ck_assert(!config_is_set(c, "relayhost"));
	buf_destroy(&err);
	config_destroy(&c);
}
END_TEST

/* --- expansion --- */

static const struct {
	const char *conf;
	const char *expr;
	int ok;
	const char *want; /* ok: output; else a substring of the error */
} expand_cases[] = {
    {"a = x\n", "$a", 0, "x"},
    {"a = x\n", "${a}", 0, "x"},
    {"a = x\n", "$(a)", 0, "x"},
    {"a = x\n", "<$a>$a.$a", 0, "<x>x.x"},
    {"a = x\n", "$a_b", 0, ""}, /* the name is a_b */
    {"a = x\n", "${a}_b", 0, "x_b"},
    {"a = x\n", "${a?yes}", 0, "yes"},
    {"a = x\ne =\n", "${e?yes}", 0, ""},
    {"a = x\n", "${a:no}", 0, ""},
    {"a = x\ne =\n", "${e:no}", 0, "no"},
    {"", "${unknown:dflt}", 0, "dflt"},
    {"", "$(unknown?x)", 0, ""},
    {"a = x\nb = y\n", "${a?${b}-${c:z}}", 0, "y-z"},
    {"a = x\n", "${a?{braces}}", 0, "{braces}"},
    {"a = $$b\n", "$a", 0, "$b"},
    {"", "$$", 0, "$"},
    {"", "cost 5$", 0, "cost 5$"},
    {"", "$ $- $.", 0, "$ $- $."},
    {"e =\nb = $e\n", "${b:empty}", 0, "empty"},
    {"a = $b\nb = $c\nc = end\n", "$a", 0, "end"},
    {"a = $b\nb = $a\n", "$a", -1, "expansion loop: a -> b -> a"},
    {"a = $b\nb = $a\n", "x$b", -1, "expansion loop: b -> a -> b"},
    {"a = $a\n", "$a", -1, "expansion loop: a -> a"},
    {"a = ${a}\n", "${x:$a}", -1, "expansion loop: a -> a"},
    {"a = $b\nb = $c\nc = $a\n", "$a", -1, "a -> b -> c -> a"},
    {"a = ${a?x}\n", "$a", -1, "expansion loop: a -> a"},
    {"a = ${b:$a}\n", "$a", -1, "expansion loop"},
    {"a = x\n", "${a", -1, "unterminated ${"},
    {"a = x\n", "$(a", -1, "unterminated $("},
    {"a = x\n", "${a?x", -1, "unterminated"},
    {"a = ${x\n", "$a", -1, "unterminated"},
    {"", "${}", -1, "missing parameter name"},
    {"", "${?x}", -1, "missing parameter name"},
    {"a = x\n", "${a!x}", -1, "bad character"},
    {"a = x\n", "${a b}", -1, "bad character"},
    {"myhostname = mx.example.org\n", "$mydomain", 0, "example.org"},
    {"myhostname = host\n", "$mydomain", 0, "localdomain"},
    {"myhostname = host.\n", "$mydomain", 0, "localdomain"},
    {"myhostname = mx.example.org\n", "$mydestination", 0,
     "mx.example.org, localhost.example.org, localhost"},
    {"myhostname = a.b\nmydomain = c.d\n", "$mydomain", 0, "c.d"},
    {"myhostname = $mydomain\n", "$myhostname", -1, "expansion loop"},
    {"myhostname = m.x\n", "$smtpd_banner", 0, "m.x ESMTP posthorn"},
    {"myhostname = m.x\n", "${myhostname?set}", 0, "set"},
};

START_TEST(test_expand)
{
	struct config *c = config_create();
	struct buf *out = buf_create(0, 0), *err = buf_create(0, 0);
	const char *conf = expand_cases[_i].conf;

	ck_assert_int_eq(config_parse(c, conf, strlen(conf), "main.cf", err),
	                 0);
	buf_set_str(out, "keep:");
	int r = config_expand(c, expand_cases[_i].expr, out, err);
	ck_assert_msg(r == expand_cases[_i].ok, "case %d (%s): r=%d err=%s", _i,
	              expand_cases[_i].expr, r, buf_str(err));
	if (r == 0) {
		ck_assert_str_eq(buf_str(out) + 5, expand_cases[_i].want);
	} else {
		ck_assert_str_eq(buf_str(out), "keep:"); /* untouched */
		ck_assert_msg(strstr(buf_str(err), expand_cases[_i].want),
		              "case %d: err '%s'", _i, buf_str(err));
	}
	buf_destroy(&out);
	buf_destroy(&err);
	config_destroy(&c);
}
END_TEST

/* Generated hostile configurations for expansion. */
enum gen_kind {
	GEN_CHAIN_OK, /* 60 names, each $next: fine */
	GEN_CHAIN_DEEP, /* 150 names: over the depth limit */
	GEN_BLOWUP, /* 10^7 copies: over the output cap */
	GEN_EMPTY_BLOWUP, /* 10^8 empty evaluations: over the work budget */
	GEN_NESTED, /* ${a? 300 times: nested too deeply */
	GEN_LONG_NAME, /* $ + 1000 letters */
};

static const struct {
	enum gen_kind kind;
	const char *expr;
	int ok;
	const char *want;
} gen_cases[] = {
    {GEN_CHAIN_OK, "$v0", 0, "end"},
    {GEN_CHAIN_DEEP, "$v0", -1, "too deep"},
    {GEN_BLOWUP, "$v0", -1, "too long"},
    {GEN_EMPTY_BLOWUP, "$v0", -1, "too complex"},
    {GEN_NESTED, NULL, -1, "nested too deeply"},
    {GEN_LONG_NAME, NULL, -1, "name too long"},
};

START_TEST(test_expand_generated)
{
	struct config *c = config_create();
	struct buf *text = buf_create(0, 0), *expr = buf_create(0, 0);
	struct buf *out = buf_create(0, 0), *err = buf_create(0, 0);
	int i, j;

	buf_set_str(expr, gen_cases[_i].expr ? gen_cases[_i].expr : "");
	switch (gen_cases[_i].kind) {
	case GEN_CHAIN_OK:
	case GEN_CHAIN_DEEP: {
		int n = gen_cases[_i].kind == GEN_CHAIN_OK ? 60 : 150;
		for (i = 0; i < n; i++)
			buf_printf(text, "v%d = $v%d\n", i, i + 1);
		buf_printf(text, "v%d = end\n", n);
		break;
	}
	case GEN_BLOWUP:
	case GEN_EMPTY_BLOWUP:
		for (i = 0; i < 9; i++) {
			buf_printf(text, "v%d =", i);
			for (j = 0; j < 10; j++)
				buf_printf(text,
				           gen_cases[_i].kind == GEN_BLOWUP
				               ? " $v%d"
				               : "${v%d:}",
				           i + 1);
			buf_append_str(text, "\n");
		}
		buf_append_str(text, "v9 = xxxxxxxxxx\n");
		break;
	case GEN_NESTED:
		buf_append_str(text, "a = x\n");
		for (i = 0; i < 300; i++)
			buf_append_str(expr, "${a?");
		buf_append_str(expr, "deep");
		for (i = 0; i < 300; i++)
			buf_append_str(expr, "}");
		break;
	case GEN_LONG_NAME:
		buf_append_str(expr, "$");
		for (i = 0; i < 1000; i++)
			buf_append_str(expr, "n");
		break;
	}
	ck_assert_int_eq(
	    config_parse(c, buf_str(text), buf_len(text), "main.cf", err), 0);
	int r = config_expand(c, buf_str(expr), out, err);
	ck_assert_msg(r == gen_cases[_i].ok, "case %d: err %s", _i,
	              buf_str(err));
	if (r == 0)
		ck_assert_str_eq(buf_str(out), gen_cases[_i].want);
	else
		ck_assert_msg(strstr(buf_str(err), gen_cases[_i].want),
		              "case %d: err '%s'", _i, buf_str(err));
	buf_destroy(&text);
	buf_destroy(&expr);
	buf_destroy(&out);
	buf_destroy(&err);
	config_destroy(&c);
}
END_TEST

/* --- values --- */

static const struct {
	const char *name;
	const char *value;
	int ok;
} validate_cases[] = {
    {"message_size_limit", "10240000", 0},
    {"message_size_limit", "10m", 0},
    {"message_size_limit", "0", 0},
    {"message_size_limit", "18446744073709551616", -1}, /* 2^64 */
    {"message_size_limit", "9223372036854775807", -1},
    {"message_size_limit", "99999999999999g", -1},
    {"message_size_limit", "10x", -1},
    {"message_size_limit", "-1", -1},
    {"message_size_limit", "", -1},
    {"smtpd_timeout", "300s", 0},
    {"smtpd_timeout", "300", 0},
    {"smtpd_timeout", "5m", 0},
    {"smtpd_timeout", "1h", 0},
    {"smtpd_timeout", "2h", -1},
    {"smtpd_timeout", "0", -1},
    {"smtpd_timeout", "5x", -1},
    {"smtpd_timeout", "5ms", -1},
    {"smtpd_timeout", "s", -1},
    {"smtpd_timeout", "9223372036854775807w", -1},
    {"smtpd_timeout", "18446744073709551616s", -1},
    {"maximal_queue_lifetime", "5", 0},
    {"maximal_queue_lifetime", "101d", -1},
    {"disable_vrfy_command", "yes", 0},
    {"disable_vrfy_command", "NO", 0},
    {"disable_vrfy_command", "True", 0},
    {"disable_vrfy_command", "off", 0},
    {"disable_vrfy_command", "1", 0},
    {"disable_vrfy_command", "0", 0},
    {"disable_vrfy_command", "maybe", -1},
    {"disable_vrfy_command", "", -1},
    {"disable_vrfy_command", "yes ", -1},
    {"hopcount_limit", "50", 0},
    {"hopcount_limit", "1000", 0},
    {"hopcount_limit", "1001", -1},
    {"hopcount_limit", "0", -1},
    {"hopcount_limit", "0x10", -1},
    {"hopcount_limit", "18446744073709551616", -1},
    {"hopcount_limit", "-9223372036854775809", -1},
    {"hopcount_limit", " 5", -1},
    {"myhostname", "anything at all", 0},
    {"relayhost", "", 0},
};

START_TEST(test_validate)
{
	const struct param_def *p = param_find(validate_cases[_i].name);
	struct buf *err = buf_create(0, 0);
	int r;

	ck_assert_ptr_nonnull(p);
	r = param_validate(p, validate_cases[_i].value, err);
	ck_assert_msg(r == validate_cases[_i].ok, "%s = '%s': %d %s",
	              validate_cases[_i].name, validate_cases[_i].value, r,
	              buf_str(err));
	if (r < 0)
		ck_assert_uint_gt(buf_len(err), 0);
	ck_assert_int_eq(param_validate(NULL, "x", err), -1);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_getters)
{
	struct config *c = config_create();
	struct buf *err = buf_create(0, 0);
	const char *text = "myhostname = mx.example.org\n"
	                   "smtpd_timeout = 5m\n"
	                   "message_size_limit = 1k\n"
	                   "smtpd_tls_wrappermode = On\n"
	                   "x = 40\n"
	                   "hopcount_limit = $x\n"
	                   "mail_name = Mail\n";
	const char *banner;

	ck_assert_int_eq(config_parse(c, text, strlen(text), "main.cf", err),
	                 0);
	ck_assert_int_eq(config_time(c, "smtpd_timeout"), 300);
	ck_assert_int_eq(config_time(c, "maximal_queue_lifetime"), 5 * 86400);
	ck_assert_int_eq(config_time(c, "ipc_timeout"), 3600);
	ck_assert_int_eq(config_size(c, "message_size_limit"), 1024);
	ck_assert(config_bool(c, "smtpd_tls_wrappermode"));
	ck_assert(config_bool(c, "disable_vrfy_command"));
	ck_assert(!config_bool(c, "smtpd_sasl_auth_enable"));
	ck_assert_int_eq(config_int(c, "hopcount_limit"), 40);
	ck_assert_int_eq(config_int(c, "default_process_limit"), 100);
	banner = config_str(c, "smtpd_banner");
	ck_assert_str_eq(banner, "mx.example.org ESMTP Mail");
	ck_assert_str_eq(config_str(c, "mydomain"), "example.org");
	ck_assert_str_eq(config_str(c, "smtpd_timeout"), "5m");
	ck_assert_ptr_eq(config_str(c, "smtpd_banner"), banner); /* cached */

	/* config_set invalidates caches; old strings stay valid. */
	ck_assert_int_eq(config_set(c, "mail_name", "Other"), 0);
	ck_assert_str_eq(banner, "mx.example.org ESMTP Mail");
	ck_assert_str_eq(config_str(c, "smtpd_banner"),
	                 "mx.example.org ESMTP Other");
	ck_assert_int_eq(config_set(c, "no_such_name", "x"), -1);
	ck_assert_int_eq(config_set(c, "hopcount_limit", "12"), 0);
	ck_assert_int_eq(config_int(c, "hopcount_limit"), 12);
	ck_assert(config_is_set(c, "hopcount_limit"));
	ck_assert(!config_is_set(c, "relayhost"));
	/* config_entry_* still show main.cf as read. */
	ck_assert_str_eq(config_entry_value(c, 5), "$x");
	buf_destroy(&err);
	config_destroy(&c);
}
END_TEST

/* With no myhostname at all, the system name is used. */
START_TEST(test_hostname_default)
{
	struct config *c = config_create();
	const char *h = config_str(c, "myhostname");
	const char *d = config_str(c, "mydomain");

	ck_assert_uint_gt(strlen(h), 0);
	ck_assert_uint_gt(strlen(d), 0);
	ck_assert_ptr_null(strchr(h, ' '));
	config_destroy(&c);
}
END_TEST

/* Getters with a bad value: msg_fatal, exit status 1. */
static const struct {
	const char *text;
	const char *name;
	int type; /* enum param_type */
} fatal_cases[] = {
    {"hopcount_limit = 18446744073709551616\n", "hopcount_limit", PARAM_INT},
    {"hopcount_limit = lots\n", "hopcount_limit", PARAM_INT},
    {"smtpd_timeout = 10 parsecs\n", "smtpd_timeout", PARAM_TIME},
    {"smtpd_timeout = 5q\n", "smtpd_timeout", PARAM_TIME},
    {"message_size_limit = 1t\n", "message_size_limit", PARAM_SIZE},
    {"disable_vrfy_command = perhaps\n", "disable_vrfy_command", PARAM_BOOL},
    {"a = $b\nb = $a\nmyhostname = $a\n", "myhostname", PARAM_STR},
    {"myhostname = ${oops\n", "smtpd_banner", PARAM_STR},
};

START_TEST(test_getter_fatal)
{
	struct config *c = config_create();
	const char *t = fatal_cases[_i].text;

	msg_set_sinks(0);
	ck_assert_int_eq(config_parse(c, t, strlen(t), "main.cf", NULL), 0);
	switch (fatal_cases[_i].type) {
	case PARAM_INT:
		(void)config_int(c, fatal_cases[_i].name);
		break;
	case PARAM_TIME:
		(void)config_time(c, fatal_cases[_i].name);
		break;
	case PARAM_SIZE:
		(void)config_size(c, fatal_cases[_i].name);
		break;
	case PARAM_BOOL:
		(void)config_bool(c, fatal_cases[_i].name);
		break;
	default:
		(void)config_str(c, fatal_cases[_i].name);
		break;
	}
	config_destroy(&c);
}
END_TEST

/* Our own bugs: an unknown name or the wrong type is msg_panic. */
START_TEST(test_getter_panic_unknown)
{
	struct config *c = config_create();

	msg_set_sinks(0);
	(void)config_str(c, "no_such_parameter");
}
END_TEST

START_TEST(test_getter_panic_type)
{
	struct config *c = config_create();

	msg_set_sinks(0);
	(void)config_int(c, "myhostname");
}
END_TEST

START_TEST(test_check)
{
	struct config *c = config_create();
	struct buf *report = buf_create(0, 0);
	const char *text = "myhostname = mx.example.org\n"
	                   "frobnicate = yes\n"
	                   "hopcount_limit = 99999\n"
	                   "smtpd_timeout = 5x\n"
	                   "relay_domains = $loop1\n"
	                   "loop1 = $loop2\n"
	                   "loop2 = $loop1\n"
	                   "disable_vrfy_command = off\n";
	int warnings = -1;

	ck_assert_int_eq(config_parse(c, text, strlen(text), "main.cf", NULL),
	                 0);
	ck_assert_int_eq(config_check(c, report, &warnings), 3);
	ck_assert_int_eq(warnings, 3);
	ck_assert_ptr_nonnull(strstr(
	    buf_str(report), "main.cf:2: unknown parameter frobnicate\n"));
	ck_assert_ptr_nonnull(
	    strstr(buf_str(report), "main.cf:3: hopcount_limit: "));
	ck_assert_ptr_nonnull(
	    strstr(buf_str(report), "main.cf:4: smtpd_timeout: "));
	ck_assert_ptr_nonnull(strstr(buf_str(report),
	                             "main.cf:5: relay_domains: expansion "
	                             "loop: loop1 -> loop2 -> loop1"));
	ck_assert_ptr_null(strstr(buf_str(report), "disable_vrfy"));

	/* Overrides are checked too. */
	buf_reset(report);
	ck_assert_int_eq(config_set(c, "max_use", "none"), 0);
	ck_assert_int_eq(config_check(c, report, NULL), 4);
	ck_assert_ptr_nonnull(strstr(buf_str(report), "override: max_use: "));
	buf_destroy(&report);
	config_destroy(&c);
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_load)
{
	char dir[] = "/tmp/check_config.XXXXXX";
	char path[256], abs[512], cwd[1024];
	struct buf *err = buf_create(0, 0);
	struct config *c;

	msg_set_sinks(0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* Missing main.cf is an error. */
	c = config_load(dir, err);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "main.cf"));
	ck_assert_ptr_null(config_load(NULL, err));

	snprintf(path, sizeof(path), "%s/main.cf", dir);
	write_file(path, "config_directory = /elsewhere\n"
	                 "queue_directory = $config_directory/q\n"
	                 "unknown_thing = 1\n");
	c = config_load(dir, err);
	ck_assert_msg(c != NULL, "%s", buf_str(err));
	ck_assert_str_eq(config_str(c, "config_directory"), dir);
	snprintf(abs, sizeof(abs), "%s/q", dir);
	ck_assert_str_eq(config_str(c, "queue_directory"), abs);
	ck_assert_str_eq(
	    config_str(c, "alias_maps"),
	    (snprintf(abs, sizeof(abs), "lmdb:%s/aliases", dir), abs));
	config_destroy(&c);

	/* A relative directory becomes absolute. */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir("/tmp"), 0);
	c = config_load(dir + 5, err); /* "check_config.XXXXXX" */
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_msg(c != NULL, "%s", buf_str(err));
	ck_assert_str_eq(config_str(c, "config_directory"), dir);
	config_destroy(&c);

	/* A syntax error names file and line. */
	write_file(path, "a = b\nnonsense\n");
	c = config_load(dir, err);
	ck_assert_ptr_null(c);
	snprintf(abs, sizeof(abs), "%s/main.cf:2: missing '='", dir);
	ck_assert_ptr_nonnull(strstr(buf_str(err), abs));

	unlink(path);
	rmdir(dir);
	buf_destroy(&err);
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_table_sorted);
	tcase_add_test(tc, test_table_defaults_valid);
	tcase_add_loop_test(tc, test_parse, 0, NELEM(parse_cases));
	tcase_add_test(tc, test_parse_limits);
	tcase_add_test(tc, test_parse_atomic);
	tcase_add_loop_test(tc, test_expand, 0, NELEM(expand_cases));
	tcase_add_loop_test(tc, test_expand_generated, 0, NELEM(gen_cases));
	tcase_add_loop_test(tc, test_validate, 0, NELEM(validate_cases));
	tcase_add_test(tc, test_getters);
	tcase_add_test(tc, test_hostname_default);
	tcase_add_loop_exit_test(tc, test_getter_fatal, 1, 0,
	                         NELEM(fatal_cases));
	tcase_add_test_raise_signal(tc, test_getter_panic_unknown, SIGABRT);
	tcase_add_test_raise_signal(tc, test_getter_panic_type, SIGABRT);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_load);
	suite_add_tcase(s, tc);
	return s;
}
