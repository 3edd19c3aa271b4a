/*
 * cleanup_header.c: a message's content on its way into the queue file.
 * The header splitter (lib/header.c) holds at most one field
 * (header_size_limit); each field is inspected and written out at once,
 * the body streams straight through. Here: the Received: count against
 * hopcount_limit (a mail loop, RFC 5321 6.3), message_size_limit on the
 * bytes received, and the fields added when absent at the end of the
 * header section, in Postfix's order: Message-ID (RFC 5322 3.6.4), Date
 * (3.6.1) and, for local submissions, From (3.6.2). Logs
 * "ID: message-id=<...>" once the header section is complete.
 * SECURITY: the content is untrusted; memory stays bounded by
 * header_size_limit whatever it holds; once the message has failed, the
 * rest of the content is read and dropped without being looked at.
 */
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "cleanup_client.h"
#include "msg.h"

/* Longest line of a field we add before folding. */
#define CLEANUP_FOLD_WIDTH 78

static void cleanup_on_field(void *ctx, const char *text, size_t len,
                             bool truncated)
{
	struct cleanup_state *st = ctx;

	if (st->status != 0)
		return;
	if (truncated && !st->logged_truncation) {
		size_t n = 0;

		st->logged_truncation = true;
		(void)header_name(text, len, &n);
		msg_info("%s: header %.*s: longer than header_size_limit "
		         "(%lld bytes): truncated",
		         cleanup_log_id(st), (int)(n > 60 ? 60 : n), text,
		         cleanup_params.header_size_limit);
	}
	if (header_name_is(text, len, "Received")) {
		/* RFC 5321 6.3: too many Received: fields mean a loop. */
		if (++st->hops > cleanup_params.hopcount_limit) {
			cleanup_fail(st, 5, "5.4.6 Too many hops",
			             "more than %lld Received: headers",
			             cleanup_params.hopcount_limit);
			return;
		}
	} else if (header_name_is(text, len, "Date")) {
		st->have_date = true;
	} else if (header_name_is(text, len, "From")) {
		st->have_from = true;
	} else if (header_name_is(text, len, "Message-ID")) {
		struct buf *value = buf_create(128, 998);

		/* Postfix logs the first Message-ID as it came. */
		if (!st->have_msgid && header_value(text, len, value) == 0) {
			char *v = buf_data(value);

			for (size_t i = 0; i < buf_len(value); i++)
				if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
					v[i] = '?';
			msg_info("%s: message-id=%s", cleanup_log_id(st), v);
		}
		st->have_msgid = true;
		buf_destroy(&value);
	}
	cleanup_queue_content(st, text, len);
}

/* The fields added when absent, at the end of the header section. */
static void cleanup_add_headers(struct cleanup_state *st)
{
	struct buf *out = buf_create(512, 8192);
	struct buf *value = buf_create(256, 4096);
	time_t when = st->arrival.tv_sec;
	struct tm tm;

	if (!st->have_msgid) {
		char stamp[32];

		if (localtime_r(&when, &tm) == NULL ||
		    strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm) == 0)
			stamp[0] = 0;
		buf_sprintf(value, "<%s.%s@%s>", stamp, st->queue_id,
		            cleanup_params.myhostname);
		header_fold("Message-ID", buf_str(value), CLEANUP_FOLD_WIDTH,
		            out);
		msg_info("%s: message-id=%s", cleanup_log_id(st),
		         buf_str(value));
	}
	if (!st->have_date && header_date(when, value) == 0)
		header_fold("Date", buf_str(value), CLEANUP_FOLD_WIDTH, out);
	if ((st->flags & CLEANUP_FLAG_LOCAL) && !st->have_from) {
		/* The (qualified) envelope sender; <> is the mailer daemon. */
		buf_reset(value);
		if (st->full_name && *st->full_name) {
			header_phrase(st->full_name, value);
			buf_append_str(value, " <");
		}
		if (*st->sender)
			buf_append_str(value, st->sender);
		else
			buf_printf(value, "MAILER-DAEMON@%s",
			           cleanup_params.myorigin);
		if (st->full_name && *st->full_name)
			buf_append_str(value, ">");
		header_fold("From", buf_str(value), CLEANUP_FOLD_WIDTH, out);
	}
	cleanup_queue_content(st, buf_str(out), buf_len(out));
	buf_destroy(&value);
	buf_destroy(&out);
}

static void cleanup_on_end(void *ctx, bool no_separator)
{
	struct cleanup_state *st = ctx;

	if (st->status != 0)
		return;
	cleanup_add_headers(st);
	/* A body that started without the blank line gets one, so that
	 * its first line is not taken for a header. */
	if (no_separator)
		cleanup_queue_content(st, "\n", 1);
}

static void cleanup_on_body(void *ctx, const char *data, size_t len)
{
	cleanup_queue_content(ctx, data, len);
}

static const struct header_callbacks cleanup_header_cb = {
    .field = cleanup_on_field,
    .end = cleanup_on_end,
    .body = cleanup_on_body,
};

void cleanup_content_start(struct cleanup_state *st)
{
	if (st->parser == NULL)
		st->parser = header_parser_create(
		    (size_t)cleanup_params.header_size_limit,
		    &cleanup_header_cb, st);
}

void cleanup_content(struct cleanup_state *st, const char *data, size_t len)
{
	long long limit = cleanup_params.message_size_limit;

	st->content_in += (long long)len;
	if (st->status != 0)
		return;
	if (limit > 0 && st->content_in > limit) {
		cleanup_fail(st, 5, "5.3.4 Message size exceeds fixed limit",
		             "message size over %lld bytes", limit);
		return;
	}
	header_parser_feed(st->parser, data, len);
}

void cleanup_content_end(struct cleanup_state *st)
{
	if (st->status != 0 || st->parser == NULL)
		return;
	header_parser_finish(st->parser);
	/* Content is lines: the last one ends in a line end too. */
	if (st->last_byte != '\n' && st->last_byte != -1)
		cleanup_queue_content(st, "\n", 1);
}
