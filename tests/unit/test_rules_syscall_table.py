"""The committed syscall tables agree with libaudit's (ausyscall) and with the API contract."""

import shutil

import pytest

from tracer import syscall_table as st


def test_known_numbers():
    assert st.syscall_name(st.AUDIT_ARCH_X86_64, 59) == "execve"
    assert st.syscall_name(st.AUDIT_ARCH_I386, 11) == "execve"
    assert st.syscall_number("x86_64", "openat") == 257
    assert st.syscall_number("i386", "openat") == 295


def test_unknown_is_number_or_none():
    assert st.syscall_name(st.AUDIT_ARCH_X86_64, 999) == "999"
    assert st.syscall_name(0x1234, 1) == "1"
    assert st.syscall_number("x86_64", "no_such_call") is None
    assert st.syscall_number("armv7", "read") is None


def test_round_trip():
    for arch, code in (("x86_64", st.AUDIT_ARCH_X86_64), ("i386", st.AUDIT_ARCH_I386)):
        for nr, name in st.syscall_table(arch).items():
            assert st.syscall_number(arch, name) == nr
            assert st.syscall_name(code, nr) == name


@pytest.mark.skipif(shutil.which("ausyscall") is None, reason="ausyscall (auditd) not installed")
@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_matches_ausyscall(arch):
    assert sorted(st.syscall_table(arch).items()) == st.ausyscall_dump(arch)
