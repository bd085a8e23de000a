"""evaluate(): the kernel's exit-list semantics (first match decides, fields AND, u32 compares)."""

from __future__ import annotations

import pytest

from tracer.capture.events import SyscallEvent
from tracer.rules import parse_text
from tracer.rules.evaluate import comparator, evaluate
from tracer.syscall_table import AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, syscall_number

UNSET = 0xFFFFFFFF


def event(name="openat", arch=AUDIT_ARCH_X86_64, **kw):
    table = "x86_64" if arch == AUDIT_ARCH_X86_64 else "i386"
    base = dict(
        time=0.0, serial=1, arch=arch, syscall=syscall_number(table, name), syscall_name=name,
        success=True, exit=3, args=[0, 0, 0, 0, 0, 0], ppid=1, pid=100, tid=100, auid=1000,
        uid=1000, gid=1000, euid=1000, suid=1000, fsuid=1000, egid=1000, sgid=1000, fsgid=1000,
        ses=5, tty="pts0", comm="cat", exe="/usr/bin/cat", key=None, rule=-1, paths=[],
    )
    base.update(kw)
    return SyscallEvent(**base)


def rules(text):
    return parse_text(text, "t.rules").exit_rules


def ev(text, e, start=0):
    return evaluate(rules(text), e, start)


def test_first_matching_rule_decides_and_start_skips():
    r = "-a always,exit -F arch=b64 -S openat -k a\n-a always,exit -F arch=b64 -S openat,unlink -k b\n"
    assert ev(r, event()) == 0
    assert ev(r, event(), start=1) == 1
    assert ev(r, event("unlink")) == 1
    assert ev(r, event("read")) is None


def test_never_rule_returns_its_index():
    rs = parse_text("-a never,exit -F arch=b64 -S openat -F uid=0\n-a always,exit -F arch=b64 -S openat\n")
    assert evaluate(rs.exit_rules, event(uid=0)) == 0
    assert rs.decide(event(uid=0)).action == "never"
    assert rs.decide(event(uid=5)).action == "always"


def test_unset_auid_passes_auid_ge_1000_unless_excluded():
    assert ev("-a always,exit -S all -F auid>=1000\n", event(auid=UNSET)) == 0
    assert ev("-a always,exit -S all -F auid>=1000 -F auid!=unset\n", event(auid=UNSET)) is None
    assert ev("-a always,exit -S all -F auid>=1000 -F auid!=unset\n", event(auid=1000)) == 0
    assert ev("-a always,exit -S all -F auid=unset\n", event(auid=UNSET)) == 0


def test_bit_operators():
    r = "-a always,exit -F arch=b64 -S openat -F a2&0100\n"  # O_CREAT
    assert ev(r, event(args=[0, 0, 0o101, 0])) == 0
    assert ev(r, event(args=[0, 0, 0o1, 0])) is None
    r = "-a always,exit -F arch=b64 -S openat -F a2&=0101\n"  # all bits
    assert ev(r, event(args=[0, 0, 0o101, 0])) == 0
    assert ev(r, event(args=[0, 0, 0o100, 0])) is None


def test_arguments_and_exit_compare_as_u32():
    assert ev("-a always,exit -S all -F a0=5\n", event(args=[(1 << 32) + 5, 0, 0, 0])) == 0
    assert ev("-a always,exit -S all -F a1=-1\n", event(args=[0, (1 << 64) - 1, 0, 0])) == 0
    assert ev("-a always,exit -S all -F exit=-EACCES\n", event(exit=-13, success=False)) == 0
    # -13 as u32 is 0xfffffff3: never below 0, always above 1000
    assert ev("-a always,exit -S all -F exit<0\n", event(exit=-13)) is None
    assert ev("-a always,exit -S all -F exit>1000\n", event(exit=-13)) == 0


def test_success_compares_like_the_kernel():
    ok, failed = event(success=True), event(success=False, exit=-2)
    assert ev("-a always,exit -S all -F success=1\n", ok) == 0
    assert ev("-a always,exit -S all -F success=1\n", failed) is None
    assert ev("-a always,exit -S all -F success=0\n", failed) == 0
    assert ev("-a always,exit -S all -F success=2\n", ok) == 0  # any non-zero means success
    assert ev("-a always,exit -S all -F success!=0\n", ok) == 0


def test_arch_is_a_field_but_the_mask_is_per_rule():
    assert ev("-a always,exit -F arch=b64 -S execve\n", event("execve", AUDIT_ARCH_I386)) is None
    # no arch: the x86_64 number 59 (execve) also matches i386 syscall 59 (oldolduname)
    e = event("oldolduname", AUDIT_ARCH_I386)
    assert e.syscall == 59
    assert ev("-a always,exit -S execve\n", e) == 0
    assert ev("-a always,exit -F arch!=b64 -S all\n", event("execve", AUDIT_ARCH_I386)) == 0


def test_identity_fields_and_comparisons():
    e = event(pid=42, ppid=7, ses=3, uid=0, euid=0, auid=1000, gid=4, egid=4)
    assert ev("-a always,exit -S all -F pid=42 -F ppid=7 -F sessionid=3 -F uid=0 -F gid=4\n", e) == 0
    assert ev("-a always,exit -S all -F pid!=42\n", e) is None
    assert ev("-a always,exit -F arch=b64 -S all -C auid!=uid\n", e) == 0
    assert ev("-a always,exit -F arch=b64 -S all -C uid=euid -C gid=egid\n", e) == 0
    assert ev("-a always,exit -F arch=b64 -S all -C auid=uid\n", e) is None


def test_exe():
    assert ev("-a always,exit -S all -F exe=/usr/bin/cat\n", event()) == 0
    assert ev("-a always,exit -S all -F exe!=/usr/bin/cat\n", event()) is None
    assert ev("-a always,exit -S all -F exe!=/usr/bin/cat\n", event(exe=None)) == 0
    assert ev("-a always,exit -S all -F exe=/usr/bin/cat\n", event(exe=None)) is None


def test_path_exact_and_dir_prefix():
    r = "-a always,exit -F arch=b64 -S openat -F path=/etc/passwd\n"
    assert ev(r, event(paths=["/etc/passwd"])) == 0
    assert ev(r, event(paths=["/etc/passwd-"])) is None
    assert ev(r, event(paths=["passwd"])) is None  # relative: cannot be placed
    r = "-a always,exit -F arch=b64 -S openat -F dir=/etc\n"
    assert ev(r, event(paths=["/etc/ssh/sshd_config"])) == 0
    assert ev(r, event(paths=["/etc"])) == 0
    assert ev(r, event(paths=["/etcetera/x"])) is None
    assert ev("-a always,exit -F arch=b64 -S openat -F dir=/etc/\n", event(paths=["/etc/hosts"])) == 0


@pytest.mark.parametrize(
    "perm, name, arch, args, expected",
    [
        ("w", "openat", AUDIT_ARCH_X86_64, [0, 0, 1, 0], True),  # O_WRONLY
        ("w", "openat", AUDIT_ARCH_X86_64, [0, 0, 0, 0], False),  # O_RDONLY
        ("r", "openat", AUDIT_ARCH_X86_64, [0, 0, 2, 0], True),  # O_RDWR
        ("r", "open", AUDIT_ARCH_X86_64, [0, 0, 0, 0], True),
        ("w", "rename", AUDIT_ARCH_X86_64, [0, 0, 0, 0], True),
        ("w", "truncate", AUDIT_ARCH_X86_64, [0, 0, 0, 0], True),
        ("a", "chmod", AUDIT_ARCH_X86_64, [0, 0, 0, 0], True),
        ("a", "rename", AUDIT_ARCH_X86_64, [0, 0, 0, 0], False),
        ("x", "execve", AUDIT_ARCH_X86_64, [0, 0, 0, 0], True),
        ("w", "execve", AUDIT_ARCH_X86_64, [0, 0, 0, 0], False),
        ("r", "readlink", AUDIT_ARCH_X86_64, [0, 0, 0, 0], True),
        ("w", "read", AUDIT_ARCH_X86_64, [0, 0, 0, 0], False),
        ("a", "chown32", AUDIT_ARCH_I386, [0, 0, 0, 0], True),
        ("w", "socketcall", AUDIT_ARCH_I386, [2, 0, 0, 0], True),  # SYS_BIND
        ("w", "socketcall", AUDIT_ARCH_I386, [3, 0, 0, 0], False),  # SYS_CONNECT
    ],
)
def test_perm_by_syscall_class(perm, name, arch, args, expected):
    e = event(name, arch, args=args + [0, 0], paths=["/etc/passwd"])
    got = ev(f"-w /etc/passwd -p {perm}\n", e)
    assert (got == 0) is expected


def test_unsupported_fields_never_match():
    e = event(uid=0)
    assert ev("-a never,exit -F arch=b64 -S openat -F subj_type=chronyd_t\n", e) is None
    assert ev("-a always,exit -F arch=b64 -S openat -F obj_uid=0\n", e) is None
    assert ev("-a always,exit -F arch=b64 -S openat -C obj_uid=uid\n", e) is None


def test_other_lists_and_huge_syscall_numbers_never_match():
    rs = parse_text("-a always,user -F uid=1000\n")
    assert evaluate(rs.all_rules(), event()) is None
    assert ev("-a always,exit -S all\n", event(syscall=5000)) is None


@pytest.mark.parametrize(
    "left, op, right, expected",
    [(5, "<", 6, True), (-1, ">", 5, True), (6, "&", 2, True), (6, "&=", 3, False), (7, "&=", 3, True),
     ((1 << 32) + 1, "=", 1, True), (0, "<=", 0, True), (1, ">=", 2, False), (3, "!=", 3, False)],
)
def test_comparator(left, op, right, expected):
    assert comparator(left, op, right) is expected
