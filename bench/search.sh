#!/bin/bash
# search.sh - the member search figure: seeds 100 000 members with Japanese names and kana in a
# throwaway suite (PostgreSQL with pg_trgm, Redis, kaiin-gateway, kaiin-member), runs 200
# partial-name queries with two filters (status, rank) through the gateway, prints p50 and p95.
#   BUILD=build bench/search.sh     (what `make bench-search` runs)
# Settings: KAIIN_BENCH_MEMBERS (100000), KAIIN_BENCH_QUERIES (200), KAIIN_BENCH_KEEP=1.
set -euo pipefail
export LC_ALL=C.UTF-8
cd "$(dirname "$0")/.."
build=${BUILD:-build}
case $build in /*) export KAIIN_BIN_DIR=$build/bin ;; *) export KAIIN_BIN_DIR=$PWD/$build/bin ;; esac
exec /usr/bin/python3 bench/search.py
