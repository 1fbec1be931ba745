#!/bin/sh
# The multi-host demo (issue 13): three "hosts", each a vswitchd in a
# network namespace of its own, joined by an underlay bridge and VXLAN.
# Two tenants, VNI 5001 and VNI 5002, use the SAME addresses (10.50.0.N);
# their VMs ping across hosts and never into the other tenant.  Then a
# tenant VM moves from host 1 to host 2 (port export, port import, port
# del) while a VM on host 3 pings it every 10 ms, and the pings lost are
# printed.  Everything is removed again, also on failure or Ctrl-C.
#
# Uses an existing build (BUILD_DIR, default build/release: run
# ./scripts/build.sh release first).  Run as root.  Every name carries
# this run's process id, so it never collides with the tests or another
# run.  Exit status 0 when every check held.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build/release}
for tool in "$build/vswitchd/vswitchd" "$build/cli/vswitch-ctl"; do
    if [ ! -x "$tool" ]; then
        echo "demo-multihost: no $tool: run ./scripts/build.sh release" >&2
        exit 2
    fi
done

run=dmh$$
state=$(mktemp -d /tmp/vswitch-multihost.XXXXXX)
underlay=$run-ul
hosts="1 2 3"

# ctl HOST ARGS...: vswitch-ctl against host HOST's daemon.
ctl() {
    h=$1
    shift
    "$build/cli/vswitch-ctl" --socket "$state/h$h/vswitchd.sock" "$@"
}
hostns() { echo "$run-h$1"; }
vmns() { echo "$run-$1"; }

cleanup() {
    set +e
    [ -n "${pinger:-}" ] && kill "$pinger" 2>/dev/null
    for h in $hosts; do
        if [ -f "$state/h$h/vswitchd.pid" ]; then
            kill "$(cat "$state/h$h/vswitchd.pid")" 2>/dev/null
        fi
    done
    sleep 0.3
    for h in $hosts; do
        for pin in "$state/h$h"/netns/*; do
            [ -e "$pin" ] && umount -l "$pin" 2>/dev/null
        done
    done
    for ns in $(ip netns list | awk '{print $1}' | grep "^$run-"); do
        ip netns del "$ns" 2>/dev/null
    done
    for link in $(ip -o link show | awk -F': ' '{print $2}' |
        sed 's/@.*//' | grep "^$run"); do
        ip link del "$link" 2>/dev/null
    done
    rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*"; }
ok=true

step "underlay: bridge br0 in namespace $underlay, 10.77.0.0/24"
ip netns add "$underlay"
ip -n "$underlay" link add br0 type bridge
ip -n "$underlay" link set br0 up

step "three hosts: a vswitchd each, switch sw0, a VXLAN tunnel on the underlay"
for h in $hosts; do
    ns=$(hostns "$h")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add "${run}u$h" type veth peer name "${run}b$h"
    ip link set "${run}u$h" netns "$ns"
    ip link set "${run}b$h" netns "$underlay"
    ip -n "$underlay" link set "${run}b$h" master br0 up
    ip -n "$ns" addr add "10.77.0.$h/24" dev "${run}u$h"
    ip -n "$ns" link set "${run}u$h" up
    mkdir -p "$state/h$h"
    ip netns exec "$ns" "$build/vswitchd/vswitchd" --state-dir "$state/h$h" \
        --detach --workers 1 --log-file "$state/h$h/vswitchd.log"
    ctl "$h" switch add sw0
    ctl "$h" tunnel add sw0 "${run}x$h" local-ip="10.77.0.$h"
done
# Static remotes: every host is a remote VTEP of both VNIs on the others.
for h in $hosts; do
    remotes=""
    for o in $hosts; do
        [ "$o" = "$h" ] && continue
        remotes="$remotes${remotes:+,}5001:10.77.0.$o,5002:10.77.0.$o"
    done
    ctl "$h" tunnel set "${run}x$h" remote="$remotes"
done

# vm HOST NAME VNI IP: a "VM" namespace behind a TAP port of host HOST.
vm() {
    h=$1 name=$2 vni=$3 ip=$4
    tap=$run$name
    ctl "$h" port add sw0 "$tap" type=tap ifname="$tap" \
        mac="02:00:$(printf '%02x' "${vni#500}"):00:00:${ip##*.}${h}" vni="$vni"
    ip netns add "$(vmns "$name")"
    ip -n "$(vmns "$name")" link set lo up
    ip netns exec "$(vmns "$name")" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1
    ip -n "$(hostns "$h")" link set "$tap" netns "$(vmns "$name")"
    ip -n "$(vmns "$name")" addr add "$ip/24" dev "$tap"
    ip -n "$(vmns "$name")" link set "$tap" up
    printf '  host %s: %-3s VNI %s  %s\n' "$h" "$name" "$vni" "$ip"
}

step "VMs: tenant A (VNI 5001) and tenant B (VNI 5002), same addresses"
vm 1 a1 5001 10.50.0.1
vm 1 b1 5002 10.50.0.1
vm 2 a2 5001 10.50.0.2
vm 2 b2 5002 10.50.0.2
vm 3 a3 5001 10.50.0.3
# a1 may use only its address (the IP guard): the address its new host
# announces after the move.
ctl 1 port set "${run}a1" allowed-ips=10.50.0.1

# check FROM TO EXPECT: one VM pings an address; prints the verdict.
check() {
    from=$1 to=$2 expect=$3
    if ip netns exec "$(vmns "$from")" ping -c 2 -i 0.2 -W 1 "$to" \
        >/dev/null 2>&1; then
        result=reachable
    else
        result=unreachable
    fi
    printf '  %s -> %-9s %-11s (expected %s)\n' "$from" "$to:" "$result" \
        "$expect"
    [ "$result" = "$expect" ] || ok=false
}

step "pings across hosts, and the isolation of the tenants"
check a1 10.50.0.2 reachable
check a1 10.50.0.3 reachable
check b1 10.50.0.2 reachable
check b1 10.50.0.3 unreachable
# The same address answers with each tenant's own MAC.
mac_a=$(ip -n "$(vmns a1)" neigh show 10.50.0.2 | awk '{print $5}')
mac_b=$(ip -n "$(vmns b1)" neigh show 10.50.0.2 | awk '{print $5}')
printf '  10.50.0.2 is %s in VNI 5001 and %s in VNI 5002\n' "$mac_a" "$mac_b"
[ -n "$mac_a" ] && [ "$mac_a" != "$mac_b" ] || ok=false
step "host 1 tunnel: where it learned the remote MACs"
ctl 1 tunnel show "${run}x1"

step "migration: a1 moves from host 1 to host 2 while a3 pings it every 10 ms"
ip netns exec "$(vmns a3)" ping -q -i 0.01 -c 300 -W 1 10.50.0.1 \
    >"$state/ping.txt" 2>&1 &
pinger=$!
sleep 1
a1=${run}a1
# The VM pauses (its interface leaves it), host 1 exports the port, host
# 2 imports it (a TAP named after the port, the VM's MAC, its policy,
# counters and flows; the MAC is announced), the VM resumes behind host
# 2's TAP, and host 1 deletes its port.
ip -n "$(vmns a1)" link set "$a1" netns "$(hostns 1)"
ctl 1 port export "$a1" >"$state/a1.json"
ctl 2 --format json port import sw0 <"$state/a1.json" >"$state/import.json"
ip -n "$(hostns 2)" link set "$a1" netns "$(vmns a1)"
ip -n "$(vmns a1)" addr add 10.50.0.1/24 dev "$a1"
ip -n "$(vmns a1)" link set "$a1" up
ctl 1 port del "$a1"
wait "$pinger" || true
pinger=
sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$state/ping.txt")
received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$state/ping.txt")
lost=$((sent - received))
printf '  pings: %s sent, %s received, %s lost (%s ms at 10 ms)\n' \
    "$sent" "$received" "$lost" "$((lost * 10))"
[ "$sent" -gt 0 ] && [ "$lost" -le 50 ] || ok=false
check a3 10.50.0.1 reachable
check a2 10.50.0.1 reachable
printf '  host 2 announced: %s\n' "$(tr -d ' \n' <"$state/import.json" |
    sed 's/.*"announced":\({[^}]*}\).*/\1/')"
step "host 3 tunnel after the move: a1's MAC is at host 2 (10.77.0.2)"
ctl 3 tunnel show "${run}x3"

if $ok; then
    step "multi-host demo passed: tenants reach across hosts, are isolated," \
        "and a VM moved with $lost pings lost"
else
    step "multi-host demo FAILED: see the checks above"
    exit 1
fi
