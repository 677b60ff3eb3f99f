#!/bin/bash
# install-deps.sh [package...] - install the Debian packages Kaiin builds, runs and tests with
# (and those named), when missing.
set -euo pipefail
packages=(build-essential pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libpq-dev
          libmicrohttpd-dev libhiredis-dev libjansson-dev libargon2-dev libssl-dev zlib1g-dev postgresql postgresql-client
          redis-server python3-pytest python3-pytest-xdist python3-yaml python3-requests wrk curl jq
          libgmime-3.0-dev libcurl4-openssl-dev libopendkim-dev python3-dkim python3-zmq
          libjs-chart.js chromium chromium-driver python3-selenium fonts-ipafont-gothic postfix
          # billing's PDFs (libhpdf; the font above is the one they embed, each document's
          # subset of it cut by HarfBuzz's subsetter), read back by the tests (pdftotext)
          libhpdf-dev libharfbuzz-dev poppler-utils poppler-data
          # member's NFKC folding of what people type (full-width digits, half-width kana)
          libutf8proc-dev)
packages+=("$@")                  # more, named by the caller (make fuzz: clang)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
if [ "$(id -u)" != 0 ]; then sudo=sudo; else sudo=; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
