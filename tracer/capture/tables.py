"""Packs compiled rules (tracer.filters.KernelRule) into the BPF tables of
bpf/rules.h: the rule array and the per-(ABI, syscall) candidate index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Set, Tuple

from tracer.errors import BpfauditError
from tracer.filters import FieldCheck, KernelRule
from tracer.capture.layout import layout
from tracer.rules.watch import watch_identity
from tracer.syscall_meta import CHANGES_CREDS, EXECS, NEVER_RETURN, OBJECTS, PATH_ARGS, SOCKADDR_ARGS
from tracer.syscall_table import ARCH_NAMES, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, NEWER_SYSCALLS, syscall_name

ABI_ARCH = {0: AUDIT_ARCH_X86_64, 1: AUDIT_ARCH_I386}
# calls libaudit cannot name still have pathnames (fchmodat2); same numbers in both ABIs
_NEWER_BY_NR = {nr: name for name, nr in NEWER_SYSCALLS.items()}


@dataclass
class Tables:
    rules: List[object]  # ctypes ba_rule, in rule order
    syscalls: Dict[int, object]  # map key -> ctypes ba_syscall, candidates only


U32 = 0xFFFFFFFF


def field_slot(field_type: int) -> int:
    """BA_F_* (the kernel's field number) -> BA_SLOT_* (where BPF keeps the value)."""
    L = layout()
    names = {v: k[len("BA_F_"):] for k, v in L.consts.items() if k.startswith("BA_F_")}
    name = names.get(field_type)
    slot = L.consts.get(f"BA_SLOT_{'AUID' if name == 'LOGINUID' else 'SES' if name == 'SESSIONID' else name}")
    if slot is None:
        raise BpfauditError(f"field type {field_type} cannot be evaluated in BPF")
    return slot


def encode_check(f: FieldCheck) -> Tuple[int, int, int, int, int]:
    """(slot, negate, mask, lo, hi): `op value` as "(v & mask) in [lo, hi]", maybe negated.

    Same truth table as the kernel's audit_comparator() on u32 operands.
    """
    L = layout()
    slot = field_slot(f.type)
    x = f.value & U32
    if f.type == L.BA_F_SUCCESS:  # the kernel compares AUDITSC_SUCCESS (1) / AUDITSC_FAILURE (2)
        x = 1 if x else 2
    never = (0, 0, 1, 1)  # (negate, mask, lo, hi): 0 is never in [1, 1]
    op = f.op
    if op == L.BA_OP_EQ:
        enc = (0, U32, x, x)
    elif op == L.BA_OP_NE:
        enc = (1, U32, x, x)
    elif op == L.BA_OP_LT:
        enc = (0, U32, 0, x - 1) if x > 0 else never
    elif op == L.BA_OP_LE:
        enc = (0, U32, 0, x)
    elif op == L.BA_OP_GT:
        enc = (0, U32, x + 1, U32) if x < U32 else never
    elif op == L.BA_OP_GE:
        enc = (0, U32, x, U32)
    elif op == L.BA_OP_BITMASK:
        enc = (1, x, 0, 0)
    elif op == L.BA_OP_BITTEST:
        enc = (0, x, x, x)
    else:
        raise BpfauditError(f"unknown operator code {op}")
    return (slot,) + enc


def check_matches(slot_value: int, enc: Tuple[int, int, int, int, int]) -> bool:
    """What the BPF program computes for one encoded check (for tests)."""
    _slot, negate, mask, lo, hi = enc
    v = slot_value & mask
    inside = ((v - lo) & U32) <= ((hi - lo) & U32)
    return inside != bool(negate)


def pack_prefix(name: str, words, masks) -> int:
    """Writes the first BA_PREFIX_LEN bytes of `name` into a rule's prefix words
    (little-endian, as BPF loads them) and their byte masks; returns the length."""
    L = layout()
    raw = name.encode("utf-8", "surrogateescape")[: L.BA_PREFIX_LEN]
    padded = raw.ljust(L.BA_PREFIX_LEN, b"\0")
    mask = (b"\xff" * len(raw)).ljust(L.BA_PREFIX_LEN, b"\0")
    for k in range(L.BA_PREFIX_LEN // 8):
        words[k] = int.from_bytes(padded[8 * k : 8 * k + 8], "little")
        masks[k] = int.from_bytes(mask[8 * k : 8 * k + 8], "little")
    return len(raw)


def auid_bounds(rule: KernelRule) -> Optional[Tuple[int, int]]:
    """[lo, hi] that the rule's auid fields confine a matching task's auid to ((0, U32): none);
    None when no auid passes them. Only plain ranges and excluded end points narrow it (the
    stock `auid>=1000 -F auid!=unset` is [1000, 0xfffffffe]); anything else counts as no bound."""
    L = layout()
    lo, hi = 0, U32
    for f in rule.fields:
        if f.type != L.BA_F_LOGINUID:
            continue
        _slot, negate, mask, flo, fhi = encode_check(f)
        if mask != U32:
            continue
        if not negate:
            lo, hi = max(lo, flo), min(hi, fhi)
        elif flo == fhi == hi:
            hi -= 1
        elif flo == fhi == lo:
            lo += 1
    return (lo, hi) if lo <= hi else None


def _auid_gate(rules: Sequence[KernelRule], cands: Sequence[int]) -> Tuple[int, int]:
    """The smallest range holding every auid some candidate rule accepts (a rule no auid passes
    adds nothing; when that is all of them the whole range, as the check cannot say "none")."""
    bounds = [b for b in (auid_bounds(rules[i]) for i in cands) if b is not None]
    if not bounds:
        return 0, U32
    return min(b[0] for b in bounds), max(b[1] for b in bounds)


def _abis_of(rule: KernelRule) -> Set[int]:
    """ABIs a rule can match: an `arch=` equality narrows it, as no other ABI can pass it."""
    L = layout()
    abis = {L.BA_ABI_NATIVE, L.BA_ABI_COMPAT}
    for f in rule.fields:
        if f.type == L.BA_F_ARCH and f.op == L.BA_OP_EQ:
            abis &= {abi for abi, code in ABI_ARCH.items() if code == f.value}
    return abis


def build_tables(rules: Sequence[KernelRule], only_syscalls: Optional[Set[str]] = None) -> Tables:
    """`only_syscalls` (names) narrows every rule to those calls (trace -S)."""
    L = layout()
    if len(rules) > L.BA_MAX_RULES:
        raise BpfauditError(f"{len(rules)} exit rules: bpfaudit evaluates at most {L.BA_MAX_RULES} in the kernel")
    Rule, Syscall = L.structs["ba_rule"], L.structs["ba_syscall"]
    watch_identity.cache_clear()  # each load takes its own snapshot of the watched files
    packed = []
    exit_types = {L.BA_F_EXIT, L.BA_F_SUCCESS}
    for i, r in enumerate(rules):
        if len(r.fields) > L.BA_MAX_FIELDS:
            raise BpfauditError(f"rule {i + 1} ({r.text}): more than {L.BA_MAX_FIELDS} fields to evaluate in BPF")
        pr = Rule()
        pr.action = r.action
        pr.nfields = len(r.fields)
        pr.flags = (L.BA_RULE_EXIT_FIELDS if any(f.type in exit_types for f in r.fields) else 0) | (
            L.BA_RULE_USERSPACE if r.userspace else 0
        )
        for j, f in enumerate(r.fields):
            dst = pr.fields[j]
            dst.slot, dst.negate, dst.mask, dst.lo, dst.hi = encode_check(f)
        if r.path_name is not None:
            pr.prefix_len = pack_prefix(r.path_name, pr.prefix, pr.prefix_mask)
        if r.path_kind == "path":
            ident = watch_identity(r.path_name)
            if ident is not None:
                pr.watch_ino, pr.watch_dev, pr.watch_set = ident[0], ident[1], 1
        packed.append(pr)

    nr_max = L.BA_NR_SYSCALLS
    catch_all = nr_max - 1  # numbers at or beyond it share this slot: rules for all syscalls only
    entries: Dict[int, object] = {}
    rule_abis = [_abis_of(r) for r in rules]
    for abi, arch in ABI_ARCH.items():
        for nr in range(nr_max):
            name = syscall_name(arch, nr) if nr != catch_all else ""
            if only_syscalls is not None and name not in only_syscalls:
                continue
            if name in NEVER_RETURN:
                continue
            meta = _NEWER_BY_NR.get(nr, name) if name == str(nr) else name
            paths = PATH_ARGS.get(meta, ())
            cands = [
                i for i, r in enumerate(rules)
                if abi in rule_abis[i] and (r.syscalls is None or (nr != catch_all and nr in r.syscalls))
                # a path= or dir= name matches no call without a pathname argument
                and (r.path_name is None or paths)
            ]
            if not cands:
                continue
            if len(cands) > L.BA_MAX_CANDIDATES:
                raise BpfauditError(
                    f"{len(cands)} rules apply to syscall {name or nr} ({ARCH_NAMES[arch]}): bpfaudit judges "
                    f"at most {L.BA_MAX_CANDIDATES} per syscall in the kernel; merge rules or narrow their -S lists"
                )
            e = Syscall()
            e.nrules = len(cands)
            e.slots = 0
            for i in cands:
                for f in rules[i].fields:
                    e.slots |= 1 << field_slot(f.type)
            for j, i in enumerate(cands):
                e.rule[j] = i
            e.path_arg[0] = paths[0] if len(paths) > 0 else L.BA_NO_PATH
            e.path_arg[1] = paths[1] if len(paths) > 1 else L.BA_NO_PATH
            e.flags = L.BA_SC_CHANGES_CREDS if meta in CHANGES_CREDS else 0
            if meta in EXECS:
                e.flags |= L.BA_SC_EXEC
            if meta in OBJECTS:
                source, flags_arg = OBJECTS[meta]
                e.obj_from = {"fd": L.BA_OBJ_FROM_FD, "pwd": L.BA_OBJ_FROM_PWD, "root": L.BA_OBJ_FROM_ROOT}[source]
                e.open_flags_arg = {"creat": L.BA_OPEN_CREAT, "how": L.BA_OPEN_HOW, None: L.BA_NO_PATH}.get(
                    flags_arg, flags_arg)
            if meta in SOCKADDR_ARGS:
                addr, length, mode = SOCKADDR_ARGS[meta]
                e.sock_arg, e.sock_len_arg = addr, length
                e.sock_mode = L.BA_SOCK_IN if mode == "in" else L.BA_SOCK_OUT
            e.auid_lo, e.auid_hi = 0, U32
            if any(rules[i].path_name is not None for i in cands):
                e.flags |= L.BA_SC_PATH_RULES
            entries[abi * nr_max + nr] = e
    # sys_enter's first test reads only the native entry of a number: it says
    # whether any ABI lists the number (an entry without rules where only compat does)
    # ...and the auid range sys_enter checks before anything else: over both ABIs' candidates
    for key in list(entries):
        native = key % nr_max
        if native not in entries:
            entries[native] = Syscall()
            entries[native].path_arg[0] = entries[native].path_arg[1] = L.BA_NO_PATH
        entries[native].flags |= L.BA_SC_LISTED
    for native in [k for k in entries if k < nr_max]:
        cands = [e.rule[j] for e in (entries[native], entries.get(nr_max + native)) if e is not None
                 for j in range(e.nrules)]
        entries[native].auid_lo, entries[native].auid_hi = _auid_gate(rules, cands)
    return Tables(packed, entries)
