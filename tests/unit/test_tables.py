"""tracer/capture/tables.py: the comparison encoding against audit_comparator(), and the packed tables."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracer.errors import BpfauditError
from tracer.filters import FieldCheck, KernelRule
from tracer.capture.layout import layout
from tracer.syscall_meta import CHANGES_CREDS, NEVER_RETURN, PATH_ARGS
from tracer.syscall_table import AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, syscall_number, syscall_table
from tracer.capture.tables import auid_bounds, build_tables, check_matches, encode_check, field_slot, pack_prefix

L = layout()
U32 = 0xFFFFFFFF
NR = L.BA_NR_SYSCALLS
NATIVE, COMPAT = L.BA_ABI_NATIVE, L.BA_ABI_COMPAT
BOUNDARY = [0, 1, 2, 999, 1000, 1001, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, U32]


def audit_comparator(op: int, left: int, right: int) -> bool:
    """kernel/auditsc.c audit_comparator() on u32 operands."""
    return {
        L.BA_OP_EQ: lambda: left == right,
        L.BA_OP_NE: lambda: left != right,
        L.BA_OP_LT: lambda: left < right,
        L.BA_OP_LE: lambda: left <= right,
        L.BA_OP_GT: lambda: left > right,
        L.BA_OP_GE: lambda: left >= right,
        L.BA_OP_BITMASK: lambda: (left & right) != 0,
        L.BA_OP_BITTEST: lambda: (left & right) == right,
    }[op]()


OPS = [L.consts[f"BA_OP_{n}"] for n in ("EQ", "NE", "LT", "LE", "GT", "GE", "BITMASK", "BITTEST")]


def bpf_verdict(value: int, check: FieldCheck) -> bool:
    enc = encode_check(check)
    assert all(0 <= x <= U32 for x in enc[2:]), f"{check}: encoding {enc} does not fit u32"
    return check_matches(value, enc)


def test_every_operator_on_the_boundary_grid():
    for op, v, x in itertools.product(OPS, BOUNDARY, BOUNDARY):
        check = FieldCheck(L.BA_F_UID, op, x)
        assert bpf_verdict(v, check) == audit_comparator(op, v, x), (op, v, x)


@given(op=st.sampled_from(OPS), v=st.integers(0, U32), x=st.integers(0, U32))
def test_every_operator_on_random_u32(op, v, x):
    assert bpf_verdict(v, FieldCheck(L.BA_F_LOGINUID, op, x)) == audit_comparator(op, v, x)


@given(op=st.sampled_from(OPS), v=st.integers(0, U32), bits=st.integers(0, 31))
def test_operators_near_powers_of_two(op, v, bits):
    # bit tests want values sharing bits with v; random pairs rarely do
    for x in {1 << bits, (1 << bits) - 1, v | (1 << bits), v & ~(1 << bits) & U32}:
        assert bpf_verdict(v, FieldCheck(L.BA_F_ARG1, op, x)) == audit_comparator(op, v, x), (op, v, x)


@pytest.mark.parametrize("value", [0, 1])
@pytest.mark.parametrize("op", [L.BA_OP_EQ, L.BA_OP_NE])
def test_success_compares_auditsc_success_or_failure(value, op):
    # BPF's success slot holds AUDITSC_SUCCESS (1) or AUDITSC_FAILURE (2); -F success=1 means "succeeded"
    for succeeded, slot_value in ((True, 1), (False, 2)):
        wanted = succeeded == bool(value)
        got = bpf_verdict(slot_value, FieldCheck(L.BA_F_SUCCESS, op, value))
        assert got == (wanted if op == L.BA_OP_EQ else not wanted), (value, op, succeeded)


def test_every_bpf_field_type_has_its_own_slot():
    types = {v for k, v in L.consts.items() if k.startswith("BA_F_")}
    slots = [field_slot(t) for t in types]
    assert len(set(slots)) == len(types)
    assert all(0 <= s < L.BA_NR_SLOTS for s in slots)
    assert field_slot(L.BA_F_LOGINUID) == L.BA_SLOT_AUID and field_slot(L.BA_F_SESSIONID) == L.BA_SLOT_SES


def test_unknown_field_type_and_operator_are_errors():
    with pytest.raises(BpfauditError, match="cannot be evaluated in BPF"):
        field_slot(9999)
    with pytest.raises(BpfauditError, match="unknown operator"):
        encode_check(FieldCheck(L.BA_F_UID, 99, 1))


# -- build_tables ----------------------------------------------------------------

def nr(name: str, arch: str = "x86_64") -> int:
    n = syscall_number(arch, name)
    assert n is not None, name
    return n


def rule(syscalls=None, fields=(), action=None, key=None, userspace=False, path_name=None) -> KernelRule:
    sc = None if syscalls is None else frozenset(nr(s) if isinstance(s, str) else s for s in syscalls)
    return KernelRule(L.BA_ACT_ALWAYS if action is None else action, sc, tuple(fields), userspace, key,
                      path_name=path_name)


def test_prefix_words_are_the_names_bytes_as_bpf_loads_them():
    words, masks = [0] * 8, [0] * 8
    assert pack_prefix("/etc/sudoers.d", words, masks) == 14
    raw = b"".join(w.to_bytes(8, "little") for w in words)
    assert raw == b"/etc/sudoers.d".ljust(64, b"\0")
    assert b"".join(m.to_bytes(8, "little") for m in masks) == (b"\xff" * 14).ljust(64, b"\0")
    # longer names keep their first BA_PREFIX_LEN bytes: a necessary condition still
    long = "/" + "d" * 99
    assert pack_prefix(long, words, masks) == L.BA_PREFIX_LEN
    assert b"".join(w.to_bytes(8, "little") for w in words) == long.encode()[: L.BA_PREFIX_LEN]
    assert all(m == 2**64 - 1 for m in masks)


def test_path_rules_are_candidates_only_where_a_pathname_is():
    t = build_tables([rule(None, userspace=True, path_name="/etc/passwd", key="w"), rule(["getppid", "openat"])])
    assert cands(t, NATIVE, nr("openat")) == [0, 1]
    assert cands(t, NATIVE, nr("getppid")) == [1]  # no pathname argument: the name matches nothing
    assert cands(t, NATIVE, nr("fchmod")) is None
    assert cands(t, NATIVE, nr("renameat")) == [0]
    assert t.syscalls[NATIVE * NR + nr("openat")].flags & L.BA_SC_PATH_RULES
    assert not t.syscalls[NATIVE * NR + nr("getppid")].flags & L.BA_SC_PATH_RULES
    assert t.rules[0].prefix_len == len("/etc/passwd") and t.rules[1].prefix_len == 0


def cands(tables, abi: int, n: int):
    """The candidate rules of (abi, n), None when none (no entry, or a native entry only flagging the number)."""
    e = tables.syscalls.get(abi * NR + n)
    return None if e is None or not e.nrules else [e.rule[i] for i in range(e.nrules)]


def test_candidates_per_syscall_in_rule_order():
    rules = [
        rule(["openat", "unlink"]),
        rule(["unlink"], action=L.BA_ACT_NEVER),
        rule(None, [FieldCheck(L.BA_F_UID, L.BA_OP_EQ, 0)]),
        rule(["openat"]),
    ]
    t = build_tables(rules)
    assert cands(t, NATIVE, nr("openat")) == [0, 2, 3]
    assert cands(t, NATIVE, nr("unlink")) == [0, 1, 2]
    assert cands(t, NATIVE, nr("read")) == [2]
    # syscall numbers are the rule's own, applied in both ABIs (the kernel's per-rule mask)
    assert cands(t, COMPAT, nr("openat")) == [0, 2, 3]
    assert len(t.rules) == 4 and [r.action for r in t.rules] == [r.action for r in rules]
    # an entry without rules only flags, in the native table, a number some ABI lists
    assert all(e.nrules > 0 or (k < NR and t.syscalls[k + NR].nrules) for k, e in t.syscalls.items())
    assert all(t.syscalls[k].flags & L.BA_SC_LISTED for k in t.syscalls if k < NR)


def test_native_entry_says_whether_any_abi_lists_the_number():
    # a b32-only rule: sys_enter's first read (the native entry) must let the number through
    b32 = FieldCheck(L.BA_F_ARCH, L.BA_OP_EQ, L.BA_AUDIT_ARCH_I386)
    t = build_tables([rule([nr("unlink")], [b32])])
    native = t.syscalls[NATIVE * NR + nr("unlink")]
    assert native.nrules == 0 and native.flags & L.BA_SC_LISTED
    assert native.path_arg[0] == native.path_arg[1] == L.BA_NO_PATH
    assert cands(t, COMPAT, nr("unlink")) == [0]
    # numbers no rule lists have no entry at all: the array's zeroes read as "not listed"
    assert set(t.syscalls) == {NATIVE * NR + nr("unlink"), COMPAT * NR + nr("unlink")}


def test_no_entry_when_no_rule_applies():
    t = build_tables([rule(["openat"])])
    assert set(t.syscalls) == {NATIVE * NR + nr("openat"), COMPAT * NR + nr("openat")}
    assert t.syscalls[NATIVE * NR + nr("openat")].flags & L.BA_SC_LISTED


def arch_check(op, code):
    return FieldCheck(L.BA_F_ARCH, op, code)


def test_arch_equality_narrows_a_rule_to_its_abi():
    rules = [
        rule(["openat"], [arch_check(L.BA_OP_EQ, AUDIT_ARCH_X86_64)]),
        rule([nr("openat", "i386")], [arch_check(L.BA_OP_EQ, AUDIT_ARCH_I386)]),
        rule(["openat"], [arch_check(L.BA_OP_NE, AUDIT_ARCH_I386)]),  # not narrowed: != is judged in BPF
    ]
    t = build_tables(rules)
    assert cands(t, NATIVE, nr("openat")) == [0, 2]
    assert cands(t, COMPAT, nr("openat")) == [2]
    assert cands(t, COMPAT, nr("openat", "i386")) == [1]
    assert cands(t, NATIVE, nr("openat", "i386")) is None
    for key in t.syscalls:
        if 0 in (cands(t, key // NR, key % NR) or ()):
            assert key // NR == NATIVE


def test_all_syscall_rules_fill_the_catch_all_slot_alone():
    catch_all = NR - 1
    t = build_tables([rule([catch_all]), rule(None), rule(["openat"])])
    # numbers at or past the table's end share the last slot: only rules for all syscalls can match there
    assert cands(t, NATIVE, catch_all) == [1] and cands(t, COMPAT, catch_all) == [1]
    assert cands(t, NATIVE, nr("openat")) == [1, 2]
    assert catch_all not in syscall_table("x86_64") and catch_all not in syscall_table("i386")


def test_path_arguments_come_from_syscall_meta():
    t = build_tables([rule(None)])
    checked = 0
    for abi, arch in ((NATIVE, "x86_64"), (COMPAT, "i386")):
        for n, name in syscall_table(arch).items():
            if name in NEVER_RETURN:
                continue
            e = t.syscalls[abi * NR + n]
            want = list(PATH_ARGS.get(name, ())) + [L.BA_NO_PATH] * 2
            assert list(e.path_arg) == want[:2], (arch, name)
            checked += name in PATH_ARGS
    assert checked > len(PATH_ARGS)  # most names exist in both tables
    assert list(t.syscalls[NATIVE * NR + nr("renameat")].path_arg) == [1, 3]


def test_credential_changing_calls_are_flagged():
    t = build_tables([rule(None)])
    flagged = set()
    for abi, arch in ((NATIVE, "x86_64"), (COMPAT, "i386")):
        for n, name in syscall_table(arch).items():
            if name in NEVER_RETURN:
                continue
            e = t.syscalls[abi * NR + n]
            assert bool(e.flags & L.BA_SC_CHANGES_CREDS) == (name in CHANGES_CREDS), (arch, name)
            if e.flags & L.BA_SC_CHANGES_CREDS:
                flagged.add(name)
    assert flagged == set(CHANGES_CREDS)


def test_calls_that_never_return_are_no_candidates():
    # exit/exit_group never reach sys_exit: stashing them would only leave state behind
    t = build_tables([rule(None), rule(["exit_group", "openat"])])
    for abi, arch in ((NATIVE, "x86_64"), (COMPAT, "i386")):
        numbers = {name: n for n, name in syscall_table(arch).items()}
        assert {"exit", "exit_group"} <= set(numbers) and set(NEVER_RETURN) == {"exit", "exit_group"}
        for name in NEVER_RETURN:
            assert cands(t, abi, numbers[name]) is None, (arch, name)
    assert cands(t, NATIVE, nr("openat")) == [0, 1]


def test_only_syscalls_narrows_every_rule():
    t = build_tables([rule(None), rule(["openat", "unlink"])], only_syscalls={"openat", "execve"})
    assert cands(t, NATIVE, nr("openat")) == [0, 1]
    assert cands(t, NATIVE, nr("execve")) == [0]
    assert cands(t, NATIVE, nr("unlink")) is None
    assert cands(t, NATIVE, NR - 1) is None
    names = {syscall_table("x86_64" if k < NR else "i386").get(k % NR) for k, e in t.syscalls.items() if e.nrules}
    assert names == {"openat", "execve"}


def test_rule_flags_and_packed_fields():
    checks = [FieldCheck(L.BA_F_LOGINUID, L.BA_OP_GE, 1000), FieldCheck(L.BA_F_EXIT, L.BA_OP_EQ, (-13) & U32)]
    t = build_tables([
        rule(["openat"], checks, key="k"),
        rule(["openat"], [FieldCheck(L.BA_F_SUCCESS, L.BA_OP_EQ, 0)], userspace=True),
        rule(["openat"], [FieldCheck(L.BA_F_UID, L.BA_OP_EQ, 0)]),
    ])
    assert t.rules[0].flags == L.BA_RULE_EXIT_FIELDS
    assert t.rules[1].flags == L.BA_RULE_EXIT_FIELDS | L.BA_RULE_USERSPACE
    assert t.rules[2].flags == 0
    packed = t.rules[0]
    assert packed.nfields == 2
    for j, check in enumerate(checks):
        f = packed.fields[j]
        assert (f.slot, f.negate, f.mask, f.lo, f.hi) == encode_check(check)
    # what BPF computes from the packed row: auid 1000 passes, 999 does not
    f = packed.fields[0]
    assert check_matches(1000, (f.slot, f.negate, f.mask, f.lo, f.hi))
    assert not check_matches(999, (f.slot, f.negate, f.mask, f.lo, f.hi))


def test_at_most_max_candidates_rules_per_syscall():
    n = L.BA_MAX_CANDIDATES
    t = build_tables([rule(["openat"]) for _ in range(n)])
    assert cands(t, NATIVE, nr("openat")) == list(range(n))
    with pytest.raises(BpfauditError, match=rf"{n + 1} rules apply to syscall openat \(x86_64\).*at most {n}"):
        build_tables([rule(["openat"]) for _ in range(n + 1)])
    with pytest.raises(BpfauditError, match=rf"{n + 1} rules apply to syscall"):
        build_tables([rule(None) for _ in range(n + 1)])


def test_at_most_max_fields_per_rule():
    m = L.BA_MAX_FIELDS
    fields = [FieldCheck(L.BA_F_UID, L.BA_OP_NE, i) for i in range(m + 1)]
    assert build_tables([rule(["openat"], fields[:m])]).rules[0].nfields == m
    with pytest.raises(BpfauditError, match=rf"rule 2 .*more than {m} fields"):
        build_tables([rule(["openat"]), KernelRule(L.BA_ACT_ALWAYS, None, tuple(fields), text="-a always,exit")])


def test_at_most_max_rules():
    many = [rule([i % 400]) for i in range(L.BA_MAX_RULES + 1)]
    with pytest.raises(BpfauditError, match=rf"at most {L.BA_MAX_RULES}"):
        build_tables(many)


def test_every_syscall_meta_name_reaches_the_table():
    # a name no table resolves (a typo, or a call newer than libaudit) would silently lose its paths
    from tracer.syscall_table import NEWER_SYSCALLS

    t = build_tables([rule(None)])
    for name in set(PATH_ARGS) | set(CHANGES_CREDS):
        keys = [abi * NR + n for abi, arch in ((NATIVE, "x86_64"), (COMPAT, "i386"))
                for n in [syscall_number(arch, name) or NEWER_SYSCALLS.get(name)] if n is not None]
        assert keys, f"syscall_meta names {name}, which no syscall table knows"
        for key in keys:
            e = t.syscalls[key]
            assert list(e.path_arg) == (list(PATH_ARGS.get(name, ())) + [L.BA_NO_PATH] * 2)[:2], name
            assert bool(e.flags & L.BA_SC_CHANGES_CREDS) == (name in CHANGES_CREDS), name


def test_each_syscall_entry_names_the_value_slots_its_candidate_rules_compare():
    """sys_enter reads only these identity values: they must cover every field of every candidate."""
    L = layout()
    auid_rule = KernelRule(L.BA_ACT_ALWAYS, frozenset({110}), (FieldCheck(L.BA_F_LOGINUID, L.BA_OP_GE, 1000),))
    cred_rule = KernelRule(L.BA_ACT_ALWAYS, frozenset({110, 257}),
                           (FieldCheck(L.BA_F_EUID, L.BA_OP_EQ, 0), FieldCheck(L.BA_F_PPID, L.BA_OP_EQ, 1)))
    t = build_tables([auid_rule, cred_rule])
    getppid, openat = t.syscalls[110], t.syscalls[257]
    assert getppid.slots == (1 << L.BA_SLOT_AUID) | (1 << L.BA_SLOT_EUID) | (1 << L.BA_SLOT_PPID)
    assert openat.slots == (1 << L.BA_SLOT_EUID) | (1 << L.BA_SLOT_PPID)


def auid(op, value):
    return FieldCheck(L.BA_F_LOGINUID, op, value)


def test_auid_bounds_of_the_stock_pattern_and_what_does_not_narrow():
    stock = [auid(L.BA_OP_GE, 1000), auid(L.BA_OP_NE, U32)]
    assert auid_bounds(rule(["openat"], stock)) == (1000, U32 - 1)
    assert auid_bounds(rule(["openat"], stock[::-1])) == (1000, U32 - 1)  # order does not matter
    assert auid_bounds(rule(["openat"], [auid(L.BA_OP_EQ, 0)])) == (0, 0)
    assert auid_bounds(rule(["openat"], [auid(L.BA_OP_NE, 500)])) == (0, U32)  # a hole: not a range
    assert auid_bounds(rule(["openat"], [auid(L.BA_OP_BITMASK, 1)])) == (0, U32)
    assert auid_bounds(rule(["openat"], [FieldCheck(L.BA_F_UID, L.BA_OP_GE, 1000)])) == (0, U32)
    assert auid_bounds(rule(["openat"], [auid(L.BA_OP_EQ, 5), auid(L.BA_OP_EQ, 6)])) is None


def test_the_native_entry_gates_on_the_hull_of_both_abis_candidates():
    b32 = FieldCheck(L.BA_F_ARCH, L.BA_OP_EQ, L.BA_AUDIT_ARCH_I386)
    t = build_tables([
        rule(["openat"], [auid(L.BA_OP_GE, 1000), auid(L.BA_OP_NE, U32)]),
        rule(["openat"], [auid(L.BA_OP_EQ, 0)]),
        rule([nr("unlink")], [b32, auid(L.BA_OP_GE, 2000)]),  # compat only: the native placeholder gates
        rule(["getppid"], [auid(L.BA_OP_GE, 1000)]), rule(["getppid"]),  # one rule without a bound
    ])
    entry = lambda n: t.syscalls[NATIVE * NR + n]  # noqa: E731
    assert (entry(nr("openat")).auid_lo, entry(nr("openat")).auid_hi) == (0, U32 - 1)
    assert (entry(nr("unlink")).auid_lo, entry(nr("unlink")).auid_hi) == (2000, U32)
    assert (entry(nr("getppid")).auid_lo, entry(nr("getppid")).auid_hi) == (0, U32)
    # the gate is sys_enter's unsigned range test: what a candidate accepts passes, unset does not
    e = entry(nr("openat"))
    passes = {a: (a - e.auid_lo) % 2**32 <= e.auid_hi - e.auid_lo for a in (0, 999, 1000, U32 - 1, U32)}
    assert passes == {0: True, 999: True, 1000: True, U32 - 1: True, U32: False}  # a hull: 999 too
