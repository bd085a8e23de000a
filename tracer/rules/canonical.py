"""A rule rendered exactly as `auditctl -l` prints it (audit 3.0.9's print_rule in
auditctl-listing.c, which prints what the kernel stored: arch first, then -S, then the
fields in their order, keys last)."""

from __future__ import annotations

from typing import List

from tracer.rules import fields as F
from tracer.rules.model import KEY_SEPARATOR, Cond, Rule
from tracer.syscall_table import ARCH_NAMES, AUDIT_ARCH_X86_64, syscall_table

_NO_SYSCALL_LISTS = ("user", "task", "exclude", "filesystem")
_WATCH_TYPES = {F.AUDIT_PERM, F.AUDIT_FILTERKEY, F.AUDIT_DIR, F.AUDIT_WATCH}


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def is_watch(rule: Rule) -> bool:
    """auditctl prints a rule as -w when it has only path/dir, perm and key, a perm, and all syscalls."""
    types = [c.type for c in rule.conds]
    if any(t not in _WATCH_TYPES for t in types) or F.AUDIT_PERM not in types:
        return False
    return rule.list in _NO_SYSCALL_LISTS or rule.syscalls is None


def _perm(value: int) -> str:
    return "".join(ch for ch, bit in (("r", 4), ("w", 2), ("x", 1), ("a", 8)) if value & bit)


def _arch(c: Cond) -> str:
    # auditctl -l without -i prints b64/b32 for a known machine
    return f" -F arch{c.op}{'b64' if c.value & 0x80000000 else 'b32'}"


def _syscalls(rule: Rule, elf: int) -> str:
    if rule.list in _NO_SYSCALL_LISTS:
        return ""
    if rule.syscalls is None:
        return " -S all"
    if not rule.syscalls:
        return ""
    names = syscall_table(ARCH_NAMES.get(elf, "x86_64"))
    return " -S " + ",".join(names.get(nr, str(nr)) for nr in sorted(rule.syscalls))


def _field(c: Cond, watch: bool) -> str:
    name, op, v = c.name, c.op, c.value
    if c.type == F.AUDIT_FIELD_COMPARE:
        left, right = F.COMPARE_BY_CODE[v]
        return f" -C {left}{op}{right}"
    if name == "msgtype":
        return f" -F msgtype{op}{F.MSG_TYPE_BY_NUMBER.get(v, _s32(v))}"
    if c.text is not None and name in ("path", "dir"):
        return f"-w {c.text}" if watch else f" -F {name}={c.text}"
    if c.text is not None:
        return f" -F {name}{op}{c.text}"
    if name == "perm":
        return f" -p {_perm(v)}" if watch else f" -F perm={_perm(v)}"
    if name == "inode":
        return f" -F inode{op}{v}"
    if c.type in (200, 201, 202, 203):
        return f" -F {name}{op}0x{v:X}"
    if name == "exit":
        s = _s32(v)
        err = F.ERRNO_BY_NUMBER.get(-s) if s < 0 else None
        return f" -F exit{op}-{err}" if err else f" -F exit{op}{s}"
    if name == "fstype":
        fs = {nr: n for n, nr in F.FS_TYPES.items()}.get(v)
        return f" -F fstype{op}{fs if fs else _s32(v)}"
    return f" -F {name}{op}{_s32(v)}"


def render(rule: Rule) -> str:
    """The line `auditctl -l` prints for `rule` (no trailing newline)."""
    watch = is_watch(rule)
    out: List[str] = []
    elf = AUDIT_ARCH_X86_64  # audit_detect_machine() on this machine
    if not watch:
        out.append(f"-a {rule.action},{rule.list}")
        for c in rule.conds:
            if c.type == F.AUDIT_ARCH:
                out.append(_arch(c))
                elf = c.value
        out.append(_syscalls(rule, elf))
    for c in rule.conds:
        if c.type != F.AUDIT_ARCH:
            out.append(_field(c, watch))
    if rule.keys:
        for key in KEY_SEPARATOR.join(rule.keys).split(KEY_SEPARATOR):
            out.append(f" -k {key}" if watch else f" -F key={key}")
    return "".join(out)
