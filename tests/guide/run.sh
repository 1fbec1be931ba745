#!/bin/sh
# The documents, run: docs/user-guide.md from section 1 to 35, then the
# README's quick start (scripts/demo.sh), then the request/response pairs
# of docs/jsonrpc.md, then the tutorial of docs/extensions.md, each command
# in order, with its output compared to what the document shows.  The
# runner is cram (Debian python3-cram); tests/guide/mdcram.py turns each
# document's ```console blocks, and jsonrpc.md's pairs of ```json blocks
# (sent with tests/guide/rpc.py), into a cram test (its top comment gives
# the convention).
#
# The documents work in fixed places, chosen to clash with nothing:
# - the user guide and the README: the directory /tmp/vsg (the daemon's
#   state directory and the guide's files), network namespaces named
#   vsg-*, and the interfaces listed in 'links' below;
# - jsonrpc.md: the directory /tmp/vsr and network namespaces named vsr-*
#   (its daemon runs in vsr-host, so its TAPs and uplink are there, not
#   among the machine's interfaces);
# - extensions.md: the directory /tmp/vsx (its install prefix, the
#   tutorial's hello/ directory and a daemon's state) and namespaces
#   named vsx-*.
# This script refuses to start if any of them exists, removes them all
# when it ends (also on failure or interrupt), and fails if the documents
# themselves left any of them behind (each one removes what it made, at
# its end).
#
# Usage: tests/guide/run.sh [DOC...]  (as root, after ./scripts/build.sh
# release: the documents use build/release, as they tell their readers
# to).  DOC is user-guide, readme, jsonrpc or extensions; default: all.
# Each document is one cram test, and "nothing is left behind" one more;
# the last line is 'documents: N passed, F failed'.  On a failure cram
# prints the difference between the document and what the commands did;
# 'tests/guide/mdcram.py --update' copies a run's output into a document
# for review with git diff.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
# The documents use fixed names: two runs at once (two checkouts on one
# machine) take turns.
if [ -z "${VSW_GUIDE_LOCKED:-}" ]; then
    VSW_GUIDE_LOCKED=1 exec flock /tmp/vsw-guide.lock "$0" "$@"
fi
scratches="/tmp/vsg /tmp/vsr /tmp/vsx"
prefixes="vsg vsr vsx"
links="vm1 vm2 ct1 up0 up1 pvup0 gw iso1 iso2 com1 com2 web1 srv tx1 tx2 mon1"
links="$links qup0 qvm1 qvm2" # section 17, minimum bandwidth
links="$links vm1b" # section 18, metering
links="$links tma0 tma1 tvm1" # section 21, teams
links="$links mvm1" # section 27, metrics
links="$links cnib3541ace7b0c cnicfd90c82f28d cni302cad0ea653" # section 29, CNI ports
links="$links vmtap0" # section 30, a TAP made for QEMU
links="$links bk1 bk2 bk3 bk4 bk5" # section 31, many ports at once
# Section 26, who may use the socket: its users and groups.
users="vsg-alice vsg-bob vsg-carol"
groups="vsg-admins vsg-readers"

namespaces() {
    ip netns list | grep -Eo '^(vsg|vsr|vsx)-[^ ]*'
}

leftovers() {
    namespaces
    for l in $links; do
        ip link show "$l" >/dev/null 2>&1 && echo "interface $l"
    done
    for d in $scratches; do
        [ -e "$d" ] && echo "directory $d"
    done
    for u in $users; do
        id -u "$u" >/dev/null 2>&1 && echo "user $u"
    done
    for g in $groups; do
        getent group "$g" >/dev/null && echo "group $g"
    done
    guide_processes | sed 's/^/process /'
}

# The programs the documents start: all name a file in /tmp/vsg, /tmp/vsr
# or /tmp/vsx, but for the iperf3 servers.
guide_processes() {
    pgrep -af "/tmp/vs[grx]/|iperf3 -s -D -B 198\.18\." | grep -v "^$$ "
}

cleanup() {
    for pidfile in /tmp/vsg/*/vswitchd.pid /tmp/vsr/*/vswitchd.pid \
                   /tmp/vsx/*/vswitchd.pid; do
        [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null
    done
    for pid in $(guide_processes | cut -d ' ' -f 1); do
        kill -9 "$pid" 2>/dev/null
    done
    for ns in $(namespaces); do
        for pid in $(ip netns pids "$ns"); do kill -9 "$pid"; done
        ip -n "$ns" -o link show | awk -F': ' '{print $2}' |
            sed 's/@.*//' | grep -v '^lo$' |
            while read -r l; do ip -n "$ns" link del "$l"; done
        ip netns del "$ns"
    done
    for l in $links; do ip link del "$l" 2>/dev/null; done
    for u in $users; do userdel "$u" 2>/dev/null; done
    for g in $groups; do groupdel "$g" 2>/dev/null; done
    for pin in /tmp/vsg/*/netns/* /tmp/vsr/*/netns/* /tmp/vsx/*/netns/*; do
        [ -e "$pin" ] && umount -l "$pin" 2>/dev/null
    done
    rm -rf $scratches "$work"
}

found=$(leftovers)
if [ -n "$found" ]; then
    printf 'guide test: refusing to start; these exist already:\n%s\n' \
        "$found" >&2
    echo "documents: 0 passed, 1 failed"
    exit 1
fi

work=$(mktemp -d /tmp/vswitch-guide-test.XXXXXX)
trap 'cleanup' EXIT
trap 'exit 1' INT TERM

docs=${*:-user-guide readme jsonrpc extensions}
for doc in $docs; do
    case $doc in
    user-guide) md=docs/user-guide.md n=1 ;;
    readme) md=README.md n=2 ;;
    jsonrpc) md=docs/jsonrpc.md n=3 ;;
    extensions) md=docs/extensions.md n=4 ;;
    *) echo "guide test: no document '$doc'" >&2; exit 2 ;;
    esac
    python3 "$top/tests/guide/mdcram.py" --cd "$top" \
        "$top/$md" "$work/$n-$doc.t"
done
status=0
# As on a fresh Debian machine: Debian's python3 (with scapy), not another
# one that happens to come first in this PATH.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    timeout 1800 cram3 --shell=/bin/sh "$work"/*.t | tee "$work/cram.out" ||
    status=1
# GUIDE_ERR_DIR=DIR keeps cram's .err files (what the commands printed),
# for 'mdcram.py --update'.
[ -n "${GUIDE_ERR_DIR:-}" ] && cp "$work"/*.err "$GUIDE_ERR_DIR"/ 2>/dev/null
ran=$(sed -n 's/^# Ran \([0-9]*\) tests.*/\1/p' "$work/cram.out")
failed=$(sed -n 's/^# Ran .* \([0-9]*\) failed\.$/\1/p' "$work/cram.out")
ran=${ran:-1} failed=${failed:-1}

# One more test: nothing is left behind.
found=$(leftovers)
if [ -n "$found" ]; then
    printf 'guide test: the documents left these behind:\n%s\n' "$found"
    failed=$((failed + 1))
    status=1
fi
ran=$((ran + 1))
[ "$failed" -eq 0 ] || status=1
echo "documents: $((ran - failed)) passed, $failed failed"
exit $status
