/*
 * server_listen.c: where master.cf services listen. Turns an inet service
 * name plus inet_interfaces/inet_protocols into socket addresses (IPv4
 * and IPv6 separately: IPv6 sockets are IPV6_V6ONLY so "all" binds both
 * families side by side), opens TCP, UNIX-domain and FIFO listeners for
 * master, and is the client side of triggers (one short message to a
 * trigger service, never blocking longer than asked).
 * SECURITY: names come from main.cf/master.cf (trusted, root-owned) but
 * are parsed with bounds; socket paths are checked for length.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "mem.h"
#include "number.h"
#include "str.h"
#include "server_listen.h"
#include "server_proto.h"

int server_inet_protocols(const char *protocols, bool *v4, bool *v6,
                          struct buf *err)
{
	char copy[128];
	char *p = copy, *tok;
	bool four = false, six = false;

	if (str_copy(copy, sizeof(copy), protocols) < 0) {
		buf_set_str(err, "inet_protocols: value too long");
		return -1;
	}
	while ((tok = str_token(&p, ", \t")) != NULL) {
		if (strcmp(tok, "all") == 0)
			four = six = true;
		else if (strcmp(tok, "ipv4") == 0)
			four = true;
		else if (strcmp(tok, "ipv6") == 0)
			six = true;
		else {
			buf_sprintf(err,
			            "inet_protocols: unknown protocol "
			            "'%.40s' (use all, ipv4, ipv6)",
			            tok);
			return -1;
		}
	}
	if (!four && !six) {
		buf_set_str(err, "inet_protocols: no protocol enabled");
		return -1;
	}
	*v4 = four;
	*v6 = six;
	return 0;
}

/* The port of a service: a number, or a name from /etc/services. */
static int server_inet_port(const char *text, int *port, struct buf *err)
{
	long long n;
	struct servent *se;

	if (number_parse(text, 1, 65535, &n, NULL) == 0) {
		*port = (int)n;
		return 0;
	}
	if (*text && (se = getservbyname(text, "tcp")) != NULL) {
		*port = ntohs((unsigned short)se->s_port);
		return 0;
	}
	buf_sprintf(err, "unknown service port '%.60s'", text);
	return -1;
}

static void server_endpoint_set(struct server_endpoint *ep,
                                const struct sockaddr *sa, socklen_t len,
                                int port)
{
	char host[INET6_ADDRSTRLEN];

	memset(ep, 0, sizeof(*ep));
	memcpy(&ep->addr, sa, len);
	ep->addrlen = len;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ep->addr;

		sin->sin_port = htons((unsigned short)port);
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ep->addr;

		sin6->sin6_port = htons((unsigned short)port);
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
	}
	snprintf(ep->text, sizeof(ep->text), "%s port %d", host, port);
}

/* Add ep unless it is already there. -1 when the list is full. */
static int server_endpoint_add(struct server_endpoint *list, int *n,
                               const struct server_endpoint *ep,
                               struct buf *err)
{
	for (int i = 0; i < *n; i++)
		if (list[i].addrlen == ep->addrlen &&
		    memcmp(&list[i].addr, &ep->addr, ep->addrlen) == 0)
			return 0;
	if (*n >= SERVER_MAX_LISTEN) {
		buf_sprintf(err, "more than %d addresses to listen on",
		            SERVER_MAX_LISTEN);
		return -1;
	}
	list[(*n)++] = *ep;
	return 0;
}

/* Add every address of host (numeric, or a name) in the enabled
 * families. */
static int server_host_endpoints(const char *host, int port, bool v4, bool v6,
                                 struct server_endpoint *list, int *n,
                                 struct buf *err)
{
	struct addrinfo hints, *res, *ai;
	struct server_endpoint ep;
	int r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = v4 && v6 ? AF_UNSPEC : v4 ? AF_INET : AF_INET6;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	r = getaddrinfo(host, NULL, &hints, &res);
	if (r == EAI_ADDRFAMILY || r == EAI_NONAME || r == EAI_NODATA) {
		/* A literal of a disabled family ("::1" with ipv4 only) is
		 * skipped, as Postfix does; a name that does not resolve
		 * in any enabled family is an error. */
		struct in6_addr a6;
		struct in_addr a4;

		if ((!v6 && inet_pton(AF_INET6, host, &a6) == 1) ||
		    (!v4 && inet_pton(AF_INET, host, &a4) == 1))
			return 0;
	}
	if (r != 0) {
		buf_sprintf(err, "host '%.60s': %s", host, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if ((ai->ai_family == AF_INET && v4) ||
		    (ai->ai_family == AF_INET6 && v6)) {
			server_endpoint_set(&ep, ai->ai_addr, ai->ai_addrlen,
			                    port);
			if (server_endpoint_add(list, n, &ep, err) < 0) {
				freeaddrinfo(res);
				return -1;
			}
		}
	}
	freeaddrinfo(res);
	return 0;
}

/* Strip [brackets] around an IPv6 literal into out. */
static int server_unbracket(const char *in, char *out, size_t outlen)
{
	size_t len = strlen(in);

	if (len >= 2 && in[0] == '[' && in[len - 1] == ']') {
		if (len - 2 >= outlen)
			return -1;
		memcpy(out, in + 1, len - 2);
		out[len - 2] = 0;
		return 0;
	}
	return str_copy(out, outlen, in);
}

/* The wildcard or loopback address of each enabled family. */
static int server_special_endpoints(bool loopback, int port, bool v4, bool v6,
                                    struct server_endpoint *list, int *n,
                                    struct buf *err)
{
	struct server_endpoint ep;

	if (v4) {
		struct sockaddr_in sin = {0};

		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr =
		    htonl(loopback ? INADDR_LOOPBACK : INADDR_ANY);
		server_endpoint_set(&ep, (struct sockaddr *)&sin, sizeof(sin),
		                    port);
		if (server_endpoint_add(list, n, &ep, err) < 0)
			return -1;
	}
	if (v6) {
		struct sockaddr_in6 sin6 = {0};

		sin6.sin6_family = AF_INET6;
		sin6.sin6_addr = loopback ? in6addr_loopback : in6addr_any;
		server_endpoint_set(&ep, (struct sockaddr *)&sin6, sizeof(sin6),
		                    port);
		if (server_endpoint_add(list, n, &ep, err) < 0)
			return -1;
	}
	return 0;
}

int server_inet_endpoints(const char *service, const char *interfaces,
                          const char *protocols, struct server_endpoint **out,
                          struct buf *err)
{
	struct server_endpoint *list;
	char host[256], ifs[1024], addr[256];
	const char *port_text = service, *colon;
	bool v4, v6;
	int port, n = 0;

	if (server_inet_protocols(protocols, &v4, &v6, err) < 0)
		return -1;
	host[0] = 0;
	/* "[v6]:port", "host:port", "*:port" or just "port". */
	if (service[0] == '[') {
		const char *close = strchr(service, ']');

		if (close == NULL || close[1] != ':' ||
		    (size_t)(close - service - 1) >= sizeof(host)) {
			buf_sprintf(err, "bad service address '%.60s'",
			            service);
			return -1;
		}
		memcpy(host, service + 1, (size_t)(close - service - 1));
		host[close - service - 1] = 0;
		port_text = close + 2;
	} else if ((colon = strrchr(service, ':')) != NULL) {
		if ((size_t)(colon - service) >= sizeof(host)) {
			buf_sprintf(err, "bad service address '%.60s'",
			            service);
			return -1;
		}
		memcpy(host, service, (size_t)(colon - service));
		host[colon - service] = 0;
		port_text = colon + 1;
		if (strcmp(host, "*") == 0)
			host[0] = 0;
	}
	if (server_inet_port(port_text, &port, err) < 0)
		return -1;

	list = mem_array(SERVER_MAX_LISTEN, sizeof(*list));
	if (host[0]) {
		if (server_host_endpoints(host, port, v4, v6, list, &n, err) <
		    0)
			goto bad;
	} else {
		char *p = ifs, *tok;
		int ntok = 0;
		bool special = false;

		if (str_copy(ifs, sizeof(ifs), interfaces) < 0) {
			buf_set_str(err, "inet_interfaces: value too long");
			goto bad;
		}
		while ((tok = str_token(&p, ", \t")) != NULL) {
			ntok++;
			if (strcmp(tok, "all") == 0 ||
			    strcmp(tok, "loopback-only") == 0) {
				special = true;
				if (server_special_endpoints(tok[0] == 'l',
				                             port, v4, v6, list,
				                             &n, err) < 0)
					goto bad;
				continue;
			}
			if (server_unbracket(tok, addr, sizeof(addr)) < 0) {
				buf_sprintf(err,
				            "inet_interfaces: bad address "
				            "'%.60s'",
				            tok);
				goto bad;
			}
			if (server_host_endpoints(addr, port, v4, v6, list, &n,
			                          err) < 0)
				goto bad;
		}
		if (special && ntok > 1) {
			buf_set_str(err, "inet_interfaces: 'all' and "
			                 "'loopback-only' must stand alone");
			goto bad;
		}
	}
	if (n == 0) {
		buf_sprintf(err,
		            "no address to listen on for '%.60s' "
		            "(inet_interfaces = %.60s, inet_protocols = "
		            "%.30s)",
		            service, interfaces, protocols);
		goto bad;
	}
	*out = list;
	return n;
bad:
	mem_free(list);
	return -1;
}

bool server_endpoints_equal(const struct server_endpoint *a, size_t na,
                            const struct server_endpoint *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].addrlen != b[i].addrlen ||
		    memcmp(&a[i].addr, &b[i].addr, a[i].addrlen) != 0)
			return false;
	return true;
}

int server_inet_listen(const struct server_endpoint *ep, int backlog,
                       struct buf *err)
{
	int family = ep->addr.ss_family;
	int fd, saved, on = 1;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		buf_sprintf(err, "socket for %s: %s", ep->text,
		            strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    (family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0)) {
		buf_sprintf(err, "setsockopt for %s: %s", ep->text,
		            strerror(errno));
		goto bad;
	}
	if (bind(fd, (const struct sockaddr *)&ep->addr, ep->addrlen) < 0) {
		buf_sprintf(err, "bind %s: %s", ep->text, strerror(errno));
		goto bad;
	}
	if (listen(fd, backlog) < 0) {
		buf_sprintf(err, "listen %s: %s", ep->text, strerror(errno));
		goto bad;
	}
	return fd;
bad:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static int server_unix_addr(const char *path, struct sockaddr_un *sun,
                            struct buf *err)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (str_copy(sun->sun_path, sizeof(sun->sun_path), path) < 0) {
		if (err)
			buf_sprintf(err, "socket path too long: %.80s", path);
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int server_unix_listen(const char *path, mode_t mode, uid_t uid, gid_t gid,
                       int backlog, struct buf *err)
{
	struct sockaddr_un sun;
	int fd;

	if (server_unix_addr(path, &sun, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		buf_sprintf(err, "socket for %s: %s", path, strerror(errno));
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		buf_sprintf(err, "unlink %s: %s", path, strerror(errno));
		goto bad;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		buf_sprintf(err, "bind %s: %s", path, strerror(errno));
		goto bad;
	}
	if ((uid != (uid_t)-1 && chown(path, uid, gid) < 0) ||
	    chmod(path, mode) < 0) {
		buf_sprintf(err, "set owner/mode of %s: %s", path,
		            strerror(errno));
		goto bad;
	}
	if (listen(fd, backlog) < 0) {
		buf_sprintf(err, "listen %s: %s", path, strerror(errno));
		goto bad;
	}
	return fd;
bad:
	close(fd);
	return -1;
}

int server_fifo_listen(const char *path, mode_t mode, uid_t uid, gid_t gid,
                       struct buf *err)
{
	struct stat st;
	int fd;

	if (unlink(path) < 0 && errno != ENOENT) {
		buf_sprintf(err, "unlink %s: %s", path, strerror(errno));
		return -1;
	}
	if (mkfifo(path, mode) < 0) {
		buf_sprintf(err, "mkfifo %s: %s", path, strerror(errno));
		return -1;
	}
	/* Read-write: we always hold a writer, so no end of file. */
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		buf_sprintf(err, "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		buf_sprintf(err, "%s: not a fifo", path);
		close(fd);
		return -1;
	}
	if ((uid != (uid_t)-1 && fchown(fd, uid, gid) < 0) ||
	    fchmod(fd, mode) < 0) {
		buf_sprintf(err, "set owner/mode of %s: %s", path,
		            strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int server_unix_connect(const char *path, int timeout_ms, struct buf *err)
{
	struct sockaddr_un sun;
	struct timeval tv;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_copy(sun.sun_path, sizeof(sun.sun_path), path) < 0) {
		buf_sprintf(err, "%s: socket path too long", path);
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		buf_sprintf(err, "socket: %s", strerror(errno));
		return -1;
	}
	/* A full backlog makes a UNIX-domain connect wait: bound it. */
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int saved = errno;

		buf_sprintf(err, "connect to %s: %s", path, strerror(errno));
		close(fd);
		errno = saved;
		return -1;
	}
	tv.tv_sec = tv.tv_usec = 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

int server_unix_trigger(const char *path, const void *data, size_t len,
                        int timeout_ms)
{
	struct sockaddr_un sun;
	struct pollfd pfd;
	int fd, saved;
	ssize_t n;

	if (server_unix_addr(path, &sun, NULL) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* A UNIX-domain connect completes at once or fails (EAGAIN when
	 * the backlog is full): never wait for it. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		goto bad;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, timeout_ms) <= 0) {
		errno = ETIMEDOUT;
		goto bad;
	}
	n = send(fd, data, len, MSG_NOSIGNAL);
	if (n < 0 || (size_t)n != len) {
		if (n >= 0)
			errno = EAGAIN;
		goto bad;
	}
	close(fd);
	return 0;
bad:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int server_fifo_trigger(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;
	int saved;

	if (fd < 0)
		return -1;
	n = write(fd, data, len);
	saved = errno;
	close(fd);
	if (n < 0 || (size_t)n != len) {
		errno = n < 0 ? saved : EAGAIN;
		return -1;
	}
	return 0;
}
