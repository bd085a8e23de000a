"""`bpfaudit rules list|lint`: the rules as `auditctl -l` prints them, and how bpfaudit
evaluates each (parsing and printing only; the work is in tracer.rules)."""

from __future__ import annotations

import sys

import typer

from tracer.commands.common import RuleOpt, RulesOpt, fail as _fail, load_rule_options as _load
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

CTX = {"allow_extra_args": True, "ignore_unknown_options": True}


def _load_reporting_warnings(rules, rule, args):
    """The rule set, warnings on stderr; a bad rule ends the command with one line and exit 2."""
    try:
        rs = _load(rules, rule, args)
    except BpfauditError as err:
        _fail(err)
    for w in rs.warnings:
        typer.echo(f"warning: {w}", err=True)
    return rs


@app.command("list", context_settings=CTX, epilog=EPILOG_LIST)
def list_rules(ctx: typer.Context, rules: RulesOpt = None, rule: RuleOpt = None) -> None:
    """Print the rules in auditctl -l form (the built-in default without -R)."""
    rs = _load_reporting_warnings(rules, rule, ctx.args)
    lines = rs.canonical()
    if not lines:
        typer.echo("No rules")
    for line in lines:
        typer.echo(line)


@app.command("lint", context_settings=CTX, epilog=EPILOG_LINT)
def lint_rules(ctx: typer.Context, rules: RulesOpt = None, rule: RuleOpt = None) -> None:
    """Say for each rule how bpfaudit evaluates it."""
    from tracer.rules.lint import lint

    rs = _load_reporting_warnings(rules, rule, ctx.args)
    report = lint(rs)
    for line in report:
        typer.echo(str(line))
    bad = [line for line in report if line.bad]
    if bad:
        typer.echo(f"bpfaudit: {len(bad)} rule(s) cannot be loaded (see 'error' above)", err=True)
        raise typer.Exit(code=2)
    sys.stdout.flush()
