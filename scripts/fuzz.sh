#!/usr/bin/env bash
# Fuzzes every target in tests/fuzz/ with libFuzzer for SECONDS in all (default 60, shared equally):
#   attachments  parse + attachment policy (attachment_fuzz.cc)
#   headers      header parsing: RFC 2047/2231, addresses, Message-ID lists, threading keys,
#                automatic-mail classification (headers_fuzz.cc)
#   config       the TOML config loader (config_fuzz.cc)
#   archive      the archive inspector (archive_fuzz.cc)
# Builds build-fuzz/ with clang, AddressSanitizer and UBSan, seeds each corpus from tests/fuzz/seeds
# and the repository's corpora, and fails on any crash, leak or sanitizer report (the reproducer is
# kept in build-fuzz/artifacts/NAME-). Corpora grow in build-fuzz/corpus-NAME across runs.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(attachments headers config archive)
corpora=$(pwd)/tests/data/corpora
if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=Debug \
  -DDESK_WERROR=ON -DDESK_SANITIZE=ON -DDESK_FUZZ=ON >/dev/null
make -C build-fuzz -j"${DESK_JOBS:-2}" "${targets[@]/#/desk_fuzz_}"
mkdir -p build-fuzz/artifacts
each=$(( seconds / ${#targets[@]} ))
[ "$each" -ge 1 ] || each=1
for t in "${targets[@]}"; do
  corpus=build-fuzz/corpus-$t
  mkdir -p "$corpus"
  seeds=()
  case $t in
    attachments) tests/fuzz/seed_corpus.sh "$corpora" "$corpus" ;;
    headers)
      seeds=(tests/fuzz/seeds/headers tests/fuzz/regressions)
      for d in "$corpora"/mime-tools/testmsgs "$corpora"/sisimai-set-of-emails/maildir/bsd \
               "$corpora"/sisimai-set-of-emails/maildir/mac; do
        seeds+=("$d")
      done ;;
    config) seeds=(tests/fuzz/seeds/config) ;;
    archive)
      seeds=(tests/fuzz/seeds/archive tests/fuzz/regressions/archive)
      seeds+=(/usr/share/clamav-testfiles) ;;
  esac
  # libarchive 3.6 allocates what a 7z header declares (up to 100 million entries of 88 bytes)
  # before it reads them; untouched, such a calloc costs address space, not memory. The daemon
  # lists archives in a child bounded by limits.archive_memory_mb (core/child_process.h), so
  # here, where libarchive runs in the target's own process for coverage, only memory really
  # used is an error: -rss_limit_mb stays 2048, a single allocation may reach 16 GiB.
  malloc_limit=()
  case $t in attachments|archive) malloc_limit=(-malloc_limit_mb=16384) ;; esac
  echo "fuzz: $t for $each s" >&2
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    build-fuzz/desk_fuzz_"$t" -max_total_time="$each" -max_len=262144 -timeout=20 \
    -rss_limit_mb=2048 "${malloc_limit[@]}" -artifact_prefix=build-fuzz/artifacts/"$t"- \
    "$corpus" "${seeds[@]}"
done
