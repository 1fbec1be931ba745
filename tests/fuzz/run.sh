#!/bin/sh
# Builds the fuzz targets (build.sh) into OUTDIR and runs every
# tests/fuzz/*-fuzz.c (or those of FUZZ_TARGETS, names without .c):
#
#   tests/fuzz/run.sh [OUTDIR]
#
# For each target, first the checked-in regression inputs of
# tests/fuzz/regressions/<name>/ (<name>: the target without -fuzz) are replayed, each once; then libFuzzer
# runs for FUZZ_SECONDS (default 10, as the ctest fuzz/short-run does;
# scripts/test.sh gives 60, CI's budget) from the seed corpus of
# tests/fuzz/corpus/<name>/ plus what earlier runs in OUTDIR found.
# FUZZ_JOBS targets run at once (default 2, the machine's cores).
#
# A harness may pass libFuzzer options with a line of its header comment:
#
#    * fuzz-options: -max_len=16384
#
# A crash, a sanitizer report, a leak, a timeout or a broken oracle fails
# the run; the input is left as OUTDIR/<target>-crash-* (or -leak-,
# -timeout-...).  Once fixed, check it in as a regression input:
#   cp OUTDIR/<target>-crash-XXX tests/fuzz/regressions/<name>/
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/build/fuzz}
out=$(mkdir -p "$out" && cd "$out" && pwd)

# One target: "run.sh --one OUTDIR TARGET", as xargs starts it below.
if [ "${2:-}" = "--one" ]; then
    target=$3
    seconds=${FUZZ_SECONDS:-10}
    harness="$top/tests/fuzz/$target.c"
    regressions="$top/tests/fuzz/regressions/${target%-fuzz}"
    seeds="$top/tests/fuzz/corpus/${target%-fuzz}"
    work="$out/corpus/$target"
    log="$out/$target.log"
    options=$(sed -n 's/^ \* fuzz-options://p' "$harness")
    mkdir -p "$work"
    cd "$out"
    : >"$log"
    if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
        # shellcheck disable=SC2086 # a list of options
        if ! "./$target" $options -runs=1 "$regressions"/* >>"$log" 2>&1; then
            echo "$target: FAILED on a regression input of $regressions"
            tail -n 60 "$log"
            exit 1
        fi
    fi
    [ -d "$seeds" ] || seeds=""
    # shellcheck disable=SC2086 # lists of options and directories
    # The harness's options come last: they override the defaults.
    if ! "./$target" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        $options -max_total_time="$seconds" \
        -artifact_prefix="$out/$target-" "$work" $seeds >>"$log" 2>&1; then
        echo "$target: FAILED; input left as:" \
            "$(ls "$out/$target"-* 2>/dev/null | tr '\n' ' ')"
        grep -v '^#\|^"\|NEW_FUNC' "$log" | tail -n 60
        exit 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" |
        grep -o '[0-9]*$')
    echo "$target: ok, ${runs:-?} runs in ${seconds} s" \
        "($(ls "$work" | wc -l) inputs in its corpus)"
    exit 0
fi

"$top/tests/fuzz/build.sh" "$out" >/dev/null
if [ -n "${FUZZ_TARGETS:-}" ]; then
    targets=$FUZZ_TARGETS
else
    targets=$(cd "$top/tests/fuzz" && ls ./*-fuzz.c | sed 's|^\./||; s|\.c$||')
fi
echo "fuzzing $(echo "$targets" | wc -w) targets for ${FUZZ_SECONDS:-10} s" \
    "each, ${FUZZ_JOBS:-2} at a time"
# shellcheck disable=SC2086 # a list of names
printf '%s\n' $targets |
    xargs -P "${FUZZ_JOBS:-2}" -I{} "$0" "$out" --one "{}" >"$out/summary" 2>&1 ||
    status=$?
cat "$out/summary"
exit "${status:-0}"
