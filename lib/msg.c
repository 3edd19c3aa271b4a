/*
 * msg.c: logging. One line per event, in Postfix's format so that log
 * tools keep working: "Mon DD HH:MM:SS host posthorn/SERVICE[PID]: text"
 * in maillog_file, the same via syslog(3) (facility mail by default), and
 * "posthorn/SERVICE: text" on stderr for commands and --foreground.
 * Severity prefixes follow Postfix: "warning: ", "error: ", "fatal: ",
 * "panic: "; informational lines have none.
 *
 * Each line is written with one write(2) on an O_APPEND fd, so lines from
 * many processes never interleave. Control characters in the text are
 * replaced so a peer cannot forge log lines.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "msg.h"

int msg_verbose;

static char msg_tag[128] = "posthorn";
static char msg_host[256];
static int msg_sink_mask = MSG_SINK_STDERR;
static int msg_file_fd = -1;
static int msg_facility = LOG_MAIL;
static bool msg_syslog_open;
static void (*msg_fatal_hook)(void);

void msg_init(const char *syslog_name, const char *service)
{
	if (service != NULL && *service)
		snprintf(msg_tag, sizeof(msg_tag), "%s/%s", syslog_name,
		         service);
	else
		snprintf(msg_tag, sizeof(msg_tag), "%s", syslog_name);
	if (gethostname(msg_host, sizeof(msg_host)) != 0)
		snprintf(msg_host, sizeof(msg_host), "localhost");
	msg_host[sizeof(msg_host) - 1] = 0;
	/* Postfix logs the short host name. */
	char *dot = strchr(msg_host, '.');
	if (dot)
		*dot = 0;
	if (msg_syslog_open) {
		closelog();
		msg_syslog_open = false;
	}
}

void msg_set_sinks(int sinks)
{
	msg_sink_mask = sinks;
}

int msg_sinks(void)
{
	return msg_sink_mask;
}

int msg_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return -1;
	if (msg_file_fd >= 0)
		close(msg_file_fd);
	msg_file_fd = fd;
	return 0;
}

int msg_set_facility(const char *name)
{
	static const struct {
		const char *name;
		int value;
	} table[] = {
	    {"mail", LOG_MAIL},     {"local0", LOG_LOCAL0},
	    {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
	    {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},
	    {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6},
	    {"local7", LOG_LOCAL7}, {"user", LOG_USER},
	    {"daemon", LOG_DAEMON},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcasecmp(name, table[i].name) == 0) {
			msg_facility = table[i].value;
			return 0;
		}
	}
	return -1;
}

void msg_set_fatal_hook(void (*hook)(void))
{
	msg_fatal_hook = hook;
}

int msg_format_line(char *out, int outlen, long when, const char *host,
                    const char *tag, int pid, const char *text)
{
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
	                                   "May", "Jun", "Jul", "Aug",
	                                   "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)when;
	struct tm tm;

	localtime_r(&t, &tm);
	return snprintf(out, (size_t)outlen,
	                "%s %2d %02d:%02d:%02d %s %s[%d]: %s",
	                months[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min,
	                tm.tm_sec, host, tag, pid, text);
}

/* Replace control characters so one event is always one line. */
static void msg_sanitize(char *text)
{
	for (unsigned char *p = (unsigned char *)text; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
}

static void msg_emit(int priority, const char *prefix, const char *fmt,
                     va_list ap)
{
	char text[2048], line[2400];
	int saved_errno = errno;
	int n;

	n = snprintf(text, sizeof(text), "%s", prefix);
	if (n < 0 || (size_t)n >= sizeof(text))
		n = 0;
	errno = saved_errno; /* for %m */
	vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
	msg_sanitize(text);

	if (msg_sink_mask & MSG_SINK_STDERR) {
		n = snprintf(line, sizeof(line), "%s: %s\n", msg_tag, text);
		if (n > 0) {
			if ((size_t)n >= sizeof(line))
				n = sizeof(line) - 1, line[n - 1] = '\n';
			(void)!write(STDERR_FILENO, line, (size_t)n);
		}
	}
	if ((msg_sink_mask & MSG_SINK_FILE) && msg_file_fd >= 0) {
		if (!msg_host[0])
			msg_init("posthorn", NULL);
		n = msg_format_line(line, (int)sizeof(line) - 1,
		                    (long)time(NULL), msg_host, msg_tag,
		                    (int)getpid(), text);
		if (n > 0) {
			if ((size_t)n >= sizeof(line) - 1)
				n = sizeof(line) - 2;
			line[n++] = '\n';
			(void)!write(msg_file_fd, line, (size_t)n);
		}
	}
	if (msg_sink_mask & MSG_SINK_SYSLOG) {
		if (!msg_syslog_open) {
			openlog(msg_tag, LOG_PID | LOG_NDELAY, msg_facility);
			msg_syslog_open = true;
		}
		syslog(priority, "%s", text);
	}
	errno = saved_errno;
}

#define MSG_BODY(prio, prefix)                                                 \
	va_list ap;                                                            \
	va_start(ap, fmt);                                                     \
	msg_emit(prio, prefix, fmt, ap);                                       \
	va_end(ap)

void msg_info(const char *fmt, ...)
{
	MSG_BODY(LOG_INFO, "");
}

void msg_warn(const char *fmt, ...)
{
	MSG_BODY(LOG_WARNING, "warning: ");
}

void msg_error(const char *fmt, ...)
{
	MSG_BODY(LOG_ERR, "error: ");
}

void msg_fatal(const char *fmt, ...)
{
	static int reentered;

	MSG_BODY(LOG_CRIT, "fatal: ");
	if (msg_fatal_hook && !reentered++)
		msg_fatal_hook();
	exit(1);
}

void msg_panic(const char *fmt, ...)
{
	MSG_BODY(LOG_CRIT, "panic: ");
	abort();
}
