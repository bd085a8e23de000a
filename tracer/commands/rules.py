"""`bpfaudit rules list|lint`: the rules as `auditctl -l` prints them, and how bpfaudit
evaluates each (parsing and printing only; the work is in tracer.rules)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from tracer.errors import BpfauditError

app = typer.Typer(help="Parse, list and lint auditctl rules.", no_args_is_help=True)

EPILOG_LIST = """Examples:

  bpfaudit rules list                          # the built-in default rules

  bpfaudit rules list -R /etc/audit/rules.d/audit.rules

  bpfaudit rules list -- -a always,exit -F arch=b64 -S execve -F 'auid>=1000'

Prints each rule exactly as `auditctl -l` would after `auditctl -R`."""

EPILOG_LINT = """Each rule is reported as in-kernel (BPF decides), user-space (fields: ...;
BPF passes candidates, Python decides), approximate (how), unsupported (why: the rule never
matches) or not applicable (control options, lists other than exit). Exit code 2 on any error."""

RulesOpt = Annotated[
    Optional[List[Path]],
    typer.Option("--rules", "-R", help="audit rules file (auditctl -R syntax); repeatable, read in order"),
]
RuleOpt = Annotated[
    Optional[List[str]],
    typer.Option("--rule", help="one rule as a quoted string, e.g. '-a always,exit -S execve'; repeatable"),
]
CTX = {"allow_extra_args": True, "ignore_unknown_options": True}


def _load(rules: Optional[List[Path]], rule: Optional[List[str]], argv: List[str]):
    from tracer.rules import default_rules, load_rules

    extra = list(rule or [])
    if argv:
        extra.append(shlex.join(argv))  # tokens after the options: one rule, as auditctl takes it
    if not rules and not extra:
        return default_rules()
    return load_rules([str(p) for p in rules or []], extra)


def _fail(err: BpfauditError):
    typer.echo(f"bpfaudit: {err}", err=True)
    raise typer.Exit(code=err.exit_code) from None


@app.command("list", context_settings=CTX, epilog=EPILOG_LIST)
def list_rules(ctx: typer.Context, rules: RulesOpt = None, rule: RuleOpt = None) -> None:
    """Print the rules in auditctl -l form (the built-in default without -R)."""
    try:
        rs = _load(rules, rule, ctx.args)
    except BpfauditError as err:
        _fail(err)
    for w in rs.warnings:
        typer.echo(f"warning: {w}", err=True)
    lines = rs.canonical()
    if not lines:
        typer.echo("No rules")
    for line in lines:
        typer.echo(line)


@app.command("lint", context_settings=CTX, epilog=EPILOG_LINT)
def lint_rules(ctx: typer.Context, rules: RulesOpt = None, rule: RuleOpt = None) -> None:
    """Say for each rule how bpfaudit evaluates it."""
    from tracer.rules.lint import lint

    try:
        rs = _load(rules, rule, ctx.args)
    except BpfauditError as err:
        _fail(err)
    for w in rs.warnings:
        typer.echo(f"warning: {w}", err=True)
    report = lint(rs)
    for line in report:
        typer.echo(str(line))
    bad = [line for line in report if line.bad]
    if bad:
        typer.echo(f"bpfaudit: {len(bad)} rule(s) cannot be loaded (see 'error' above)", err=True)
        raise typer.Exit(code=2)
    sys.stdout.flush()
