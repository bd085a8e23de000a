"""Output formats: kernel-audit text (checked field by field and by ausearch) and JSON lines."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracer.events import SyscallEvent
from tracer.formats import audit_text, jsonl
from tracer.syscall_table import AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, syscall_number

# kernel/auditsc.c audit_log_exit() + audit_log_task_info(), in the kernel's order
SYSCALL_RE = re.compile(
    r"^type=SYSCALL msg=audit\((?P<secs>\d+)\.(?P<ms>\d{3}):(?P<serial>\d+)\): "
    r"arch=(?P<arch>[0-9a-f]+) syscall=(?P<syscall>\d+) success=(?P<success>yes|no) exit=(?P<exit>-?\d+) "
    r"a0=(?P<a0>[0-9a-f]+) a1=(?P<a1>[0-9a-f]+) a2=(?P<a2>[0-9a-f]+) a3=(?P<a3>[0-9a-f]+) items=(?P<items>\d+) "
    r"ppid=(?P<ppid>\d+) pid=(?P<pid>\d+) auid=(?P<auid>\d+) uid=(?P<uid>\d+) gid=(?P<gid>\d+) "
    r"euid=(?P<euid>\d+) suid=(?P<suid>\d+) fsuid=(?P<fsuid>\d+) egid=(?P<egid>\d+) sgid=(?P<sgid>\d+) "
    r"fsgid=(?P<fsgid>\d+) tty=(?P<tty>\S+) ses=(?P<ses>\d+) comm=(?P<comm>\"[^\"]*\"|[0-9A-F]+) "
    r"exe=(?P<exe>\"[^\"]*\"|[0-9A-F]+|\(null\)) key=(?P<key>\"[^\"]*\"|[0-9A-F]+|\(null\))$"
)
PATH_RE = re.compile(
    r"^type=PATH msg=audit\((?P<secs>\d+)\.(?P<ms>\d{3}):(?P<serial>\d+)\): "
    r"item=(?P<item>\d+) name=(?P<name>\"[^\"]*\"|[0-9A-F]+|\(null\)) nametype=(?P<nametype>[A-Z]+)$"
)


def event(**kw) -> SyscallEvent:
    base = dict(
        time=1700000000.5, serial=42, arch=AUDIT_ARCH_X86_64, syscall=syscall_number("x86_64", "openat"),
        syscall_name="openat", success=True, exit=3,
        args=[0xFFFFFF9C, 0x7FFD12345678, 0x80000, 0, 0xDEAD, 0xFFFFFFFFFFFFFFFF],
        ppid=1, pid=4242, tid=4243, auid=1000, uid=1, gid=2, euid=3, suid=4, fsuid=5, egid=6, sgid=7,
        fsgid=8, ses=9, tty="pts0", comm="cat", exe="/usr/bin/cat", key="files", rule=0,
        paths=["/etc/passwd"], enter_ns=10_000, exit_ns=12_500, cpu=1, seq=77,
    )
    base.update(kw)
    return SyscallEvent(**base)


def decode_untrusted(s: str):
    """What ausearch -i does with a logged untrusted string."""
    if s == "(null)":
        return None
    if s.startswith('"'):
        return s[1:-1]
    return bytes.fromhex(s).decode("utf-8", "surrogateescape")


def test_syscall_record_field_by_field():
    ev = event()
    lines = audit_text.format_event(ev).splitlines()
    m = SYSCALL_RE.match(lines[0])
    assert m, lines[0]
    g = m.groupdict()
    assert (int(g["secs"]), int(g["ms"]), int(g["serial"])) == (1700000000, 500, 42)
    assert int(g["arch"], 16) == ev.arch and g["arch"] == "c000003e"
    assert int(g["syscall"]) == ev.syscall and g["success"] == "yes" and int(g["exit"]) == 3
    assert [int(g[f"a{i}"], 16) for i in range(4)] == ev.args[:4]
    assert int(g["items"]) == len(ev.paths)
    for name in ("ppid", "pid", "auid", "uid", "gid", "euid", "suid", "fsuid", "egid", "sgid", "fsgid", "ses"):
        assert int(g[name]) == getattr(ev, name), name
    assert g["tty"] == "pts0"
    assert [decode_untrusted(g[k]) for k in ("comm", "exe", "key")] == ["cat", "/usr/bin/cat", "files"]
    assert audit_text.format_event(ev).endswith("\n")


def test_failed_call_unset_ids_and_negative_args():
    ev = event(success=False, exit=-13, auid=4294967295, ses=4294967295, args=[-1, -100, 0, 1, 0, 0],
               tty="(none)", key=None, exe=None, paths=[])
    lines = audit_text.format_event(ev).splitlines()
    assert len(lines) == 1
    g = SYSCALL_RE.match(lines[0]).groupdict()
    assert g["success"] == "no" and g["exit"] == "-13"
    assert g["auid"] == g["ses"] == "4294967295"
    # a0..a3 are unsigned longs in the kernel's %lx
    assert g["a0"] == "ffffffffffffffff" and g["a1"] == "ffffffffffffff9c"
    assert g["tty"] == "(none)" and g["key"] == "(null)" and g["exe"] == "(null)" and g["items"] == "0"


@pytest.mark.parametrize("value,logged", [
    ("cat", '"cat"'),
    ("a b", "612062"),
    ('say"hi', "736179226869"),
    ("tab\there", "7461620968657265"),
    ("nl\n", "6E6C0A"),
    ("café", "636166C3A9"),
    ("~!", '"~!"'),
    ("\x7f", "7F"),
    ("one\x01two", "6F6E650174776F"),
])
def test_untrusted_strings_are_quoted_or_hex(value, logged):
    assert audit_text.untrusted(value) == logged
    assert decode_untrusted(logged) == value


def test_undecodable_bytes_are_logged_as_the_original_bytes():
    raw = b"/tmp/\xff"
    name = raw.decode("utf-8", "surrogateescape")
    assert audit_text.untrusted(name) == raw.hex().upper()


U32 = st.integers(0, 2**32 - 1)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@given(ids=st.lists(U32, min_size=12, max_size=12), exit=st.integers(-2**63, 2**63 - 1),
       args=st.lists(st.integers(0, 2**64 - 1), min_size=6, max_size=6), comm=TEXT,
       exe=st.none() | TEXT, key=st.none() | TEXT, paths=st.lists(TEXT, max_size=2))
def test_any_event_formats_to_records_that_parse_back(ids, exit, args, comm, exe, key, paths):
    names = ("ppid", "pid", "auid", "uid", "gid", "euid", "suid", "fsuid", "egid", "sgid", "fsgid", "ses")
    ev = event(exit=exit, args=args, comm=comm, exe=exe, key=key, paths=paths, **dict(zip(names, ids)))
    text = audit_text.format_event(ev)
    lines = text.splitlines()
    assert text.count("\n") == len(lines) == 1 + len(paths)  # no field breaks a record's line
    g = SYSCALL_RE.match(lines[0]).groupdict()
    assert [int(g[n]) for n in names] == ids and int(g["exit"]) == exit
    assert [int(g[f"a{i}"], 16) for i in range(4)] == args[:4]
    assert [decode_untrusted(g[k]) for k in ("comm", "exe", "key")] == [comm, exe, key]
    assert [decode_untrusted(PATH_RE.match(line).group("name")) for line in lines[1:]] == paths


def test_path_records_one_per_name_with_the_same_msg_id():
    ev = event(paths=["/etc/passwd", "/tmp/new file"], syscall_name="renameat")
    lines = audit_text.format_event(ev).splitlines()
    assert len(lines) == 3
    ids = {re.search(r"msg=(audit\([^)]*\))", line).group(1) for line in lines}
    assert ids == {"audit(1700000000.500:42)"}
    assert SYSCALL_RE.match(lines[0]).group("items") == "2"
    for i, (line, path) in enumerate(zip(lines[1:], ev.paths)):
        g = PATH_RE.match(line).groupdict()
        assert int(g["item"]) == i and decode_untrusted(g["name"]) == path


@pytest.mark.parametrize("t,shown", [(1700000000.0, "1700000000.000"), (1700000000.25, "1700000000.250"),
                                     (1700000000.9995, "1700000000.999"), (12.125, "12.125")])
def test_msg_id_truncates_to_milliseconds_like_the_kernel(t, shown):
    assert audit_text.msg_id(event(time=t, serial=7)) == f"audit({shown}:7)"


def test_json_lines_round_trip_to_the_event():
    ev = event(paths=["/a", "/b c"], exe=None, key=None, comm="x y")
    line = jsonl.format_event(ev)
    assert line.endswith("\n") and "\n" not in line[:-1]
    d = json.loads(line)
    assert d.pop("duration_ns") == ev.exit_ns - ev.enter_ns == 2500
    assert set(d) == {f.name for f in dataclasses.fields(SyscallEvent)}
    assert SyscallEvent(**d) == ev


def test_json_lines_of_undecodable_paths_are_still_one_line():
    ev = event(paths=[b"/tmp/\xff".decode("utf-8", "surrogateescape")])
    line = jsonl.format_event(ev)
    assert json.loads(line)["paths"][0].encode("utf-8", "surrogateescape") == b"/tmp/\xff"


def ausearch(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("ausearch") or shutil.which("ausearch", path="/usr/sbin:/sbin")
    assert exe, "ausearch is missing: install auditd (sudo scripts/setup, or apt-get install auditd)"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=30)


def test_ausearch_reads_the_records(tmp_path):
    log = tmp_path / "trail.log"
    events = [
        event(serial=1, pid=5001, comm="cat"),
        event(serial=2, pid=5002, time=1700000001.25, syscall=syscall_number("x86_64", "unlink"),
              syscall_name="unlink", success=False, exit=-2, comm="rm me", key=None),
        event(serial=3, pid=5003, time=1700000002.0, arch=AUDIT_ARCH_I386,
              syscall=syscall_number("i386", "openat"), comm="cat32", paths=["/tmp/a b"]),
    ]
    log.write_text("".join(audit_text.format_event(e) for e in events))

    r = ausearch("-if", str(log), "--raw", "-p", "5002")
    assert r.returncode == 0, r.stderr
    assert "audit(1700000001.250:2)" in r.stdout and ":1)" not in r.stdout and ":3)" not in r.stdout

    r = ausearch("-if", str(log), "--raw", "-sc", "openat")
    assert r.returncode == 0, r.stderr
    assert "audit(1700000000.500:1)" in r.stdout and ":2)" not in r.stdout
    # the PATH record travels with its SYSCALL record
    assert 'type=PATH msg=audit(1700000000.500:1): item=0 name="/etc/passwd"' in r.stdout

    r = ausearch("-if", str(log), "--raw", "-k", "files")
    assert r.returncode == 0 and ":2)" not in r.stdout and ":1)" in r.stdout

    r = ausearch("-if", str(log), "--raw", "--success", "no")
    assert r.returncode == 0 and ":2)" in r.stdout and ":1)" not in r.stdout

    # interpreted output undoes the hex encoding of untrusted strings
    r = ausearch("-if", str(log), "-i", "-p", "5002")
    assert r.returncode == 0 and "comm=rm me exe=/usr/bin/cat key=(null)" in r.stdout
    assert "syscall=unlink success=no exit=ENOENT" in r.stdout
    r = ausearch("-if", str(log), "-i", "-p", "5003")
    assert r.returncode == 0 and "name=/tmp/a b" in r.stdout and "arch=i386" in r.stdout

    # several keys travel joined by \x01, hex-encoded as the kernel logs them; ausearch splits them
    multi = tmp_path / "multi.log"
    multi.write_text(audit_text.format_event(event(serial=9, key="one\x01two")))
    assert multi.read_text().splitlines()[0].endswith(" key=6F6E650174776F")
    for k in ("one", "two"):
        r = ausearch("-if", str(multi), "--raw", "-k", k)
        assert r.returncode == 0 and ":9)" in r.stdout, (k, r.stderr)

    r = ausearch("-if", str(log), "--raw", "-p", "9999")
    assert r.returncode != 0
