/*
 * cleanup.c: the cleanup daemon (DESIGN.md): takes one message per
 * connection from smtpd or pickup (docs/ipc.md, "cleanup"), adds missing
 * headers, checks hop count and size, rewrites envelope addresses
 * (canonical_maps, virtual_alias_maps), writes the queue file under the
 * durability contract into incoming/ and pokes qmgr. Many clients per
 * process on the multi_server skeleton; each client is a state machine
 * (cleanup_session.c). This file: parameters and the skeleton's
 * callbacks.
 * SECURITY: runs as mail_owner with queue_directory as working directory;
 * clients are local daemons, their input is still treated as untrusted
 * (see cleanup_session.c, cleanup_state.c, cleanup_header.c).
 */
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "mem.h"
#include "msg.h"
#include "server.h"
#include "str.h"

struct cleanup_params cleanup_params;

/* myorigin and the plain domain names of mydestination (table entries
 * there are not supported yet and are skipped). */
static void cleanup_local_domains(struct config *c)
{
	char *list = mem_strdup(config_str(c, "mydestination"));
	char *p = list, *word;
	size_t n = 1;

	cleanup_params.local_domains = mem_array(2, sizeof(char *));
	cleanup_params.local_domains[0] = mem_strdup(cleanup_params.myorigin);
	while ((word = str_token(&p, ", \t\r\n")) != NULL) {
		if (strchr(word, ':') || strchr(word, '/'))
			continue;
		cleanup_params.local_domains = mem_realloc(
		    cleanup_params.local_domains, (n + 2) * sizeof(char *));
		cleanup_params.local_domains[n++] = mem_strdup(word);
	}
	cleanup_params.local_domains[n] = NULL;
	mem_free(list);
}

static void cleanup_post_init(const struct server_info *si)
{
	struct config *c = si->config;
	long long timeout = config_time(c, "ipc_timeout");

	cleanup_params.config = c;
	cleanup_params.myhostname = config_str(c, "myhostname");
	cleanup_params.myorigin = config_str(c, "myorigin");
	cleanup_params.hopcount_limit = config_int(c, "hopcount_limit");
	cleanup_params.header_size_limit = config_size(c, "header_size_limit");
	cleanup_params.message_size_limit =
	    config_size(c, "message_size_limit");
	cleanup_params.recipient_limit =
	    config_int(c, "cleanup_recipient_limit");
	cleanup_params.recursion_limit =
	    config_int(c, "virtual_alias_recursion_limit");
	cleanup_params.expansion_limit =
	    config_int(c, "virtual_alias_expansion_limit");
	cleanup_params.ipc_timeout_ms =
	    timeout > INT_MAX / 1000 ? INT_MAX : (int)timeout * 1000;
	cleanup_local_domains(c);

	/* Queue paths are relative from here on (chroot or not). */
	if (!si->chrooted && chdir(config_str(c, "queue_directory")) < 0)
		msg_fatal("chdir %s: %m", config_str(c, "queue_directory"));
	cleanup_queue_init();
	cleanup_rewrite_init();
}

static void cleanup_connect(int fd, const struct server_info *si)
{
	cleanup_session_start(fd);
}

int main(int argc, char **argv)
{
	static const struct server_callbacks cb = {
	    .post_init = cleanup_post_init,
	    .connect = cleanup_connect,
	    /* One client per process, as Postfix's cleanup: the file and
	     * directory fsyncs of concurrent messages then wait in parallel
	     * (merged by the block layer) instead of in turn. */
	    .client_limit = 1,
	};

	multi_server_main(argc, argv, &cb);
}
