"""scripts/bench's command line: options in, report out (table on stdout, JSON to --json)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from typing_extensions import Annotated

from tracer.bench.suite import Settings, parse_scenarios, run_bench
from tracer.capture.session import DEFAULT_TRANSPORT, TRANSPORTS
from tracer.bench.table import build_tables, notes
from tracer.errors import BpfauditError

app = typer.Typer(add_completion=False, help="Benchmark bpfaudit against kernel audit (issues 6, 12 and 13).")

DEFAULT_WORKLOAD = str(Path(__file__).resolve().parents[2] / "build" / "getppid_loop")
EXAMPLES = """Examples:

  sudo scripts/bench --json build/bench.json

  sudo scripts/bench --scenarios S1,S2,S6 --baseline-rev 8b817fd --json docs/bench/issue12.json

  sudo scripts/bench --scenarios S1,S7 --json build/bench-s7.json"""


@app.command(epilog=EXAMPLES)
def bench(
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the full report here.")] = None,
    scenarios: Annotated[str, typer.Option(help="Comma-separated scenarios to run: S1,S2,S3,S4,S5,S6,S7,S8.")]
    = "S1,S2,S3,S4,S5,S6,S7,S8",
    quick: Annotated[bool, typer.Option("--quick", help="3 rounds of 0.5 s runs, 5 s S5 runs (a few minutes).")]
    = False,
    reps: Annotated[Optional[int], typer.Option(help="Rounds of interleaved runs (default 7; 3 with --quick).")] = None,
    seconds: Annotated[Optional[float], typer.Option(help="Length of one S1/S2 run in seconds (default 0.8; 0.5 with --quick).")] = None,
    wait_quiet: Annotated[float, typer.Option(help="Before each run, wait up to this many seconds for other "
                                                   "programs on raw_syscalls to detach (0: never wait).")] = 20.0,
    workload: Annotated[str, typer.Option(help="The getppid_loop binary (scripts/bench builds it).")]
    = DEFAULT_WORKLOAD,
    s5_rate: Annotated[Optional[float], typer.Option(help="S5's rate in getppid/s (default: 3x the S3 ceiling of "
                                                          "this run, or of a short S3 search when S3 is not run).")]
    = None,
    s5_seconds: Annotated[Optional[float], typer.Option(help="Length of each S5 run in seconds (default 30; 5 with "
                                                             "--quick).")] = None,
    transport: Annotated[str, typer.Option(help="Transport of the bpfaudit configurations S2, S3, S5, S6 and S7 judge "
                                                "against the targets: ringbuf (the default, as `trace`), perf-ring or bcc "
                                                "(S2 and S3 also measure the other ones beside it).")]
    = DEFAULT_TRANSPORT,
    baseline_rev: Annotated[Optional[str], typer.Option(help="Also measure this git revision's build in S1, S2, S6 "
                                                             "and S7, beside the working tree's, in the same run: its "
                                                             "tracer/ and bpf/ (git archive) load and consume in a "
                                                             "process of their own, the working tree's alike.")]
    = None,
    exec_workload: Annotated[Optional[str], typer.Option(help="S6's fork+exec loop (scripts/bench builds "
                                                              "build/exec_loop).")] = None,
    exec_target: Annotated[Optional[str], typer.Option(help="What S6 executes (default: build/exec_true, a static "
                                                            "`return 0`; e.g. /bin/true).")] = None,
    exec_seconds: Annotated[Optional[float], typer.Option(help="Length of one S6 run in seconds (default 1; 0.5 "
                                                               "with --quick).")] = None,
    exec_reps: Annotated[Optional[int], typer.Option(help="Rounds of S6 (default 15; 5 with --quick): an exec's cost "
                                                          "moves between runs more than S1/S2's calls.")] = None,
    open_workload: Annotated[Optional[str], typer.Option(help="S7's openat+close loop (scripts/bench builds "
                                                              "build/open_loop).")] = None,
    open_target: Annotated[Optional[str], typer.Option(help="The existing small file S7 opens (default: "
                                                            "/etc/hostname).")] = None,
    open_seconds: Annotated[Optional[float], typer.Option(help="Length of one S7 run in seconds (default 1; 0.5 "
                                                               "with --quick).")] = None,
    open_reps: Annotated[Optional[int], typer.Option(help="Rounds of S7 (default 15; 5 with --quick).")] = None,
) -> None:
    """Runs the scenarios, prints the tables and writes --json. Needs root; restores kernel audit."""
    err_console = Console(stderr=True)
    try:
        if os.geteuid() != 0:
            raise BpfauditError("the benchmark needs root (BPF and kernel audit): rerun with sudo", 2)
        names = parse_scenarios(scenarios)
        settings = Settings.quick(workload, names) if quick else Settings(workload, names)
        settings.reps = _rounds("--reps", reps) or settings.reps
        settings.seconds = _positive("--seconds", seconds) or settings.seconds
        if s5_rate is not None:
            if s5_rate < 1000:
                raise BpfauditError("--s5-rate must be at least 1000 getppid/s", 2)
            settings.s5_rate = s5_rate
        settings.s5_seconds = _positive("--s5-seconds", s5_seconds) or settings.s5_seconds
        settings.exec_seconds = _positive("--exec-seconds", exec_seconds) or settings.exec_seconds
        settings.exec_reps = _rounds("--exec-reps", exec_reps) or settings.exec_reps
        settings.exec_workload = exec_workload or settings.exec_workload
        settings.exec_target = exec_target or settings.exec_target
        settings.open_seconds = _positive("--open-seconds", open_seconds) or settings.open_seconds
        settings.open_reps = _rounds("--open-reps", open_reps) or settings.open_reps
        settings.open_workload = open_workload or settings.open_workload
        settings.open_target = open_target or settings.open_target
        settings.baseline_rev = baseline_rev or None
        if transport not in TRANSPORTS:
            raise BpfauditError(f"--transport {transport}: use {', '.join(TRANSPORTS[:-1])} or {TRANSPORTS[-1]}", 2)
        settings.transport = transport
        if wait_quiet < 0:
            raise BpfauditError("--wait-quiet must be 0 or more seconds", 2)
        settings.quiet_timeout = wait_quiet
        if json_out is not None and not json_out.parent.is_dir():
            raise BpfauditError(f"--json {json_out}: directory {json_out.parent} does not exist", 2)
        report = run_bench(settings, lambda msg: err_console.print(f"[dim]bench: {msg}[/dim]", highlight=False))
    except BpfauditError as err:
        print(f"bpfaudit bench: {err}", file=sys.stderr)
        raise typer.Exit(code=err.exit_code) from None
    console = Console(width=max(Console().width, 160))
    m = report["machine"]
    console.print(f"{m['nproc']} CPUs, {m['cpu_model']}, kernel {m['kernel']}, load {m['loadavg_before']} "
                  f"-> {m['loadavg_after']}, {report['elapsed_s']} s")
    for table in build_tables(report):
        console.print(table)
    for note in notes(report):
        console.print(f"- {note}", highlight=False)
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=1) + "\n")


def _positive(option: str, value: Optional[float]) -> Optional[float]:
    """`value` (None: not given) once checked, or a usage error naming `option`."""
    if value is not None and value <= 0:
        raise BpfauditError(f"{option} must be positive", 2)
    return value


def _rounds(option: str, value: Optional[int]) -> Optional[int]:
    if value is not None and value < 1:
        raise BpfauditError(f"{option} must be at least 1", 2)
    return value


def main() -> None:
    app()
