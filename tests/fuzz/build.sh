#!/bin/sh
# Builds the libFuzzer targets of tests/fuzz with clang, ASan and UBSan,
# into OUTDIR (default: build/fuzz):
#
#   tests/fuzz/build.sh [OUTDIR]
#
# CLANG names the compiler (default: clang, as Debian's clang package
# installs it).  Each target is its harness plus the sources listed below.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/build/fuzz}
cc=${CLANG:-clang}
flags="-g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -Wall -Werror
       -I$top/datapath/pipeline -I$top/datapath/policy -I$top/lib"

mkdir -p "$out"

target() {
    name=$1
    shift
    # shellcheck disable=SC2086 # 'flags' is a list of words
    "$cc" $flags "$top/tests/fuzz/$name.c" "$@" -o "$out/$name"
    echo "$out/$name"
}

target flow-fuzz "$top/datapath/pipeline/flow.c"
target acl-fuzz "$top/datapath/policy/acl.c" "$top/datapath/pipeline/flow.c"
