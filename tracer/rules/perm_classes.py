"""Which syscalls a watch permission (-p rwxa, -F perm=) matches: the kernel's audit_match_perm().

Classes are those of lib/audit.c (x86_64) and arch/x86/ia32/audit.c (i386), built from
include/asm-generic/audit_{dir_write,write,read,change_attr}.h of a current kernel (6.x:
with renameat2, ftruncate, fallocate, fchmodat2, the *xattrat calls and link/linkat in the
attribute class). open/openat/openat2 match by their access mode, execve/execveat by x,
and i386 socketcall by SYS_BIND.
"""

from __future__ import annotations

from typing import Dict, FrozenSet, Optional, Sequence

from tracer.syscall_table import AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, NEWER_SYSCALLS, syscall_number

PERM_EXEC, PERM_WRITE, PERM_READ, PERM_ATTR = 1, 2, 4, 8

_DIR_WRITE = (
    "rename mkdir rmdir creat link unlink symlink mknod mkdirat mknodat unlinkat renameat "
    "linkat symlinkat renameat2"
).split()
_WRITE = _DIR_WRITE + "acct swapon quotactl truncate truncate64 ftruncate ftruncate64 bind fallocate".split()
_READ = "readlink quotactl listxattr listxattrat llistxattr flistxattr getxattr getxattrat lgetxattr fgetxattr readlinkat".split()
_ATTR = (
    "chmod fchmod chown lchown fchown setxattr setxattrat lsetxattr fsetxattr removexattr "
    "removexattrat lremovexattr fremovexattr fchownat fchmodat fchmodat2 link linkat "
    "chown32 fchown32 lchown32"
).split()

_ARCHES = {AUDIT_ARCH_X86_64: "x86_64", AUDIT_ARCH_I386: "i386"}


def _numbers(arch: str, names: Sequence[str]) -> FrozenSet[int]:
    out = set()
    for name in names:
        nr = syscall_number(arch, name)
        if nr is None:
            nr = NEWER_SYSCALLS.get(name)
        if nr is not None:
            out.add(nr)
    return frozenset(out)


def _special(arch: str) -> Dict[str, int]:
    names = ("open", "openat", "openat2", "execve", "execveat", "socketcall")
    return {n: nr for n in names if (nr := syscall_number(arch, n)) is not None}


CLASSES = {
    code: {
        PERM_WRITE: _numbers(arch, _WRITE),
        PERM_READ: _numbers(arch, _READ),
        PERM_ATTR: _numbers(arch, _ATTR),
    }
    for code, arch in _ARCHES.items()
}
SPECIAL = {code: _special(arch) for code, arch in _ARCHES.items()}
SYS_BIND = 2  # socketcall(2) call number of bind


def _acc_mode(flags: int) -> int:
    # ACC_MODE(): O_RDONLY -> read, O_WRONLY -> write, O_RDWR (and 3) -> read|write
    return (PERM_READ, PERM_WRITE, PERM_READ | PERM_WRITE, PERM_READ | PERM_WRITE)[flags & 3]


def perm_syscalls(mask: int) -> FrozenSet[int]:
    """Every syscall number (either ABI) that a perm `mask` can match: for narrowing BPF's set."""
    out = set()
    for code in _ARCHES:
        for bit, nrs in CLASSES[code].items():
            if mask & bit:
                out |= nrs
        sp = SPECIAL[code]
        if mask & (PERM_READ | PERM_WRITE):
            out |= {sp[n] for n in ("open", "openat", "openat2") if n in sp}
        if mask & PERM_WRITE and "socketcall" in sp:
            out.add(sp["socketcall"])
        if mask & PERM_EXEC:
            out |= {sp[n] for n in ("execve", "execveat") if n in sp}
    return frozenset(out)


def match_perm(mask: int, arch: int, nr: int, args: Sequence[int]) -> Optional[bool]:
    """audit_match_perm(): does syscall `nr` of `arch` with `args` use a permission in `mask`?

    None when it depends on data bpfaudit does not have (openat2's flags live in user memory).
    """
    if arch not in CLASSES:
        return False
    sp = SPECIAL[arch]
    a = list(args) + [0] * (4 - len(args))
    if nr == sp.get("open"):
        return bool(mask & _acc_mode(a[1]))
    if nr == sp.get("openat"):
        return bool(mask & _acc_mode(a[2]))
    if nr == sp.get("openat2"):
        return None if mask & (PERM_READ | PERM_WRITE) else False
    if nr in (sp.get("execve"), sp.get("execveat")):
        return bool(mask & PERM_EXEC)
    if nr == sp.get("socketcall"):
        return bool(mask & PERM_WRITE) and a[0] == SYS_BIND
    classes = CLASSES[arch]
    return any(mask & bit and nr in classes[bit] for bit in (PERM_WRITE, PERM_READ, PERM_ATTR))
