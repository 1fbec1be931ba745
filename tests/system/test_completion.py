"""Bash completion of vswitch-ctl (packaging/bash-completion/vswitch-ctl),
sourced into a real bash and called the way bash calls it (COMP_WORDS,
COMP_CWORD, split at "=" as COMP_WORDBREAKS splits), against a running
daemon."""
import subprocess

from conftest import TOP, VSWITCH_CTL, unique

SCRIPT = TOP / "packaging" / "bash-completion" / "vswitch-ctl"


def complete(daemon, *words):
    """The completions bash would offer after 'words' (the last one is the
    word being completed)."""
    words = ["vswitch-ctl", "--socket", str(daemon.socket)] + list(words)
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = f"""
        PATH={VSWITCH_CTL.parent}:$PATH
        source {SCRIPT}
        complete -p vswitch-ctl >&2
        COMP_WORDS=({quoted})
        COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))
        _vswitch_ctl
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    res = subprocess.run(["bash", "--norc", "--noprofile", "-c", program],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == "complete -F _vswitch_ctl vswitch-ctl"
    return sorted(w for w in res.stdout.split("\n") if w)


def test_completion(daemon):
    sw, port = unique("sw"), unique("cp")
    daemon.rpc("switch.add", name=sw)
    daemon.rpc("port.add", switch=sw, name=port, type="tap",
               ifname=unique("vt"))

    # Nouns and verbs come from --help.
    nouns = complete(daemon, "")
    assert {"switch", "port", "acl", "trace", "help"} <= set(nouns)
    assert complete(daemon, "sw") == ["switch"]
    assert complete(daemon, "port", "") == sorted(
        ["add", "del", "set", "get", "list", "stats", "export", "import"])
    assert complete(daemon, "--format", "") == ["json", "table"]

    # Names come from the daemon.
    assert sw in complete(daemon, "switch", "get", "")
    assert complete(daemon, "port", "set", port[:-1]) == [port]
    assert complete(daemon, "acl", "list", "") == [port]
    assert complete(daemon, "port", "add", sw[:-1]) == [sw]

    # Setting keys and enum/boolean values come from schema.get.
    keys = complete(daemon, "port", "set", port, "")
    assert {"vlan-mode=", "dhcp-guard=", "max-bandwidth="} <= set(keys)
    assert "mac-ageing=" not in keys
    assert complete(daemon, "switch", "set", sw, "mac-a") == ["mac-ageing="]
    # bash splits "vlan-mode=ac" into three words.
    assert complete(daemon, "port", "set", port, "vlan-mode", "=",
                    "ac") == ["access"]
    assert complete(daemon, "port", "set", port, "dhcp-guard",
                    "=") == ["false", "true"]
    # Chained commands start over after "--".
    assert complete(daemon, "switch", "list", "--", "po") == ["port"]

    # A daemon that does not answer: names just do not complete.
    daemon.stop()
    assert complete(daemon, "port", "set", "") == []
    assert complete(daemon, "sw") == ["switch"]
