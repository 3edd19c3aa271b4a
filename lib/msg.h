/* msg.h: logging in Postfix's line format; fatal and panic exits. */
#ifndef POSTHORN_MSG_H
#define POSTHORN_MSG_H

#include <stdarg.h>
#include <stdbool.h>

/* Where log lines go. Several may be active at once. */
enum msg_sink {
	MSG_SINK_STDERR = 1, /* "posthorn/svc: warning: text" */
	MSG_SINK_SYSLOG = 2, /* syslog(3), facility from msg_set_facility */
	MSG_SINK_FILE = 4, /* "Mon DD HH:MM:SS host posthorn/svc[pid]: text" */
};

/* Set the program tag: syslog_name and service ("posthorn", "smtpd"). */
void msg_init(const char *syslog_name, const char *service);
/* Send lines to these sinks (an OR of enum msg_sink). */
void msg_set_sinks(int sinks);
/* Current sinks. */
int msg_sinks(void);
/* Open (append) the maillog_file; returns -1 and leaves sinks alone on error.
 * The fd stays open across privilege drops. */
int msg_open_file(const char *path);
/* Syslog facility by name ("mail", "local0".."local7"); -1 if unknown. */
int msg_set_facility(const char *name);
/* Increase verbosity (msg_verbose levels). */
extern int msg_verbose;

void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The environment failed: log and exit(1). */
void msg_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* Our own bug: log and abort() for a core dump. */
void msg_panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* Called (once) before msg_fatal exits, e.g. to clean up a pid file. */
void msg_set_fatal_hook(void (*hook)(void));

/* Format one log line (without newline) for the file sink; for tests. */
int msg_format_line(char *out, int outlen, long when, const char *host,
                    const char *tag, int pid, const char *text);

#endif
