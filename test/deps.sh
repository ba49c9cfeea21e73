#!/bin/sh
# deps.sh: install the Debian packages that building and testing need.
# Asks apt only when dpkg-query says something is missing, so a second run
# is quick and silent.  Uses sudo when not root.
set -eu

PKGS="libbsd-dev zlib1g-dev libdeflate-dev libsodium-dev bats mandoc clang libclang-rt-14-dev shellcheck"
PKGS="$PKGS nftables gnuplot-nox python3 pkg-config man-db"

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: not a Debian system; install by hand: $PKGS" >&2
	exit 0
fi

missing=
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case $st in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
sudo=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "deps: need root or sudo to install$missing" >&2
		exit 1
	}
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing
