"""JSON lines: field names, the text encoding of process-controlled bytes, sockaddr decoding, and
the round trip from_json_dict(to_json_dict(ev)) == ev that `top --replay` relies on."""

from __future__ import annotations

import dataclasses
import json
import socket
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.capture.events import SyscallEvent
from tracer.formats import jsonl
from tracer.syscall_table import AUDIT_ARCH_X86_64


def event(**kw) -> SyscallEvent:
    base = dict(
        time=1700000000.5, serial=42, arch=AUDIT_ARCH_X86_64, syscall=257, syscall_name="openat", success=True,
        exit=3, args=[0xFFFFFF9C, 0x7FFD12345678, 0x80000, 0, 0xDEAD, 0xFFFFFFFFFFFFFFFF],
        ppid=1, pid=4242, tid=4243, auid=1000, uid=1, gid=2, euid=3, suid=4, fsuid=5, egid=6, sgid=7,
        fsgid=8, ses=9, tty="pts0", comm="cat", exe="/usr/bin/cat", key="files", rule=0,
        paths=["/etc/passwd"], enter_ns=10_000, exit_ns=12_500, cpu=1, seq=77,
    )
    base.update(kw)
    return SyscallEvent(**base)


def round_trip(ev: SyscallEvent) -> SyscallEvent:
    line = jsonl.format_event(ev)
    assert line.endswith("\n") and "\n" not in line[:-1] and line.isascii()
    return jsonl.from_json_dict(json.loads(line))


def test_every_field_under_its_own_name():
    ev = event(paths=["/a", "/b c"], exe=None, key=None, comm="x y")
    d = json.loads(jsonl.format_event(ev))
    assert d.pop("duration_ns") == ev.exit_ns - ev.enter_ns == 2500
    assert d.pop("saddr") is None
    assert set(d) == {f.name for f in dataclasses.fields(SyscallEvent)}
    assert d["paths"] == ["/a", "/b c"] and d["exe"] is None and d["cut"] == [] and d["argv"] is None
    assert round_trip(ev) == ev


def test_a_whole_execve_event():
    ev = event(syscall=59, syscall_name="execve", argv=["ls", "-l", "caf\u00e9"], argc=3, cwd="/home/u",
               proctitle=b"ls\0-l\0caf\xc3\xa9", per=0x40000, cut=("path1",), paths=["/bin/ls", None])
    d = jsonl.to_json_dict(ev)
    assert d["argv"] == ["ls", "-l", "caf\u00e9"] and d["argc"] == 3 and d["cwd"] == "/home/u"
    assert d["proctitle"] == ["ls", "-l", "caf\u00e9"] and d["per"] == 0x40000 and d["cut"] == ["path1"]
    assert d["paths"] == ["/bin/ls", None]
    assert round_trip(ev) == ev


def test_bytes_that_are_not_utf8_become_hex_objects():
    bad = b"/tmp/\xff\xfe".decode("utf-8", "surrogateescape")
    ev = event(paths=[bad], comm=bad, exe=bad, cwd=bad, argv=[bad, "ok"], argc=2, proctitle=b"a\0\xff")
    line = jsonl.format_event(ev)
    assert "\\udc" not in line  # no lone surrogate reaches the output
    d = json.loads(line)
    assert d["paths"] == [{"hex": "2F746D702FFFFE"}] and d["comm"] == d["exe"] == d["cwd"] == d["paths"][0]
    assert d["argv"] == [{"hex": "2F746D702FFFFE"}, "ok"] and d["proctitle"] == ["a", {"hex": "FF"}]
    assert round_trip(ev) == ev


def test_a_lone_surrogate_no_decoder_made_never_raises():
    line = jsonl.format_event(event(comm="\ud800x", paths=["\udcff\ud9ff"]))
    assert json.loads(line)["comm"] == {"hex": "EDA08078"}


def inet6(addr: str, port: int, scope: int = 0) -> bytes:
    return (struct.pack("=H", socket.AF_INET6) + struct.pack(">H", port) + b"\0" * 4
            + socket.inet_pton(socket.AF_INET6, addr) + struct.pack("=I", scope))


@pytest.mark.parametrize("raw,decoded", [
    # the SOCKADDR records kernel audit wrote for connects to 127.0.0.1:9, [::1]:9 and "\0abs\xffname"
    (bytes.fromhex("020000097F0000010000000000000000"), {"family": "inet", "addr": "127.0.0.1", "port": 9}),
    (bytes.fromhex("0A000009000000000000000000000000000000000000000100000000"),
     {"family": "inet6", "addr": "::1", "port": 9}),
    (bytes.fromhex("010000616273FF6E616D65"), {"family": "local", "path": {"hex": "40616273FF6E616D65"}}),
    (b"\x01\x00\0abstract", {"family": "local", "path": "@abstract"}),
    (b"\x01\x00/run/x.sock\0\0\0", {"family": "local", "path": "/run/x.sock"}),
    (b"\x01\x00", {"family": "local", "path": ""}),  # unnamed
    (inet6("fe80::1", 443, scope=2), {"family": "inet6", "addr": "fe80::1%2", "port": 443}),
    (bytes.fromhex("0A0001BB") + b"\0" * 20, {"family": "inet6", "addr": "::", "port": 443}),  # 24: no scope
    (bytes.fromhex("02000009"), {"family": 2}),  # too short for its family
    (bytes.fromhex("0A00000900000000"), {"family": 10}),
    (bytes.fromhex("1000000000000000"), {"family": 16}),  # netlink: not decoded
    (b"\x02", {"family": None}),
    (b"", {"family": None}),
])
def test_sockaddr_decoded_for_people(raw, decoded):
    assert jsonl.decode_sockaddr(raw) == decoded
    ev = event(sockaddr=raw)
    d = json.loads(jsonl.format_event(ev))
    assert d["saddr"] == raw.hex().upper() and d["sockaddr"] == decoded
    assert round_trip(ev) == ev


@given(st.binary(max_size=130))
def test_sockaddr_decoding_never_fails(raw):
    decoded = jsonl.decode_sockaddr(raw)
    json.dumps(decoded)
    assert "family" in decoded


def test_an_old_recording_without_the_new_fields_still_reads():
    d = jsonl.to_json_dict(event())
    for name in ("per", "cwd", "proctitle", "argv", "argc", "saddr", "sockaddr", "cut"):
        del d[name]
    assert jsonl.from_json_dict(d) == event()


@pytest.mark.parametrize("field,value", [
    ("comm", 5), ("comm", {"hex": "zz"}), ("paths", "/a"), ("argv", [{"hox": "41"}]), ("saddr", 12),
    ("proctitle", "ab"),
])
def test_malformed_values_raise_value_error(field, value):
    d = jsonl.to_json_dict(event())
    d[field] = value
    with pytest.raises(ValueError):
        jsonl.from_json_dict(d)


RAW_TEXT = st.binary(max_size=24).map(lambda b: b.decode("utf-8", "surrogateescape"))


@settings(deadline=None)
@given(comm=RAW_TEXT, exe=st.none() | RAW_TEXT, key=st.none() | RAW_TEXT,
       paths=st.lists(st.none() | RAW_TEXT, max_size=3), cwd=st.none() | RAW_TEXT,
       argv=st.none() | st.lists(RAW_TEXT, max_size=4), proctitle=st.none() | st.binary(max_size=40),
       sockaddr=st.none() | st.binary(max_size=30), cut=st.lists(st.sampled_from(["argv", "path0", "exe"])),
       exit=st.integers(-2**63, 2**63 - 1), per=st.integers(0, 2**32 - 1))
def test_any_event_round_trips(comm, exe, key, paths, cwd, argv, proctitle, sockaddr, cut, exit, per):
    ev = event(comm=comm, exe=exe, key=key, paths=paths, cwd=cwd, argv=argv, argc=len(argv or ()) + 1,
               proctitle=proctitle, sockaddr=sockaddr, cut=tuple(cut), exit=exit, per=per)
    assert round_trip(ev) == ev
