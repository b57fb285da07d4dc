#!/bin/sh
# bench/install-deps.sh: the Debian packages only the benchmark needs, on top of
# scripts/install-deps.sh: clamav-daemon (clamd) and clamav-milter for the "clamav-milter + clamd"
# comparison row. bench/run.py starts its own clamd and clamav-milter on private sockets with the
# bench's test signatures; the system services these packages install are not used (on a machine
# with systemd they may start; stop them with systemctl if they are unwanted). Idempotent.
set -eu
need=""
[ -x /usr/sbin/clamd ] || need="$need clamav-daemon"
[ -x /usr/sbin/clamav-milter ] || need="$need clamav-milter"
[ -z "$need" ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need
