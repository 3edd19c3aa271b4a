/*
 * smtpd_peer.c: who the client is: its address (IPv4-mapped IPv6 shown as
 * IPv4), port, the RFC 5321 address literal form for Received: ("IPv6:"
 * prefix, 4.1.3) and its name: the reverse (PTR) name, kept only when it
 * is a valid host name and resolves forward to the same address
 * ("forward-confirmed"), else "unknown" (Postfix's rule). A loopback
 * client without a name is "localhost". smtpd_peername_lookup=no skips
 * the lookups.
 * SECURITY: DNS answers are untrusted: a name is used only after the
 * syntax check (policy_valid_hostname) and the forward confirmation;
 * the resolver's waits are bounded (RES_TIMEOUT_S, one retry) so a
 * client with a slow DNS cannot hold the process much longer than its
 * smtpd_timeout.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>
#include <sys/socket.h>

#include "msg.h"
#include "smtpd.h"
#include "str.h"

/* Seconds per DNS query try, and tries. */
#define SMTPD_RES_TIMEOUT_S 3
#define SMTPD_RES_ATTEMPTS 2

void smtpd_peer_init_resolver(void)
{
	if (res_init() == 0) {
		_res.retrans = SMTPD_RES_TIMEOUT_S;
		_res.retry = SMTPD_RES_ATTEMPTS;
	}
}

/* Does the name resolve to the client's address? */
static bool smtpd_peer_confirm(const char *name, const struct sockaddr *sa)
{
	struct addrinfo hints, *res = NULL;
	bool ok = false;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = sa->sa_family;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(name, NULL, &hints, &res) != 0)
		return false;
	for (struct addrinfo *ai = res; ai && !ok; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET && sa->sa_family == AF_INET)
			ok = memcmp(
			         &((struct sockaddr_in *)ai->ai_addr)->sin_addr,
			         &((const struct sockaddr_in *)sa)->sin_addr,
			         sizeof(struct in_addr)) == 0;
		else if (ai->ai_family == AF_INET6 && sa->sa_family == AF_INET6)
			ok = memcmp(
			         &((struct sockaddr_in6 *)ai->ai_addr)
			              ->sin6_addr,
			         &((const struct sockaddr_in6 *)sa)->sin6_addr,
			         sizeof(struct in6_addr)) == 0;
	}
	freeaddrinfo(res);
	return ok;
}

static void smtpd_peer_name(struct smtpd_session *s, const struct sockaddr *sa,
                            socklen_t salen, bool loopback)
{
	char host[NI_MAXHOST];

	str_copy(s->name, sizeof(s->name), "unknown");
	if (!smtpd_params.peername_lookup)
		return;
	if (getnameinfo(sa, salen, host, sizeof(host), NULL, 0, NI_NAMEREQD) !=
	    0) {
		if (loopback)
			str_copy(s->name, sizeof(s->name), "localhost");
		return;
	}
	if (!policy_valid_hostname(host)) {
		msg_warn("%s: hostname %.100s has bad syntax: using unknown",
		         s->addr, host);
		return;
	}
	if (!smtpd_peer_confirm(host, sa)) {
		msg_warn("hostname %.100s does not resolve to address %s", host,
		         s->addr);
		return;
	}
	(void)str_copy(s->name, sizeof(s->name), host);
}

void smtpd_peer_init(struct smtpd_session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct sockaddr *sa = (struct sockaddr *)&ss;
	bool loopback = false;

	str_copy(s->addr, sizeof(s->addr), "unknown");
	str_copy(s->rfc_addr, sizeof(s->rfc_addr), "unknown");
	str_copy(s->port, sizeof(s->port), "0");
	str_copy(s->name, sizeof(s->name), "unknown");
	memset(&ss, 0, sizeof(ss));
	if (getpeername(stream_fd(s->client), sa, &len) < 0) {
		msg_warn("getpeername: %m");
		return;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		/* A v4 client on a dual-stack socket: treat it as IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			struct sockaddr_in in4;

			memset(&in4, 0, sizeof(in4));
			in4.sin_family = AF_INET;
			in4.sin_port = in6->sin6_port;
			memcpy(&in4.sin_addr, &in6->sin6_addr.s6_addr[12], 4);
			memcpy(&ss, &in4, sizeof(in4));
			len = sizeof(in4);
		}
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in4->sin_addr, s->addr, sizeof(s->addr));
		str_copy(s->rfc_addr, sizeof(s->rfc_addr), s->addr);
		str_format(s->port, sizeof(s->port), "%u",
		           (unsigned)ntohs(in4->sin_port));
		loopback = ntohl(in4->sin_addr.s_addr) == INADDR_LOOPBACK;
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, s->addr, sizeof(s->addr));
		str_format(s->rfc_addr, sizeof(s->rfc_addr), "IPv6:%s",
		           s->addr);
		str_format(s->port, sizeof(s->port), "%u",
		           (unsigned)ntohs(in6->sin6_port));
		loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	} else {
		/* Not an inet socket (a test over a pipe): local. */
		str_copy(s->addr, sizeof(s->addr), "127.0.0.1");
		str_copy(s->rfc_addr, sizeof(s->rfc_addr), "127.0.0.1");
		str_copy(s->name, sizeof(s->name), "localhost");
		return;
	}
	smtpd_peer_name(s, sa, len, loopback);
	s->bare_newline_excluded =
	    cidr_list_match(smtpd_params.bare_newline_exclusions, s->addr) == 1;
}
