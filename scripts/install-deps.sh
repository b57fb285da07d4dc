#!/usr/bin/env bash
# Installs every Debian package that deskmilter's build, tests, benchmarks and demo need.
# Idempotent: packages already present are skipped by apt; safe to run on every build.
# Postfix is preseeded so it installs without a prompt and without configuring the system instance.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libmilter-dev liblmdb-dev lmdb-utils libgmime-3.0-dev libtomlplusplus-dev libmagic-dev libmagic-mgc
  libclamav-dev clamav clamav-testfiles libarchive-dev
  nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  postfix swaks miltertest sasl2-bin libsasl2-modules notmuch
  python3 clang
  libcairo2-dev libpango1.0-dev fonts-noto-core fonts-noto-cjk poppler-utils
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

echo "install-deps: installing ${missing[*]}" >&2
$SUDO debconf-set-selections <<'SEL'
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string localhost.localdomain
SEL
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
