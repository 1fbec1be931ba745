#!/usr/bin/env python3
"""Turns the ```console blocks of a Markdown file into a cram test.

The runner is cram (Debian's python3-cram); this is only the glue that
lifts the commands and their output out of the Markdown, so that the
documents stay readable and the test is exactly what they show.

The convention, in the Markdown:

- A block fenced ```console is run, in order with the others of the file.
  A line starting with '$ ' is a command; the lines after it, up to the
  next command, are its output (stdout and stderr together), compared
  line by line.  A command continues on the next lines while its quotes
  are open, its line ends in a backslash, or a here-document ('<<EOF')
  is not closed yet.  A last output line '[N]' is the exit status, shown
  when it is not 0.
- A block fenced ```json that holds a JSON-RPC request (an object with
  "jsonrpc" and "method"), and that is followed at once by a second
  ```json block holding a response (an object with "result" or "error"),
  is a request/response pair (docs/jsonrpc.md): it is run, in order with
  the ```console blocks, by sending the request to the daemon at
  $VSWITCH_SOCKET with tests/guide/rpc.py, whose output (the response,
  pretty-printed with a 2-space indent, the daemon's key order kept) is
  compared with the second block line by line, like a command's output.
- A block whose info string names a file, such as ```c file=hello.c,
  is written to that file (relative to the current directory of the
  commands), in order with the commands: the tutorial of
  docs/extensions.md builds the very source the reader sees.
- Blocks fenced otherwise (```sh, ```text, ```, a lone ```json block, or
  one whose info string says more than "json", such as ```json not run:
  REASON) are not run.
- Values that change from run to run are matched by pattern, so that the
  documents can show the real output:
  * automatically, by the rules in VARYING below (timestamps, ping
    times, interface indexes, namespace inodes, process ids, ...);
  * explicitly, with cram's own suffixes: an output line ending in
    ' (re)' is a Python regular expression, one ending in ' (glob)' a
    glob ('*' any text, '?' one character).  Keep them few.

Usage: mdcram.py [--cd DIR] FILE.md OUT.t
                                    write the cram test (that first
                                    changes to DIR)
       mdcram.py --update FILE.md OUT.t.err
                                    copy the output cram saw for each
                                    mismatching command back into FILE.md
                                    (for reviewing with git diff)
"""
import json
import os
import re
import shlex
import sys

RPC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rpc.py")

# (regular expression in the document's text, pattern that replaces it)
VARYING = [
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
    (r"(?<=time=)[0-9.]+ ms", r"[0-9.]+ ms"),
    (r"(?<=, time )\d+ms", r"\d+ms"),
    # A reply slower than the interval (a loaded machine, a neighbour
    # still being resolved) makes ping add how many were in flight.
    (r"(?<=rtt min/avg/max/mdev = )[0-9./]+ ms", r"[0-9./]+ ms(, pipe \d+)?"),
    (r"^\d\d:\d\d:\d\d\.\d{6}(?= )", r"\d\d:\d\d:\d\d\.\d{6}"),
    (r"net:\[\d+\]", r"net:\[\d+\]"),
    (r"^\d+(?=: \S+: <)", r"\d+"),
    (r"(?<=^pid        )\d+$", r"\d+"),
    (r"(?<=^uptime     )\d+$", r"\d+"),
    (r"(?<=^real\t)\S+$", r"\S+"),
    (r"(?<=^user\t)\S+$", r"\S+"),
    (r"(?<=^sys\t)\S+$", r"\S+"),
    # Counters.  The VMs' own chatter (ARP and IPv6 neighbour discovery,
    # MLD, router solicitations, DHCP retries) adds frames at moments no
    # guide can fix, so counts are matched as numbers; what is counted
    # under which name stays exact.
    # 'port stats': a port's row
    (r"^\S+ +\d+ +\d+ +\d+ +\d+ +\d+$",
     lambda m: re.escape(m.group().split()[0]) + r"(?: +\d+){5}"),
    # 'port stats': a shaper queue's depth
    (r"(?<=^  shaper queue )(?:out|in): \d+ frames, \d+ bytes$",
     lambda m: re.escape(m.group().split(":")[0]) + r": \d+ frames, \d+ bytes"),
    # 'port stats': a drop reason's count
    (r"(?<=^  drop )[a-z0-9-]+: \d+$",
     lambda m: re.escape(m.group().split(":")[0]) + r": \d+"),
    # 'port stats -f json': the totals
    (r'"(?:rx-packets|rx-bytes|tx-packets|tx-bytes|drops-total|'
     r'mirror-tx-packets|mirror-tx-bytes'
     r'|queued-(?:out|in)-(?:frames|bytes))": \d+',
     lambda m: re.escape(m.group().split(":")[0]) + r": \d+"),
    # docs/jsonrpc.md: what the daemon counts or measures, and its pid
    (r'(?<=")(?:pid|uptime|batches|packets|bytes|cache-lookups|cache-hits|used'
     r'|age|pps|time-ns|injected|bps-1s|pps-1s|bps-10s|pps-10s)": \d+',
     lambda m: re.escape(m.group().split(":")[0]) + r": \d+"),
    # 'team show -f json' and team.show: rates, utilization, counts
    (r'(?<=")(?:rx-bps|tx-bps|utilization|announced|failovers'
     r'|rx-lacpdus|tx-lacpdus)": \d+',
     lambda m: re.escape(m.group().split(":")[0]) + r": \d+"),
    # 'team show': a member's row (name, state, carrier, standby and
    # speed exact, then counters, rates and utilization)
    (r"^\S+ +(?:active|standby|inactive|down) +(?:on|off) +(?:on|off)"
     r" +(?:\d+|-)(?: +\d+){6} +(?:\d+|-)$",
     lambda m: r" +".join(re.escape(w) for w in m.group().split()[:5])
     + r"(?: +\d+){6} +(?:\d+|-)"),
    (r"^(?:failovers|announced) +\d+$",
     lambda m: re.escape(m.group().split()[0]) + r" +\d+"),
    (r'(?<=")(?:load|cpu)": \d[0-9.eE+-]*',
     lambda m: re.escape(m.group().split(":")[0]) + r": \d[0-9.eE+-]*"),
    # 'ext stats' (extensions.md): a row's packets, time and the
    # extension's own figures, which the VMs' ARP makes vary
    (r"^\S+ +\S+ +(?:on|off) +\d+(?: +\d+){4} +\d+ +\d+  \{.*\}$",
     lambda m: (lambda g: re.escape(g[1]) + r" +\d+" + re.escape(g[2])
                + r" +\d+  " + re.sub(r"\d+", r"\\d+", re.escape(g[3])))(
         re.match(r"^(\S+ +\S+ +(?:on|off)) +\d+((?: +\d+){5}) +\d+  (.*)$",
                  m.group()))),
    # 'nm': a symbol's address
    (r"^[0-9a-f]{16}(?= [A-Za-z] )", r"[0-9a-f]{16}"),
    # 'ls -l': a file's time
    (r"(?<= )[A-Z][a-z]{2} +\d+ \d\d:\d\d(?= )",
     r"[A-Z][a-z]{2} +\d+ \d\d:\d\d"),
    # 'status': a bounded table's row, whose use varies with the traffic
    # and the VMs' chatter (table, owner, unit, bound and full exact)
    (r"^[a-z][a-z-]+ +(?:daemon|connection|(?:switch|port|worker|capture):"
     r"\S+) +[a-z]+ +\d+ +\d+ +\d+$",
     lambda m: (lambda w: re.escape(w[0]) + r" +" + re.escape(w[1]) + r" +"
                + re.escape(w[2]) + r" +\d+ +" + w[4] + r" +" + w[5])(
         m.group().split())),
    # RPC roles (user guide 26): the uid useradd gave, the pid of a
    # client in the daemon's log
    (r"(?<=uid )\d+(?= (?:pid \d+:|is read-only))", r"\d+"),
    (r"(?<= pid )\d+(?=: \S+ (?:ok|failed|refused))", r"\d+"),
    # dhclient: its random intervals
    (r"(?<=port 67 interval )\d+$", r"\d+"),
    (r"(?<=renewal in )\d+(?= seconds)", r"\d+"),
    # iperf3: a summary line's figures
    (r"(?<=\] ) *[0-9.]+-[0-9.]+ +sec .*$", r".*"),
    # tcpdump: what a TCP segment's header says, ICMP ids, the counts
    (r"(?<=: Flags \[)[^]]*\], .*$", r".*"),
    (r"(?<=\.)\d{4,5}(?= > \d)", r"\d+"),
    (r"(?<=, id )\d+(?=, seq)", r"\d+"),
    (r"^\d+(?= packets? (?:captured|received by filter))", r"\d+"),
    # 'ext stats': the time an extension took (its column widens)
    (r" +\d+(?=  \{)", r" +\d+"),
    # 'xacl list': a rule's packet and byte counts
    (r"^(?:in|out) +\d+  (?:allow|deny) .* +\d+ +\d+$",
     lambda m: re.escape(re.match(r"(.*\S) +\d+ +\d+$", m.group())[1])
     + r" +\d+ +\d+"),
    # 'dp show', 'status': a worker's row, all numbers; a queue's row,
    # whose worker, load and rate depend on the traffic and the kernel
    (r"^[ 0-9%]*\d[ 0-9%]*$", r"[ 0-9%]+"),
    (r"^ +\d+  \S+ +\d+ +\d+% +\d+  (?:on|off)$",
     lambda m: r" +\d+  " + re.escape(m.group().split()[1]) + r" +"
     + m.group().split()[2] + r" +\d+% +\d+  " + m.group().split()[-1]),
    (r"^\d+(?= packets? dropped by kernel)", r"\d+"),
    (r"(?<=^    mac-count: )\d+$", r"\d+"),
    # A table's headings: its columns widen with their values
    (r"^[A-Z][A-Z-]*(?: {2,}[A-Z][A-Z-]*)+$",
     lambda m: r" +".join(re.escape(w) for w in m.group().split())),
    # 'acl list': a rule's packet and byte counts (ND and MLD chatter of
    # the VMs counts on 'any' rules)
    (r"^ +\d+  (?:allow|deny|meter) .* +\d+ +\d+$",
     lambda m: re.escape(re.match(r"(.*\S) +\d+ +\d+$", m.group())[1])
     + r" +\d+ +\d+"),
    # 'metering show': a meter's counts and rates; JSON's megabytes
    (r"^(?:in|out) +(?:\d+|total) +\S+(?: \S+)? +(?:on|off)(?: +\d+){2}"
     r" +\d+\.\d\d(?: +\d+){4}$",
     lambda m: re.escape(re.match(r"(.* (?:on|off)) ", m.group())[1])
     + r"(?: +\d+){2} +\d+\.\d\d(?: +\d+){4}"),
    (r'"megabytes": "\d+\.\d\d"', r'"megabytes": "\d+\.\d\d"'),
    # 'tunnel show': a learned MAC's age
    (r"^ *\d+  [0-9a-f:]{17}  [0-9.]+ +\d+$",
     lambda m: re.escape(m.group().rsplit(" ", 1)[0].rstrip()) + r" +\d+"),
    # 'fdb show': an entry's age
    (r"^ +\d+  [0-9a-f:]{17}  \S+ +\d+$",
     lambda m: re.escape(m.group().rsplit(" ", 1)[0].rstrip()) + r" +\d+"),    # 'qos show': what the scheduler sent and holds, and its classes'
    # rows (name and minimum exact, then 7 figures)
    (r"^(?:tx-packets|tx-bytes|tx-errors|rate|buffers-free) +\d+$",
     lambda m: re.escape(m.group().split()[0]) + r" +\d+"),
    (r"^\S+ +\d+(?: +\d+){7}$",
     lambda m: re.escape(m.group().split()[0]) + r" +"
     + m.group().split()[1] + r"(?: +\d+){7}"),
]
VARYING_RE = re.compile("|".join(f"({p})" for p, _ in VARYING))
SUFFIXES = (" (re)", " (glob)", " (esc)")


def output_line(line):
    """The cram form of one output line of the document."""
    if line.endswith(SUFFIXES) or not VARYING_RE.search(line):
        return line
    out, pos = [], 0
    for m in VARYING_RE.finditer(line):
        out.append(re.escape(line[pos:m.start()]))
        pattern = VARYING[m.lastindex - 1][1]
        out.append(pattern(m) if callable(pattern) else pattern)
        pos = m.end()
    out.append(re.escape(line[pos:]))
    return "".join(out) + " (re)"


def complete(command):
    """Whether 'command' (maybe several lines) is a whole command."""
    heredoc = re.search(r"<<-?\s*'?\"?(\w+)", command)
    if heredoc:
        return command.split("\n")[-1] == heredoc.group(1) and "\n" in command
    if command.endswith("\\"):
        return False
    try:
        shlex.split(command, comments=True)
    except ValueError:
        return False
    return True


def json_block(lines, i):
    """The JSON value of the ```json block opening at line i, and the
    index of its closing fence; (None, end) if it is not JSON."""
    end = lines.index("```", i + 1)
    try:
        return json.loads("\n".join(lines[i + 1:end])), end
    except ValueError:
        return None, end


def json_pair(lines, i):
    """The command of the request/response pair opening at line i, or
    None if the ```json block there does not start one."""
    request, end = json_block(lines, i)
    if not (isinstance(request, dict) and "jsonrpc" in request
            and "method" in request):
        return None
    if end + 1 >= len(lines) or lines[end + 1] != "```json":
        return None
    response, end2 = json_block(lines, end + 1)
    if not (isinstance(response, dict)
            and ("result" in response or "error" in response)):
        return None
    text = "\n".join([f"/usr/bin/python3 {RPC} <<'EOF'"]
                     + lines[i + 1:end] + ["EOF"])
    return [text, lines[end + 2:end2], end + 2, end2]


def commands(path):
    """[(command, [output lines], first output line index, end index)]."""
    lines = open(path, encoding="utf-8").read().split("\n")
    result, i, in_console, fence = [], 0, False, None
    cmd = None
    while i < len(lines):
        line = lines[i]
        if fence is None:
            m = re.match(r"^(```+)(\S*)\s*$", line)
            f = re.match(r"^(```+)\S+ file=(\S+)\s*$", line)
            if f:
                end = lines.index(f.group(1), i + 1)
                text = "\n".join([f"cat > {shlex.quote(f.group(2))} "
                                  "<<'MDCRAM_FILE_EOF'"] + lines[i + 1:end]
                                 + ["MDCRAM_FILE_EOF"])
                result.append([text, [], end, end])
                i = end + 1
                continue
            if m and m.group(2) == "json":
                pair = json_pair(lines, i)
                if pair:
                    result.append(pair)
                    i = pair[3] + 1
                    continue
            if m:
                fence, in_console = m.group(1), m.group(2) == "console"
            elif line.startswith("```"):
                fence, in_console = re.match("`+", line).group(), False
            i += 1
            continue
        if line == fence:
            fence, in_console = None, False
            if cmd:
                cmd[3] = i
                result.append(cmd)
                cmd = None
            i += 1
            continue
        if not in_console:
            i += 1
            continue
        if line.startswith("$ "):
            if cmd:
                cmd[3] = i
                result.append(cmd)
            text = line[2:]
            while not complete(text):
                i += 1
                text += "\n" + lines[i]
            cmd = [text, [], i + 1, None]
        elif cmd:
            cmd[1].append(line)
        i += 1
    return lines, result


def write_test(md, out, cd=None):
    _, cmds = commands(md)
    with open(out, "w", encoding="utf-8") as f:
        f.write(f"Generated from {md} by tests/guide/mdcram.py.\n\n")
        if cd:
            f.write(f"Run from {cd}, as the document says.\n\n"
                    f"  $ cd {shlex.quote(cd)}\n")
        for text, output, _, _ in cmds:
            first, *rest = text.split("\n")
            f.write(f"  $ {first}\n")
            for r in rest:
                f.write(f"  > {r}\n")
            for o in output:
                f.write(f"  {output_line(o)}\n")


def matches(line, seen):
    """Whether the document's output 'line' accepts what cram 'seen'."""
    expected = output_line(line)
    if expected.endswith(" (re)"):
        return re.fullmatch(expected[:-5], seen) is not None
    if expected.endswith(" (glob)"):
        pattern = "".join(".*" if c == "*" else "." if c == "?" else
                          re.escape(c) for c in expected[:-7])
        return re.fullmatch(pattern, seen) is not None
    return line == seen


def parse_err(err):
    """The commands and outputs of a cram .err file, in order."""
    result = []
    for line in open(err, encoding="utf-8").read().split("\n"):
        if line.startswith("  $ "):
            result.append([line[4:], []])
        elif line.startswith("  > "):
            result[-1][0] += "\n" + line[4:]
        elif line.startswith("  ") and result:
            result[-1][1].append(line[2:])
    return result


def update(md, err):
    lines, cmds = commands(md)
    # The last ones: the test starts with the 'cd' write_test adds.
    seen = parse_err(err)[-len(cmds):] if cmds else []
    if len(seen) != len(cmds):
        sys.exit(f"{err}: {len(seen)} commands, {md}: {len(cmds)}")
    for (text, output, start, end), (_, got) in reversed(
            list(zip(cmds, seen))):
        got = [output[i] if i < len(output) and matches(output[i], g) else g
               for i, g in enumerate(got)]
        if got != output:
            lines[start:end] = got
    open(md, "w", encoding="utf-8").write("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1] == "--update":
        update(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "--cd":
        write_test(sys.argv[3], sys.argv[4], cd=sys.argv[2])
    else:
        write_test(sys.argv[1], sys.argv[2])
