#!/bin/sh
# deps.sh: install what posthorn needs to build and test (Debian packages),
# quickly doing nothing when everything is present. Called by `make deps`.
PKGS="gcc make libssl-dev liblmdb-dev libcrypt-dev check pkg-config python3 \
swaks curl openssl dnsmasq iproute2 clang libclang-rt-14-dev clang-format"
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
apt-get update -qq && $cmd >/dev/null || {
	echo "deps: apt-get failed" >&2
	exit 1
}
