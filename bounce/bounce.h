/* bounce.h: the bounce daemon's internal interface: the request as read
 * from qmgr (bounce.c) and the work on it (bounce_notify.c). */
#ifndef POSTHORN_BOUNCE_BOUNCE_H
#define POSTHORN_BOUNCE_BOUNCE_H

#include <stddef.h>

#include "bounce_client.h"
#include "buf.h"
#include "config.h"
#include "dsn.h"

/* One recipient given in a success request. */
struct bounce_req_rcpt {
	char *address;
	char *orcpt; /* NULL: take it from the queue file */
	char *dsn;
	char *relay;
	char *reason;
	enum dsn_action action;
};

struct bounce_req {
	enum bounce_kind kind;
	char *queue_id;
	char *queue_name;
	struct bounce_req_rcpt *rcpts; /* success only */
	size_t nrcpts;
};

/* Settings read once after the privilege drop. */
struct bounce_params {
	struct config *config;
	const char *myhostname;
	size_t size_limit;
	long long max_lifetime;
	const char *twobounce_rcpt;
	const char *bounce_rcpt;
	bool notify_2bounce; /* notify_classes has 2bounce */
	bool notify_bounce; /* notify_classes has bounce */
};
extern struct bounce_params bounce_params;

/* Carry out a request: 0 when done (queue_id of the notice in newid, or
 * empty when nothing was sent), -1 with a reason ("4.3.0 ...") when the
 * caller should try again later. */
int bounce_notify(const struct bounce_req *req, struct buf *newid,
                  struct buf *reason);

#endif
