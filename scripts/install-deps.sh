#!/usr/bin/env bash
# Installs the Debian packages Signet's tests need, only those missing.
# apt-get runs as root; without root it says what to run instead.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have openssl        || need+=(openssl)
have softhsm2-util  || need+=(softhsm2)
have pkcs11-tool    || need+=(opensc)
have gcc            || need+=(gcc)
# The README test runs the README's examples, which use curl and jq.
have curl           || need+=(curl)
have jq             || need+=(jq)
[ -x /usr/bin/chromium ] || need+=(chromium) # the admin UI's browser tests
# PAdES: signed PDFs are checked by poppler's pdfsig and qpdf --check, and
# one test PDF producer is ghostscript's ps2pdf.
have pdfsig         || need+=(poppler-utils)
have qpdf           || need+=(qpdf)
have ps2pdf         || need+=(ghostscript)
[ -e /usr/lib/softhsm/libsofthsm2.so ] || need+=(softhsm2)
# The cluster tests start a throw-away PostgreSQL 15 (state/postgres/pgtest);
# the package also creates the "postgres" user the server runs as under root.
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
# shellcheck disable=SC2207
need=($(printf '%s\n' "${need[@]}" | sort -u))
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${need[*]}; install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
