#!/bin/sh
# The vswitch demo: installs what is missing, builds, starts vswitchd on a
# private state directory, attaches four namespaced "VMs" through TAP ports
# (two on VLAN 10, two on VLAN 20), shows that VMs on the same VLAN reach
# each other and VMs on different VLANs do not, records vm1's packets with
# the sample capture extension and reads them back with tcpdump, prints the
# switch and its counters, and removes everything again.  Run as root.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

"$top/scripts/install-deps.sh"
build=$("$top/scripts/build.sh" release)

run=demo$$
state=$(mktemp -d /tmp/vswitch-demo.XXXXXX)
export VSWITCH_SOCKET="$state/vswitchd.sock"
ctl() { "$build/cli/vswitch-ctl" "$@"; }

cleanup() {
    if [ -f "$state/vswitchd.pid" ]; then
        for vm in 1 2 3 4; do
            ctl port del "vm$vm" 2>/dev/null || true
        done
        kill "$(cat "$state/vswitchd.pid")" 2>/dev/null || true
        sleep 0.2
    fi
    for vm in 1 2 3 4; do
        ip netns del "$run-ns$vm" 2>/dev/null || true
    done
    for pin in "$state"/netns/*; do
        [ -e "$pin" ] && umount -l "$pin" 2>/dev/null || true
    done
    rm -rf "$state"
}
trap cleanup EXIT INT TERM

step() { printf '\n== %s\n' "$*"; }

step "starting vswitchd (state in $state)"
"$build/vswitchd/vswitchd" --state-dir "$state" --detach \
    --log-file "$state/vswitchd.log"

step "switch sw0 with four VM ports: vm1, vm2 on VLAN 10; vm3, vm4 on VLAN 20"
ctl switch add sw0
for vm in 1 2 3 4; do
    vlan=$([ $vm -le 2 ] && echo 10 || echo 20)
    ctl port add sw0 "vm$vm" type=tap ifname="dtap$$-$vm" \
        mac="02:00:00:00:0$vm:01"
    ctl port set "vm$vm" vlan-mode=access vlan=$vlan
    # Attach the VM: move the TAP netdev into its own namespace.
    ip netns add "$run-ns$vm"
    ip link set "dtap$$-$vm" netns "$run-ns$vm"
    ip -n "$run-ns$vm" link set lo up
    ip -n "$run-ns$vm" addr add "198.18.0.$vm/24" dev "dtap$$-$vm"
    ip -n "$run-ns$vm" link set "dtap$$-$vm" up
done

ping_check() {
    from=$1 to=$2 expect=$3
    if ip netns exec "$run-ns$from" ping -c 3 -i 0.2 -W 1 "198.18.0.$to" \
        >/dev/null 2>&1; then
        result=reachable
    else
        result=unreachable
    fi
    printf '  vm%s -> vm%s: %-11s (expected %s)\n' "$from" "$to" "$result" \
        "$expect"
    [ "$result" = "$expect" ]
}

step "pings"
ok=true
ping_check 1 2 reachable || ok=false
ping_check 3 4 reachable || ok=false
ping_check 1 3 unreachable || ok=false
ping_check 2 4 unreachable || ok=false

step "a capture extension: vm1's packets into a pcap file (samples/pcap-capture)"
ctl ext load "$build/extensions/samples/pcap-capture.so"
ctl ext enable sw0 pcap-capture
ctl ext config sw0 pcap-capture "{\"ports\": [\"vm1\"], \"file\": \"$state/vm1.pcap\"}"
ip netns exec "$run-ns1" ping -c 3 -i 0.2 -W 1 198.18.0.2 >/dev/null 2>&1 || ok=false
sleep 0.5
ctl ext stats
echo "tcpdump -nn -r $state/vm1.pcap icmp:"
# Printed, then counted ('tee /dev/stderr' would reopen stderr and, when it
# is redirected to a file, truncate that file).
packets=$(tcpdump -nn -r "$state/vm1.pcap" icmp 2>/dev/null || true)
printf '%s\n' "$packets"
captured=$(printf '%s\n' "$packets" | grep -c 'ICMP echo request' || true)
printf '  %s echo requests captured (expected 3)\n' "$captured"
[ "$captured" = 3 ] || ok=false

step "vswitch-ctl show"
ctl show
step "vswitch-ctl fdb show"
ctl fdb show sw0
step "vswitch-ctl port stats"
ctl port stats

if $ok; then
    step "demo passed: same VLAN forwards, different VLANs are isolated," \
        "the capture extension recorded vm1's pings"
else
    step "demo FAILED: see the pings above"
    exit 1
fi
