#!/bin/sh
# Run last in every mailstorm image, from /tmp/mailstorm-build/ with mailstorm-alarm.so beside it
# (both put in each build context by harness/containers/images.py;
# one file, so no Dockerfile repeats it). For throwaway test containers only.
set -eu

# Clock warp (harness/targets/clock_warp.py, docs/clock-warp.md): a setuid copy of libfaketime
# in the trusted library directory, the only way setuid/setgid programs (exim, postdrop) preload
# it. Never do this on a real mail server.
if dpkg-query -W libfaketime >/dev/null 2>&1; then
    library="$(dpkg -L libfaketime | grep '/faketime/libfaketime.so.1$')"
    trusted="$(dirname "$(dirname "$library")")"
    install -m 4755 "$library" "$trusted/libfaketime.so.1"
    # alarm() to the microsecond, preloaded before libfaketime by the targets that need it
    # (mailstorm-alarm.c says why); compiled on the host into the build context.
    install -m 4755 "$(dirname "$0")/mailstorm-alarm.so" "$trusted/libmailstorm-alarm.so"
fi

# The exact Debian package versions this image got: what a report cites as "the MTA tested".
install -d /usr/share/mailstorm
dpkg-query -W -f '${Package}\t${Version}\n' | sort > /usr/share/mailstorm/packages.tsv
rm -rf /tmp/mailstorm-build
