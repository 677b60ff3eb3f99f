#!/bin/sh
# login.sh - the login figure: how long one argon2id hash (m=19456 KiB, t=2, p=1) takes on this
# machine, i.e. the CPU every login attempt that passes the gateway's throttle costs.
#   bench/login.sh [runs]        (BUILD defaults to build)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
mkdir -p "$BUILD/bench"
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$BUILD/bench/login_hash" bench/login_hash.c -largon2
"$BUILD/bench/login_hash" "${1:-20}"
