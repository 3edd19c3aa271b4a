/*
 * local_content.c: the message as local reads it from the queue file:
 * the content blocks from the request's content_offset (lib/queue_file.h
 * content reader), the Delivered-To: values of its header section (for
 * the loop check, RFC 9228), the header lines local puts in front
 * (Return-Path, X-Original-To, Delivered-To, and the mbox "From " line
 * for files and commands, as Postfix's local does), and the copy into a
 * file or pipe with mbox ">From " quoting for /file targets.
 * SECURITY: the queue file is read strictly (a bad record is an error
 * and the delivery is deferred); header fields are held only up to
 * header_size_limit and at most LOCAL_DELIVERED_MAX values are kept.
 * Envelope addresses went through lib/deliver.c (no control characters),
 * so they cannot break a header line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "header.h"
#include "local.h"
#include "maildir.h"
#include "mem.h"
#include "queue_file.h"
#include "str.h"

struct local_content {
	struct queue_reader *r;
	struct buf *payload;
	const char *queue_id;
	bool done;
};

struct local_content *local_content_open(struct local_request *lr,
                                         struct buf *err)
{
	struct local_content *lc;

	if (lseek(lr->qfd, (off_t)lr->req->content_offset, SEEK_SET) < 0) {
		buf_sprintf(err, "queue file %s: seek: %s", lr->req->queue_id,
		            strerror(errno));
		return NULL;
	}
	lc = mem_zalloc(sizeof(*lc));
	lc->r = queue_reader_create_content(lr->qfd);
	lc->payload = buf_create(QUEUE_BLOCK_MAX, QUEUE_BLOCK_MAX + 1);
	lc->queue_id = lr->req->queue_id;
	return lc;
}

int local_content_read(void *ctx, const char **data, size_t *len,
                       struct buf *err)
{
	struct local_content *lc = ctx;
	int type, n;

	if (lc->done)
		return 0;
	n = queue_reader_next(lc->r, &type, lc->payload, NULL, err);
	if (n < 0) {
		char *why = buf_steal(err);

		buf_sprintf(err, "queue file %s: %s", lc->queue_id, why);
		mem_free(why);
		return -1;
	}
	if (n == 0 || type == QREC_END) {
		lc->done = true;
		return 0;
	}
	*data = buf_str(lc->payload);
	*len = buf_len(lc->payload);
	return 1;
}

void local_content_close(struct local_content **cp)
{
	if (*cp == NULL)
		return;
	queue_reader_destroy(&(*cp)->r);
	buf_destroy(&(*cp)->payload);
	mem_free(*cp);
	*cp = NULL;
}

/* ---- Delivered-To ---- */

struct local_dt {
	struct local_request *lr;
	struct buf *value;
};

static void local_dt_field(void *ctx, const char *text, size_t len,
                           bool truncated)
{
	struct local_dt *dt = ctx;
	char *v, *end;

	if (truncated || !header_name_is(text, len, "Delivered-To") ||
	    header_value(text, len, dt->value) < 0 ||
	    rewrite_set_count(dt->lr->delivered_to) >= LOCAL_DELIVERED_MAX)
		return;
	v = str_trim(buf_data(dt->value));
	end = v + strlen(v);
	if (*v == '<' && end > v + 1 && end[-1] == '>') {
		v++;
		*--end = 0;
	}
	if (*v != 0 && strlen(v) <= REWRITE_ADDR_MAX)
		rewrite_set_add(dt->lr->delivered_to, str_lower(v));
}

static void local_dt_end(void *ctx, bool no_separator)
{
}

static void local_dt_body(void *ctx, const char *data, size_t len)
{
}

int local_content_delivered_to(struct local_request *lr, struct buf *err)
{
	static const struct header_callbacks cb = {local_dt_field, local_dt_end,
	                                           local_dt_body};
	long long limit = config_size(lr->config, "header_size_limit");
	struct local_dt dt = {lr, buf_create(256, (size_t)limit + 1)};
	struct header_parser *hp =
	    header_parser_create((size_t)limit, &cb, &dt);
	struct local_content *lc = local_content_open(lr, err);
	const char *data;
	size_t len;
	int n = -1;

	if (lc != NULL) {
		while (!header_parser_in_body(hp) &&
		       (n = local_content_read(lc, &data, &len, err)) == 1)
			header_parser_feed(hp, data, len);
		if (n != -1)
			n = 0;
	}
	if (n == 0)
		header_parser_finish(hp);
	header_parser_destroy(&hp);
	local_content_close(&lc);
	buf_destroy(&dt.value);
	return n;
}

/* ---- what local writes ---- */

void local_content_prefix(struct local_request *lr, const char *orig,
                          const char *delivered, bool from_line,
                          struct buf *out)
{
	const char *sender = lr->req->sender;

	buf_reset(out);
	if (from_line) {
		/* The mbox envelope line: "From sender asctime-date". */
		char date[64];
		time_t now = time(NULL);
		struct tm tm;
		static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
		                                   "Thu", "Fri", "Sat"};
		static const char *const months[] = {
		    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

		localtime_r(&now, &tm);
		snprintf(date, sizeof(date), "%s %s %2d %02d:%02d:%02d %d",
		         days[tm.tm_wday % 7], months[tm.tm_mon % 12],
		         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		         tm.tm_year + 1900);
		buf_printf(out, "From %s  %s\n",
		           *sender ? sender : "MAILER-DAEMON", date);
	}
	buf_printf(out, "Return-Path: <%s>\n", sender);
	buf_printf(out, "X-Original-To: %s\n", orig);
	buf_printf(out, "Delivered-To: %s\n", delivered);
}

/* Quote "From " at line starts ('>' first), carrying the state between
 * pieces: *bol (at a line start), pend (a possible "From " prefix). */
static void local_quote_from(const char *data, size_t len, bool *bol,
                             char pend[5], size_t *npend, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		char c = data[i];

		if (*bol || *npend > 0) {
			pend[(*npend)++] = c;
			if (memcmp(pend, "From ", *npend) == 0) {
				if (*npend == 5) {
					buf_append_char(out, '>');
					buf_append(out, pend, 5);
					*npend = 0;
					*bol = false;
				} else {
					*bol = false;
				}
				continue;
			}
			buf_append(out, pend, *npend);
			*bol = c == '\n';
			*npend = 0;
			continue;
		}
		buf_append_char(out, c);
		if (c == '\n')
			*bol = true;
	}
}

int local_content_copy(struct local_request *lr, int fd, const char *prefix,
                       bool quote_from, struct buf *err)
{
	struct local_content *lc = local_content_open(lr, err);
	struct buf *quoted = buf_create(2 * QUEUE_BLOCK_MAX, 0);
	const char *data;
	size_t len, npend = 0;
	char pend[5];
	bool bol = true;
	int n, ret = -1;

	if (lc == NULL) {
		errno = 0;
		goto out;
	}
	if (maildir_write_all(fd, prefix, strlen(prefix)) < 0)
		goto out;
	while ((n = local_content_read(lc, &data, &len, err)) == 1) {
		if (quote_from) {
			buf_reset(quoted);
			local_quote_from(data, len, &bol, pend, &npend, quoted);
			data = buf_str(quoted);
			len = buf_len(quoted);
		}
		if (maildir_write_all(fd, data, len) < 0)
			goto out;
	}
	if (n < 0) {
		errno = 0;
		goto out;
	}
	if (npend > 0 && maildir_write_all(fd, pend, npend) < 0)
		goto out;
	ret = 0;
out:
	local_content_close(&lc);
	buf_destroy(&quoted);
	return ret;
}
