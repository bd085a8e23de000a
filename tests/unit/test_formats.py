"""Kernel-audit text: every record type field by field, real kernel lines byte for byte, hostile
input, and ausearch reading the result. (JSON lines: test_formats_jsonl.py; EXECVE splitting:
test_formats_execve.py.)"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.capture.events import SyscallEvent
from tracer.formats import audit_text
from tracer.syscall_table import AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, syscall_number

_MSG = r"msg=audit\((?P<secs>\d+)\.(?P<ms>\d{3}):(?P<serial>\d+)\): "
_UNTRUSTED = r"\"[^\"]*\"|(?:[0-9A-F]{2})+|\(null\)"
# kernel/auditsc.c audit_log_exit() + audit_log_task_info(), in the kernel's order; bpfaudit_cut is ours
SYSCALL_RE = re.compile(
    r"^type=SYSCALL " + _MSG +
    r"arch=(?P<arch>[0-9a-f]+) syscall=(?P<syscall>\d+)(?: per=(?P<per>[0-9a-f]+))? "
    r"success=(?P<success>yes|no) exit=(?P<exit>-?\d+) "
    r"a0=(?P<a0>[0-9a-f]+) a1=(?P<a1>[0-9a-f]+) a2=(?P<a2>[0-9a-f]+) a3=(?P<a3>[0-9a-f]+) items=(?P<items>\d+) "
    r"ppid=(?P<ppid>\d+) pid=(?P<pid>\d+) auid=(?P<auid>\d+) uid=(?P<uid>\d+) gid=(?P<gid>\d+) "
    r"euid=(?P<euid>\d+) suid=(?P<suid>\d+) fsuid=(?P<fsuid>\d+) egid=(?P<egid>\d+) sgid=(?P<sgid>\d+) "
    r"fsgid=(?P<fsgid>\d+) tty=(?P<tty>\S+) ses=(?P<ses>\d+) comm=(?P<comm>\"[^\"]*\"|[0-9A-F]+) "
    rf"exe=(?P<exe>{_UNTRUSTED}) key=(?P<key>{_UNTRUSTED})(?: bpfaudit_cut=(?P<cut>[a-z0-9_,]+))?$"
)
# argc= starts the first record; the others go on with " aN..." (a space, as the kernel's)
EXECVE_RE = re.compile(
    r"^type=EXECVE " + _MSG +
    r'(?P<body>(?:argc=\d+)?(?:(?: a\d+_len=\d+)? a\d+(?:\[\d+\])?=(?:"[^"]*"|[0-9A-F]*))*)$')
SOCKADDR_RE = re.compile(r"^type=SOCKADDR " + _MSG + r"saddr=(?P<saddr>(?:[0-9A-F]{2})+)$")
CWD_RE = re.compile(r"^type=CWD " + _MSG + rf"cwd=(?P<cwd>{_UNTRUSTED})$")
PATH_RE = re.compile(
    r"^type=PATH " + _MSG +
    rf"item=(?P<item>\d+) name=(?P<name>{_UNTRUSTED})"
    r"(?: inode=(?P<inode>\d+) dev=(?P<dev>[0-9a-f]{2,}:[0-9a-f]{2,}) mode=(?P<mode>0[0-7]*) ouid=(?P<ouid>\d+) "
    r"ogid=(?P<ogid>\d+) rdev=(?P<rdev>[0-9a-f]{2,}:[0-9a-f]{2,}))? nametype=(?P<nametype>[A-Z]+) "
    r"cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0$"
)
PROCTITLE_RE = re.compile(r"^type=PROCTITLE " + _MSG + rf"proctitle=(?P<proctitle>{_UNTRUSTED})$")
RECORD_RES = {"SYSCALL": SYSCALL_RE, "EXECVE": EXECVE_RE, "SOCKADDR": SOCKADDR_RE, "CWD": CWD_RE,
              "PATH": PATH_RE, "PROCTITLE": PROCTITLE_RE}


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
# what a traced process can put in a name: any bytes but NUL, as the decoder hands them over
RAW = st.binary(max_size=40).map(lambda b: b.replace(b"\0", b"").decode("utf-8", "surrogateescape"))
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40) | RAW


def parse(text: str) -> list:
    """The records of one event: (type, groupdict), every line matched by its type's regex."""
    assert text.endswith("\n")
    out = []
    for line in text[:-1].split("\n"):
        kind = re.match(r"type=([A-Z]+) ", line).group(1)
        m = RECORD_RES[kind].match(line)
        assert m, line[:200]
        out.append((kind, m.groupdict()))
    return out


@settings(deadline=None)
@given(ids=st.lists(U32, min_size=12, max_size=12), exit=st.integers(-2**63, 2**63 - 1),
       args=st.lists(st.integers(0, 2**64 - 1), min_size=6, max_size=6), comm=TEXT,
       exe=st.none() | TEXT, key=st.none() | TEXT, paths=st.lists(st.none() | TEXT, max_size=3),
       cwd=st.none() | TEXT, argv=st.none() | st.lists(RAW, max_size=4),
       proctitle=st.none() | st.binary(max_size=128), sockaddr=st.none() | st.binary(min_size=1, max_size=28),
       per=st.sampled_from([0, 0x40000, 0x8]))
def test_any_event_formats_to_records_that_parse_back(ids, exit, args, comm, exe, key, paths, cwd, argv,
                                                       proctitle, sockaddr, per):
    names = ("ppid", "pid", "auid", "uid", "gid", "euid", "suid", "fsuid", "egid", "sgid", "fsgid", "ses")
    ev = event(exit=exit, args=args, comm=comm, exe=exe, key=key, paths=paths, cwd=cwd, argv=argv,
               argc=len(argv or ()), proctitle=proctitle, sockaddr=sockaddr, per=per,
               **dict(zip(names, ids)))
    records = parse(audit_text.format_event(ev))
    kinds = [k for k, _ in records]
    want = (["SYSCALL"] + ["EXECVE"] * (argv is not None) + ["SOCKADDR"] * (sockaddr is not None)
            + ["CWD"] * (cwd is not None) + ["PATH"] * len(paths) + ["PROCTITLE"] * (proctitle is not None))
    assert kinds == want  # the kernel's order, and no value breaks a record's line
    assert len({(g["secs"], g["ms"], g["serial"]) for _, g in records}) == 1
    g = records[0][1]
    assert [int(g[n]) for n in names] == ids and int(g["exit"]) == exit
    assert [int(g[f"a{i}"], 16) for i in range(4)] == args[:4]
    assert (int(g["per"], 16) if g["per"] else 0) == per
    assert [decode_untrusted(g[k]) for k in ("comm", "exe", "key")] == [comm, exe, key]
    assert [decode_untrusted(g["name"]) for k, g in records if k == "PATH"] == paths
    if cwd is not None:
        assert decode_untrusted(dict(records)["CWD"]["cwd"]) == cwd
    if sockaddr is not None:
        assert bytes.fromhex(dict(records)["SOCKADDR"]["saddr"]) == sockaddr
    if proctitle:
        shown = dict(records)["PROCTITLE"]["proctitle"]
        assert (shown[1:-1].encode() if shown.startswith('"') else bytes.fromhex(shown)) == proctitle


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


# Whole events as kernel audit wrote them (Linux 6.18, auditd log_format=RAW). Left out: the
# BPRM_FCAPS record of root's execs and the PATH records' inode fields and nametype, which events
# built without OBJ items do not have (PATH records of the names list: test_names_replay.py).
KERNEL_EXECVE = """\
type=SYSCALL msg=audit(1796527602.789:3680): arch=c000003e syscall=59 success=yes exit=0 a0=7fea250f0900 a1=7fea25163eb0 a2=7fff3ac4cc10 a3=8 items=2 ppid=4547 pid=4561 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="true" exe="/usr/bin/true" key="bpfx"
type=EXECVE msg=audit(1796527602.789:3680): argc=8 a0="/bin/true" a1=612062 a2=712278 a3=6E6C0A78 a4=FFFE a5="" a6="plain" a7="$\\x01z"
type=CWD msg=audit(1796527602.789:3680): cwd="/work/main"
type=PATH msg=audit(1796527602.789:3680): item=0 name="/bin/true"
type=PATH msg=audit(1796527602.789:3680): item=1 name="/lib64/ld-linux-x86-64.so.2"
type=PROCTITLE msg=audit(1796527602.789:3680): proctitle=2F62696E2F747275650061206200712278006E6C0A7800FFFE0000706C61696E00245C7830317A
"""  # noqa: E501
KERNEL_CONNECT = """\
type=SYSCALL msg=audit(1796527602.825:3693): arch=c000003e syscall=42 success=no exit=-111 a0=3 a1=7fff646830f0 a2=10 a3=7f15d859da08 items=0 ppid=4547 pid=4573 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="python" exe="/usr/bin/python3.11" key="bpfc"
type=SOCKADDR msg=audit(1796527602.825:3693): saddr=020000097F0000010000000000000000
type=PROCTITLE msg=audit(1796527602.825:3693): proctitle=2F776F726B2F6D61696E2F2E76656E762F62696E2F707974686F6E002D6300696D706F727420736F636B65743B20733D736F636B65742E736F636B657428293B20732E636F6E6E6563745F65782828273132372E302E302E31272C20392929
"""  # noqa: E501
KERNEL_PER = ("type=SYSCALL msg=audit(1796527602.885:3707): arch=c000003e syscall=59 per=40000 success=yes exit=0 "
              "a0=7ffd2cde0ad6 a1=7ffd2cddfe80 a2=7ffd2cddfe98 a3=fff7ffffffffbff8 items=2 ppid=4547 pid=4576 "
              "auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) "
              'ses=4294967295 comm="true" exe="/usr/bin/true" key="bpfx"')
ROOT_UNSET = dict(auid=4294967295, ses=4294967295, uid=0, gid=0, euid=0, suid=0, fsuid=0, egid=0, sgid=0, fsgid=0,
                  tty="(none)", ppid=4547)


def without_path_suffix(text: str) -> str:
    return text.replace(" nametype=UNKNOWN cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\n", "\n")


def test_an_execve_event_is_the_kernels_byte_for_byte():
    argv = [b"/bin/true", b"a b", b'q"x', b"nl\nx", b"\xff\xfe", b"", b"plain", b"$\\x01z"]
    ev = event(time=1796527602.789, serial=3680, syscall=59, syscall_name="execve", exit=0,
               args=[0x7FEA250F0900, 0x7FEA25163EB0, 0x7FFF3AC4CC10, 8, 0, 0], pid=4561, tid=4561,
               comm="true", exe="/usr/bin/true", key="bpfx", paths=["/bin/true", "/lib64/ld-linux-x86-64.so.2"],
               cwd="/work/main", argv=[a.decode("utf-8", "surrogateescape") for a in argv], argc=8,
               proctitle=b"\0".join(argv), **ROOT_UNSET)
    assert without_path_suffix(audit_text.format_event(ev)) == KERNEL_EXECVE


def test_a_connect_event_is_the_kernels_byte_for_byte():
    ev = event(time=1796527602.825, serial=3693, syscall=42, syscall_name="connect", success=False, exit=-111,
               args=[3, 0x7FFF646830F0, 0x10, 0x7F15D859DA08, 0, 0], pid=4573, tid=4573, comm="python",
               exe="/usr/bin/python3.11", key="bpfc", paths=[],
               sockaddr=bytes.fromhex("020000097F0000010000000000000000"),
               proctitle=b"/work/main/.venv/bin/python\0-c\0"
                         b"import socket; s=socket.socket(); s.connect_ex(('127.0.0.1', 9))",
               **ROOT_UNSET)
    assert audit_text.format_event(ev) == KERNEL_CONNECT


def test_personality_is_written_only_when_not_per_linux():
    # .8855: the float nearest 1796527602.885 is below it, and the stamp truncates (as the kernel's)
    ev = event(time=1796527602.8855, serial=3707, syscall=59, syscall_name="execve", exit=0, per=0x40000,
               args=[0x7FFD2CDE0AD6, 0x7FFD2CDDFE80, 0x7FFD2CDDFE98, 0xFFF7FFFFFFFFBFF8, 0, 0], pid=4576, tid=4576,
               comm="true", exe="/usr/bin/true", key="bpfx", paths=["/bin/true", "/x"], **ROOT_UNSET)
    assert audit_text.format_event(ev).split("\n")[0] == KERNEL_PER
    assert " per=" not in audit_text.format_event(event(per=0))


def test_cut_items_are_named_at_the_end_of_the_syscall_record():
    text = audit_text.format_event(event(cut=("argv", "path1", "exe")))
    first = text.split("\n")[0]
    assert first.endswith(' key="files" bpfaudit_cut=argv,path1,exe')
    assert SYSCALL_RE.match(first).group("cut") == "argv,path1,exe"
    assert "bpfaudit_cut" not in audit_text.format_event(event())


def test_an_unreadable_name_is_null_and_still_counted():
    records = parse(audit_text.format_event(event(paths=["/a", None], cut=("path1",))))
    assert records[0][1]["items"] == "2"
    assert [(g["item"], g["name"]) for k, g in records if k == "PATH"] == [("0", '"/a"'), ("1", "(null)")]


@pytest.mark.parametrize("proctitle,shown", [
    (b"sleep", '"sleep"'),
    (b"sleep\x0010", "736C656570003130"),  # the NUL between arguments makes it hex
    (b"", '"(null)"'),  # audit_log_proctitle()'s placeholder for an empty command line
    (b"caf\xc3\xa9", "636166C3A9"),
])
def test_proctitle_quoted_or_hex(proctitle, shown):
    last = audit_text.format_event(event(proctitle=proctitle)).split("\n")[-2]
    assert last == f"type=PROCTITLE msg=audit(1700000000.500:42): proctitle={shown}"


def test_argv_cut_before_argc_keeps_the_kernels_argc():
    text = audit_text.format_event(event(argv=["ls", "-l"], argc=9, cut=("argv",)))
    assert 'type=EXECVE msg=audit(1700000000.500:42): argc=9 a0="ls" a1="-l"\n' in text


def test_an_empty_sockaddr_writes_no_record():
    # the kernel writes SOCKADDR only when the address has a length
    assert "SOCKADDR" not in audit_text.format_event(event(sockaddr=b""))


def test_a_long_argument_spans_several_execve_records_of_the_event():
    records = parse(audit_text.format_event(event(argv=["sh", "x" * 10000], argc=2)))
    execve = [g["body"] for k, g in records if k == "EXECVE"]
    assert [k for k, _ in records] == ["SYSCALL", "EXECVE", "EXECVE", "EXECVE", "PATH"]
    assert execve[0].startswith('argc=2 a0="sh" a1_len=20000 a1[0]=') and execve[1].startswith(" a1[1]=")


FORGED = '"\ntype=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 success=yes key="x'
HOSTILE = [
    "line\nbreak", 'quote"d', "esc\x1b[31mred", b"\xff\xfe/not-utf8".decode("utf-8", "surrogateescape"),
    "/" + "n" * 3999, FORGED, "tab\tand space", "\x1dGS", "\u2028ls", "",
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_strings_stay_one_field_of_one_line(value):
    raw = value.encode("utf-8", "surrogateescape")
    ev = event(comm=value[:16], exe=value, key=value, paths=[value, value], cwd=value, argv=[value, value],
               argc=2, proctitle=raw + b"\0" + raw)
    text = audit_text.format_event(ev)
    assert text.isascii() and text.count("\n") == len(text.splitlines())
    records = parse(text)  # every line is exactly one record of a known type: nothing forged
    kinds = [k for k, _ in records]
    assert list(dict.fromkeys(kinds)) == ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"]
    assert kinds.count("PATH") == 2 and kinds.count("CWD") == kinds.count("PROCTITLE") == 1
    g = records[0][1]
    assert [decode_untrusted(g[k]) for k in ("comm", "exe", "key")] == [value[:16], value, value]
    assert all(decode_untrusted(g["name"]) == value for k, g in records if k == "PATH")
    assert decode_untrusted(dict(records)["CWD"]["cwd"]) == value
    assert text.count("type=SYSCALL") == 1


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


def test_ausearch_reads_whole_events(tmp_path):
    log = tmp_path / "whole.log"
    execve = event(serial=11, pid=6001, syscall=59, syscall_name="execve", exit=0, comm="echo",
                   exe="/usr/bin/echo", paths=["/bin/echo", None], cwd="/tmp/a dir",
                   argv=["/bin/echo", "a b", "x" * 9000], argc=4, proctitle=b"/bin/echo\0a b",
                   cut=("argv", "path1"))
    connect = event(serial=12, pid=6002, syscall=42, syscall_name="connect", success=False, exit=-111,
                    paths=[], key="net", sockaddr=bytes.fromhex("020000097F0000010000000000000000"),
                    proctitle=b"nc")
    log.write_text("".join(audit_text.format_event(e) for e in (execve, connect)))

    r = ausearch("-if", str(log), "--raw", "-p", "6001")
    assert r.returncode == 0, r.stderr
    # all the event's records, EXECVE continuations included, and nothing of the other event
    written = audit_text.format_event(execve).split("\n")[:-1]
    assert [k for k, _ in parse(audit_text.format_event(execve))].count("EXECVE") == 3
    assert sorted(r.stdout.split("\n")[:-1]) == sorted(written)

    r = ausearch("-if", str(log), "-i", "-p", "6001")
    assert r.returncode == 0, r.stderr
    assert "argc=4 a0=/bin/echo a1=a b a2_len=18000 a2[0]=xxx" in r.stdout
    assert "cwd=/tmp/a dir" in r.stdout and "proctitle=/bin/echo a b" in r.stdout
    assert "item=1 name=(null)" in r.stdout and "bpfaudit_cut=argv,path1" in r.stdout

    r = ausearch("-if", str(log), "-i", "-k", "net")
    assert r.returncode == 0, r.stderr
    assert "saddr={ saddr_fam=inet laddr=127.0.0.1 lport=9 }" in r.stdout and ":11)" not in r.stdout
    assert "syscall=connect success=no exit=ECONNREFUSED" in r.stdout
