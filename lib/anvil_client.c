/*
 * anvil_client.c: the anvil connection/event counter (anvil_client.h):
 * the client smtpd uses over queue_directory/private/anvil, and the
 * counting table the anvil daemon (anvil/anvil.c) keeps. Owns struct
 * anvil_client (one connection, reopened after failures) and struct
 * anvil_table (a hash table of (service, address) keys with their open
 * connection count and fixed-window rates, plus per-owner lists so a
 * vanished client's connections are undone).
 * SECURITY: the client trusts nothing anvil says beyond bounded integers
 * (attr limits, range checks) and never waits longer than
 * ANVIL_CLIENT_TIMEOUT_MS; any failure means "no answer" and smtpd goes
 * on (fail open). The table is fed by local daemons but bounds every key
 * (anvil_key_ok), the number of keys (max_entries), of events per key
 * and of connections per owner, so no client can make it grow without
 * bound.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "anvil_client.h"
#include "server_listen.h"
#include "attr.h"
#include "mem.h"
#include "msg.h"
#include "str.h"
#include "stream.h"

/* How long one request may take before anvil counts as unreachable. */
#define ANVIL_CLIENT_TIMEOUT_MS 10000
/* Distinct event names per key. */
#define ANVIL_EVENTS_MAX 8
/* Connections one owner may hold open at once. */
#define ANVIL_OWNER_MAX 100000

static const struct attr_limits anvil_reply_limits = {8, 32, 64, 1024};

/* The client. */

struct anvil_client {
	char *path; /* queue_directory/private/anvil */
	struct stream *s;
	bool failed; /* the last request failed (and was logged) */
	struct attr_list *msg;
	struct buf *err;
};

struct anvil_client *anvil_client_create(struct config *c)
{
	struct anvil_client *a = mem_zalloc(sizeof(*a));
	struct buf *path = buf_create(256, 4096);

	buf_sprintf(path, "%s/private/%s", config_str(c, "queue_directory"),
	            ANVIL_SERVICE);
	a->path = buf_steal(path);
	buf_destroy(&path);
	a->msg = attr_list_create();
	a->err = buf_create(128, 1024);
	return a;
}

void anvil_client_destroy(struct anvil_client **ap)
{
	struct anvil_client *a = *ap;

	if (a == NULL)
		return;
	if (a->s)
		stream_close(&a->s);
	attr_list_destroy(&a->msg);
	buf_destroy(&a->err);
	mem_free(a->path);
	mem_free(a);
	*ap = NULL;
}

static int anvil_client_open(struct anvil_client *a)
{
	int fd = server_unix_connect(a->path, ANVIL_CLIENT_TIMEOUT_MS, a->err);

	if (fd < 0)
		return -1;
	a->s = stream_open(fd);
	stream_set_timeouts(a->s, ANVIL_CLIENT_TIMEOUT_MS,
	                    ANVIL_CLIENT_TIMEOUT_MS);
	return 0;
}

/* One request/reply exchange on an open stream; the reply in a->msg. */
static int anvil_client_exchange(struct anvil_client *a,
                                 const struct attr_list *req)
{
	long long status;
	int r;

	if (attr_write(a->s, req) < 0 || stream_flush(a->s) < 0) {
		buf_sprintf(a->err, "write to %s failed", a->path);
		return -1;
	}
	buf_reset(a->err);
	r = attr_read(a->s, a->msg, &anvil_reply_limits, a->err);
	if (r < 0) {
		if (buf_len(a->err) == 0)
			buf_sprintf(a->err, "%s: %s", a->path,
			            r == STREAM_EOF       ? "lost connection"
			            : r == STREAM_TIMEOUT ? "timeout"
			                                  : "read error");
		return -1;
	}
	if (attr_get_int(a->msg, "status", 0, 9, &status) < 0 || status != 0) {
		buf_sprintf(a->err, "%s: request refused", a->path);
		return -1;
	}
	return 0;
}

/* Send req and read the reply (into a->msg); one reconnect when the kept
 * connection turns out to be dead (anvil restarted). */
static int anvil_client_request(struct anvil_client *a,
                                const struct attr_list *req)
{
	bool fresh = false;

	buf_reset(a->err);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (a->s == NULL) {
			if (anvil_client_open(a) < 0)
				break;
			fresh = true;
		}
		if (anvil_client_exchange(a, req) == 0) {
			if (a->failed)
				msg_info("anvil service %s is back", a->path);
			a->failed = false;
			return 0;
		}
		stream_close(&a->s);
		if (fresh)
			break;
	}
	if (!a->failed)
		msg_warn("anvil: %s; connection limits are not enforced until "
		         "it answers",
		         buf_str(a->err));
	a->failed = true;
	return -1;
}

static struct attr_list *
anvil_client_req(const char *request, const char *service, const char *address)
{
	struct attr_list *req = attr_list_create();

	attr_add_str(req, "request", request);
	attr_add_str(req, "service", service);
	attr_add_str(req, "address", address);
	return req;
}

/* Run req; copy the integer attributes named n1/n2 (if not NULL). */
static int anvil_client_run(struct anvil_client *a, struct attr_list *req,
                            const char *n1, int *v1, const char *n2, int *v2)
{
	long long x1 = 0, x2 = 0;
	int r = anvil_client_request(a, req);

	attr_list_destroy(&req);
	if (r < 0)
		return -1;
	if ((n1 && attr_get_int(a->msg, n1, 0, INT_MAX, &x1) < 0) ||
	    (n2 && attr_get_int(a->msg, n2, 0, INT_MAX, &x2) < 0)) {
		if (!a->failed)
			msg_warn("anvil: malformed reply from %s", a->path);
		a->failed = true;
		stream_close(&a->s);
		return -1;
	}
	if (n1)
		*v1 = (int)x1;
	if (n2)
		*v2 = (int)x2;
	return 0;
}

int anvil_connect(struct anvil_client *a, const char *service,
                  const char *address, int *count, int *rate)
{
	return anvil_client_run(a,
	                        anvil_client_req("connect", service, address),
	                        "count", count, "rate", rate);
}

int anvil_disconnect(struct anvil_client *a, const char *service,
                     const char *address)
{
	return anvil_client_run(
	    a, anvil_client_req("disconnect", service, address), NULL, NULL,
	    NULL, NULL);
}

int anvil_event(struct anvil_client *a, const char *service,
                const char *address, const char *event, int *rate)
{
	struct attr_list *req = anvil_client_req("event", service, address);

	attr_add_str(req, "event", event);
	return anvil_client_run(a, req, "rate", rate, NULL, NULL);
}

int anvil_lookup(struct anvil_client *a, const char *service,
                 const char *address, int *count, int *rate)
{
	return anvil_client_run(a, anvil_client_req("lookup", service, address),
	                        "count", count, "rate", rate);
}

/* The table. */

struct anvil_window {
	long long start_ms;
	int n;
};

struct anvil_event {
	char name[ANVIL_MAX_EVENT + 1];
	struct anvil_window w;
};

struct anvil_entry {
	char *key; /* "service\naddress" */
	int count; /* open connections */
	struct anvil_window conn;
	struct anvil_event events[ANVIL_EVENTS_MAX];
	int nevents;
	long long last_ms;
	struct anvil_entry *next;
};

struct anvil_table {
	long long unit_ms;
	size_t max_entries;
	size_t nentries;
	size_t nbuckets;
	struct anvil_entry **buckets;
};

struct anvil_owner {
	struct anvil_table *t;
	char **keys; /* one per connection it counted */
	size_t n, cap;
};

static bool anvil_word_ok(const char *s, size_t max)
{
	size_t len;

	if (s == NULL || (len = strlen(s)) == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

bool anvil_key_ok(const char *service, const char *address)
{
	return anvil_word_ok(service, ANVIL_MAX_SERVICE) &&
	       anvil_word_ok(address, ANVIL_MAX_ADDRESS);
}

struct anvil_table *anvil_table_create(long long time_unit_ms,
                                       size_t max_entries)
{
	struct anvil_table *t = mem_zalloc(sizeof(*t));

	t->unit_ms = time_unit_ms > 0 ? time_unit_ms : 1;
	t->max_entries = max_entries > 0 ? max_entries : 1;
	t->nbuckets = 1024;
	while (t->nbuckets < t->max_entries / 4 && t->nbuckets < (1u << 20))
		t->nbuckets *= 2;
	t->buckets = mem_array(t->nbuckets, sizeof(*t->buckets));
	memset(t->buckets, 0, t->nbuckets * sizeof(*t->buckets));
	return t;
}

static void anvil_entry_free(struct anvil_entry *e)
{
	mem_free(e->key);
	mem_free(e);
}

void anvil_table_destroy(struct anvil_table **tp)
{
	struct anvil_table *t = *tp;

	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct anvil_entry *e = t->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			anvil_entry_free(e);
		}
	}
	mem_free(t->buckets);
	mem_free(t);
	*tp = NULL;
}

/* FNV-1a. */
static size_t anvil_hash(const struct anvil_table *t, const char *key)
{
	unsigned long h = 2166136261ul;

	for (; *key; key++) {
		h ^= (unsigned char)*key;
		h *= 16777619ul;
	}
	return (size_t)(h & (t->nbuckets - 1));
}

static char *anvil_make_key(const char *service, const char *address)
{
	size_t sl = strlen(service), al = strlen(address);
	char *k = mem_alloc(sl + al + 2);

	memcpy(k, service, sl);
	k[sl] = '\n';
	memcpy(k + sl + 1, address, al + 1);
	return k;
}

static struct anvil_entry *anvil_find(struct anvil_table *t, const char *key)
{
	for (struct anvil_entry *e = t->buckets[anvil_hash(t, key)]; e;
	     e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* Find or add; NULL when full even after expiring old keys. */
static struct anvil_entry *anvil_get(struct anvil_table *t, const char *key,
                                     long long now_ms)
{
	struct anvil_entry *e = anvil_find(t, key);
	size_t h;

	if (e)
		return e;
	if (t->nentries >= t->max_entries &&
	    anvil_table_expire(t, now_ms) >= t->max_entries)
		return NULL;
	e = mem_zalloc(sizeof(*e));
	e->key = mem_strdup(key);
	e->last_ms = now_ms;
	e->conn.start_ms = now_ms;
	h = anvil_hash(t, key);
	e->next = t->buckets[h];
	t->buckets[h] = e;
	t->nentries++;
	return e;
}

/* Count one in a fixed window of unit_ms; returns the count. */
static int anvil_window_add(const struct anvil_table *t, struct anvil_window *w,
                            long long now_ms, int add)
{
	if (now_ms - w->start_ms >= t->unit_ms || now_ms < w->start_ms) {
		w->start_ms = now_ms;
		w->n = 0;
	}
	if (w->n < INT_MAX - add)
		w->n += add;
	return w->n;
}

struct anvil_owner *anvil_owner_create(struct anvil_table *t)
{
	struct anvil_owner *o = mem_zalloc(sizeof(*o));

	o->t = t;
	return o;
}

void anvil_owner_destroy(struct anvil_owner **op)
{
	struct anvil_owner *o = *op;

	if (o == NULL)
		return;
	for (size_t i = 0; i < o->n; i++) {
		struct anvil_entry *e = anvil_find(o->t, o->keys[i]);

		if (e && e->count > 0)
			e->count--;
		mem_free(o->keys[i]);
	}
	mem_free(o->keys);
	mem_free(o);
	*op = NULL;
}

int anvil_table_connect(struct anvil_owner *o, const char *service,
                        const char *address, long long now_ms, int *count,
                        int *rate)
{
	char *key;
	struct anvil_entry *e;

	if (o->n >= ANVIL_OWNER_MAX)
		return -1;
	key = anvil_make_key(service, address);
	if ((e = anvil_get(o->t, key, now_ms)) == NULL) {
		mem_free(key);
		return -1;
	}
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 4;
		o->keys = mem_realloc(o->keys, o->cap * sizeof(*o->keys));
	}
	o->keys[o->n++] = key;
	e->count++;
	e->last_ms = now_ms;
	*count = e->count;
	*rate = anvil_window_add(o->t, &e->conn, now_ms, 1);
	return 0;
}

void anvil_table_disconnect(struct anvil_owner *o, const char *service,
                            const char *address, long long now_ms)
{
	char *key = anvil_make_key(service, address);

	/* Only a connection this owner counted can be undone. */
	for (size_t i = o->n; i-- > 0;) {
		if (strcmp(o->keys[i], key) == 0) {
			struct anvil_entry *e = anvil_find(o->t, key);

			if (e && e->count > 0) {
				e->count--;
				e->last_ms = now_ms;
			}
			mem_free(o->keys[i]);
			o->keys[i] = o->keys[--o->n];
			break;
		}
	}
	mem_free(key);
}

int anvil_table_event(struct anvil_table *t, const char *service,
                      const char *address, const char *event, long long now_ms,
                      int *rate)
{
	char *key = anvil_make_key(service, address);
	struct anvil_entry *e = anvil_get(t, key, now_ms);
	struct anvil_event *ev = NULL;

	mem_free(key);
	if (e == NULL || strlen(event) > ANVIL_MAX_EVENT)
		return -1;
	for (int i = 0; i < e->nevents; i++)
		if (strcmp(e->events[i].name, event) == 0)
			ev = &e->events[i];
	if (ev == NULL) {
		if (e->nevents >= ANVIL_EVENTS_MAX)
			return -1;
		ev = &e->events[e->nevents++];
		(void)str_copy(ev->name, sizeof(ev->name), event);
		ev->w.start_ms = now_ms;
	}
	e->last_ms = now_ms;
	*rate = anvil_window_add(t, &ev->w, now_ms, 1);
	return 0;
}

void anvil_table_lookup(struct anvil_table *t, const char *service,
                        const char *address, long long now_ms, int *count,
                        int *rate)
{
	char *key = anvil_make_key(service, address);
	struct anvil_entry *e = anvil_find(t, key);

	mem_free(key);
	*count = e ? e->count : 0;
	*rate = e ? anvil_window_add(t, &e->conn, now_ms, 0) : 0;
}

size_t anvil_table_expire(struct anvil_table *t, long long now_ms)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct anvil_entry **pp = &t->buckets[i];

		while (*pp) {
			struct anvil_entry *e = *pp;

			if (e->count == 0 &&
			    now_ms - e->last_ms >= t->unit_ms) {
				*pp = e->next;
				anvil_entry_free(e);
				t->nentries--;
			} else {
				pp = &e->next;
			}
		}
	}
	return t->nentries;
}
