/*
 * master_spawn.c: starting, counting and reaping child processes. A
 * child gets the status pipe on SERVER_STATUS_FD, its service's listeners
 * from SERVER_LISTEN_FD on, /dev/null as stdin and stdout, master's
 * stderr, queue_directory as working directory, the environment from
 * import_environment, and nothing else (every other descriptor of master
 * is close-on-exec). Processes start on demand (master_spawn_wanted: see
 * server_should_listen). A process that dies abnormally before it served
 * anyone throttles its service for service_throttle_time: no fork storm.
 * SECURITY: the uid/gid drop and chroot happen in the child's skeleton
 * (lib/server_common.c), told by -u and -j; master never execs anything
 * but the programs named in master.cf.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mem.h"
#include "msg.h"
#include "server.h"
#include "master.h"

struct master_proc *master_proc_find(struct master *m, pid_t pid)
{
	for (struct master_proc *p = m->procs; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

void master_recount(struct master *m, struct master_serv *s)
{
	int total = 0, busy = 0, idle = 0;

	for (struct master_proc *p = m->procs; p; p = p->next) {
		if (p->serv != s)
			continue;
		total++;
		if (p->state == SERVER_BUSY)
			busy++;
		else
			idle++;
	}
	if (total != s->total || busy != s->busy || idle != s->idle)
		m->status_dirty = true;
	s->total = total;
	s->busy = busy;
	s->idle = idle;
}

bool master_spawn_wanted(const struct master_serv *s, long long now)
{
	bool throttled = s->throttle_until != 0 && now < s->throttle_until;

	return server_should_listen(s->total, s->idle, s->maxproc, throttled,
	                            s->nlisten > 0);
}

static void master_throttle(struct master *m, struct master_serv *s)
{
	if (s->throttle_until != 0)
		return;
	s->throttle_until = master_now_ms() + m->throttle_ms;
	m->status_dirty = true;
	msg_warn("service %s (%s): bad command startup -- throttling for %lld "
	         "seconds",
	         s->name, master_type_name(s->type), m->throttle_ms / 1000);
}

/* In the child, between fork and exec: move the inherited descriptors
 * into place. Never returns. */
static void master_child(struct master *m, struct master_serv *s)
{
	int above = SERVER_LISTEN_FD + s->nlisten;
	int status_fd, fds[SERVER_MAX_LISTEN];

	/* The fatal hook removes master's pid file: not ours to touch. */
	msg_set_fatal_hook(NULL);
	server_reset_signals();
	/* First copy everything above the target range, so that no dup2
	 * below overwrites a descriptor still to be moved. */
	status_fd = fcntl(m->status_wr, F_DUPFD_CLOEXEC, above);
	for (int i = 0; i < s->nlisten; i++)
		fds[i] = fcntl(s->listen_fds[i], F_DUPFD_CLOEXEC, above);
	if (status_fd < 0 || dup2(m->devnull, STDIN_FILENO) < 0 ||
	    dup2(m->devnull, STDOUT_FILENO) < 0 ||
	    dup2(status_fd, SERVER_STATUS_FD) < 0) {
		msg_warn("service %s: set up descriptors: %m", s->name);
		_exit(1);
	}
	for (int i = 0; i < s->nlisten; i++) {
		if (fds[i] < 0 || dup2(fds[i], SERVER_LISTEN_FD + i) < 0) {
			msg_warn("service %s: set up descriptors: %m", s->name);
			_exit(1);
		}
	}
	execve(s->path, s->argv, m->envp);
	msg_warn("service %s: exec %s: %m", s->name, s->path);
	_exit(1);
}

void master_spawn(struct master *m, struct master_serv *s)
{
	struct master_proc *p;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		msg_warn("service %s: fork: %m", s->name);
		master_throttle(m, s);
		return;
	}
	if (pid == 0)
		master_child(m, s);
	p = mem_zalloc(sizeof(*p));
	p->pid = pid;
	p->serv = s;
	/* A new process is idle until it takes a client. */
	p->state = SERVER_IDLE;
	p->next = m->procs;
	m->procs = p;
	s->used = true;
	master_recount(m, s);
	if (m->verbose)
		msg_info("service %s: started process %ld (%d of %d)", s->name,
		         (long)pid, s->total, s->maxproc);
}

void master_signal(struct master *m, struct master_serv *s, int sig)
{
	for (struct master_proc *p = m->procs; p; p = p->next) {
		if (s != NULL && p->serv != s)
			continue;
		if (kill(p->pid, sig) < 0 && errno != ESRCH)
			msg_warn("kill %ld: %m", (long)p->pid);
		p->signalled = true;
	}
}

void master_retired_sweep(struct master *m)
{
	struct master_serv **sp = &m->retired;

	while (*sp) {
		struct master_serv *s = *sp;

		if (s->total == 0) {
			*sp = s->next;
			master_serv_free(&s);
		} else {
			sp = &s->next;
		}
	}
}

void master_reap(struct master *m)
{
	struct {
		pid_t pid;
		int status;
	} dead[256];
	size_t ndead = 0;
	int status;
	pid_t pid = 0;

	while (ndead < sizeof(dead) / sizeof(dead[0]) &&
	       (pid = waitpid(-1, &status, WNOHANG)) > 0) {
		dead[ndead].pid = pid;
		dead[ndead++].status = status;
	}
	if (pid < 0 && errno != ECHILD)
		msg_warn("waitpid: %m");
	/* A child writes its last record before it exits: read them now,
	 * so a process that took a client and then died is not mistaken
	 * for one that cannot start. */
	master_status_read(m);
	for (size_t i = 0; i < ndead; i++) {
		struct master_proc **pp, *p = NULL;
		char why[64];

		pid = dead[i].pid;
		status = dead[i].status;
		for (pp = &m->procs; *pp; pp = &(*pp)->next) {
			if ((*pp)->pid == pid) {
				p = *pp;
				*pp = p->next;
				break;
			}
		}
		if (p == NULL)
			continue; /* not a service process */
		if (!server_exit_normal(status, p->signalled)) {
			server_describe_exit(status, why, sizeof(why));
			msg_warn("process %s pid %ld %s", p->serv->path,
			         (long)pid, why);
		} else if (m->verbose) {
			msg_info("process %s pid %ld exited", p->serv->path,
			         (long)pid);
		}
		/* A process that died without serving anyone: its program
		 * cannot start. Not for the ones we told to go. */
		if (!m->stopping &&
		    server_exit_throttles(status, p->signalled, p->use_count))
			master_throttle(m, p->serv);
		master_recount(m, p->serv);
		mem_free(p);
	}
	master_retired_sweep(m);
	if (ndead == sizeof(dead) / sizeof(dead[0]))
		master_reap(m); /* more than one batch */
}
