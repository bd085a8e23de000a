"""The `bpfaudit` command: composes one typer app per command module."""

from __future__ import annotations

import typer

from tracer.commands import compare, rules, top, trace

app = typer.Typer(
    help="eBPF syscall audit tracer speaking the auditctl rule language.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(trace.app)
app.add_typer(top.app)
app.add_typer(rules.app, name="rules")
app.add_typer(compare.app)


def main() -> None:
    app()
