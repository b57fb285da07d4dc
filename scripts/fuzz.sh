#!/usr/bin/env bash
# Fuzzes parse + attachment policy (tests/fuzz/attachment_fuzz.cc) with libFuzzer for SECONDS
# (default 60): builds build-fuzz/ with clang, AddressSanitizer and UBSan, seeds a corpus from the
# repository's tests/data/corpora, and fails on any crash, leak or sanitizer report (the reproducer is kept in
# build-fuzz/artifacts/). Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=Debug \
  -DDESK_WERROR=ON -DDESK_SANITIZE=ON -DDESK_FUZZ=ON >/dev/null
make -C build-fuzz -j"${DESK_JOBS:-2}" desk_fuzz_attachments
corpus=build-fuzz/corpus
tests/fuzz/seed_corpus.sh "$(pwd)/tests/data/corpora" "$corpus"
mkdir -p build-fuzz/artifacts
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build-fuzz/desk_fuzz_attachments -max_total_time="$seconds" -max_len=262144 -timeout=20 \
  -rss_limit_mb=2048 -artifact_prefix=build-fuzz/artifacts/ "$corpus"
