"""The `-F` fields auditctl knows: numbers, allowed operators and lists, and how each value
is read (libaudit's audit_rule_fieldpair_data plus the kernel's audit_field_valid checks)."""

from __future__ import annotations

import grp
import pwd
from dataclasses import dataclass
from typing import Dict, FrozenSet, Optional, Tuple

from tracer.rules.libaudit_names import ERRNO_NAMES, MSG_TYPES
from tracer.rules.model import UNSET
from tracer.syscall_table import AUDIT_ARCH_I386, AUDIT_ARCH_X86_64

# The operator search order of audit_rule_fieldpair_data: two-character ones first.
OPERATORS = ("!=", ">=", "<=", "&=", "=", ">", "<", "&")
ALL_OPS = frozenset(OPERATORS)
NO_BIT_OPS = ALL_OPS - {"&", "&="}  # kernel: "bit ops are only useful on syscall args"
EQ_NE = frozenset({"=", "!="})
EQ = frozenset({"="})

PATH_MAX = 4096
AF_MAX = 46

FILE_TYPES = {  # lib/ftypetab.h: S_IF* values
    "socket": 0o140000,
    "link": 0o120000,
    "file": 0o100000,
    "block": 0o060000,
    "dir": 0o040000,
    "character": 0o020000,
    "fifo": 0o010000,
}
FS_TYPES = {"tracefs": 0x74726163, "debugfs": 0x64626720}  # lib/fstypetab.h

# -F arch=NAME as audit_determine_machine resolves it on an x86_64 machine
ARCH_NAMES = {
    "b64": AUDIT_ARCH_X86_64,
    "x86_64": AUDIT_ARCH_X86_64,
    "b32": AUDIT_ARCH_I386,
    "i386": AUDIT_ARCH_I386,
    "i486": AUDIT_ARCH_I386,
    "i586": AUDIT_ARCH_I386,
    "i686": AUDIT_ARCH_I386,
}
OTHER_MACHINES = {"ppc64", "ppc64le", "ppc", "s390x", "s390", "arm", "armeb", "aarch64", "armv7l"}
PERM_BITS = {"r": 4, "w": 2, "x": 1, "a": 8}  # AUDIT_PERM_READ/WRITE/EXEC/ATTR

ANY_LIST = frozenset({"exit", "user", "task", "exclude", "filesystem", "io_uring"})
EXIT = frozenset({"exit", "io_uring"})


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: int  # AUDIT_* number
    kind: str  # how the value is read (see parse_value)
    ops: FrozenSet[str]
    lists: FrozenSet[str] = ANY_LIST


def _specs() -> Dict[str, FieldSpec]:
    s = {}

    def add(name, type_, kind, ops, lists=ANY_LIST):
        s[name] = FieldSpec(name, type_, kind, frozenset(ops), frozenset(lists))

    add("pid", 0, "num", NO_BIT_OPS)
    for i, n in enumerate(("uid", "euid", "suid", "fsuid"), 1):
        add(n, i, "uid", NO_BIT_OPS)
    for i, n in enumerate(("gid", "egid", "sgid", "fsgid"), 5):
        add(n, i, "gid", NO_BIT_OPS)
    add("auid", 9, "uid", NO_BIT_OPS)
    add("pers", 10, "num", ALL_OPS)
    add("arch", 11, "arch", EQ_NE)
    add("msgtype", 12, "msgtype", NO_BIT_OPS, {"exclude", "user"})
    for i, n in enumerate(("subj_user", "subj_role", "subj_type", "subj_sen", "subj_clr"), 13):
        add(n, i, "str", EQ_NE)
    add("ppid", 18, "num", NO_BIT_OPS, EXIT)
    for i, n in enumerate(("obj_user", "obj_role", "obj_type", "obj_lev_low", "obj_lev_high"), 19):
        add(n, i, "str", EQ_NE, EXIT)
    add("sessionid", 25, "sessionid", NO_BIT_OPS, {"exit", "user", "exclude", "io_uring"})
    add("fstype", 26, "fstype", EQ_NE, {"filesystem"})
    add("devmajor", 100, "num", NO_BIT_OPS, EXIT)
    add("devminor", 101, "num", ALL_OPS, EXIT)
    add("inode", 102, "num", EQ_NE, EXIT)
    add("exit", 103, "exit", NO_BIT_OPS, EXIT)
    add("success", 104, "num", NO_BIT_OPS, EXIT)
    add("path", 105, "path", EQ, EXIT)
    add("perm", 106, "perm", EQ, EXIT)
    add("dir", 107, "path", EQ, EXIT)
    add("filetype", 108, "filetype", EQ_NE, EXIT)
    add("obj_uid", 109, "uid", NO_BIT_OPS)
    add("obj_gid", 110, "gid", NO_BIT_OPS)
    add("exe", 112, "exe", EQ_NE)
    add("saddr_fam", 113, "num", NO_BIT_OPS)
    for i in range(4):
        add(f"a{i}", 200 + i, "arg", ALL_OPS)
    return s


FIELDS = _specs()
ALIASES = {"loginuid": "auid"}
BY_TYPE = {spec.type: spec for spec in FIELDS.values()}
AUDIT_FILTERKEY = 210
AUDIT_FIELD_COMPARE = 111
AUDIT_ARCH = 11
AUDIT_PERM = 106
AUDIT_WATCH = 105
AUDIT_DIR = 107

# -C pairs: the kernel's AUDIT_COMPARE_* numbers and how auditctl prints each
COMPARES = {
    frozenset({"uid", "obj_uid"}): (1, "uid", "obj_uid"),
    frozenset({"gid", "obj_gid"}): (2, "gid", "obj_gid"),
    frozenset({"euid", "obj_uid"}): (3, "euid", "obj_uid"),
    frozenset({"egid", "obj_gid"}): (4, "egid", "obj_gid"),
    frozenset({"auid", "obj_uid"}): (5, "auid", "obj_uid"),
    frozenset({"suid", "obj_uid"}): (6, "suid", "obj_uid"),
    frozenset({"sgid", "obj_gid"}): (7, "sgid", "obj_gid"),
    frozenset({"fsuid", "obj_uid"}): (8, "fsuid", "obj_uid"),
    frozenset({"fsgid", "obj_gid"}): (9, "fsgid", "obj_gid"),
    frozenset({"uid", "auid"}): (10, "uid", "auid"),
    frozenset({"uid", "euid"}): (11, "uid", "euid"),
    frozenset({"uid", "fsuid"}): (12, "uid", "fsuid"),
    frozenset({"uid", "suid"}): (13, "uid", "suid"),
    frozenset({"auid", "fsuid"}): (14, "auid", "fsuid"),
    frozenset({"auid", "suid"}): (15, "auid", "suid"),
    frozenset({"auid", "euid"}): (16, "auid", "euid"),
    frozenset({"euid", "suid"}): (17, "euid", "suid"),
    frozenset({"euid", "fsuid"}): (18, "euid", "fsuid"),
    frozenset({"suid", "fsuid"}): (19, "suid", "fsuid"),
    frozenset({"gid", "egid"}): (20, "gid", "egid"),
    frozenset({"gid", "fsgid"}): (21, "gid", "fsgid"),
    frozenset({"gid", "sgid"}): (22, "gid", "sgid"),
    frozenset({"egid", "fsgid"}): (23, "egid", "fsgid"),
    frozenset({"egid", "sgid"}): (24, "egid", "sgid"),
    frozenset({"sgid", "fsgid"}): (25, "sgid", "fsgid"),
}
COMPARE_BY_CODE = {code: (left, right) for code, left, right in COMPARES.values()}

ERRNO_BY_NUMBER: Dict[int, str] = {}
for _name, _nr in ERRNO_NAMES.items():
    ERRNO_BY_NUMBER.setdefault(_nr, _name)  # first name in libaudit's table wins, as it prints
MSG_TYPE_BY_NUMBER: Dict[int, str] = {}
for _name, _nr in MSG_TYPES.items():
    MSG_TYPE_BY_NUMBER.setdefault(_nr, _name)


def lookup(name: str) -> Optional[FieldSpec]:
    """The field `name` as auditctl reads it (case-insensitive, loginuid = auid)."""
    low = name.lower()
    return FIELDS.get(ALIASES.get(low, low))


def c_number(text: str) -> Optional[int]:
    """strtol/strtoul with base 0 (0x hex, leading 0 octal), but the whole text must be a number."""
    s = text.strip()
    neg = s.startswith("-")
    if neg or s.startswith("+"):
        s = s[1:]
    try:
        if s[:2].lower() == "0x":
            value = int(s[2:], 16) if s[2:] else None
        elif len(s) > 1 and s[0] == "0":
            value = int(s[1:], 8)
        else:
            value = int(s, 10) if s.isdigit() else None
    except ValueError:
        return None
    if value is None:
        return None
    return -value if neg else value


class ValueProblem(Exception):
    """A value the field cannot take; the parser adds where and which token."""


def _u32(n: int) -> int:
    if n > 0xFFFFFFFF or n < -0x80000000:
        raise ValueProblem(f"{n} is out of range: audit fields hold 32-bit values")
    return n & 0xFFFFFFFF


def _number(v: str, signed: bool, what: str) -> int:
    n = c_number(v)
    if n is None or (n < 0 and not signed):
        kind = "a number" if signed else "a non-negative number"
        raise ValueProblem(f"value '{v}' is not {what or kind} (decimal, 0x hex or 0 octal)")
    return _u32(n)


def parse_value(spec: FieldSpec, op: str, v: str) -> Tuple[int, Optional[str], Optional[str]]:
    """(u32 value, string value or None, warning or None) for `spec op v`; raises ValueProblem."""
    kind = spec.kind
    if kind == "uid":
        if v[:1].isdigit() or (v[:1] == "-" and v[1:2].isdigit()):
            value = _number(v, True, "")
        elif v == "unset":
            value = UNSET
        else:
            try:
                value = pwd.getpwnam(v).pw_uid
            except KeyError:
                raise ValueProblem(
                    f"unknown user '{v}' (not in this machine's passwd database); use a number"
                    + (" or 'unset'" if spec.name == "auid" else "")
                ) from None
        if value == UNSET:
            if spec.name != "auid":
                raise ValueProblem(
                    f"{spec.name} cannot be unset (-1): the kernel refuses an invalid uid; "
                    "only auid can be unset"
                )
            if op not in EQ_NE:
                raise ValueProblem(
                    "auid compared with unset (-1) takes only = or != (the kernel turns it "
                    "into loginuid_set)"
                )
        return value, None, None
    if kind == "gid":
        if v[:1].isdigit():
            value = _number(v, True, "")
        else:
            try:
                value = grp.getgrnam(v).gr_gid
            except KeyError:
                raise ValueProblem(
                    f"unknown group '{v}' (not in this machine's group database); use a number"
                ) from None
        if value == UNSET:
            raise ValueProblem(f"{spec.name} cannot be -1: the kernel refuses an invalid gid")
        return value, None, None
    if kind == "exit":
        if v[:1].isdigit() or (v[:1] == "-" and v[1:2].isdigit()):
            return _number(v, True, ""), None, None
        name = v[1:] if v.startswith("-") else v
        nr = ERRNO_NAMES.get(name.upper())
        if nr is None:
            raise ValueProblem(f"unknown errno name '{name}'; expected e.g. -EACCES, -EPERM or a number")
        warning = None
        if not v.startswith("-"):
            warning = (
                f"exit={v} compares with +{nr}; a failed syscall returns -{name.upper()}, "
                f"write exit=-{name.upper()}"
            )
        return _u32(-nr if v.startswith("-") else nr), None, warning
    if kind == "msgtype":
        if v[:1].isdigit():
            return _number(v, False, ""), None, None
        nr = MSG_TYPES.get(v.upper())
        if nr is None:
            raise ValueProblem(f"unknown message type '{v}'; expected a name such as SYSCALL or a number")
        return nr, None, None
    if kind in ("str", "exe", "path"):
        if len(v) > PATH_MAX:
            raise ValueProblem(f"value is {len(v)} characters; at most {PATH_MAX}")
        if kind == "path":
            if not v.startswith("/"):
                raise ValueProblem("the path must be absolute (start with '/'); the kernel refuses it")
            if spec.name == "path" and len(v) > 1 and v.endswith("/"):
                raise ValueProblem(
                    f"the kernel refuses a trailing '/'; write {spec.name}={v.rstrip('/') or '/'}"
                )
        return len(v), v, None
    if kind == "arch":
        if v[:1].isdigit():
            n = c_number(v)
            if n not in (AUDIT_ARCH_X86_64, AUDIT_ARCH_I386):
                raise ValueProblem(
                    f"arch {v} is not an AUDIT_ARCH code of this machine; expected "
                    "b64, b32, x86_64, i386, 0xc000003e or 0x40000003"
                )
            return n, None, None
        code = ARCH_NAMES.get(v.lower())
        if code is None:
            if v.lower() in OTHER_MACHINES:
                raise ValueProblem(
                    f"arch {v} is not this machine's: bpfaudit has the x86_64 and i386 "
                    "syscall tables only (b64, b32)"
                )
            raise ValueProblem(f"unknown arch '{v}'; expected b64, b32, x86_64 or i386")
        return code, None, None
    if kind == "perm":
        if len(v) > 4 or any(ch.lower() not in PERM_BITS for ch in v):
            raise ValueProblem(f"permission '{v}' must be letters of 'rwxa' (read write exec attribute)")
        value = 0
        for ch in v:
            value |= PERM_BITS[ch.lower()]
        return value, None, None
    if kind == "filetype":
        nr = FILE_TYPES.get(v.lower())
        if nr is None:
            raise ValueProblem(f"unknown file type '{v}'; expected one of {', '.join(FILE_TYPES)}")
        return nr, None, None
    if kind == "fstype":
        if v[:1].isdigit():
            return _number(v, False, ""), None, None
        nr = FS_TYPES.get(v.lower())
        if nr is None:
            raise ValueProblem(f"unknown file system type '{v}'; expected tracefs, debugfs or a number")
        return nr, None, None
    if kind == "arg":
        if v[:1].isdigit() or (v[:1] == "-" and v[1:2].isdigit()):
            return _number(v, True, ""), None, None
        raise ValueProblem(f"value '{v}' is not a number; syscall arguments compare as numbers")
    if kind == "sessionid":
        if v == "unset":
            return UNSET, None, None
        return _number(v, True, "a number or 'unset'"), None, None
    # plain numbers: pid, ppid, pers, devmajor, devminor, inode, success, saddr_fam
    if spec.name == "success" and not v[:1].isdigit():
        raise ValueProblem(f"value '{v}' is not a number: success takes 1 (succeeded) or 0 (failed)")
    value = _number(v, False, "")
    if spec.name == "saddr_fam" and value >= AF_MAX:
        raise ValueProblem(f"address family {value} is too large (AF_MAX is {AF_MAX})")
    return value, None, None
