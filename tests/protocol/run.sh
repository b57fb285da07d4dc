#!/usr/bin/env bash
# Runs one miltertest script against a fresh deskmilter.
#
#   DESKMILTER=build/deskmilter tests/protocol/run.sh tests/protocol/NAME.lua
#
# In a temp directory: writes a config (queue "support" = support@example.com, store and spool
# under the temp dir, socket unix:TMP/sock, or inet on a free 127.0.0.1 port), starts
# `$DESKMILTER -f -c CONFIG` in the background, waits until it listens, runs `miltertest -s SCRIPT`,
# stops the milter with SIGTERM and waits for it. Fails when the script fails, when the milter
# crashed or exited non-zero, when its log shows sanitizer reports, or when a log expectation of the
# script does not hold. The temp directory is removed in every case; the milter log is printed on
# failure.
#
# Directives in the script's leading comments:
#   -- socket: inet              listen on TCP instead of a unix socket
#   -- toml: LINE                appended to the config (e.g. "[actions]", "on_malformed = \"reject\"")
#   -- expect-log: N TEXT        exactly N lines of the milter log contain TEXT (fixed string)
#   -- expect-log-min: N TEXT    at least N lines contain TEXT
# DESK_SHOW_LOG=1 prints the milter log even when the test passes.
# The script sees these globals (miltertest -D) and environment variables: DESK_SOCKET (for
# mt.connect), DESK_TMP, DESK_CONFIG, DESK_PID (the milter), DESK_LIB (tests/protocol/lib).
set -euo pipefail

script=${1:?usage: run.sh SCRIPT.lua}
script=$(cd "$(dirname "$script")" && pwd)/$(basename "$script")
here=$(cd "$(dirname "$0")" && pwd)
DESKMILTER=${DESKMILTER:-$here/../../build/deskmilter}
[[ -x $DESKMILTER ]] || { echo "run.sh: DESKMILTER=$DESKMILTER is not executable" >&2; exit 2; }
command -v miltertest >/dev/null || { echo "run.sh: miltertest not installed" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/deskproto.XXXXXX")
pid=
failed=1
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [[ ( $failed != 0 || -n ${DESK_SHOW_LOG:-} ) && -f $tmp/milter.log ]]; then
    echo "---- milter log ($tmp/milter.log)"
    cat "$tmp/milter.log"
    echo "----"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

directive() { sed -n "s/^-- $1: //p" "$script"; }

mkdir -p "$tmp/store" "$tmp/spool"
if [[ $(directive socket) == inet ]]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  socket="inet:$port@127.0.0.1"
else
  socket="unix:$tmp/sock"
fi
config=$tmp/deskmilter.toml
{
  echo '[milter]'
  echo "socket = \"$socket\""
  echo 'hostname = "desk.test"'
  echo 'timeout_seconds = 30'
  echo '[store]'
  echo "dir = \"$tmp/store\""
  echo "spool_dir = \"$tmp/spool\""
  echo '[scanner]'
  echo 'enabled = false  # no signatures on test machines'
  echo '[[queue]]'
  echo 'name = "support"'
  echo 'addresses = ["support@example.com"]'
  directive toml
} > "$config"

"$DESKMILTER" -f -c "$config" 2> "$tmp/milter.log" &
pid=$!
for _ in $(seq 200); do
  grep -q 'starting deskmilter' "$tmp/milter.log" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || fail "deskmilter exited during start-up"
  sleep 0.05
done
grep -q 'starting deskmilter' "$tmp/milter.log" || fail "deskmilter did not start within 10 s"

export DESK_SOCKET=$socket DESK_TMP=$tmp DESK_CONFIG=$config DESK_PID=$pid DESK_LIB=$here/lib
set +e
miltertest -D "DESK_SOCKET=$socket" -D "DESK_TMP=$tmp" -D "DESK_CONFIG=$config" \
  -D "DESK_PID=$pid" -D "DESK_LIB=$here/lib" -s "$script"
mt_rc=$?
set -e

kill -0 "$pid" 2>/dev/null || fail "deskmilter died during the test"
kill -TERM "$pid"
set +e
wait "$pid"
milter_rc=$?
set -e
pid=
[[ $mt_rc == 0 ]] || fail "miltertest exited $mt_rc"
[[ $milter_rc == 0 ]] || fail "deskmilter exited $milter_rc after SIGTERM"
if grep -Eq 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' "$tmp/milter.log"; then
  fail "sanitizer report in the milter log"
fi

while read -r want text; do
  [[ -n $want ]] || continue
  got=$(grep -cF -- "$text" "$tmp/milter.log" || true)
  [[ $got == "$want" ]] || fail "expected $want log line(s) with '$text', got $got"
done < <(directive expect-log)
while read -r want text; do
  [[ -n $want ]] || continue
  got=$(grep -cF -- "$text" "$tmp/milter.log" || true)
  (( got >= want )) || fail "expected at least $want log line(s) with '$text', got $got"
done < <(directive expect-log-min)

failed=0
echo "PASS: $(basename "$script")"
