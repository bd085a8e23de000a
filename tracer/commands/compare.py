"""`bpfaudit compare`: a command under kernel audit and under bpfaudit, side by side."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Annotated, List, Optional

import typer
from rich.console import Console

from tracer.commands.common import fail
from tracer.errors import BpfauditError

app = typer.Typer()

EPILOG = """Examples:

  sudo bpfaudit compare -R /usr/share/doc/auditd/examples/rules/30-ospp-v42-3-access-failed.rules -- ls /root

  sudo bpfaudit compare -R a.rules -R b.rules --runs 5 --json cmp.json -- make -j2

  sudo bpfaudit compare -R a.rules --engine bpf -- ./workload

CMD runs as a fresh login session (loginuid = --auid) once per run of each cell: a
baseline with neither engine, then for each rule set kernel audit (rules loaded with
auditctl, auditd reading them) and bpfaudit. Kernel audit's state is restored after
its cell, also on errors and Ctrl-C."""


@app.command(epilog=EPILOG)
def compare(
    command: Annotated[Optional[List[str]], typer.Argument(help="the workload, after --", show_default=False)] = None,
    rules: Annotated[Optional[List[Path]], typer.Option("--rules", "-R", help="rules file (auditctl -R syntax); repeat for a second rule set")] = None,
    engine: Annotated[str, typer.Option("--engine", help="engines to run: audit, bpf or audit,bpf")] = "audit,bpf",
    runs: Annotated[int, typer.Option("--runs", "-n", help="runs per cell; times are the median")] = 3,
    auid: Annotated[int, typer.Option("--auid", help="login uid of the workload's session (the rules' auid>=1000 matches 1000)")] = 1000,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="also write the full report to FILE")] = None,
) -> None:
    """Run CMD under kernel audit and under bpfaudit (and neither) and compare records, losses and cost."""
    from tracer.compare import CompareOptions, render_report, run_compare
    from tracer.compare.run import parse_engines

    err_console = Console(stderr=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt  # as Ctrl-C: the workload is killed and kernel audit restored

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        options = CompareOptions(rules=[str(p) for p in rules or []], command=list(command or []),
                                 engines=parse_engines(engine), runs=runs, auid=auid)
        try:
            report = run_compare(options, progress=lambda text: err_console.print(f"[dim]bpfaudit: {text}[/]"))
        except KeyboardInterrupt:
            raise BpfauditError("interrupted; kernel audit state was restored", exit_code=130) from None
        console = Console()
        if not console.is_terminal:
            console = Console(width=max(console.width, 140))  # a file or pipe: do not squeeze the tables
        console.print(render_report(report))
        if json_out is not None:
            json_out.write_text(json.dumps(report, indent=2) + "\n")
    except BpfauditError as err:
        fail(err)
    finally:
        signal.signal(signal.SIGTERM, previous)
