#!/usr/bin/env bash
# Installs every Debian package that deskmilter's build, tests, benchmarks and demo need.
# Idempotent: packages already present are skipped by apt; safe to run on every build.
# Postfix is preseeded so it installs without a prompt and without configuring the system instance.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libmilter-dev liblmdb-dev lmdb-utils libgmime-3.0-dev libtomlplusplus-dev libmagic-dev libmagic-mgc
  libclamav-dev clamav clamav-testfiles libarchive-dev libssl-dev
  nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  postfix swaks miltertest sasl2-bin libsasl2-modules notmuch
  python3 clang
  m4 libwrap0
)

# Sendmail for tests/e2e/test_sendmail.py conflicts with Postfix, so it is never installed: its three
# .debs are downloaded into a fixed cache (kept between runs) and the test unpacks them with dpkg -x.
# m4 and libwrap0 above are what the unpacked binary and its sendmail.mc need.
sendmail_debs=/var/cache/deskmilter-test/debs
sendmail_need=()
for p in sendmail-bin sendmail-base sendmail-cf; do
  compgen -G "$sendmail_debs/${p}_*.deb" >/dev/null || sendmail_need+=("$p")
done
if [ ${#sendmail_need[@]} -gt 0 ]; then
  sm_sudo=""
  [ "$(id -u)" -ne 0 ] && sm_sudo="sudo"
  $sm_sudo mkdir -p "$sendmail_debs"
  # As root, apt's sandbox user cannot write the cache; a fresh machine may need its lists first.
  (cd "$sendmail_debs" &&
   { $sm_sudo apt-get -q -o APT::Sandbox::User=root download "${sendmail_need[@]}" >/dev/null 2>&1 ||
     { $sm_sudo apt-get update -qq && \
       $sm_sudo apt-get -q -o APT::Sandbox::User=root download "${sendmail_need[@]}" >/dev/null; }; })
fi

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
