/*
 * sendmail_submit.c: one message from the sendmail wrapper into maildrop/
 * through postdrop. sm_drop_* runs postdrop (fork + execve, never a
 * shell) with a pipe on its standard input and writes the maildrop stream
 * (lib/maildrop.h) into it; postdrop's exit status is the verdict.
 * sm_submit_stdin reads a message from standard input: the header section
 * is kept in memory (bounded) so that -t can take the recipients from
 * To:, Cc: and Bcc: (or the Resent- versions when there are any, RFC 5322
 * 3.6.6) and drop Bcc:, and -F can add a From: header; the body is
 * streamed. Input line ends become LF; without -i a line holding only "."
 * ends the input (no other dot handling, as in Postfix); an mbox "From "
 * first line is dropped (Postfix does the same).
 * SECURITY: runs with the user's privileges; everything here is input
 * from the user, checked again by postdrop. Header fields are bounded by
 * the header section limit (message_size_limit, at most 64 MiB), address
 * lists by ADDRESS_LIST_INPUT_MAX and MAILDROP_RCPT_MAX.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "address.h"
#include "header.h"
#include "maildrop.h"
#include "mem.h"
#include "msg.h"
#include "str.h"
#include "sendmail.h"

#define SM_PIECE_MAX (64 * 1024)

void sm_message_add_rcpt(struct sm_message *m, const char *address,
                         const char *orcpt, int notify)
{
	if (m->nrcpts == m->rcpt_cap) {
		m->rcpt_cap = m->rcpt_cap ? m->rcpt_cap * 2 : 8;
		m->rcpts =
		    mem_realloc(m->rcpts, m->rcpt_cap * sizeof(m->rcpts[0]));
	}
	memset(&m->rcpts[m->nrcpts], 0, sizeof(m->rcpts[0]));
	m->rcpts[m->nrcpts].address = mem_strdup(address);
	m->rcpts[m->nrcpts].orcpt = mem_strdup(orcpt ? orcpt : "");
	m->rcpts[m->nrcpts].notify = notify;
	m->nrcpts++;
}

void sm_message_clear(struct sm_message *m)
{
	for (size_t i = 0; i < m->nrcpts; i++) {
		mem_free(m->rcpts[i].address);
		mem_free(m->rcpts[i].orcpt);
	}
	mem_free(m->rcpts);
	m->rcpts = NULL;
	m->nrcpts = m->rcpt_cap = 0;
}

/* ---- postdrop ---- */

struct sm_drop {
	pid_t pid;
	int fd; /* postdrop's standard input */
	int out_fd; /* postdrop's standard output (the queue ID) */
	struct maildrop_writer *w;
	bool broken;
};

/* The environment postdrop gets: TZ and the sanitizer settings (for
 * tests of sanitizer builds), nothing else. */
static char **sm_drop_env(void)
{
	static const char *const keep[] = {"TZ", "ASAN_OPTIONS",
	                                   "UBSAN_OPTIONS", "LSAN_OPTIONS"};
	static char *env[sizeof(keep) / sizeof(keep[0]) + 2];
	size_t n = 0;

	if (env[0] != NULL)
		return env;
	env[n++] = "PATH=/usr/bin:/bin";
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		const char *v = getenv(keep[i]);
		struct buf *b;

		if (v == NULL)
			continue;
		b = buf_create(64, 8192);
		if (buf_printf(b, "%s=%s", keep[i], v) == 0)
			env[n++] = buf_steal(b);
		buf_destroy(&b);
	}
	env[n] = NULL;
	return env;
}

struct sm_drop *sm_drop_open(struct sm_ctx *ctx, const struct sm_message *m,
                             int *status, struct buf *err)
{
	char *argv[] = {"postdrop", "-c", (char *)ctx->config_dir, NULL};
	char **envp = sm_drop_env();
	int in[2], out[2];
	struct queue_envelope env;
	struct timeval tv;
	struct sm_drop *d;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0) {
		buf_sprintf(err, "pipe: %s", strerror(errno));
		*status = EX_OSERR;
		return NULL;
	}
	if (pipe2(out, O_CLOEXEC) < 0) {
		buf_sprintf(err, "pipe: %s", strerror(errno));
		close(in[0]);
		close(in[1]);
		*status = EX_OSERR;
		return NULL;
	}
	if ((pid = fork()) < 0) {
		buf_sprintf(err, "fork: %s", strerror(errno));
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		*status = EX_OSERR;
		return NULL;
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
			_exit(EX_OSERR);
		execve(ctx->postdrop, argv, envp);
		msg_error("execute %s: %m", ctx->postdrop);
		_exit(EX_OSFILE);
	}
	close(in[0]);
	close(out[1]);
	d = mem_zalloc(sizeof(*d));
	d->pid = pid;
	d->fd = in[1];
	d->out_fd = out[0];
	d->w = maildrop_writer_create(d->fd);

	memset(&env, 0, sizeof(env));
	gettimeofday(&tv, NULL);
	env.arrival_sec = tv.tv_sec;
	env.arrival_usec = (long)tv.tv_usec;
	env.sender = (char *)m->sender;
	env.envid = (char *)m->envid;
	env.ret = (char *)m->ret;
	env.rcpts = m->rcpts;
	env.nrcpts = m->nrcpts;
	if (maildrop_write_envelope(d->w, &env) < 0)
		d->broken = true;
	return d;
}

int sm_drop_write(struct sm_drop *d, const void *data, size_t len)
{
	if (d->broken)
		return -1;
	if (maildrop_write_content(d->w, data, len) < 0) {
		d->broken = true;
		return -1;
	}
	return 0;
}

long long sm_drop_size(const struct sm_drop *d)
{
	return maildrop_writer_size(d->w);
}

int sm_drop_close(struct sm_drop **dp, bool complete, char *id, size_t idlen,
                  struct buf *err)
{
	struct sm_drop *d = *dp;
	char out[128];
	size_t got = 0;
	ssize_t n;
	int wstatus, status;

	if (complete && !d->broken && maildrop_write_end(d->w) < 0)
		d->broken = true;
	maildrop_writer_destroy(&d->w);
	close(d->fd);
	/* postdrop prints the queue ID and exits. */
	for (;;) {
		n = read(d->out_fd, out + got, sizeof(out) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(out) - 1)
			break;
	}
	out[got] = 0;
	close(d->out_fd);
	while (waitpid(d->pid, &wstatus, 0) < 0) {
		if (errno != EINTR) {
			buf_sprintf(err, "wait for postdrop: %s",
			            strerror(errno));
			wstatus = -1;
			break;
		}
	}
	mem_free(d);
	*dp = NULL;

	if (wstatus == -1) {
		status = EX_SOFTWARE;
	} else if (WIFSIGNALED(wstatus)) {
		buf_sprintf(err, "postdrop was killed by signal %d",
		            WTERMSIG(wstatus));
		status = EX_TEMPFAIL;
	} else if ((status = WEXITSTATUS(wstatus)) != 0) {
		/* postdrop said why on standard error. */
		buf_sprintf(err, "postdrop failed with status %d", status);
		if (status < EX__BASE || status > EX__MAX)
			status = EX_TEMPFAIL;
	} else if (!complete) {
		buf_set_str(err, "postdrop accepted an unfinished message");
		status = EX_SOFTWARE;
	} else {
		char *nl = strchr(out, '\n');
		if (nl)
			*nl = 0;
		if (!queue_id_valid(out)) {
			buf_set_str(err, "postdrop returned no queue ID");
			status = EX_SOFTWARE;
		} else if (id != NULL) {
			str_copy(id, idlen, out);
		}
	}
	return status;
}

/* ---- a message from standard input ---- */

struct sm_headers {
	struct sm_ctx *ctx;
	struct sm_message *m;
	struct buf *field; /* the header field being read (LF ends) */
	struct buf *section; /* the fields kept so far */
	struct sm_message plain, resent; /* -t: To/Cc/Bcc, Resent-* */
	bool has_from, has_resent;
	struct buf *err;
};

/* Parse an address list header value into to; -1 with err set. */
static int sm_headers_extract(struct sm_headers *h, const char *text,
                              size_t len, struct sm_message *to)
{
	const char *colon = memchr(text, ':', len);
	struct address_list *l;
	const char *why = "bad address syntax";
	size_t nl;

	l = address_list_parse(colon + 1, len - (size_t)(colon + 1 - text),
	                       ADDRESS_ALLOW_BARE_LOCAL | ADDRESS_ALLOW_UTF8,
	                       MAILDROP_RCPT_MAX, &why);
	if (l == NULL) {
		header_name(text, len, &nl);
		buf_sprintf(h->err, "malformed %.*s: header: %s", (int)nl, text,
		            why);
		return -1;
	}
	for (size_t i = 0; i < address_list_count(l); i++)
		sm_message_add_rcpt(to, address_list_addr(l, i), NULL,
		                    h->m->notify);
	address_list_destroy(&l);
	return 0;
}

/* One whole header field: take recipients (-t), note From:, keep it
 * unless it is a Bcc: that -t removes. A sysexits code. */
static int sm_headers_flush(struct sm_headers *h)
{
	const char *text = buf_str(h->field);
	size_t len = buf_len(h->field);
	bool keep = true;
	int r = 0;

	if (len == 0)
		return EX_OK;
	if (header_name_is(text, len, "from"))
		h->has_from = true;
	if (h->m->extract) {
		static const char *const plain[] = {"to", "cc", "bcc"};
		static const char *const resent[] = {"resent-to", "resent-cc",
		                                     "resent-bcc"};
		for (size_t i = 0; i < 3 && r == 0; i++) {
			if (header_name_is(text, len, plain[i]))
				r = sm_headers_extract(h, text, len, &h->plain);
			else if (header_name_is(text, len, resent[i])) {
				h->has_resent = true;
				r = sm_headers_extract(h, text, len,
				                       &h->resent);
			} else
				continue;
			keep = i != 2;
		}
		if (r < 0)
			return EX_DATAERR;
		if (h->plain.nrcpts + h->resent.nrcpts + h->m->nrcpts >
		    MAILDROP_RCPT_MAX) {
			buf_sprintf(h->err, "more than %d recipients",
			            MAILDROP_RCPT_MAX);
			return EX_DATAERR;
		}
	}
	if (keep && buf_append(h->section, text, len) < 0) {
		buf_set_str(h->err, "message header section too large");
		return EX_DATAERR;
	}
	buf_reset(h->field);
	return EX_OK;
}

/* The header section is complete: settle the recipients, add From: for
 * -F, start postdrop and give it the header section. */
static int sm_headers_end(struct sm_headers *h, struct sm_drop **dp)
{
	struct sm_message *m = h->m;
	struct sm_message *from = h->has_resent ? &h->resent : &h->plain;
	int status;

	if ((status = sm_headers_flush(h)) != EX_OK)
		return status;
	for (size_t i = 0; i < from->nrcpts; i++)
		sm_message_add_rcpt(m, from->rcpts[i].address, NULL,
		                    from->rcpts[i].notify);
	if (m->nrcpts == 0) {
		buf_set_str(h->err,
		            "no recipient addresses found in message header");
		return EX_USAGE;
	}
	if (m->full_name != NULL && !h->has_from && *m->sender != 0) {
		struct buf *f = buf_create(256, 8192);

		buf_append_str(f, "From: ");
		header_phrase(m->full_name, f);
		buf_printf(f, " <%s", m->sender);
		if (strchr(m->sender, '@') == NULL)
			buf_printf(f, "@%s",
			           config_str(h->ctx->config, "myorigin"));
		buf_append_str(f, ">\n");
		if (buf_append(h->section, buf_str(f), buf_len(f)) < 0) {
			buf_destroy(&f);
			buf_set_str(h->err, "message header section too large");
			return EX_DATAERR;
		}
		buf_destroy(&f);
	}
	if ((*dp = sm_drop_open(h->ctx, m, &status, h->err)) == NULL)
		return status;
	(void)sm_drop_write(*dp, buf_str(h->section), buf_len(h->section));
	return EX_OK;
}

/* Bytes for the header section: message_size_limit, at most 64 MiB. */
static size_t sm_header_cap(const struct sm_ctx *ctx)
{
	size_t cap = BUF_DEFAULT_LIMIT;

	if (ctx->size_limit > 0 && (unsigned long long)ctx->size_limit < cap)
		cap = (size_t)ctx->size_limit;
	return cap;
}

int sm_submit_stdin(struct sm_ctx *ctx, struct sm_message *m, char *id,
                    size_t idlen, struct buf *err)
{
	struct sm_reader *r = sm_reader_create(0, SM_PIECE_MAX);
	struct sm_headers h = {0};
	struct sm_drop *d = NULL;
	const char *data;
	size_t len, nl;
	bool bol, eol, in_headers = true, first = true, skipping = false;
	int n, status = EX_OK;

	h.ctx = ctx;
	h.m = m;
	h.err = err;
	h.field = buf_create(1024, sm_header_cap(ctx));
	h.section = buf_create(4096, sm_header_cap(ctx));

	while ((n = sm_reader_next(r, &data, &len, &bol, &eol)) == 1) {
		if (in_headers && skipping) {
			skipping = !eol;
			continue;
		}
		if (bol && first && m->skip_from_line && len >= 5 &&
		    memcmp(data, "From ", 5) == 0) {
			/* An mbox separator line, not a header. */
			first = false;
			skipping = !eol;
			continue;
		}
		first = false;
		if (bol && eol && m->dot_ends && len == 1 && data[0] == '.')
			break;
		if (in_headers) {
			bool more = !bol;

			if (bol && len > 0 &&
			    (data[0] == ' ' || data[0] == '\t'))
				more = buf_len(h.field) > 0;
			if (!more && bol &&
			    header_name(data, len, &nl) != NULL) {
				if ((status = sm_headers_flush(&h)) != EX_OK)
					goto out;
				more = true;
			}
			if (more) {
				if (buf_append(h.field, data, len) < 0 ||
				    (eol &&
				     buf_append_char(h.field, '\n') < 0)) {
					buf_set_str(err, "message header "
					                 "section too large");
					status = EX_DATAERR;
					goto out;
				}
				continue;
			}
			/* Not a header line: the body starts here (with the
			 * blank separator line, if it is one). */
			in_headers = false;
			if ((status = sm_headers_end(&h, &d)) != EX_OK)
				goto out;
		}
		if (sm_drop_write(d, data, len) < 0 ||
		    (eol && sm_drop_write(d, "\n", 1) < 0))
			break; /* postdrop gave up: sm_drop_close says why */
		if (ctx->size_limit > 0 && sm_drop_size(d) > ctx->size_limit) {
			buf_sprintf(err,
			            "message exceeds message_size_limit "
			            "(%lld bytes)",
			            ctx->size_limit);
			status = EX_DATAERR;
			goto out;
		}
	}
	if (n < 0) {
		buf_sprintf(err, "read standard input: %s", strerror(errno));
		status = EX_IOERR;
		goto out;
	}
	if (in_headers && (status = sm_headers_end(&h, &d)) != EX_OK)
		goto out;
	status = sm_drop_close(&d, true, id, idlen, err);
out:
	if (d != NULL) {
		struct buf *ignore = buf_create(0, 1024);
		(void)sm_drop_close(&d, false, NULL, 0, ignore);
		buf_destroy(&ignore);
	}
	sm_reader_destroy(&r);
	buf_destroy(&h.field);
	buf_destroy(&h.section);
	sm_message_clear(&h.plain);
	sm_message_clear(&h.resent);
	return status;
}
