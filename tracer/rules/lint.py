"""How bpfaudit will evaluate each rule of a RuleSet: in BPF, in user space, approximately,
not at all, or not applicable (control lines and lists other than exit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

from tracer.capture.layout import layout
from tracer.rules.compile import compile_rule
from tracer.rules.errors import RuleError
from tracer.rules.model import Rule
from tracer.rules.ruleset import RuleSet
from tracer.rules.support import APPROX, KERNEL, UNSUPPORTED, USER, classify, cond_label


@dataclass(frozen=True)
class LintLine:
    where: str
    status: str  # in-kernel / user-space (...) / approximate (...) / unsupported (...) / not applicable (...) / error (...)
    text: str  # the rule (canonical) or the control line
    bad: bool = False  # an error that stops the rules from being loaded

    def __str__(self) -> str:
        return f"{self.where}: {self.status}: {self.text}"


def rule_status(rule: Rule) -> str:
    """One rule's status word with its reason, as `bpfaudit rules lint` prints it."""
    if rule.list != "exit":
        return f"not applicable (the {rule.list} list is not evaluated by bpfaudit, only exit)"
    kinds = [(classify(c), c) for c in rule.conds]
    unsupported = [(why, c) for (k, why), c in kinds if k == UNSUPPORTED]
    if unsupported:
        why, c = unsupported[0]
        return f"unsupported ({cond_label(c)}: {why}; the rule never matches)"
    user = [cond_label(c) for (k, _), c in kinds if k in (USER, APPROX)]
    approx = [f"{cond_label(c)}: {why}" for (k, why), c in kinds if k == APPROX]
    if approx:
        return f"approximate ({'; '.join(approx)})"
    if user:
        return f"user-space (fields: {','.join(user)})"
    assert all(k == KERNEL for (k, _), _c in kinds)
    return "in-kernel"


def lint(rs: RuleSet) -> List[LintLine]:
    """Every rule and ignored line, in file order, with its status."""
    out: List[LintLine] = []
    for rule in rs.all_rules():
        status, bad = rule_status(rule), False
        if rule.list == "exit":
            try:
                compile_rule(rule)
            except RuleError as err:
                status, bad = f"error ({err.problem})", True
        out.append(LintLine(str(rule.source), status, rule.text, bad))
    for ign in rs.ignored:
        if ign.text.startswith("-a ") or ign.text.startswith("-w "):
            continue  # non-exit rules: already listed above
        out.append(LintLine(str(ign.source), f"not applicable ({ign.reason})", ign.text))

    exits = rs.exit_rules
    limit = layout().BA_MAX_RULES
    if len(exits) > limit:
        out.append(LintLine(str(exits[limit].source), f"error ({len(exits)} exit rules; bpfaudit's rule "
                            f"table holds {limit} (BA_MAX_RULES))", exits[limit].text, True))
    files = {name: i for i, name in enumerate(rs.files)}

    def order(line: LintLine):
        file, _, num = line.where.rpartition(":")
        if not num.isdigit():
            return (len(files), line.where, 0)
        return (files.get(file, len(files)), file, int(num))

    return sorted(out, key=order)
