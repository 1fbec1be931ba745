"""VMs from libvirt and QEMU (user guide §30): the domain XML the guide
gives is valid for libvirt (virt-xml-validate) and its test driver
defines it (virsh -c test:///default), and a real QEMU guest (TCG: a
Debian kernel and a busybox initramfs built here) on a TAP that QEMU
opened, attached to the switch as an uplink, answers a namespaced VM's
ping through the switch."""
import glob
import gzip
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import TOP, add_vm, ping, sh, unique, wait_for

GUIDE = TOP / "docs" / "user-guide.md"


def guide_domain_xml():
    """The <domain> of the guide's section on libvirt (its ```xml block)."""
    text = GUIDE.read_text()
    section = text[text.index("VMs from libvirt and QEMU"):]
    blocks = re.findall(r"```xml\n(.*?)```", section, re.S)
    assert blocks, "the guide shows no domain XML"
    return blocks[0]


@pytest.mark.skipif(not shutil.which("virsh"),
                    reason="libvirt-clients is not installed")
def test_guide_domain_xml_is_valid_and_defines(tmp_path):
    xml = tmp_path / "guest.xml"
    xml.write_text(guide_domain_xml())
    res = sh(["virt-xml-validate", str(xml), "domain"])
    assert "validates" in res.stdout + res.stderr
    # The test driver keeps its state in the virsh process: one session.
    res = sh(["virsh", "-c", "test:///default",
              f"define {xml}; dumpxml vsw-guest; domiflist vsw-guest"])
    out = res.stdout
    assert "<interface type='vhostuser'>" in out
    assert re.search(r"<source type='unix' path='[^']+' mode='client'/>",
                     out)
    assert "<interface type='ethernet'>" in out
    assert "<target dev='vmtap0' managed='no'/>" in out
    assert re.search(r"vhostuser\s+/\S+\.sock\s+virtio", out)
    assert re.search(r"vmtap0\s+ethernet", out)


# ---- A real guest. ----

GUEST_MODULES = ["virtio_ring", "virtio", "virtio_pci_modern_dev",
                 "virtio_pci_legacy_dev", "virtio_pci", "failover",
                 "net_failover", "virtio_net"]


def kernel_package():
    """A Debian linux-image .deb: $VSW_GUEST_KERNEL_DEB, or one apt
    downloaded (scripts/install-deps.sh does, without installing it)."""
    env = os.environ.get("VSW_GUEST_KERNEL_DEB")
    if env:
        return env
    debs = sorted(glob.glob(
        "/var/cache/apt/archives/linux-image-[0-9]*-amd64_*.deb"))
    return debs[-1] if debs else None


def build_guest(workdir, guest_ip):
    """Extracts the kernel and the virtio-net modules from the package and
    builds a busybox initramfs that configures eth0 and says so on the
    console.  Returns (kernel, initramfs)."""
    root = workdir / "pkg"
    root.mkdir()
    wanted = ["./boot/vmlinuz-*"] + [f"*/{m}.ko" for m in GUEST_MODULES]
    sh(f"dpkg-deb --fsys-tarfile {kernel_package()} | "
       f"tar -x -C {root} --wildcards " + " ".join(f"'{w}'" for w in wanted),
       timeout=120)
    kernel = next(root.glob("boot/vmlinuz-*"))

    initrd = workdir / "initrd"
    for d in ("bin", "lib", "proc", "sys", "dev"):
        (initrd / d).mkdir(parents=True)
    shutil.copy("/bin/busybox", initrd / "bin" / "busybox")
    for module in GUEST_MODULES:
        shutil.copy(next(root.rglob(f"{module}.ko")),
                    initrd / "lib" / f"{module}.ko")
    insmods = "\n".join(f"insmod /lib/{m}.ko" for m in GUEST_MODULES)
    (initrd / "init").write_text(f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
{insmods}
ip link set lo up
ip link set eth0 up
ip addr add {guest_ip}/24 dev eth0
echo GUEST-READY
while true; do sleep 3600; done
""")
    (initrd / "init").chmod(0o755)
    listing = sh(["find", "."], cwd=initrd).stdout
    archive = subprocess.run(["busybox", "cpio", "-o", "-H", "newc"],
                             input=listing.encode(), cwd=initrd,
                             capture_output=True, check=True).stdout
    initramfs = workdir / "initrd.gz"
    initramfs.write_bytes(gzip.compress(archive, 1))
    return kernel, initramfs


@pytest.mark.serial
@pytest.mark.skipif(not shutil.which("qemu-system-x86_64")
                    or not Path("/bin/busybox").exists()
                    or not kernel_package(),
                    reason="needs qemu-system-x86, busybox-static and a "
                           "linux-image .deb (scripts/install-deps.sh)")
def test_qemu_guest_on_tap_uplink(daemon, topo, tmp_path):
    kernel, initramfs = build_guest(tmp_path, "198.18.71.2")

    sw = unique("sw")
    daemon.rpc("switch.add", name=sw)
    # What libvirt's <target dev='...' managed='no'/> expects: a TAP that
    # exists before the guest starts.  The switch attaches to it like to
    # any uplink, before or after QEMU opens it.
    tap = topo.ifname("qt")
    sh(["ip", "tuntap", "add", "mode", "tap", "name", tap])
    sh(["ip", "link", "set", tap, "up"])
    port = unique("gp")
    daemon.rpc("port.add", switch=sw, name=port, type="uplink", ifname=tap)
    ns, _ = add_vm(daemon, topo, sw, unique("vm"), ip="198.18.71.1")

    console = tmp_path / "console.log"
    with open(console, "w") as out:
        qemu = subprocess.Popen(
            ["qemu-system-x86_64", "-machine", "q35,accel=tcg", "-m", "256",
             "-nographic", "-no-reboot", "-kernel", str(kernel),
             "-initrd", str(initramfs),
             "-append", "console=ttyS0 quiet panic=-1",
             "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
             "-device", "virtio-net-pci,netdev=n0,mac=02:00:00:00:71:02"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "GUEST-READY" in console.read_text()
                 or qemu.poll() is not None, timeout=150, interval=0.5)
        assert "GUEST-READY" in console.read_text(), console.read_text()
        assert wait_for(lambda: ping(ns, "198.18.71.2", count=1, timeout=2),
                        timeout=30)
        # The guest's frames came in through the uplink port.
        stats = daemon.rpc("port.get", name=port)
        assert stats["link"] == "up"
        macs = str(daemon.rpc("fdb.show", switch=sw))
        assert "02:00:00:00:71:02" in macs
    finally:
        qemu.kill()
        qemu.wait()
