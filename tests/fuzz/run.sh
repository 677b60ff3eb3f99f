#!/bin/bash
# run.sh BUILD SECONDS TARGET... - runs each libFuzzer target of BUILD/fuzz for SECONDS from
# the inputs kept in tests/fuzz/corpus/<target> (new ones it finds go to BUILD/corpus/), and
# prints its executions and crashes. Exits 1 when any target crashed.
set -uo pipefail
build=$1 seconds=$2
shift 2
failed=0
for t in "$@"; do
    corpus=$build/corpus/$t crashes=$build/crashes/$t
    mkdir -p "$corpus" "$crashes"
    log=$build/fuzz-$t.log
    "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$crashes/" "$corpus" "tests/fuzz/corpus/$t" > "$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    found=$(find "$crashes" -type f | wc -l)
    printf 'fuzz %-7s %10s executions in %s s, %d crashes, %d inputs in its corpus\n' \
        "$t" "${runs:-?}" "$seconds" "$found" "$(find "$corpus" -type f | wc -l)"
    if [ $rc -ne 0 ] || [ "$found" -ne 0 ]; then
        failed=1
        grep -m1 -A12 'ERROR: \|runtime error' "$log" | sed 's/^/    /'
        find "$crashes" -type f | sed "s|^|    reproduce: $build/fuzz/fuzz_$t |"
    fi
done
exit $failed
