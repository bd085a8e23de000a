"""compile_rules() output and `lint` statuses."""

from __future__ import annotations

import pytest

from tracer.filters import FieldCheck
from tracer.capture.layout import layout
from tracer.rules import RuleError, default_rules, parse_text
from tracer.rules.compile import compile_rules
from tracer.rules.lint import lint, rule_status
from tracer.rules.perm_classes import perm_syscalls
from tracer.syscall_table import AUDIT_ARCH_X86_64

L = layout()


def compiled(text):
    return compile_rules(parse_text(text, "t.rules").exit_rules)


def test_in_kernel_rule():
    (k,) = compiled("-a always,exit -F arch=b64 -S openat,execve -F auid>=1000 -F auid!=unset -F a2&0100 -k files\n")
    assert k.action == L.BA_ACT_ALWAYS
    assert k.syscalls == {257, 59}
    assert k.fields == (
        FieldCheck(L.BA_F_ARCH, L.BA_OP_EQ, AUDIT_ARCH_X86_64),
        FieldCheck(L.BA_F_LOGINUID, L.BA_OP_GE, 1000),
        FieldCheck(L.BA_F_LOGINUID, L.BA_OP_NE, 0xFFFFFFFF),
        FieldCheck(L.BA_F_ARG2, L.BA_OP_BITMASK, 0o100),
    )
    assert not k.userspace
    assert k.key == "files"
    assert k.text == "-a always,exit -F arch=b64 -S execve,openat -F auid>=1000 -F auid!=-1 -F a2&0x40 -F key=files"
    assert k.source.keys == ["files"]


def test_userspace_fields_and_never():
    (k,) = compiled("-a never,exit -F arch=b64 -S execve -F exe=/usr/bin/ls -C auid!=uid -F success=1\n")
    assert k.action == L.BA_ACT_NEVER and k.userspace
    # success keeps its raw value; tracer/capture/tables.py turns it into AUDITSC_SUCCESS/FAILURE
    assert [(f.type, f.value) for f in k.fields] == [(L.BA_F_ARCH, AUDIT_ARCH_X86_64), (L.BA_F_SUCCESS, 1)]


def test_watch_is_userspace_over_the_perm_syscalls():
    (k,) = compiled("-w /etc/passwd -p wa -k identity\n")
    assert k.userspace and k.fields == () and k.key == "identity"
    assert k.syscalls == perm_syscalls(2 | 8)
    assert {2, 257, 82, 90, 76} <= k.syscalls  # open, openat, rename, chmod, truncate
    assert 0 not in k.syscalls  # read


def test_path_and_dir_names_are_kept_normalised_for_bpf():
    (w, d, none) = compiled("-w /etc/passwd -p wa\n-a always,exit -F dir=/etc/sudoers.d/ -F perm=wa\n"
                            "-a always,exit -F arch=b64 -S openat -F exe=/usr/bin/ls\n")
    assert w.path_name == "/etc/passwd" and d.path_name == "/etc/sudoers.d"  # as evaluate compares them
    assert none.path_name is None and none.userspace


def test_perm_narrows_an_explicit_syscall_list():
    (k,) = compiled("-a always,exit -F arch=b64 -S openat,read -F path=/etc/shadow -F perm=r\n")
    assert k.syscalls == {257}


def test_unsupported_rule_gets_no_syscalls():
    (k,) = compiled("-a never,exit -F arch=b64 -S adjtimex -F subj_type=chronyd_t\n")
    assert k.syscalls == frozenset()


def test_only_exit_rules_in_order():
    ks = compiled("-a always,user -F uid=0\n-a always,exit -F arch=b64 -S openat -k 1\n"
                  "-A always,exit -F arch=b64 -S unlink -k 0\n")
    assert [k.key for k in ks] == ["0", "1"]


def test_limits():
    too_many = " ".join(f"-F a0!={i}" for i in range(L.BA_MAX_FIELDS + 1))
    with pytest.raises(RuleError, match=r"holds 16 per rule \(BA_MAX_FIELDS\): split the rule"):
        compiled(f"-a always,exit -F arch=b64 -S openat {too_many}\n")
    lines = "".join(f"-a always,exit -F arch=b64 -S openat -F a0={i}\n" for i in range(L.BA_MAX_RULES + 1))
    with pytest.raises(RuleError, match=rf"{L.BA_MAX_RULES + 1} exit rules; bpfaudit's rule table holds {L.BA_MAX_RULES}"):
        compiled(lines)
    with pytest.raises(RuleError, match=r"syscall number 1500 is beyond bpfaudit's table"):
        compiled("-a always,exit -F arch=b64 -S 1500\n")


@pytest.mark.parametrize(
    "rule, status",
    [
        ("-a always,exit -F arch=b64 -S openat -F auid>=1000", "in-kernel"),
        ("-a always,exit -F arch=b64 -S execve -F exe=/bin/sh -C uid!=euid", "user-space (fields: exe,-C uid/euid)"),
        ("-a always,exit -F arch=b64 -S execve -F path=/bin/sh -F perm=x",
         "approximate (path: matched by inode on open/exec/chdir, by name elsewhere; the kernel matches the inode)"),
        ("-w /etc/shadow -p wa",
         "approximate (path: matched by inode on open/exec/chdir, by name elsewhere; the kernel matches the inode; "
         "perm: openat2's open mode is not read, assumed to match)"),
        ("-a always,exit -F arch=b64 -S openat -F subj_type=x_t",
         "unsupported (subj_type: SELinux subject context is not available to bpfaudit; the rule never matches)"),
        ("-a always,exclude -F msgtype=CWD", "not applicable (the exclude list is not evaluated by bpfaudit, only exit)"),
    ],
)
def test_rule_status(rule, status):
    assert rule_status(parse_text(rule + "\n").all_rules()[0]) == status


def test_lint_report_in_file_order_with_control_lines():
    rs = parse_text("-D\n-b 8192\n-a always,exit -F arch=b64 -S openat\n-w /etc/shadow -p wa\n"
                    "-a never,filesystem -F fstype=tracefs\n--loginuid-immutable\n", "f.rules")
    report = [str(line) for line in lint(rs)]
    assert report[0].startswith("f.rules:1: not applicable (deletes the kernel's rules")
    assert report[1].startswith("f.rules:2: not applicable (sets the kernel's audit backlog")
    assert report[2] == "f.rules:3: in-kernel: -a always,exit -F arch=b64 -S openat"
    assert report[3].startswith("f.rules:4: approximate (path: ") and report[3].endswith("-w /etc/shadow -p wa")
    assert report[4].startswith("f.rules:5: not applicable (the filesystem list")
    assert report[5].startswith("f.rules:6: not applicable (locks the kernel's loginuid")
    assert not any(line.bad for line in lint(rs))


def test_default_rules_compile_in_kernel():
    rs = default_rules()
    ks = rs.kernel_rules()
    assert len(ks) == len(rs.exit_rules) >= 20
    assert all(not k.userspace and k.key for k in ks)
    assert all(rule_status(r) == "in-kernel" for r in rs.exit_rules)
    assert rs.warnings == [] and rs.ignored == []
