#!/bin/sh
# The whole test suite: installs what is missing, builds vswitch twice
# (release, and ASan+UBSan), and runs every unit test (Check, via ctest),
# the style check and every system test (pytest, real namespaces and
# traffic) against both builds, the two builds side by side and then the
# tests marked serial alone; every fuzz target for 60 s (tests/fuzz,
# FUZZ_SECONDS overrides); the soak test on the ASan build (tests/soak,
# 3 minutes under CI=true, SOAK_MINUTES overrides); the README's quick
# start and the user guide, run as written (tests/guide/run.sh); then,
# against a ThreadSanitizer build, the unit tests of the lock-free tables
# and the extension system tests.  Run as root.  Exits non-zero if
# anything failed; the last line sums up.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

"$top/scripts/install-deps.sh" || exit 1

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
python=/usr/bin/python3
passed=0
failed=0
log=$(mktemp /tmp/vswitch-test.XXXXXX)

# Adds the counts a ctest or pytest summary in '$log' reports.
count() {
    p=$(grep -Eo '[0-9]+ passed' "$log" | tail -n 1 | grep -Eo '[0-9]+')
    f=$(grep -Eo '[0-9]+ (failed|error|errors)' "$log" | tail -n 1 |
        grep -Eo '[0-9]+')
    t=$(grep -Eo 'tests failed out of [0-9]+' "$log" | grep -Eo '[0-9]+$')
    tf=$(grep -Eo '[0-9]+ tests failed' "$log" | grep -Eo '^[0-9]+')
    if [ -n "$t" ]; then
        p=$((t - ${tf:-0}))
        f=${tf:-0}
    fi
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
}

status=0
builds=""
for flavour in release asan; do
    echo "== build ($flavour)"
    if ! build=$("$top/scripts/build.sh" "$flavour"); then
        echo "build ($flavour) failed"
        status=1
        failed=$((failed + 1))
        continue
    fi
    builds="$builds $flavour"
done

# One flavour's unit tests and the system tests that tolerate a busy CPU,
# into the log file given.  The fuzz targets' short run is left to the
# fuzzing step below, which runs them longer.
run_lane() {
    flavour=$1
    out=$2
    rc=0
    {
        echo "== unit tests ($flavour)"
        ctest --test-dir "$top/build/$flavour" --output-on-failure \
            -E '^fuzz/' || rc=1
        echo "== system tests ($flavour)"
        VSW_BUILD_DIR="$top/build/$flavour" "$python" -m pytest \
            -p no:cacheprovider -q -ra -m "not serial" "$top/tests/system" ||
            rc=1
    } >"$out" 2>&1
    return $rc
}

# The release and the ASan lanes run side by side: most system tests wait
# on the kernel, a namespace or a peer, not on the CPU, and every name a
# test creates carries its run's id.
pids=""
for flavour in $builds; do
    run_lane "$flavour" "$log.$flavour" &
    pids="$pids $!"
done
for pid in $pids; do
    wait "$pid" || status=1
done
for flavour in $builds; do
    cat "$log.$flavour"
    # A lane's log holds a ctest and a pytest summary: count each.
    sed -n '/^== system tests/q;p' "$log.$flavour" >"$log"
    count
    sed -n '/^== system tests/,$p' "$log.$flavour" >"$log"
    count
    rm -f "$log.$flavour"
done

# The tests that measure rates, losses or protocol timers, with nothing
# beside them.
for flavour in $builds; do
    echo "== system tests that run alone ($flavour)"
    VSW_BUILD_DIR="$top/build/$flavour" "$python" -m pytest \
        -p no:cacheprovider -q -ra -m serial "$top/tests/system" >"$log" 2>&1
    rc=$?
    cat "$log"
    [ $rc -eq 0 ] || status=1
    count
done

# Every fuzz target for CI's budget (60 s each, two at a time), after
# the regression inputs of tests/fuzz/regressions.
echo "== fuzzing (${FUZZ_SECONDS:-60} s per target)"
if FUZZ_SECONDS=${FUZZ_SECONDS:-60} "$top/tests/fuzz/run.sh" \
    "$top/build/fuzz" >"$log" 2>&1; then
    passed=$((passed + 1))
else
    status=1
    failed=$((failed + 1))
fi
cat "$log"

# The soak test: traffic, configuration churn and kill -9 against the
# ASan build, alone (nothing timing-sensitive runs beside it).
echo "== soak test (asan, ${SOAK_MINUTES:-3} min)"
CI=${CI:-true} VSW_BUILD_DIR="$top/build/asan" "$python" -m pytest \
    -p no:cacheprovider -q -s -ra "$top/tests/soak" >"$log" 2>&1
rc=$?
cat "$log"
[ $rc -eq 0 ] || status=1
count

# The documents, run as written: the README's quick start and the user
# guide, against the release build.
echo "== documents (release)"
"$top/tests/guide/run.sh" >"$log" 2>&1 || status=1
cat "$log"
count

# Extensions' 'process' runs on every worker at once: their system tests
# again under ThreadSanitizer (all but the crash and hang tests, which end
# the daemon on purpose).
echo "== build (tsan)"
if build=$("$top/scripts/build.sh" tsan); then
    # The MAC and flow tables are read without locks by every worker, and
    # the capture rings are filled by workers while the control thread
    # empties them: their unit tests (a few seconds) race the two sides.
    echo "== lock-free table unit tests (tsan)"
    ctest --test-dir "$build" --output-on-failure \
        -R '^unit/test_(ctable|fdb|conntrack|pcap_tap)$' >"$log" 2>&1 ||
        status=1
    cat "$log"
    count

    echo "== extension system tests (tsan)"
    TSAN_OPTIONS="halt_on_error=0" VSW_BUILD_DIR="$build" "$python" -m pytest \
        -p no:cacheprovider -q -ra -k "not crash" \
        "$top/tests/system/test_ext_lifecycle.py" \
        "$top/tests/system/test_ext_abi.py" \
        "$top/tests/system/test_ext_samples.py" >"$log" 2>&1
    rc=$?
    cat "$log"
    [ $rc -eq 0 ] || status=1
    count
else
    echo "build (tsan) failed"
    status=1
    failed=$((failed + 1))
fi
rm -f "$log"

echo "total: $passed passed, $failed failed"
exit $status
