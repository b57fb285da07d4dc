#!/usr/bin/env bash
# Builds the fuzzer's seed corpus in DIR from the repository's corpora (tests/data/corpora): the
# MIME-tools test messages (hostile and ambiguous MIME), MimeKit's and flanker's test mail, and a few
# mails with archive, office and executable attachments made from clamav-testfiles (installed by
# scripts/install-deps.sh). A missing corpus folder is an error. Usage: seed_corpus.sh CORPORA DIR
set -euo pipefail
corpora=$1
out=$2
for d in "$corpora"/mime-tools/testmsgs "$corpora"/mimekit "$corpora"/flanker /usr/share/clamav-testfiles; do
  if [ ! -d "$d" ]; then
    echo "seed_corpus: $d is missing" >&2
    exit 1
  fi
done
mkdir -p "$out"
n=0
copy() { cp -- "$1" "$out/seed-$n"; n=$((n + 1)); }
for f in "$corpora"/mime-tools/testmsgs/*.msg; do copy "$f"; done
# Inputs that once crashed (tests/fuzz/regressions/), so the fuzzer starts from them.
for f in "$(dirname "$0")"/regressions/*; do [ -f "$f" ] && copy "$f"; done
for d in "$corpora"/mimekit "$corpora"/flanker; do
  while IFS= read -r -d '' f; do
    [ "$(stat -c %s "$f")" -le 262144 ] && copy "$f"
  done < <(find "$d" -type f \( -name '*.eml' -o -name '*.msg' -o -name '*.txt' \) -print0 | head -z -n 300)
done
for f in clam.zip clam.7z clam.tar.gz clam.exe clam.pdf clam.ole.doc clam.tnef; do
  p=/usr/share/clamav-testfiles/$f
  [ -f "$p" ] || continue
  {
    printf 'From: a@example.org\r\nTo: support@example.com\r\nSubject: %s\r\nMIME-Version: 1.0\r\n' "$f"
    printf 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n'
    printf -- '--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n'
    printf 'Content-Disposition: attachment; filename="%s"\r\n\r\n' "$f"
    base64 "$p" | sed 's/$/\r/'
    printf -- '--b--\r\n'
  } > "$out/seed-$n"
  n=$((n + 1))
done
echo "$n seeds in $out"
