/*
 * fuzz_smtp_command.c: libFuzzer target for the SMTP command-line parsers
 * (lib/smtp_command.c). The input is one command line (without its line
 * end). It is split into verb and argument, and the argument goes through
 * the MAIL, RCPT and BDAT parsers (each with and without SMTPUTF8 / a
 * size limit) and the xtext decoder. Checks: the argument lies inside the
 * line without leading or trailing blanks; a refusal has a 5xx code, an
 * enhanced status code and printable text; accepted results respect the
 * RFC limits (ENVID 100, ORCPT 500, NOTIFY flags valid, no control
 * characters, no 8-bit address without SMTPUTF8); xtext encode/decode
 * round-trips.
 * SECURITY: the input is hostile by construction; any crash, leak,
 * sanitizer report or abort() here is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "queue_file.h"
#include "smtp_command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

static void fuzz_error(const struct smtp_parse_error *err)
{
	fuzz_check(err->code >= 500 && err->code <= 599);
	fuzz_check(err->dsn != NULL && err->dsn[0] == '5' &&
	           err->dsn[1] == '.');
	fuzz_check(err->text[0] != 0);
	for (const char *p = err->text; *p; p++)
		fuzz_check((unsigned char)*p >= 0x20 &&
		           (unsigned char)*p < 0x7f);
}

static void fuzz_text_ok(const char *s, bool utf8)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		fuzz_check(c >= 0x20 && c != 0x7f);
		fuzz_check(utf8 || c < 0x80);
	}
}

static bool fuzz_8bit(const struct buf *b)
{
	for (size_t i = 0; i < buf_len(b); i++)
		if ((unsigned char)buf_str(b)[i] >= 0x80)
			return true;
	return false;
}

static void fuzz_mail(const char *arg, size_t len, long long limit)
{
	struct buf *sender = buf_create(0, 1024);
	struct smtp_mail_args a;
	struct smtp_parse_error err;

	if (smtp_mail_parse(arg, len, limit, sender, &a, &err) < 0) {
		fuzz_error(&err);
	} else {
		fuzz_check(a.size >= -1);
		fuzz_check(limit == 0 || a.size <= limit);
		fuzz_check(a.ret == NULL || strcmp(a.ret, "FULL") == 0 ||
		           strcmp(a.ret, "HDRS") == 0);
		if (a.have_envid) {
			fuzz_check(strlen(a.envid) >= 1 &&
			           strlen(a.envid) <= SMTP_ENVID_MAX);
			fuzz_text_ok(a.envid, false);
		}
		if (a.have_auth)
			fuzz_text_ok(a.auth, true);
		fuzz_check(a.smtputf8 || !fuzz_8bit(sender));
		fuzz_check(strlen(buf_str(sender)) == buf_len(sender));
	}
	buf_destroy(&sender);
}

static void fuzz_rcpt(const char *arg, size_t len, bool utf8)
{
	struct buf *rcpt = buf_create(0, 1024);
	struct smtp_rcpt_args a;
	struct smtp_parse_error err;

	if (smtp_rcpt_parse(arg, len, utf8, rcpt, &a, &err) < 0) {
		fuzz_error(&err);
	} else {
		fuzz_check(buf_len(rcpt) > 0);
		fuzz_check(utf8 || !fuzz_8bit(rcpt));
		fuzz_check(a.notify >= 0 && a.notify <= 15);
		fuzz_check(!(a.notify & QUEUE_NOTIFY_NEVER) ||
		           a.notify == QUEUE_NOTIFY_NEVER);
		if (a.have_orcpt) {
			fuzz_check(strlen(a.orcpt) <= SMTP_ORCPT_MAX);
			fuzz_check(strchr(a.orcpt, ';') != NULL);
			fuzz_text_ok(a.orcpt, utf8);
		}
	}
	buf_destroy(&rcpt);
}

static void fuzz_xtext(const char *arg, size_t len)
{
	struct buf *dec = buf_create(0, 4096), *enc = buf_create(0, 16384),
	           *again = buf_create(0, 4096);

	if (smtp_xtext_decode(arg, len, dec) == 0) {
		fuzz_check(memchr(buf_str(dec), 0, buf_len(dec)) == NULL);
		fuzz_check(smtp_xtext_encode(buf_str(dec), buf_len(dec), enc) ==
		           0);
		fuzz_check(
		    smtp_xtext_decode(buf_str(enc), buf_len(enc), again) == 0);
		fuzz_check(buf_len(again) == buf_len(dec) &&
		           memcmp(buf_str(again), buf_str(dec), buf_len(dec)) ==
		               0);
	}
	buf_destroy(&dec);
	buf_destroy(&enc);
	buf_destroy(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct smtp_command cmd;
	struct smtp_parse_error err;
	long long chunk;
	bool last;

	if (size > SMTP_LINE_MAX_ANY)
		return 0;
	if (smtp_command_parse(line, size, &cmd) < 0) {
		for (size_t i = 0; i < size; i++)
			if (data[i] < 0x20 && data[i] != '\t')
				return 0;
		/* Refused: it held a control character. */
		fuzz_check(memchr(data, 0x7f, size) != NULL);
		return 0;
	}
	fuzz_check(cmd.verb >= 0 && cmd.verb < SMTP_VERB_COUNT);
	fuzz_check(cmd.arg >= line && cmd.arg + cmd.arglen <= line + size);
	if (cmd.arglen > 0) {
		fuzz_check(cmd.arg[0] != ' ' && cmd.arg[0] != '\t');
		fuzz_check(cmd.arg[cmd.arglen - 1] != ' ' &&
		           cmd.arg[cmd.arglen - 1] != '\t');
	}
	fuzz_check(smtp_verb_name(cmd.verb) != NULL);
	fuzz_check(smtp_verb_line_max(cmd.verb) >= SMTP_LINE_MAX);
	/* Every parser on every line: the verb does not matter to them. */
	fuzz_mail(cmd.arg, cmd.arglen, 0);
	fuzz_mail(cmd.arg, cmd.arglen, 10240000);
	fuzz_rcpt(cmd.arg, cmd.arglen, false);
	fuzz_rcpt(cmd.arg, cmd.arglen, true);
	if (smtp_bdat_parse(cmd.arg, cmd.arglen, &chunk, &last, &err) < 0)
		fuzz_error(&err);
	else
		fuzz_check(chunk >= 0 && chunk <= SMTP_BDAT_SIZE_MAX);
	fuzz_xtext(cmd.arg, cmd.arglen);
	return 0;
}
