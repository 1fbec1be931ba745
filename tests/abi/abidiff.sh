#!/bin/sh
# abi/abidiff: compares the ABI of the probe library (built from the
# current header) with the stored baselines, one per released version.
#
#   abidiff.sh SRCDIR HEADER PROBE.so          the check (ctest)
#   abidiff.sh --update SRCDIR HEADER PROBE.so writes the baseline of the
#                                              header's version
#
# Rules (README.md), for a header that says MAJOR.MINOR:
#   - against baseline-MAJOR.MINOR.abi, any change at all (abidiff's bit
#     4) fails: a change to the header ships as a new minor with a new
#     baseline;
#   - against every older baseline-MAJOR.*.abi, the only changes allowed
#     are our rule's "append": a struct grows, and what it gains lies past
#     its old end.  abidiff's own "incompatible" bit (8) covers removed
#     symbols only (a moved member is merely a "change" to it), so its
#     leaf report is read line by line and anything else fails.
# Exit 77 (skipped) when abigail-tools is not installed.
set -u
update=0
if [ "${1:-}" = "--update" ]; then
    update=1
    shift
fi
srcdir=$1
header=$2
probe=$3

major=$(sed -n 's/^#define VSW_EXT_ABI_MAJOR \([0-9]*\).*/\1/p' "$header")
minor=$(sed -n 's/^#define VSW_EXT_ABI_MINOR \([0-9]*\).*/\1/p' "$header")
current=$srcdir/baseline-$major.$minor.abi
# Options that keep the file independent of where the tree is built.
abidw_opts="--no-corpus-path --no-comp-dir-path --no-show-locs --no-elf-needed"

if ! command -v abidiff >/dev/null 2>&1 ||
    ! command -v abidw >/dev/null 2>&1; then
    echo "abidiff.sh: abigail-tools not installed; skipping"
    exit 77
fi
if [ "$update" = 1 ]; then
    # shellcheck disable=SC2086
    abidw $abidw_opts --out-file "$current" "$probe" || exit 1
    echo "wrote $current"
    exit 0
fi
if [ ! -f "$current" ]; then
    echo "abidiff.sh: no baseline for ABI $major.$minor; once the header" \
        "is final: $0 --update $srcdir $header $probe"
    exit 1
fi

# Reads `abidiff --leaf-changes-only` on stdin; fails, printing the
# offending lines, unless every change appends members to a struct.
only_appends() {
    awk '
    /^$/ || /^Leaf changes summary/ || /^Changed leaf types summary/ { next }
    /^Removed\/Changed\/Added (functions|variables) summary: 0 Removed, 0 Changed/ { next }
    /^\047struct [a-z0-9_]+\047 changed:$/ { old = -1; next }
    /^  type size changed from [0-9]+ to [0-9]+ \(in bits\)$/ {
        old = $5 + 0
        if ($7 + 0 <= old) { bad = 1; print "  shrinks: " $0 }
        next
    }
    /^  [0-9]+ data member insertions?:$/ { next }
    /^    \047.*\047, at offset [0-9]+ \(in bits\)$/ {
        match($0, /at offset [0-9]+/)
        off = substr($0, RSTART + 10, RLENGTH - 10) + 0
        if (old < 0 || off < old) { bad = 1; print "  not at the end: " $0 }
        next
    }
    { bad = 1; print "  not an append: " $0 }
    END { exit bad }'
}

status=0
for baseline in "$srcdir"/baseline-"$major".*.abi; do
    report=$(abidiff --no-show-locs --leaf-changes-only "$baseline" "$probe")
    rc=$?
    echo "$report"
    name=$(basename "$baseline")
    if [ $((rc & 3)) -ne 0 ]; then
        echo "abidiff.sh: abidiff failed on $name (exit $rc)"
        status=1
    elif [ $((rc & 8)) -ne 0 ]; then
        echo "abidiff.sh: INCOMPATIBLE change against $name"
        status=1
    elif [ $((rc & 4)) -ne 0 ] && [ "$baseline" = "$current" ]; then
        echo "abidiff.sh: the ABI changed but the header still says" \
            "$major.$minor: bump VSW_EXT_ABI_MINOR, freeze the new header" \
            "and add its baseline (tests/abi/README.md)"
        status=1
    elif [ $((rc & 4)) -ne 0 ] && ! echo "$report" | only_appends; then
        echo "abidiff.sh: INCOMPATIBLE change against $name (only" \
            "appending members to a struct is compatible)"
        status=1
    elif [ $((rc & 4)) -ne 0 ]; then
        echo "abidiff.sh: compatible additions since $name"
    else
        echo "abidiff.sh: no change against $name"
    fi
done
exit $status
