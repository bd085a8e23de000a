"""Exit-list rules to tracer.filters.KernelRule: the BPF-evaluable fields as FieldChecks,
everything else left to user space (evaluate()), syscalls narrowed where the kernel would."""

from __future__ import annotations

import os
from typing import List, Sequence

from tracer.filters import FieldCheck, KernelRule
from tracer.capture.layout import layout
from tracer.rules.errors import RuleError
from tracer.rules.model import Rule
from tracer.rules.perm_classes import perm_syscalls
from tracer.rules.support import KERNEL, UNSUPPORTED, classify

_OP_NAMES = {"=": "EQ", "!=": "NE", "<": "LT", "<=": "LE", ">": "GT", ">=": "GE", "&": "BITMASK", "&=": "BITTEST"}


def compile_rule(rule: Rule) -> KernelRule:
    L = layout()
    checks = []
    userspace = False
    never = False
    path_name = path_kind = None
    syscalls = rule.syscalls
    for c in rule.conds:
        kind, _why = classify(c)
        if kind == KERNEL:
            # success keeps its raw value: tracer/capture/tables.py maps it to AUDITSC_SUCCESS/FAILURE
            checks.append(FieldCheck(c.type, L.consts[f"BA_OP_{_OP_NAMES[c.op]}"], c.value & 0xFFFFFFFF))
        elif kind == UNSUPPORTED:
            never = True
        else:
            userspace = True
        if c.name in ("path", "dir"):
            path_name = os.path.normpath(c.text or "")  # as evaluate._path_match compares
            path_kind = c.name
        if c.name == "perm" and c.op == "=":
            # audit_match_perm() fails outside these syscalls, so BPF need not look elsewhere
            narrow = perm_syscalls(c.value)
            syscalls = narrow if syscalls is None else syscalls & narrow
    if never:
        syscalls = frozenset()  # a condition bpfaudit cannot evaluate never holds
    if len(checks) > L.BA_MAX_FIELDS:
        raise RuleError(
            str(rule.source), rule.text,
            f"{len(checks)} fields for BPF to compare; bpfaudit's rule table holds {L.BA_MAX_FIELDS} "
            "per rule (BA_MAX_FIELDS): split the rule",
        )
    if syscalls:
        beyond = sorted(nr for nr in syscalls if nr >= L.BA_NR_SYSCALLS)
        if beyond:
            raise RuleError(
                str(rule.source), rule.text,
                f"syscall number {beyond[0]} is beyond bpfaudit's table (BA_NR_SYSCALLS={L.BA_NR_SYSCALLS})",
            )
    return KernelRule(
        action=L.BA_ACT_ALWAYS if rule.action == "always" else L.BA_ACT_NEVER,
        syscalls=syscalls,
        fields=tuple(checks),
        userspace=userspace,
        key=rule.key,
        path_name=path_name,
        path_kind=path_kind,
        text=rule.text,
        source=rule,
    )


def compile_rules(rules: Sequence[Rule]) -> List[KernelRule]:
    """The exit-list rules of `rules`, in order, compiled; raises RuleError beyond BPF's limits."""
    L = layout()
    exit_rules = [r for r in rules if r.list == "exit"]
    if len(exit_rules) > L.BA_MAX_RULES:
        extra = exit_rules[L.BA_MAX_RULES]
        raise RuleError(
            str(extra.source), None,
            f"{len(exit_rules)} exit rules; bpfaudit's rule table holds {L.BA_MAX_RULES} (BA_MAX_RULES): "
            "merge rules (-S lists several syscalls) or drop some",
        )
    return [compile_rule(r) for r in exit_rules]
