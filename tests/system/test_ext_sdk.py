"""The extension SDK as a third party uses it (docs/extensions.md).

The build tree is installed to a temporary prefix; the hello example
(extensions/sdk/example) is copied to an empty directory and built there
out of tree, once with CMake (find_package(vswitch-extension)) and once
with a plain cc command line from pkg-config.  Each plugin must export
exactly the descriptor, reference no sanitizer runtime, and load into a
real daemon, count traffic and show it in `ext stats`.  The in-tree
samples get the same symbol checks, on whichever build (release or
ASan+UBSan) is under test.
"""

import os
import re
import shutil
import subprocess

import pytest

from conftest import BUILD, TOP, add_vm, ping, sh

EXAMPLE = TOP / "extensions" / "sdk" / "example"
SAMPLES = ["pcap-capture", "dnsblock", "static-forward"]


def defined_symbols(so):
    out = sh(["nm", "-D", "--defined-only", str(so)]).stdout
    return sorted(line.split()[-1] for line in out.splitlines()
                  if line.strip())


def undefined_symbols(so):
    out = sh(["nm", "-D", "--undefined-only", str(so)]).stdout
    return [line.split()[-1] for line in out.splitlines() if line.strip()]


def check_plugin_symbols(so):
    assert defined_symbols(so) == ["vsw_extension_descriptor"], so
    bad = [s for s in undefined_symbols(so)
           if "asan" in s or "ubsan" in s or s.startswith("vsw_")]
    assert not bad, f"{so} needs {bad}"


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    """The build tree installed to a fresh prefix."""
    p = tmp_path_factory.mktemp("prefix")
    sh(["cmake", "--install", str(BUILD), "--prefix", str(p)], timeout=120)
    return p


def test_install_layout(prefix):
    assert (prefix / "include" / "vswitch" / "extension.h").is_file()
    assert (prefix / "share" / "vswitch" / "extension.map").is_file()
    cmake_dir = prefix / "share" / "cmake" / "vswitch-extension"
    for name in ("vswitch-extension-config.cmake",
                 "vswitch-extension-config-version.cmake",
                 "VswitchExtension.cmake"):
        assert (cmake_dir / name).is_file(), name
    assert (prefix / "share" / "pkgconfig" / "vswitch-extension.pc").is_file()
    for name in SAMPLES:
        so = prefix / "lib" / "vswitch" / "extensions" / f"{name}.so"
        assert so.is_file(), so
    res = sh(["pkg-config", "--modversion", "vswitch-extension"],
             env={**os.environ,
                  "PKG_CONFIG_PATH": str(prefix / "share" / "pkgconfig")})
    assert res.stdout.strip() == "1.1"


def build_with_cmake(prefix, tmp_path):
    src = tmp_path / "hello-src"
    shutil.copytree(EXAMPLE, src)
    # The tutorial's CMakeLists.txt is the short one.
    assert len((src / "CMakeLists.txt").read_text().splitlines()) <= 5
    bld = tmp_path / "hello-build"
    sh(["cmake", "-S", str(src), "-B", str(bld),
        f"-DCMAKE_PREFIX_PATH={prefix}"], timeout=120)
    sh(["cmake", "--build", str(bld)], timeout=120)
    return bld / "hello.so"


def build_with_pkg_config(prefix, tmp_path):
    src = tmp_path / "hello-pc"
    src.mkdir()
    shutil.copy(EXAMPLE / "hello.c", src)
    env = {**os.environ,
           "PKG_CONFIG_PATH": str(prefix / "share" / "pkgconfig")}
    sh("cc $(pkg-config --cflags --libs vswitch-extension) -Wall -Werror "
       "-shared -fPIC hello.c -o hello.so", cwd=src, env=env)
    return src / "hello.so"


def test_out_of_tree_cmake_build(prefix, tmp_path):
    so = build_with_cmake(prefix, tmp_path)
    check_plugin_symbols(so)


def test_out_of_tree_pkg_config_build(prefix, tmp_path):
    so = build_with_pkg_config(prefix, tmp_path)
    check_plugin_symbols(so)


def test_undefined_symbol_is_a_link_error(prefix, tmp_path):
    """-z defs: a plugin that calls into the daemon does not link."""
    src = tmp_path / "bad"
    src.mkdir()
    (src / "bad.c").write_text(
        (EXAMPLE / "hello.c").read_text().replace(
            "free(ext_data);", "extern void vsw_log(int, const char *, ...);"
            " vsw_log(0, \"x\"); free(ext_data);"))
    env = {**os.environ,
           "PKG_CONFIG_PATH": str(prefix / "share" / "pkgconfig")}
    res = sh("cc $(pkg-config --cflags --libs vswitch-extension) "
             "-shared -fPIC bad.c -o bad.so", cwd=src, env=env, check=False)
    assert res.returncode != 0
    assert "vsw_log" in res.stderr


@pytest.mark.parametrize("name", SAMPLES)
def test_samples_export_only_the_descriptor(name):
    check_plugin_symbols(BUILD / "extensions" / "samples" / f"{name}.so")


@pytest.mark.parametrize("how", ["cmake", "pkg-config"])
def test_out_of_tree_plugin_loads_and_counts(how, prefix, tmp_path, daemon,
                                             topo):
    so = (build_with_cmake if how == "cmake" else build_with_pkg_config)(
        prefix, tmp_path)
    loaded = daemon.ctl("ext", "load", so)
    assert (loaded["name"], loaded["class"], loaded["state"]) == (
        "hello", "capture", "ready")
    daemon.rpc("switch.add", name="sw0")
    a, _ = add_vm(daemon, topo, "sw0", "a", "198.18.40.1")
    add_vm(daemon, topo, "sw0", "b", "198.18.40.2")
    daemon.ctl("ext", "enable", "sw0", "hello", json_out=False)
    (ext,) = daemon.rpc("ext.list")["extensions"]
    assert ext["path"] == str(so)
    assert ext["abi"] == "1.1"
    assert [s["switch"] for s in ext["switches"]] == ["sw0"]
    assert ping(a, "198.18.40.2", count=3)
    (stats,) = daemon.ctl("ext", "stats", "hello")["stats"]
    # Three requests and three replies at least, plus ARP.
    assert stats["ext"]["packets"] >= 6, stats
    # The host counts what it handed over in both directions; hello
    # counts ingress only.
    assert stats["packets"] > stats["ext"]["packets"], stats
    assert stats["aborted"] == stats["errors"] == stats["refused"] == 0


def test_plugin_in_extension_dir_loads_at_start(prefix, tmp_path,
                                                daemon_factory):
    so = build_with_pkg_config(prefix, tmp_path)
    extdir = tmp_path / "extdir"
    extdir.mkdir()
    shutil.copy(so, extdir / "hello.so")
    d = daemon_factory(start=False)
    d.start("--extension-dir", str(extdir))
    (ext,) = d.rpc("ext.list")["extensions"]
    assert (ext["name"], ext["state"]) == ("hello", "ready")


def test_installed_samples_load(prefix, daemon):
    for name in SAMPLES:
        so = prefix / "lib" / "vswitch" / "extensions" / f"{name}.so"
        assert daemon.ctl("ext", "load", so)["state"] == "ready"
    names = {e["name"] for e in daemon.rpc("ext.list")["extensions"]}
    assert names == set(SAMPLES)


def sanitizers(text):
    return set(re.findall(r"-fsanitize=([a-z,]+)", text))


def test_compiler_flags_of_the_helper():
    """The samples were built without the daemon's ASan and UBSan flags
    (a TSan build instruments them on purpose: see VswitchExtension.cmake)
    and with the project's warnings."""
    flags = ""
    for name in SAMPLES:
        path = BUILD / "extensions" / "CMakeFiles" / f"{name}.dir" / \
            "flags.make"
        if path.exists():
            flags = path.read_text()
            assert sanitizers(flags) <= {"thread"}, name
            assert "-Wall" in flags and "-fvisibility=hidden" in flags
        link = path.with_name("link.txt")
        if link.exists():
            text = link.read_text()
            assert sanitizers(text) <= {"thread"}, name
            assert "-z,defs" in text and "--version-script" in text, name
    if not flags:
        pytest.skip("not a Makefile build tree")


def test_cmake_package_version_check(prefix, tmp_path):
    """find_package(vswitch-extension 2.0) refuses a 1.x SDK."""
    src = tmp_path / "v2"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.18)\nproject(v2 C)\n"
        "find_package(vswitch-extension 2.0 REQUIRED)\n")
    res = subprocess.run(["cmake", "-S", str(src), "-B", str(tmp_path / "b"),
                          f"-DCMAKE_PREFIX_PATH={prefix}"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0
    assert "1.1" in res.stderr
