/* queue_layout.h: the queue directory tree and its owners and modes
 * (DESIGN.md: Queue). */
#ifndef POSTHORN_QUEUE_LAYOUT_H
#define POSTHORN_QUEUE_LAYOUT_H

#include "buf.h"
#include "config.h"

/* Create whatever is missing under queue_directory, and (when run as
 * root) set owners and modes: maildrop 0730 mail_owner:setgid_group
 * (local users write only through postdrop), every other queue
 * directory 0700 mail_owner, hashed subdirectories 0-F for deferred,
 * defer and bounce, private 0700 mail_owner, public 0710
 * mail_owner:setgid_group, pid 0755 root. -1 with the reason in err. */
int queue_layout_ensure(struct config *c, struct buf *err);

#endif
