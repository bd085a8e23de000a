"""The auditctl rule language: parse, render as `auditctl -l`, evaluate, compile for BPF."""

from tracer.rules.compile import compile_rules
from tracer.rules.errors import RuleError
from tracer.rules.evaluate import evaluate
from tracer.rules.model import Cond, Ignored, Rule, Source
from tracer.rules.ruleset import RuleSet, default_rules, load_rules, parse_text

__all__ = [
    "Cond",
    "Ignored",
    "Rule",
    "RuleError",
    "RuleSet",
    "Source",
    "compile_rules",
    "evaluate",
    "default_rules",
    "load_rules",
    "parse_text",
]
