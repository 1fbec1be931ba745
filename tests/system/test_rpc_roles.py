"""Who may use the management socket: --rpc-group administers,
--rpc-readonly-group may only call the methods that read, everyone else is
turned away; checked with real users and groups running vswitch-ctl."""

import contextlib
import grp
import json
import os
import pwd
import re
import shutil
import stat
import tempfile

import pytest

from conftest import VSWITCH_CTL, VSWITCHD, TOP, sh, unique, wait_for

# Runs alone in scripts/test.sh: it adds users and groups, and useradd refuses
# while another holds /etc/passwd's lock.
pytestmark = pytest.mark.serial


def _remove_principals(users, groups):
    for user in users:
        sh(["userdel", user], check=False)
    for group in groups:
        sh(["groupdel", group], check=False)


@pytest.fixture
def principals():
    """Groups 'admins' and 'readers' and users 'admin' (admins as a
    supplementary group), 'reader' (readers as its primary group) and
    'other' (neither), all removed at the end even on failure."""
    names = {
        "admins": unique("vsga"), "readers": unique("vsgr"),
        "admin": unique("vsua"), "reader": unique("vsur"),
        "other": unique("vsuo"),
    }
    users = [names["admin"], names["reader"], names["other"]]
    groups = [names["admins"], names["readers"]]
    try:
        for group in groups:
            sh(["groupadd", group])
        sh(["useradd", "-M", "-N", "-g", "nogroup", "-G", names["admins"],
            names["admin"]])
        sh(["useradd", "-M", "-N", "-g", names["readers"], names["reader"]])
        sh(["useradd", "-M", "-N", "-g", "nogroup", names["other"]])
        yield names
    finally:
        # Users first: a group that is somebody's primary group stays.
        _remove_principals(users, groups)


@pytest.fixture
def socket_dir():
    """A directory every user can pass through (pytest's tmp_path is 0700
    for root), for the socket."""
    path = tempfile.mkdtemp(prefix="vsw-roles-")
    os.chmod(path, 0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_user(user, daemon, *args):
    """Runs vswitch-ctl as 'user' with that user's groups."""
    return sh(["setpriv", "--reuid", user, "--regid",
               str(pwd.getpwnam(user).pw_gid), "--init-groups", "--",
               str(VSWITCH_CTL), "--socket", str(daemon.socket), *args],
              check=False)


def start_with_roles(daemon_factory, principals, socket_dir):
    d = daemon_factory(start=False)
    d.socket = os.path.join(socket_dir, "vswitchd.sock")
    d.start("--socket", d.socket, "--rpc-group", principals["admins"],
            "--rpc-readonly-group", principals["readers"])
    return d


def switch_names(daemon):
    return sorted(s["name"] for s in daemon.rpc("switch.list")["switches"])


def test_roles_for_real_users(daemon_factory, principals, socket_dir):
    d = start_with_roles(daemon_factory, principals, socket_dir)
    st = os.stat(d.socket)
    assert grp.getgrgid(st.st_gid).gr_name == principals["admins"]
    assert stat.S_IMODE(st.st_mode) == 0o660

    admin, reader = principals["admin"], principals["reader"]
    sw = unique("sw")

    # The administrators' group changes the configuration.
    res = as_user(admin, d, "switch", "add", sw)
    assert res.returncode == 0, res.stderr
    res = as_user(admin, d, "switch", "set", sw, "mac-ageing=120")
    assert res.returncode == 0, res.stderr
    assert sw in switch_names(d)

    # The readers see everything...
    for args in (["switch", "list"], ["show"], ["status"], ["methods"],
                 ["fdb", "show", sw], ["switch", "get", sw]):
        res = as_user(reader, d, "--format", "json", *args)
        assert res.returncode == 0, (args, res.stderr)
        json.loads(res.stdout)
    # ...and change nothing.
    reader_uid = pwd.getpwnam(reader).pw_uid
    before = d.rpc("switch.get", name=sw)
    for args, method in ((["switch", "add", unique("sw")], "switch.add"),
                         (["switch", "set", sw, "mac-ageing=30"],
                          "switch.set"),
                         (["switch", "del", sw], "switch.del"),
                         (["fdb", "flush", sw], "fdb.flush")):
        res = as_user(reader, d, *args)
        assert res.returncode != 0, args
        assert (f"permission denied: {method} changes the configuration; "
                f"uid {reader_uid} is read-only") in res.stderr, res.stderr
    assert switch_names(d) == [sw]
    assert d.rpc("switch.get", name=sw) == before

    # Anybody else cannot even connect: the socket file keeps them out.
    res = as_user(principals["other"], d, "status")
    assert res.returncode != 0
    assert "Permission denied" in res.stderr, res.stderr

    # Every mutating call is in the log with who made it and how it went;
    # the reads are not.
    admin_uid = pwd.getpwnam(admin).pw_uid
    log = d.log.read_text()
    assert re.search(rf"rpc: uid {admin_uid} pid \d+: switch.add ok", log)
    assert re.search(rf"rpc: uid {admin_uid} pid \d+: switch.set ok", log)
    assert re.search(rf"rpc: uid {reader_uid} pid \d+: switch.add refused "
                     r"\(read-only\)", log)
    assert not re.search(rf"uid {reader_uid} pid \d+: switch.list", log)

    res = as_user(admin, d, "switch", "add", sw)
    assert res.returncode != 0
    assert re.search(rf"rpc: uid {admin_uid} pid \d+: switch.add failed: ",
                     d.log.read_text())
    assert as_user(admin, d, "switch", "del", sw).returncode == 0
    assert switch_names(d) == []


def test_every_method_is_classified_and_enforced(daemon_factory, principals,
                                                 socket_dir):
    """Each registered method says whether it only reads; a reader is
    refused exactly the ones that do not, and the document marks each one
    as the daemon does."""
    d = start_with_roles(daemon_factory, principals, socket_dir)
    methods = d.rpc("system.methods")["methods"]
    names = [m["name"] for m in methods]
    assert len(names) == len(set(names)) and len(names) > 40
    unclassified = [m for m in methods if m["access"] not in ("read", "write")]
    assert not unclassified

    reader = principals["reader"]
    for m in methods:
        res = as_user(reader, d, "call", m["name"], "{}")
        refused = "changes the configuration" in res.stderr
        assert refused == (m["access"] == "write"), (m, res.stderr)
    assert d.running()

    doc = (TOP / "docs" / "jsonrpc.md").read_text()
    marked = dict(re.findall(r"^\| `([\w.-]+)` +\| (read|write) +\|", doc,
                             re.M))
    assert marked == {m["name"]: m["access"] for m in methods}, \
        "docs/jsonrpc.md's access table differs from system.methods"


def test_readers_alone(daemon_factory, principals, socket_dir):
    """With only --rpc-readonly-group, the socket belongs to that group."""
    d = daemon_factory(start=False)
    d.socket = os.path.join(socket_dir, "vswitchd.sock")
    d.start("--socket", d.socket, "--rpc-readonly-group",
            principals["readers"])
    st = os.stat(d.socket)
    assert grp.getgrgid(st.st_gid).gr_name == principals["readers"]
    assert as_user(principals["reader"], d, "status").returncode == 0
    res = as_user(principals["reader"], d, "switch", "add", unique("sw"))
    assert "read-only" in res.stderr
    # A member of the administrators' group is nobody here.
    res = as_user(principals["admin"], d, "status")
    assert res.returncode != 0
    assert switch_names(d) == []


def test_unknown_group_is_refused(tmp_path):
    state = tmp_path / "state"
    res = sh([str(VSWITCHD), "--state-dir", str(state), "--rpc-group",
              "vsw-no-such-group"], check=False)
    assert res.returncode == 1
    assert "--rpc-group: no group named 'vsw-no-such-group'" in res.stderr
    assert not (state / "vswitchd.sock").exists()
    res = sh([str(VSWITCHD), "--state-dir", str(state), "--rpc-group",
              "root", "--rpc-readonly-group", "root"], check=False)
    assert res.returncode == 1
    assert "--rpc-readonly-group" in res.stderr
