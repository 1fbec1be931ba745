#!/bin/sh
# Builds the fuzz targets (build.sh) into OUTDIR and runs each for
# FUZZ_RUNS inputs (default 20000: seconds, for CI) from an empty corpus:
#
#   tests/fuzz/run.sh [OUTDIR]
#
# A crash, a sanitizer report or a broken oracle fails the run; libFuzzer
# leaves the input as crash-* in OUTDIR.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/build/fuzz}
runs=${FUZZ_RUNS:-20000}

"$top/tests/fuzz/build.sh" "$out" >/dev/null
for target in flow-fuzz acl-fuzz; do
    echo "$target: $runs runs"
    (cd "$out" && "./$target" -runs="$runs" -max_len=9018 -seed=1 \
        >"$target.log" 2>&1) || {
        cat "$out/$target.log"
        exit 1
    }
done
