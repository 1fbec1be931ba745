#!/bin/sh
# Installs the Debian packages the performance benchmark (tests/perf) needs:
# Open vSwitch (run only from a private directory by the benchmark), trafgen
# (netsniff-ng), iperf3, ping, ethtool, procps.  Idempotent, and silent when
# everything is already there.
#
# It never leaves the system Open vSwitch service running: the package's
# postinst is kept from starting it (a policy-rc.d that denies every start,
# only while we install, and only when the machine has none of its own), and
# should it have started anyway it is stopped and disabled.  The system
# ovsdb (/etc/openvswitch) is never touched.
set -eu

packages="openvswitch-switch openvswitch-switch-dpdk netsniff-ng iperf3 iputils-ping ethtool procps"
ovs_missing=false
dpkg-query -W -f='${Status}' openvswitch-switch 2>/dev/null |
    grep -q 'install ok installed' || ovs_missing=true

policy=/usr/sbin/policy-rc.d
own_policy=false
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary, from vswitch install-perf-deps.sh\nexit 101\n' \
        >"$policy"
    chmod 755 "$policy"
    own_policy=true
fi
# shellcheck disable=SC2317 # called by the traps
remove_policy() { if $own_policy; then rm -f "$policy"; fi; }
trap remove_policy EXIT
trap 'remove_policy; exit 130' INT TERM

# shellcheck disable=SC2086
"$(dirname "$0")/install-deps.sh" $packages

# Belt and braces: if the service came up anyway, stop and disable it.
case $ovs_missing in
true)
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl disable --now openvswitch-switch ovs-vswitchd ovsdb-server \
            >/dev/null 2>&1 || true
    else
        update-rc.d openvswitch-switch disable >/dev/null 2>&1 || true
    fi
    for d in /run/openvswitch /var/run/openvswitch; do
        for daemon in ovs-vswitchd ovsdb-server; do
            if [ -f "$d/$daemon.pid" ]; then
                pid=$(cat "$d/$daemon.pid")
                kill "$pid" 2>/dev/null || true
            fi
        done
    done
    ;;
esac
exit 0
