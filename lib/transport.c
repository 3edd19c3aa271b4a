/*
 * transport.c: recipient resolution (transport.h), Postfix's trivial-
 * rewrite resolve step and transport(5) table search for qmgr. Owns
 * struct transport_resolver: the domain lists (mydestination,
 * virtual_alias_domains, virtual_mailbox_domains), transport_maps, and
 * the parsed default_transport / relayhost.
 * SECURITY: addresses come from queue files (cleanup checked them:
 * bounded, no control characters); they are only split and used as
 * lookup keys, each bounded to TRANSPORT_KEY_MAX bytes. Table results are
 * trusted configuration.
 */
#include <string.h>

#include "domain_list.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "str.h"
#include "transport.h"

/* Longest address used as a key (cleanup refuses longer ones). */
#define TRANSPORT_KEY_MAX 2048

struct transport_resolver {
	struct config *c;
	struct domain_list *mydestination;
	struct domain_list *virtual_alias;
	struct domain_list *virtual_mailbox;
	struct maps *maps;
	bool parent_style; /* transport_maps in
			      * parent_domain_matches_subdomains */
	char *def_transport; /* default_transport's transport part */
	char *virt_transport; /* virtual_transport's transport part */
	char *virt_nexthop; /* its nexthop ("": the domain) */
	char *def_nexthop; /* its nexthop, else relayhost, else "" */
	char *delimiters; /* recipient_delimiter */
	char *myhostname;
	struct buf *key, *value;
};

struct transport_resolver *transport_resolver_create(struct config *c,
                                                     struct buf *err)
{
	struct transport_resolver *r = mem_zalloc(sizeof(*r));
	struct buf *t = buf_create(64, 1024), *n = buf_create(64, 1024);

	r->c = c;
	r->key = buf_create(256, TRANSPORT_KEY_MAX);
	r->value = buf_create(256, 0);
	if ((r->mydestination =
	         domain_list_from_config(c, "mydestination", err)) == NULL ||
	    (r->virtual_alias = domain_list_from_config(
	         c, "virtual_alias_domains", err)) == NULL ||
	    (r->virtual_mailbox = domain_list_from_config(
	         c, "virtual_mailbox_domains", err)) == NULL)
		goto fail;
	if ((r->maps = maps_open(config_str(c, "transport_maps"), err)) ==
	    NULL) {
		char *why = buf_steal(err);

		buf_sprintf(err, "transport_maps: %s", why);
		mem_free(why);
		goto fail;
	}
	r->parent_style = domain_list_parent_style(c, "transport_maps");
	/* default_transport may carry its own nexthop ("smtp:[gw]"); it
	 * wins over relayhost (postconf(5) default_transport). */
	buf_set_str(t, "smtp");
	buf_set_str(n, config_str(c, "relayhost"));
	transport_apply(config_str(c, "default_transport"), "", t, n);
	if (buf_len(n) == 0)
		buf_set_str(n, config_str(c, "relayhost"));
	if (buf_len(t) == 0)
		buf_set_str(t, "smtp");
	r->def_transport = buf_steal(t);
	r->def_nexthop = buf_steal(n);
	/* virtual_transport ("virtual" or "virtual:nexthop"), Postfix's
	 * delivery to virtual_mailbox_domains; posthorn's virtual service
	 * runs the local program. */
	buf_set_str(t, TRANSPORT_VIRTUAL);
	buf_reset(n);
	transport_apply(config_str(c, "virtual_transport"), "", t, n);
	if (buf_len(t) == 0)
		buf_set_str(t, TRANSPORT_VIRTUAL);
	r->virt_transport = buf_steal(t);
	r->virt_nexthop = buf_steal(n);
	r->delimiters = mem_strdup(config_str(c, "recipient_delimiter"));
	r->myhostname = mem_strdup(config_str(c, "myhostname"));
	buf_destroy(&t);
	buf_destroy(&n);
	return r;
fail:
	buf_destroy(&t);
	buf_destroy(&n);
	transport_resolver_destroy(&r);
	return NULL;
}

void transport_resolver_destroy(struct transport_resolver **rp)
{
	struct transport_resolver *r = *rp;

	if (r == NULL)
		return;
	domain_list_destroy(&r->mydestination);
	domain_list_destroy(&r->virtual_alias);
	domain_list_destroy(&r->virtual_mailbox);
	maps_close(&r->maps);
	mem_free(r->def_transport);
	mem_free(r->def_nexthop);
	mem_free(r->virt_transport);
	mem_free(r->virt_nexthop);
	mem_free(r->delimiters);
	mem_free(r->myhostname);
	buf_destroy(&r->key);
	buf_destroy(&r->value);
	mem_free(r);
	*rp = NULL;
}

void transport_apply(const char *result, const char *domain,
                     struct buf *transport, struct buf *nexthop)
{
	const char *colon = strchr(result, ':');
	size_t tlen = colon ? (size_t)(colon - result) : strlen(result);
	const char *next = colon ? colon + 1 : "";
	struct buf *t = buf_create(64, 1024);

	while (tlen > 0 && (result[0] == ' ' || result[0] == '\t')) {
		result++;
		tlen--;
	}
	while (tlen > 0 &&
	       (result[tlen - 1] == ' ' || result[tlen - 1] == '\t'))
		tlen--;
	if (buf_append(t, result, tlen) < 0)
		buf_reset(t);
	if (buf_len(t) == 0 && *next == '\0') {
		/* ":" : change nothing. */
	} else if (buf_len(t) == 0) {
		/* ":nexthop": keep the transport. */
		buf_set_str(nexthop, next);
	} else {
		buf_set_str(transport, buf_str(t));
		if (*next != '\0' || strcmp(buf_str(t), TRANSPORT_ERROR) == 0 ||
		    strcmp(buf_str(t), TRANSPORT_DISCARD) == 0)
			buf_set_str(nexthop, next);
		else
			buf_set_str(nexthop, domain);
	}
	buf_destroy(&t);
}

/* Look key up in transport_maps: 1 found (r->value), 0, -1 error. */
static int transport_lookup(struct transport_resolver *r, const char *key,
                            struct buf *err)
{
	if (maps_count(r->maps) == 0)
		return 0;
	return maps_lookup(r->maps, key, r->value, err);
}

/* The transport(5) search order for address (local part, domain). */
static int transport_search(struct transport_resolver *r, const char *local,
                            const char *domain, struct buf *err)
{
	int found;
	size_t cut;

	if (maps_count(r->maps) == 0)
		return 0;
	/* user+ext@domain, then user@domain (just the local part for an
	 * address without a domain). */
	buf_sprintf(r->key, "%s%s%s", local, *domain ? "@" : "", domain);
	if (buf_len(r->key) > 0 &&
	    (found = transport_lookup(r, buf_str(r->key), err)) != 0)
		return found;
	cut = r->delimiters[0] ? strcspn(local, r->delimiters) : strlen(local);
	if (cut > 0 && local[cut] != '\0') {
		buf_reset(r->key);
		if (buf_append(r->key, local, cut) == 0 &&
		    (*domain == '\0' ||
		     buf_printf(r->key, "@%s", domain) == 0) &&
		    (found = transport_lookup(r, buf_str(r->key), err)) != 0)
			return found;
	}
	/* domain, then each parent: "example.com" (parent style) or
	 * ".example.com". */
	if (*domain != '\0') {
		const char *d = domain;

		if ((found = transport_lookup(r, d, err)) != 0)
			return found;
		while ((d = strchr(d + 1, '.')) != NULL) {
			if (r->parent_style)
				buf_set_str(r->key, d + 1);
			else
				buf_set_str(r->key, d);
			if (buf_len(r->key) > 1 &&
			    (found = transport_lookup(r, buf_str(r->key),
			                              err)) != 0)
				return found;
		}
	}
	return transport_lookup(r, "*", err);
}

/* Local forms that are not in any list: RFC 5321 4.1.3 address literals
 * of the loopback interface, and "localhost". */
static bool transport_localhost(const char *domain)
{
	static const char *const forms[] = {"localhost", "[127.0.0.1]", "[::1]",
	                                    "[ipv6:::1]", NULL};

	for (size_t i = 0; forms[i] != NULL; i++)
		if (str_eq_ci(domain, forms[i]))
			return true;
	return false;
}

int transport_resolve(struct transport_resolver *r, const char *address,
                      struct buf *transport, struct buf *nexthop,
                      struct buf *err)
{
	const char *at = strrchr(address, '@');
	char *local, *domain;
	int m, rc = -1;

	if (at != NULL) {
		local = mem_strndup(address, (size_t)(at - address));
		domain = str_lower(mem_strdup(at + 1));
	} else {
		local = mem_strdup(address);
		domain = mem_strdup("");
	}
	/* A trailing dot names the same domain (RFC 1034 3.1). */
	if (*domain && domain[strlen(domain) - 1] == '.')
		domain[strlen(domain) - 1] = '\0';

	if (*domain == '\0' || transport_localhost(domain)) {
		buf_set_str(transport, TRANSPORT_LOCAL);
		buf_set_str(nexthop, *domain ? domain : r->myhostname);
	} else if ((m = domain_list_match(r->mydestination, domain, err)) !=
	           0) {
		if (m < 0)
			goto out;
		buf_set_str(transport, TRANSPORT_LOCAL);
		buf_set_str(nexthop, domain);
	} else if ((m = domain_list_match(r->virtual_alias, domain, err)) !=
	           0) {
		if (m < 0)
			goto out;
		/* Postfix: what cleanup did not alias has no mailbox. */
		buf_set_str(transport, TRANSPORT_ERROR);
		buf_set_str(nexthop,
		            "5.1.1 User unknown in virtual alias table");
	} else if ((m = domain_list_match(r->virtual_mailbox, domain, err)) !=
	           0) {
		if (m < 0)
			goto out;
		buf_set_str(transport, r->virt_transport);
		buf_set_str(nexthop,
		            *r->virt_nexthop ? r->virt_nexthop : domain);
	} else {
		buf_set_str(transport, r->def_transport);
		buf_set_str(nexthop, *r->def_nexthop ? r->def_nexthop : domain);
	}
	/* transport_maps override every class (transport(5)). */
	m = transport_search(r, local, domain, err);
	if (m < 0)
		goto out;
	if (m > 0)
		transport_apply(buf_str(r->value), domain, transport, nexthop);
	if (buf_len(transport) == 0)
		buf_set_str(transport, r->def_transport);
	rc = 0;
out:
	if (rc < 0 && buf_len(err) == 0)
		buf_set_str(err, "table lookup failed");
	mem_free(local);
	mem_free(domain);
	return rc;
}
