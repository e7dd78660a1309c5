#!/bin/sh
# Run last in every mailstorm image (copied into each build context by harness/containers/images.py;
# one file, so no Dockerfile repeats it). For throwaway test containers only.
set -eu

# Clock warp (harness/targets/clock_warp.py, docs/clock-warp.md): a setuid copy of libfaketime
# in the trusted library directory, the only way setuid/setgid programs (exim, postdrop) preload
# it. Never do this on a real mail server.
if dpkg-query -W libfaketime >/dev/null 2>&1; then
    library="$(dpkg -L libfaketime | grep '/faketime/libfaketime.so.1$')"
    install -m 4755 "$library" "$(dirname "$(dirname "$library")")/libfaketime.so.1"
fi

# The exact Debian package versions this image got: what a report cites as "the MTA tested".
install -d /usr/share/mailstorm
dpkg-query -W -f '${Package}\t${Version}\n' | sort > /usr/share/mailstorm/packages.tsv
rm -f /usr/local/sbin/mailstorm-image-setup
