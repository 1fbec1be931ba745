"""`cmake --install` into a temporary prefix: the programs run from there,
and the SDK, the systemd unit, the man pages, the bash completion, the CNI
plugin and the documents are where they belong."""

import os
import shutil
import subprocess

from conftest import BUILD, TOP


def test_install_into_a_prefix(tmp_path):
    prefix = tmp_path / "prefix"
    res = subprocess.run(["cmake", "--install", str(BUILD), "--prefix",
                          str(prefix)], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    version = (TOP / "CMakeLists.txt").read_text().split(
        "project(vswitch VERSION ", 1)[1].split()[0]
    for program, name in (("bin/vswitch-ctl", "vswitch-ctl"),
                          ("sbin/vswitchd", "vswitchd")):
        out = subprocess.run([str(prefix / program), "--version"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        words = out.stdout.split()
        assert words[0] == name and words[-1] == version, out.stdout
    for path in ("include/vswitch/extension.h",
                 "share/pkgconfig/vswitch-extension.pc",
                 "share/cmake/vswitch-extension/"
                 "vswitch-extension-config.cmake",
                 "share/vswitch/extension.map",
                 "lib/vswitch/extensions/static-forward.so",
                 "lib/systemd/system/vswitchd.service",
                 "share/man/man8/vswitchd.8",
                 "share/man/man8/vswitch-ctl.8",
                 "share/bash-completion/completions/vswitch-ctl",
                 "lib/cni/vswitch",
                 "share/doc/vswitch/README.md",
                 "share/doc/vswitch/user-guide.md",
                 "share/doc/vswitch/vswitchd.md"):
        assert (prefix / path).is_file(), path
    # The installed CNI plugin answers VERSION as a runtime asks it.
    out = subprocess.run([str(prefix / "lib/cni/vswitch")], input="{}",
                         capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, CNI_COMMAND="VERSION"))
    assert out.returncode == 0 and "1.0.0" in out.stdout, out
    # The unit names the vswitchd of this prefix.
    unit = (prefix / "lib/systemd/system/vswitchd.service").read_text()
    assert f"ExecStart={prefix}/sbin/vswitchd " in unit
    if shutil.which("systemd-analyze"):
        # The unit's Documentation= is man:vswitchd(8): checked against
        # the installed page when the install has one.
        man = prefix / "share" / "man"
        check_man = any(man.glob("man8/vswitchd.8*"))
        res = subprocess.run(["systemd-analyze", "verify",
                              "--man=yes" if check_man else "--man=no",
                              str(prefix / "lib/systemd/system/"
                                  "vswitchd.service")],
                             capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, MANPATH=str(man)))
        assert res.returncode == 0, res.stdout + res.stderr
    # The SDK is found through pkg-config from the prefix (relocatable).
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "share/pkgconfig"))
    cflags = subprocess.run(["pkg-config", "--cflags", "vswitch-extension"],
                            capture_output=True, text=True, env=env,
                            timeout=30)
    assert cflags.returncode == 0, cflags.stderr
    include = cflags.stdout.split()[0][2:]
    assert os.path.samefile(include, prefix / "include")
