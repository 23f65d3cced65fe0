#!/bin/sh
# Installs the Debian packages given as arguments that are not installed yet
# (apt-get, through sudo when not root). Used by `make deps`, `make check`
# and `make run`, so a fresh Debian 12 machine needs nothing else.
set -eu
missing=
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
# Debian's nodejs ships without npm; the differential tokenizer tests need it.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
