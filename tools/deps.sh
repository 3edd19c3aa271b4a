#!/bin/sh
# deps.sh: install what posthorn needs to build and test (Debian packages),
# quickly doing nothing when everything is present. Called by `make deps`.
# postfix is test-only (its smtp-sink counts sessions in the smtp client
# tests): it is installed with debconf's "No configuration" and a
# policy-rc.d that forbids starting services, so no system postfix ever
# runs or listens on port 25.
PKGS="gcc make libssl-dev liblmdb-dev libcrypt-dev check pkg-config python3 \
swaks curl openssl dnsmasq iproute2 clang libclang-rt-14-dev clang-format \
postfix"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing:$missing"
	echo "deps: run as root: apt-get update && $cmd"
	exit 0
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
made_policy=""
case " $missing " in
*" postfix "*)
	echo "postfix postfix/main_mailer_type select No configuration" |
		debconf-set-selections
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# posthorn deps.sh: no service starts\nexit 101\n' \
			>"$policy"
		chmod 755 "$policy"
		made_policy=1
	fi
	;;
esac
status=0
apt-get update -qq && $cmd >/dev/null || status=1
[ -n "$made_policy" ] && rm -f "$policy"
if [ "$status" != 0 ]; then
	echo "deps: apt-get failed" >&2
	exit 1
fi
# Belt and braces: the postfix just installed must not be running.
case " $missing " in
*" postfix "*)
	if [ -f /var/spool/postfix/pid/master.pid ]; then
		postfix stop >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
