/*
 * master_ent.c: turns master.cf (parsed by lib/master_cf) and main.cf
 * into master's service list: the program path (daemon_directory/command,
 * or the command itself when absolute), the child's command line, the
 * listener addresses, the process limit. A service whose program does not
 * exist is skipped with one warning (most daemons arrive later). Also the
 * children's environment (import_environment).
 * SECURITY: master.cf and main.cf are trusted (owned by root); every -o
 * override must name a known parameter.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"
#include "msg.h"
#include "str.h"
#include "master.h"

void master_serv_free(struct master_serv **sp)
{
	struct master_serv *s = *sp;

	if (s == NULL)
		return;
	if (s->nlisten > 0)
		msg_panic("master_serv_free: service %s still listens",
		          s->name);
	mem_free(s->name);
	mem_free(s->path);
	server_argv_free(&s->argv);
	mem_free(s->sock_path);
	mem_free(s->eps);
	mem_free(s);
	*sp = NULL;
}

bool master_serv_same_listener(const struct master_serv *a,
                               const struct master_serv *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == MASTER_INET)
		return server_endpoints_equal(a->eps, (size_t)a->neps, b->eps,
		                              (size_t)b->neps);
	return strcmp(a->sock_path, b->sock_path) == 0;
}

/* The program of a service; NULL (after one warning) if not there. */
static char *master_ent_program(const char *daemon_dir,
                                const struct master_service *ms)
{
	struct buf *path = buf_create(0, 4096);
	struct stat st;
	char *result = NULL;

	if (ms->command[0] == '/')
		buf_set_str(path, ms->command);
	else
		buf_sprintf(path, "%s/%s", daemon_dir, ms->command);
	if (stat(buf_str(path), &st) < 0)
		msg_warn("service %s (%s): program %s: %m: service skipped",
		         ms->name, master_type_name(ms->type), buf_str(path));
	else if (!S_ISREG(st.st_mode) || access(buf_str(path), X_OK) < 0)
		msg_warn("service %s (%s): program %s is not executable: "
		         "service skipped",
		         ms->name, master_type_name(ms->type), buf_str(path));
	else
		result = buf_steal(path);
	buf_destroy(&path);
	return result;
}

/* The child's command line. -1 on an unknown -o parameter. */
static int master_ent_argv(struct master *m, struct master_serv *s,
                           const struct master_service *ms, struct buf *err)
{
	struct server_args a = {0};
	const char *base = strrchr(ms->command, '/');
	char **overrides = mem_array(ms->noverrides + 1, sizeof(char *));
	struct buf *o = buf_create(0, 0);
	int ret = 0;

	for (size_t i = 0; i < ms->noverrides; i++) {
		if (param_find(ms->override_names[i]) == NULL) {
			buf_sprintf(err,
			            "master.cf line %d: service %s: -o %s: "
			            "unknown parameter",
			            ms->line, ms->name, ms->override_names[i]);
			ret = -1;
		}
		buf_sprintf(o, "%s=%s", ms->override_names[i],
		            ms->override_values[i]);
		overrides[i] = buf_steal(o);
	}
	if (ret == 0) {
		a.program = base ? base + 1 : ms->command;
		a.config_dir = m->config_dir;
		a.service = ms->name;
		a.type = ms->type;
		a.listen_count = s->type == MASTER_INET ? s->neps : 1;
		a.unpriv = s->unpriv;
		a.chroot = s->chroot;
		a.verbose = m->verbose;
		a.overrides = (const char **)overrides;
		a.noverrides = ms->noverrides;
		a.args = (const char **)ms->args;
		a.nargs = ms->nargs;
		s->argv = server_args_build(&a);
	}
	for (size_t i = 0; i < ms->noverrides; i++)
		mem_free(overrides[i]);
	mem_free(overrides);
	buf_destroy(&o);
	return ret;
}

static struct master_serv *master_ent_service(struct master *m,
                                              struct config *cf,
                                              const struct master_service *ms,
                                              struct buf *err)
{
	struct master_serv *s = mem_zalloc(sizeof(*s));
	struct buf *why = buf_create(0, 1024);

	s->name = mem_strdup(ms->name);
	s->type = ms->type;
	s->private_ = ms->private_;
	s->unpriv = ms->unpriv && m->as_root;
	s->chroot = ms->chroot && m->as_root;
	if (ms->chroot && !m->as_root)
		msg_warn("service %s (%s): chroot needs root: ignored",
		         ms->name, master_type_name(ms->type));
	s->maxproc = ms->maxproc < 0
	                 ? (int)config_int(cf, "default_process_limit")
	                 : ms->maxproc;
	if (ms->wakeup > 0 && ms->type == MASTER_INET)
		msg_warn("master.cf line %d: service %s: wakeup is not "
		         "supported for inet services: ignored",
		         ms->line, ms->name);
	else {
		s->wakeup = ms->wakeup;
		s->wakeup_if_used = ms->wakeup_if_used;
	}
	if (ms->type == MASTER_INET) {
		s->neps = server_inet_endpoints(
		    ms->name, config_str(cf, "inet_interfaces"),
		    config_str(cf, "inet_protocols"), &s->eps, why);
		if (s->neps < 0) {
			buf_sprintf(err, "master.cf line %d: service %s: %s",
			            ms->line, ms->name, buf_str(why));
			goto bad;
		}
	} else {
		buf_sprintf(why, "%s/%s", ms->private_ ? "private" : "public",
		            ms->name);
		s->sock_path = buf_steal(why);
	}
	if (master_ent_argv(m, s, ms, err) < 0)
		goto bad;
	buf_destroy(&why);
	return s;
bad:
	buf_destroy(&why);
	master_serv_free(&s);
	return NULL;
}

struct master_serv *master_ent_load(struct master *m, struct config *cf,
                                    struct buf *err)
{
	struct buf *path = buf_create(0, 4096);
	struct master_cf *mcf;
	struct master_serv *head = NULL, **tail = &head;
	const char *daemon_dir = config_str(cf, "daemon_directory");

	if (daemon_dir[0] != '/') {
		buf_sprintf(err, "daemon_directory %s: not an absolute path",
		            daemon_dir);
		buf_destroy(&path);
		return NULL;
	}
	buf_sprintf(path, "%s/master.cf", m->config_dir);
	mcf = master_cf_read(buf_str(path), err);
	buf_destroy(&path);
	if (mcf == NULL)
		return NULL;
	for (size_t i = 0; i < mcf->count; i++) {
		const struct master_service *ms = &mcf->services[i];
		struct master_serv *s;
		char *program = master_ent_program(daemon_dir, ms);

		if (program == NULL)
			continue;
		if ((s = master_ent_service(m, cf, ms, err)) == NULL) {
			mem_free(program);
			while (head) {
				struct master_serv *next = head->next;

				master_serv_free(&head);
				head = next;
			}
			master_cf_destroy(&mcf);
			return NULL;
		}
		s->path = program;
		*tail = s;
		tail = &s->next;
	}
	master_cf_destroy(&mcf);
	if (head == NULL)
		msg_warn("master.cf: no service can run (no program found)");
	return head;
}

char **master_ent_environment(struct config *cf)
{
	char *list = mem_strdup(config_str(cf, "import_environment"));
	char *p = list, *tok;
	size_t n = 0, max = strlen(list) / 2 + 2;
	char **envp = mem_array(max, sizeof(char *));
	struct buf *b = buf_create(0, 0);

	while ((tok = str_token(&p, ", \t\r\n")) != NULL && n + 1 < max) {
		const char *value;

		if (strchr(tok, '=') != NULL) {
			envp[n++] = mem_strdup(tok);
		} else if ((value = getenv(tok)) != NULL) {
			buf_sprintf(b, "%s=%s", tok, value);
			envp[n++] = buf_steal(b);
		}
	}
	envp[n] = NULL;
	buf_destroy(&b);
	mem_free(list);
	return envp;
}

void master_ent_environment_free(char ***envp)
{
	server_argv_free(envp);
}
