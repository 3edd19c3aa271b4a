#!/bin/sh
# install.sh BUILD PREFIX: the production layout of CONTRACT.md:
# PREFIX/sbin/posthorn, PREFIX/sbin/sendmail (+ mailq, newaliases links),
# PREFIX/libexec/posthorn/ (daemons), /etc/posthorn (made by
# `posthorn init` the first time), /var/spool/posthorn, /var/mail/vhosts.
set -eu
build=$1
prefix=$2
bindir=$prefix/sbin
libexec=$prefix/libexec/posthorn
install -d "$bindir" "$libexec"
install -m 0755 "$build/bin/posthorn" "$bindir/posthorn"
[ -f "$build/bin/postdrop" ] && {
	install -m 0755 "$build/bin/postdrop" "$bindir/postdrop"
	# postdrop is the one setgid program: group postdrop may write maildrop/.
	if getent group postdrop >/dev/null; then
		chgrp postdrop "$bindir/postdrop" && chmod 2755 "$bindir/postdrop"
	fi
}
[ -f "$build/bin/sendmail" ] && {
	install -m 0755 "$build/bin/sendmail" "$bindir/sendmail"
	ln -sf sendmail "$bindir/mailq"
	ln -sf sendmail "$bindir/newaliases"
}
for d in "$build"/libexec/*; do
	[ -f "$d" ] && install -m 0755 "$d" "$libexec/"
done
if [ ! -f /etc/posthorn/main.cf ]; then
	# init makes the users (posthorn, vmail, group postdrop) when root.
	"$bindir/posthorn" init /etc/posthorn --port-base 0
	"$bindir/posthorn" -c /etc/posthorn conf \
		queue_directory=/var/spool/posthorn mail_root=/var/mail/vhosts \
		daemon_directory="$libexec" command_directory="$bindir" \
		maillog_file= inet_interfaces=all
	install -d /var/spool/posthorn /var/mail/vhosts
	[ "$(id -u)" = 0 ] && chown vmail:vmail /var/mail/vhosts
fi
echo "posthorn installed in $prefix; configuration in /etc/posthorn"
