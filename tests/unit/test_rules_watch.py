"""A path= rule (a watch) also matches the watched inode, whatever name reached it
(tracer/rules/watch.py): the snapshot taken at load, the BPF table's copy of it, and user
space's decision on an event's PATH items."""

from __future__ import annotations

import os

from tracer.capture.events import PathItem, SyscallEvent
from tracer.capture.layout import layout
from tracer.capture.tables import build_tables
from tracer.rules import parse_text
from tracer.rules.evaluate import evaluate
from tracer.rules.watch import kernel_dev, reached, watch_identity
from tracer.syscall_table import AUDIT_ARCH_X86_64, syscall_number


def test_kernel_dev_is_major_shifted_by_20():
    assert kernel_dev(os.makedev(254, 0)) == 0xFE00000
    assert kernel_dev(os.makedev(8, 0x12345)) == (8 << 20) | 0x12345


def test_identity_is_the_files_own_and_a_symlink_is_not_followed(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    (tmp_path / "l").symlink_to(f)
    st, lst = os.stat(f), os.lstat(tmp_path / "l")
    assert watch_identity(str(f)) == (st.st_ino, kernel_dev(st.st_dev))
    assert watch_identity(str(tmp_path / "l")) == (lst.st_ino, kernel_dev(lst.st_dev)) != watch_identity(str(f))
    assert watch_identity(str(tmp_path / "missing")) is None


def _event(path_items, paths):
    return SyscallEvent(
        time=0.0, serial=1, arch=AUDIT_ARCH_X86_64, syscall=syscall_number("x86_64", "openat"),
        syscall_name="openat", success=True, exit=3, args=[0] * 6, ppid=1, pid=2, tid=2, auid=1000,
        uid=0, gid=0, euid=0, suid=0, fsuid=0, egid=0, sgid=0, fsgid=0, ses=1, tty="(none)", comm="cat",
        exe="/usr/bin/cat", key=None, rule=-1, paths=paths, path_items=path_items)


def test_an_event_reaching_the_inode_under_another_name_matches(tmp_path):
    f = tmp_path / "secret"
    f.write_text("x")
    ino, dev = watch_identity(str(f))
    rs = parse_text(f"-a always,exit -F arch=b64 -S openat -F path={f} -k w\n", "t.rules").exit_rules
    by_link = _event([PathItem("/elsewhere/hard", ino, dev, 0o100644, 0, 0, 0, "NORMAL")], ["/elsewhere/hard"])
    other = _event([PathItem("/elsewhere/x", ino + 1, dev, 0o100644, 0, 0, 0, "NORMAL")], ["/elsewhere/x"])
    by_name = _event([PathItem(str(f), nametype="UNKNOWN")], [str(f)])
    assert reached(str(f), by_link.path_items) and not reached(str(f), other.path_items)
    assert evaluate(rs, by_link) == 0
    assert evaluate(rs, other) is None
    assert evaluate(rs, by_name) == 0  # the name itself still matches


def test_the_bpf_table_carries_a_watch_not_a_dir(tmp_path):
    L = layout()
    f = tmp_path / "secret"
    f.write_text("x")
    text = (f"-a always,exit -F arch=b64 -S openat -F path={f} -k w\n"
            f"-a always,exit -F arch=b64 -S openat -F dir={tmp_path} -k d\n"
            f"-a always,exit -F arch=b64 -S openat -F path={tmp_path}/missing -k m\n")
    packed = build_tables(parse_text(text, "t.rules").kernel_rules()).rules
    ino, dev = watch_identity(str(f))
    assert (packed[0].watch_set, packed[0].watch_ino, packed[0].watch_dev) == (1, ino, dev)
    assert packed[1].watch_set == 0 and packed[2].watch_set == 0
    assert L.structs["ba_rule"].watch_ino.offset % 8 == 0
