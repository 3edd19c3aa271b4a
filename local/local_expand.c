/*
 * local_expand.c: what local does with one recipient (Postfix local(8)):
 *   - a message already holding "Delivered-To: <address>" bounces as a
 *     mail forwarding loop (5.4.6), checked at every address on the way;
 *   - in a mydestination domain the local part is looked up in
 *     alias_maps (the whole local part, then without the
 *     recipient_delimiter extension); an alias expands to addresses
 *     (expanded again when local or virtual, forwarded through cleanup
 *     when remote: local_forward.c), "|command", "/file" and
 *     ":include:/file" targets (allow_mail_to_commands and
 *     allow_mail_to_files decide where commands and files may come from:
 *     "alias" for the aliases table, "include" for include files);
 *   - an address being expanded further up the same chain (a -> b -> a,
 *     or "a: a, b") is not expanded again but goes to a's own mailbox;
 *   - otherwise the users map (virtual_mailbox_maps) names the mailbox:
 *     the whole address, then without the extension (user+tag@domain ->
 *     user@domain's Maildir, Delivered-To keeps user+tag@domain); a
 *     disabled user bounces with 5.2.1, an unknown one with 5.1.1.
 * Bounds: LOCAL_DEPTH_MAX levels of nesting, LOCAL_TARGETS_MAX targets
 * per recipient, ALIASES_TARGETS_MAX per alias or include file.
 * SECURITY: alias values come from the administrator's table but are
 * split with the same strict parser that built it; addresses from the
 * envelope are only used as lookup keys and, checked by lib/users.c, as
 * path components.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "address.h"
#include "aliases.h"
#include "local.h"
#include "mem.h"
#include "msg.h"
#include "str.h"
#include "users.h"

/* Where a target came from (allow_mail_to_commands/files). */
enum local_class { LOCAL_FROM_ALIAS, LOCAL_FROM_INCLUDE };

struct local_expansion {
	struct local_request *lr;
	struct local_outcome *o;
	char *chain[LOCAL_DEPTH_MAX + 2]; /* aliases being expanded */
	int nchain;
	char *includes[LOCAL_DEPTH_MAX + 2]; /* include files being read */
	int nincludes;
	size_t work; /* targets looked at */
	bool too_many; /* LOCAL_TARGETS_MAX reached (reported once) */
};

/* A list of targets, collected before any is delivered. */
struct local_targets {
	char **v;
	size_t n, cap;
};

static int local_targets_add(void *ctx, const char *target)
{
	struct local_targets *t = ctx;

	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->v = mem_realloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->n++] = mem_strdup(target);
	return 0;
}

static void local_targets_free(struct local_targets *t)
{
	for (size_t i = 0; i < t->n; i++)
		mem_free(t->v[i]);
	mem_free(t->v);
	memset(t, 0, sizeof(*t));
}

static void local_address(struct local_expansion *e, const char *addr,
                          int depth, struct rewrite_set *remote);

void local_split(struct local_request *lr, const char *addr, struct buf *local,
                 struct buf *user, struct buf *ext, struct buf *domain)
{
	struct buf *raw = buf_create(64, 4096);
	size_t pos;

	buf_reset(domain);
	if (address_split(addr, raw, domain) < 0)
		buf_set_str(raw, addr);
	if (address_unquote_local(buf_str(raw), local) < 0)
		buf_set_str(local, buf_str(raw));
	buf_set_str(user, buf_str(local));
	buf_reset(ext);
	pos = *lr->delimiter ? strcspn(buf_str(local), lr->delimiter)
	                     : buf_len(local);
	/* Postfix: "+tag" alone (nothing before the delimiter) is a name. */
	if (pos > 0 && pos < buf_len(local)) {
		buf_set_str(ext, buf_str(local) + pos + 1);
		buf_truncate(user, pos);
	}
	buf_destroy(&raw);
}

/* Log and fold one final result for "to". */
static void local_report(struct local_expansion *e, const char *to, int status,
                         const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void local_report(struct local_expansion *e, const char *to, int status,
                         const char *dsn, const char *fmt, ...)
{
	struct local_result res;
	char text[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	local_result_init(&res);
	local_result_set(&res, status, dsn, "%s", text);
	local_record(e->lr, e->o, to, &res);
	local_result_free(&res);
}

/* Count one more address or target; false once over the limit. */
static bool local_work(struct local_expansion *e, const char *to)
{
	if (++e->work <= LOCAL_TARGETS_MAX)
		return true;
	if (!e->too_many)
		local_report(e, to, 5, "5.3.0",
		             "alias expansion produced more than %d addresses",
		             LOCAL_TARGETS_MAX);
	e->too_many = true;
	return false;
}

/* A final delivery with duplicate elimination: deliver (via fn) unless
 * key was delivered earlier in this request. */
static void local_final(struct local_expansion *e, const char *key,
                        const char *to,
                        void (*fn)(struct local_expansion *e, const char *arg,
                                   const char *to, struct local_result *res),
                        const char *arg)
{
	struct local_result res;

	local_result_init(&res);
	if (local_done_find(e->lr, key, &res)) {
		local_fold(e->o, &res);
	} else {
		fn(e, arg, to, &res);
		local_record(e->lr, e->o, to, &res);
		local_done_add(e->lr, key, &res);
	}
	local_result_free(&res);
}

static void local_do_command(struct local_expansion *e, const char *cmd,
                             const char *to, struct local_result *res)
{
	local_command(e->lr, e->o, cmd, to, res);
}

static void local_do_file(struct local_expansion *e, const char *path,
                          const char *to, struct local_result *res)
{
	local_file(e->lr, e->o, path, to, res);
}

/* A users-map entry's mailbox (arg: "quota address"). */
static void local_do_mailbox(struct local_expansion *e, const char *arg,
                             const char *to, struct local_result *res)
{
	long long quota = 0;
	int n = 0;

	sscanf(arg, "%lld %n", &quota, &n);
	local_mailbox(e->lr, e->o, arg + n, quota, to, res);
}

static void local_targets_deliver(struct local_expansion *e, const char *alias,
                                  const struct local_targets *t,
                                  enum local_class class, int depth,
                                  struct rewrite_set *remote);

/* An :include: target of alias. */
static void local_include(struct local_expansion *e, const char *alias,
                          const char *path, int depth,
                          struct rewrite_set *remote)
{
	struct local_request *lr = e->lr;
	struct buf *text = buf_create(4096, (size_t)ALIASES_INCLUDE_MAX + 2);
	struct buf *err = buf_create(0, 4096);
	struct local_targets t = {0};

	for (int i = 0; i < e->nincludes; i++) {
		if (strcmp(e->includes[i], path) == 0) {
			msg_warn("%s: :include:%s includes itself; ignored",
			         lr->req->queue_id, path);
			goto out;
		}
	}
	if (local_include_read(lr, path, text, err) < 0) {
		local_report(e, alias, 4, "4.3.0",
		             "cannot read :include: file %s: %s", path,
		             buf_str(err));
		goto out;
	}
	if (aliases_parse_include(buf_str(text), buf_len(text), path,
	                          local_targets_add, &t, err) < 0) {
		local_report(e, alias, 4, "4.3.0", ":include: file %s",
		             buf_str(err));
		goto out;
	}
	e->includes[e->nincludes++] = mem_strdup(path);
	local_targets_deliver(e, alias, &t, LOCAL_FROM_INCLUDE, depth + 1,
	                      remote);
	mem_free(e->includes[--e->nincludes]);
out:
	local_targets_free(&t);
	buf_destroy(&text);
	buf_destroy(&err);
}

static void local_targets_deliver(struct local_expansion *e, const char *alias,
                                  const struct local_targets *t,
                                  enum local_class class, int depth,
                                  struct rewrite_set *remote)
{
	struct local_request *lr = e->lr;
	struct buf *key = buf_create(64, ALIASES_TARGET_MAX + 8);

	for (size_t i = 0; i < t->n && !e->too_many; i++) {
		const char *target = t->v[i], *rest;
		bool allowed;

		if (depth > LOCAL_DEPTH_MAX) {
			local_report(e, alias, 5, "5.4.6",
			             "alias expansion nested deeper than %d "
			             "levels",
			             LOCAL_DEPTH_MAX);
			break;
		}
		if (!local_work(e, alias))
			break;
		switch (alias_target_type(target, &rest)) {
		case ALIAS_TARGET_ADDRESS:
			local_address(e, target, depth, remote);
			break;
		case ALIAS_TARGET_COMMAND:
			allowed = class == LOCAL_FROM_INCLUDE ? lr->cmd_include
			                                      : lr->cmd_alias;
			if (!allowed) {
				local_report(e, alias, 5, "5.7.1",
				             "mail to command is restricted");
				break;
			}
			while (*rest == ' ' || *rest == '\t')
				rest++;
			buf_sprintf(key, "c:%s", rest);
			local_final(e, buf_str(key), alias, local_do_command,
			            rest);
			break;
		case ALIAS_TARGET_FILE:
			allowed = class == LOCAL_FROM_INCLUDE ? lr->file_include
			                                      : lr->file_alias;
			if (!allowed) {
				local_report(e, alias, 5, "5.7.1",
				             "mail to file is restricted");
				break;
			}
			buf_sprintf(key, "f:%s", rest);
			local_final(e, buf_str(key), alias, local_do_file,
			            rest);
			break;
		case ALIAS_TARGET_INCLUDE:
			local_include(e, alias, rest, depth, remote);
			break;
		}
	}
	buf_destroy(&key);
}

/* Expand the alias of address (its table value). */
static void local_alias(struct local_expansion *e, const char *address,
                        const char *value, int depth)
{
	struct rewrite_set *remote = rewrite_set_create();
	struct buf *err = buf_create(0, 4096);
	struct local_targets t = {0};

	if (aliases_split(value, strlen(value), local_targets_add, &t, err) <
	    0) {
		local_report(e, address, 4, "4.3.0",
		             "alias_maps: bad entry for %s: %s", address,
		             buf_str(err));
		goto out;
	}
	e->chain[e->nchain] = mem_strdup(address);
	str_lower(e->chain[e->nchain++]);
	local_targets_deliver(e, address, &t, LOCAL_FROM_ALIAS, depth + 1,
	                      remote);
	mem_free(e->chain[--e->nchain]);
	if (rewrite_set_count(remote) > 0 && !e->too_many)
		local_forward(e->lr, e->o, address, remote);
out:
	local_targets_free(&t);
	rewrite_set_destroy(&remote);
	buf_destroy(&err);
}

/* Is address being expanded further up? */
static bool local_in_chain(const struct local_expansion *e, const char *addr)
{
	for (int i = 0; i < e->nchain; i++)
		if (str_eq_ci(e->chain[i], addr))
			return true;
	return false;
}

/* The users map: the mailbox of address (or of user@domain). */
static void local_user(struct local_expansion *e, const char *address,
                       const char *user, const char *ext, const char *domain)
{
	struct user_entry u;
	struct buf *err = buf_create(0, 4096);
	struct buf *alt = buf_create(64, 4096);
	struct buf *key = buf_create(64, 8192);
	int r = users_lookup(e->lr->config, address, &u, err);

	if (r == 0 && *ext) {
		/* user+tag@domain: user@domain's mailbox. */
		if (address_quote_local(user, alt) == 0 &&
		    buf_printf(alt, "@%s", domain) == 0)
			r = users_lookup(e->lr->config, buf_str(alt), &u, err);
	}
	if (r < 0) {
		local_report(e, address, 4, "4.3.0", "users lookup: %s",
		             buf_str(err));
	} else if (r == 0) {
		local_report(e, address, 5, "5.1.1", "unknown user: \"%s\"",
		             address);
	} else {
		if (!u.enabled) {
			local_report(e, address, 5, "5.2.1",
			             "mailbox %s is disabled", u.address);
		} else {
			char arg[64 + REWRITE_ADDR_MAX];

			snprintf(arg, sizeof(arg), "%lld %s", u.quota,
			         u.address);
			buf_sprintf(key, "m:%s", address);
			local_final(e, buf_str(key), address, local_do_mailbox,
			            arg);
		}
		user_entry_free(&u);
	}
	buf_destroy(&err);
	buf_destroy(&alt);
	buf_destroy(&key);
}

/* Deliver to one address. remote: where a remote address goes (the
 * expanding alias's forward list); NULL for the request recipient. */
static void local_address(struct local_expansion *e, const char *addr,
                          int depth, struct rewrite_set *remote)
{
	struct local_request *lr = e->lr;
	struct buf *full = buf_create(64, 2 * REWRITE_ADDR_MAX);
	struct buf *lower = buf_create(64, 2 * REWRITE_ADDR_MAX);
	struct buf *local = buf_create(64, 4096), *user = buf_create(64, 4096);
	struct buf *ext = buf_create(64, 4096), *domain = buf_create(64, 4096);
	struct buf *value = buf_create(256, 2 * ALIASES_LINE_MAX + 16);
	struct buf *err = buf_create(0, 4096);
	int is_local, is_virtual = 0, r;

	if (depth > LOCAL_DEPTH_MAX) {
		local_report(e, addr, 5, "5.4.6",
		             "alias expansion nested deeper than %d levels",
		             LOCAL_DEPTH_MAX);
		goto out;
	}
	/* A bare name in an alias is a local one (Postfix: @$myorigin). */
	if (address_split(addr, local, domain) < 0)
		buf_sprintf(full, "%s@%s", addr,
		            config_str(lr->config, "myorigin"));
	else
		buf_set_str(full, addr);
	local_split(lr, buf_str(full), local, user, ext, domain);
	if (buf_len(local) == 0 || buf_len(domain) == 0 ||
	    buf_len(full) > REWRITE_ADDR_MAX) {
		local_report(e, buf_str(full), 5, "5.1.3",
		             "bad address syntax");
		goto out;
	}
	buf_set_str(lower, buf_str(full));
	str_lower(buf_data(lower));
	/* RFC 9228: this address had the message before. */
	if (rewrite_set_contains(lr->delivered_to, buf_str(lower))) {
		local_report(e, buf_str(full), 5, "5.4.6",
		             "mail forwarding loop for %s", buf_str(full));
		goto out;
	}
	if ((is_local = domain_list_match(lr->mydestination, buf_str(domain),
	                                  err)) < 0 ||
	    (!is_local &&
	     (is_virtual = domain_list_match(lr->virtual_domains,
	                                     buf_str(domain), err)) < 0)) {
		local_report(e, buf_str(full), 4, "4.3.0", "domain lookup: %s",
		             buf_str(err));
		goto out;
	}
	if (!is_local && !is_virtual && remote != NULL) {
		rewrite_set_add(remote, buf_str(full));
		goto out;
	}
	if (is_local && !local_in_chain(e, buf_str(full))) {
		struct maps *aliases = local_alias_maps(lr, err);

		if (aliases == NULL) {
			local_report(e, buf_str(full), 4, "4.3.0",
			             "alias_maps: %s", buf_str(err));
			goto out;
		}
		r = maps_lookup(aliases, buf_str(local), value, err);
		if (r == 0 && buf_len(ext) > 0)
			r = maps_lookup(aliases, buf_str(user), value, err);
		if (r < 0) {
			local_report(e, buf_str(full), 4, "4.3.0",
			             "alias_maps lookup: %s", buf_str(err));
			goto out;
		}
		if (r == 1) {
			local_alias(e, buf_str(full), buf_str(value), depth);
			goto out;
		}
	}
	local_user(e, buf_str(full), buf_str(user), buf_str(ext),
	           buf_str(domain));
out:
	buf_destroy(&full);
	buf_destroy(&lower);
	buf_destroy(&local);
	buf_destroy(&user);
	buf_destroy(&ext);
	buf_destroy(&domain);
	buf_destroy(&value);
	buf_destroy(&err);
}

void local_expand(struct local_request *lr, struct local_outcome *o)
{
	struct local_expansion e;

	memset(&e, 0, sizeof(e));
	e.lr = lr;
	e.o = o;
	local_address(&e, o->top, 0, NULL);
}
