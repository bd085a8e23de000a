"""Options and error handling shared by the commands."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, List, NoReturn, Optional

import typer

from tracer.errors import BpfauditError

RulesOpt = Annotated[
    Optional[List[Path]],
    typer.Option("--rules", "-R", help="audit rules file (auditctl -R syntax); repeatable, read in order"),
]
RuleOpt = Annotated[
    Optional[List[str]],
    typer.Option("--rule", help="one rule as a quoted string, e.g. '-a always,exit -S execve'; repeatable"),
]


def load_rule_options(rules: Optional[List[Path]], rule: Optional[List[str]], argv: Optional[List[str]] = None):
    """The RuleSet named by -R/--rule (and trailing rule words); the embedded default when none."""
    from tracer.rules import default_rules, load_rules

    extra = list(rule or [])
    if argv:
        extra.append(shlex.join(argv))  # tokens after the options: one rule, as auditctl takes it
    if not rules and not extra:
        return default_rules()
    return load_rules([str(p) for p in rules or []], extra)


def fail(err: BpfauditError) -> NoReturn:
    """One line on stderr and the error's exit code."""
    typer.echo(f"bpfaudit: {err}", err=True)
    raise typer.Exit(code=err.exit_code) from None
