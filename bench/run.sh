#!/bin/sh
# bench/run.sh: builds what the benchmark suite needs in build-bench (RelWithDebInfo, no tests) and
# runs it (bench/run.py): throughput through Postfix, time inside deskmilter, RSS with a 50 MB
# attachment, ticket store scaling. Prints the Markdown tables; saves them to
# build-bench/bench-results/. Needs root. Arguments go to bench/run.py (--help lists them), e.g.
#   bench/run.sh --rounds 1            one round (default 5, configuration order rotated, medians)
#   bench/run.sh --only store          one part only (throughput, rss, store)
#   bench/run.sh --scan-toml FILE      [scanner] section for the scanning rows (default: ClamAV test
#                                      signatures written into the temp dir; --no-scan-row skips)
#   bench/run.sh --no-clamav-row       without the clamav-milter + clamd row (whose packages
#                                      bench/install-deps.sh installs when they are missing)
# Not part of the test command; no timed assertions.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
case " $* " in
  *" --no-clamav-row "*) ;;
  *) "$src/bench/install-deps.sh" >&2 ;;
esac
build="${DESK_BENCH_BUILD:-$src/build-bench}"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$build" -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDESK_TESTS=OFF -DDESK_BENCH=ON >/dev/null
fi
make -C "$build" -j"${DESK_BENCH_JOBS:-2}" --no-print-directory deskmilter null_milter store_bench >&2
exec python3 "$src/bench/run.py" --build "$build" "$@"
