#!/bin/sh
# Builds every libFuzzer target of tests/fuzz (each tests/fuzz/*-fuzz.c)
# with clang, ASan and UBSan, into OUTDIR (default: build/fuzz):
#
#   tests/fuzz/build.sh [OUTDIR] [TARGET...]
#
# CLANG names the compiler (default: clang, as Debian's clang package
# installs it; libFuzzer comes with libclang-rt-dev).
#
# The project's sources (lib, datapath, vswitchd but main.c) are compiled
# once, instrumented, into one archive that every harness links against:
# the linker takes from it only what a harness calls, so a new target
# needs no entry here.  A harness that needs more (a test helper, a file
# of its own branch) names it on a line of its own in its header comment:
#
#    * fuzz-sources: path/from/top.c other/path.c
#
# Objects are rebuilt when their source or any header of the tree is newer.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/build/fuzz}
[ $# -gt 0 ] && shift
cc=${CLANG:-clang}
jobs=$(nproc 2>/dev/null || echo 2)

includes="-I$top/lib -I$top/vswitchd -I$top/extensions/include"
for dir in "$top"/datapath/*/; do
    includes="$includes -I${dir%/}"
done
# shellcheck disable=SC2046 # pkg-config prints a list of words
includes="$includes $(pkg-config --cflags jansson libnl-3.0 libnl-route-3.0)"
libs="$(pkg-config --libs libevent libevent_pthreads jansson libnl-3.0 \
    libnl-route-3.0 libpcap libcurl) -ldl -lpthread -lm"
# acl.c's target_clones resolver wants popcnt available to the compiler.
common="-g -O1 -std=gnu11 -D_GNU_SOURCE -DVSW_VERSION=\"fuzz\" -mpopcnt
        -fno-omit-frame-pointer -fno-sanitize-recover=undefined -Wall"
export cc common includes

mkdir -p "$out/obj"

# The project's objects, instrumented for coverage but without libFuzzer's
# main (fuzzer-no-link); stale ones rebuilt in parallel.
newest_header=$(find "$top/lib" "$top/datapath" "$top/vswitchd" \
    "$top/extensions/include" -name '*.h' -newer "$out/obj/.stamp" \
    2>/dev/null | head -n 1 || true)
[ -f "$out/obj/.stamp" ] || newest_header=all
sources=$(find "$top/lib" "$top/datapath" "$top/vswitchd" -name '*.c' \
    ! -path "$top/vswitchd/main.c" | sort)
stale=""
for src in $sources; do
    obj="$out/obj/$(echo "${src#"$top"/}" | tr / _ | sed 's/\.c$/.o/')"
    if [ -n "$newest_header" ] || [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
        stale="$stale $src:$obj"
    fi
done
if [ -n "$stale" ]; then
    # shellcheck disable=SC2016 # expanded by the inner shell
    echo "$stale" | tr ' ' '\n' | grep . | xargs -P "$jobs" -n 1 sh -c '
        src=${0%%:*}; obj=${0#*:}
        # shellcheck disable=SC2086
        exec "$cc" $common -fsanitize=fuzzer-no-link,address,undefined \
            $includes -c "$src" -o "$obj"'
    rm -f "$out/libvsw-fuzz.a"
fi
touch "$out/obj/.stamp"
if [ ! -f "$out/libvsw-fuzz.a" ]; then
    ar rcs "$out/libvsw-fuzz.a" "$out"/obj/*.o
fi

# The harnesses: the ones named, or every tests/fuzz/*-fuzz.c.
if [ $# -gt 0 ]; then
    harnesses=""
    for name in "$@"; do
        harnesses="$harnesses $top/tests/fuzz/$name.c"
    done
else
    harnesses=$(ls "$top"/tests/fuzz/*-fuzz.c)
fi
for harness in $harnesses; do
    name=$(basename "$harness" .c)
    extra=""
    for src in $(sed -n 's/^ \* fuzz-sources://p' "$harness"); do
        extra="$extra $top/$src"
    done
    if [ -f "$out/$name" ] && [ "$out/$name" -nt "$harness" ] &&
        [ "$out/$name" -nt "$out/libvsw-fuzz.a" ] &&
        [ -z "$(find "$top/tests/fuzz" -name '*.h' -newer "$out/$name")" ]; then
        echo "$out/$name"
        continue
    fi
    # shellcheck disable=SC2086 # lists of words
    "$cc" $common -Werror -fsanitize=fuzzer,address,undefined $includes \
        -I"$top/tests/fuzz" "$harness" $extra "$out/libvsw-fuzz.a" $libs \
        -o "$out/$name"
    echo "$out/$name"
done
