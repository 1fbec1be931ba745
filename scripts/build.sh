#!/bin/sh
# Builds vswitch into build/<flavour>: "release" (the default) or "asan"
# (AddressSanitizer + UndefinedBehaviorSanitizer) or "tsan"
# (ThreadSanitizer).  Warnings are errors.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-release}
case $flavour in
release) flags="-DCMAKE_BUILD_TYPE=RelWithDebInfo" ;;
asan) flags="-DCMAKE_BUILD_TYPE=Debug -DVSW_SANITIZE=ON" ;;
tsan) flags="-DCMAKE_BUILD_TYPE=Debug -DVSW_TSAN=ON" ;;
*) echo "build.sh: unknown flavour '$flavour' (release, asan or tsan)" >&2
    exit 2 ;;
esac
dir="$top/build/$flavour"
# shellcheck disable=SC2086
cmake -S "$top" -B "$dir" -DVSW_WERROR=ON $flags >/dev/null
cmake --build "$dir" -j "$(nproc)" -- --no-print-directory >/dev/null
echo "$dir"
