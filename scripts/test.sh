#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs every test: unit, protocol (miltertest),
# end-to-end (private Postfix) and corpus tests; then builds again with AddressSanitizer + UBSan and
# runs the unit, protocol and corpus tests under them; then fuzzes parse + attachment policy for a
# minute (scripts/fuzz.sh, clang + libFuzzer). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

jobs=$(nproc)
echo "== build (RelWithDebInfo)"
./scripts/build.sh build -DDESK_WERROR=ON -DDESK_TESTS=ON
echo "== tests"
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== build (ASan + UBSan)"
./scripts/build.sh build-asan -DDESK_WERROR=ON -DCMAKE_BUILD_TYPE=Debug -DDESK_SANITIZE=ON -DDESK_TESTS=ON
echo "== tests under sanitizers"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp" ctest --test-dir build-asan --output-on-failure -j "$jobs" -L 'unit|protocol|corpus'
echo "== fuzzing parse + attachment policy (libFuzzer, ${DESK_FUZZ_SECONDS:-60} s)"
./scripts/fuzz.sh "${DESK_FUZZ_SECONDS:-60}"
echo "== all tests passed"
