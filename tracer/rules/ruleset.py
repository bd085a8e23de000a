"""A whole rule list built from rules files and command-line rules, in the kernel's order
(-A prepends, -d/-W delete, -D clears), with the lines that do not apply to bpfaudit."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Dict, Iterable, List, Optional, Sequence

from tracer.errors import BpfauditError
from tracer.rules.errors import COMMAND_LINE, RuleError
from tracer.rules.lexer import file_lines, split_command_line
from tracer.rules.model import LIST_NUMBERS, Ignored, Rule, Source
from tracer.rules.parser import parse_tokens


@dataclass
class RuleSet:
    """Rules per list in kernel order; `exit_rules` is what bpfaudit evaluates."""

    lists: Dict[str, List[Rule]] = field(default_factory=lambda: {n: [] for n in LIST_NUMBERS})
    warnings: List[str] = field(default_factory=list)
    ignored: List[Ignored] = field(default_factory=list)
    files: List[str] = field(default_factory=list)  # in load order, for reports

    @property
    def exit_rules(self) -> List[Rule]:
        return self.lists["exit"]

    def all_rules(self) -> List[Rule]:
        """Every rule in the order `auditctl -l` lists them (by list number, then list order)."""
        out: List[Rule] = []
        for name in sorted(LIST_NUMBERS, key=LIST_NUMBERS.get):
            out.extend(self.lists[name])
        return out

    def canonical(self) -> List[str]:
        return [r.text for r in self.all_rules()]

    def kernel_rules(self):
        from tracer.rules.compile import compile_rules

        return compile_rules(self.exit_rules)

    def decide(self, event, start: int = 0) -> Optional[Rule]:
        from tracer.rules.evaluate import evaluate

        i = evaluate(self.exit_rules, event, start)
        return None if i is None else self.exit_rules[i]

    # -- building -----------------------------------------------------------------------
    def add_line(self, tokens: List[str], source: Source, command_line: bool) -> None:
        line = parse_tokens(tokens, source, command_line)
        self.ignored.extend(line.ignored)
        if line.clear:
            key = line.clear_key
            dropped = 0
            for v in self.lists.values():
                keep = [r for r in v if key is not None and key not in (r.key or "")]
                dropped += len(v) - len(keep)
                v[:] = keep
            if dropped:
                self.warnings.append(f"{source}: -D deletes the {dropped} rules given before it"
                                     + (f" with key {key}" if key is not None else ""))
        rule = line.rule
        if rule is None:
            return
        where = COMMAND_LINE if command_line else str(source)
        self.warnings.extend(rule.warnings)
        target = self.lists[rule.list]
        same = next((r for r in target if r.identity() == rule.identity()), None)
        if line.delete:
            if same is None:
                self.warnings.append(f"{where}: no earlier rule matches this delete ({rule.text})")
            else:
                target.remove(same)
            return
        if same is not None:
            raise RuleError(
                where, rule.text, f"duplicate of the rule at {same.source}; the kernel refuses it (Rule exists)"
            )
        if rule.list != "exit":
            self.ignored.append(
                Ignored(source, rule.text, f"the {rule.list} list is not evaluated by bpfaudit (only exit)")
            )
        if rule.prepend:
            target.insert(0, rule)
        else:
            target.append(rule)


def _read(path: str) -> str:
    if path.endswith(".gz"):
        import gzip

        opener = gzip.open
    else:
        opener = open
    try:
        with opener(path, "rt", encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError as err:
        raise BpfauditError(f"{path}: cannot read the rules file: {err.strerror or err}") from None


def load_rules(paths: Sequence[str], extra: Iterable[str] = ()) -> RuleSet:
    """Parse rules files in order, then command-line rule strings; raises RuleError/BpfauditError."""
    rs = RuleSet()
    for path in paths:
        rs.files.append(path)
        for source, tokens in file_lines(path, _read(path)):
            rs.add_line(tokens, source, command_line=False)
    for text in extra:
        tokens = split_command_line(text)
        if tokens:
            rs.add_line(tokens, Source(COMMAND_LINE), command_line=True)
    return rs


def parse_text(text: str, name: str = "<rules>") -> RuleSet:
    """A RuleSet from rules-file text (for embedded defaults and tests)."""
    rs = RuleSet(files=[name])
    for source, tokens in file_lines(name, text):
        rs.add_line(tokens, source, command_line=False)
    return rs


DEFAULT_RULES_NAME = "default.rules"


def default_rules_text() -> str:
    return resources.files("tracer.rules").joinpath(DEFAULT_RULES_NAME).read_text()


def default_rules() -> RuleSet:
    """The embedded default: user-activity auditing for logged-in users (auid>=1000)."""
    return parse_text(default_rules_text(), f"<default>/{DEFAULT_RULES_NAME}")
