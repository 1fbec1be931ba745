#!/bin/sh
# Installs the Debian packages vswitch needs to build, run its demo and run
# its tests, or the packages given as arguments.  Idempotent, and silent
# when everything is already there.
set -eu

# clang and libclang-rt-dev (libFuzzer, the sanitizers' runtimes) build the
# fuzz targets of tests/fuzz; llvm brings llvm-symbolizer for their stacks.
packages="
build-essential cmake pkg-config clang-format
libevent-dev libjansson-dev libcurl4-openssl-dev libnl-3-dev libnl-route-3-dev libpcap-dev check
iproute2 iputils-ping iperf3 tcpdump procps curl
python3 python3-pytest python3-scapy python3-cram dnsmasq-base isc-dhcp-client
abigail-tools openvswitch-switch etcd-server etcd-client dpdk dpdk-dev
clang libclang-rt-dev llvm
containernetworking-plugins libvirt-clients pandoc man-db jq qemu-system-x86 busybox-static
"
[ $# -gt 0 ] && packages="$*"

missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: missing packages:$missing; run as root" >&2
        exit 1
    fi
    echo "install-deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The QEMU guest of tests/system/test_libvirt.py boots a Debian kernel
# taken from its package, which is only downloaded (into apt's cache), not
# installed on this machine.
kernel_deb() {
    ls /var/cache/apt/archives/linux-image-[0-9]*-amd64_*.deb >/dev/null 2>&1
}
if [ $# -eq 0 ] && [ "$(id -u)" -eq 0 ] && ! kernel_deb; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --download-only linux-image-amd64 >/dev/null 2>&1 ||
        { apt-get update -qq &&
            apt-get install -y -qq --download-only linux-image-amd64 >/dev/null; } ||
        echo "install-deps: could not download a kernel for the QEMU test" >&2
fi
