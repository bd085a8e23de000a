"""`bpfaudit top`: the live dashboard command (parsing and wiring only; the
work is tracer.top.live.run_top)."""

from __future__ import annotations

import os
import signal
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, List, Optional, Tuple

import typer

from tracer.capture.session import DEFAULT_TRANSPORT
from tracer.commands.trace import TRANSPORT_HELP, check_transport
from tracer.errors import BpfauditError

app = typer.Typer()

EPILOG = """Examples:

  sudo bpfaudit top --demo            # built-in rules, built-in workload (auid 1000)

  sudo bpfaudit top -R my.rules -p 1234

  bpfaudit top --replay trace.jsonl   # from `bpfaudit trace --format json`

Keys: q quit, p pause, s sort by count/rate; Ctrl-C quits too."""


def load_ruleset(paths: List[Path]) -> Tuple[object, str]:
    """The RuleSet to capture with and how the header describes it."""
    try:
        from tracer.rules import default_rules, load_rules
    except ImportError:
        if paths:
            raise BpfauditError("rule files cannot be loaded in this build (tracer.rules "
                                "is missing); run without -R to use the built-in rules") from None
        return None, "built-in default"
    if paths:
        ruleset = load_rules([str(p) for p in paths])
        source = ", ".join(p.name for p in paths)
    else:
        ruleset = default_rules()
        source = "built-in default"
    # count rules as `auditctl -l` lists them, not compiled table entries
    listed = getattr(ruleset, "all_rules", None)
    n = len(listed()) if listed else len(ruleset.kernel_rules())
    return ruleset, f"{n} rule{'s' if n != 1 else ''} ({source})"


def _quit_on_signal(signum, frame):
    # SIGTERM/SIGHUP (tmux kill, closed terminal) take the Ctrl-C path, so the
    # capture detaches and the demo workload is stopped.
    raise KeyboardInterrupt


@app.command(epilog=EPILOG)
def top(
    rules: Annotated[Optional[List[Path]], typer.Option(
        "--rules", "-R", help="audit rule file (auditctl -R syntax); repeatable. "
        "Default: the built-in rule set.")] = None,
    demo: Annotated[bool, typer.Option(
        "--demo", help="also run a small built-in workload (auid 1000) while watching")] = False,
    replay: Annotated[Optional[Path], typer.Option(
        "--replay", help="watch a recorded `bpfaudit trace --format json` file instead of "
        "the live system")] = None,
    speed: Annotated[float, typer.Option(
        "--speed", help="replay speed: 1 real time, 10 ten times faster, 0 as fast as possible")] = 1.0,
    refresh: Annotated[float, typer.Option(
        "--refresh", help="screen refreshes per second (0.5-30)")] = 4.0,
    duration: Annotated[Optional[float], typer.Option(
        "--duration", help="exit after this many seconds")] = None,
    pid: Annotated[Optional[int], typer.Option(
        "--pid", "-p", help="only count records of this process id")] = None,
    transport: Annotated[str, typer.Option("--transport", help=TRANSPORT_HELP)] = DEFAULT_TRANSPORT,
) -> None:
    """Live dashboard: top syscalls, processes, users and keys, latest records, losses."""
    try:
        source = make_source(rules or [], demo, replay, speed, refresh, duration, pid, transport)
        with ExitStack() as stack:
            if demo:
                from tracer.demo import demo_workload

                stack.enter_context(demo_workload())
            for sig in (signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, _quit_on_signal)
            from tracer.top.live import run_top

            run_top(source, refresh_hz=refresh, duration=duration, pid=pid)
    except KeyboardInterrupt:
        pass  # Ctrl-C before the screen was up (while BPF compiles): a normal quit
    except BpfauditError as err:
        typer.echo(f"bpfaudit top: {err}", err=True)
        raise typer.Exit(code=err.exit_code) from None


def make_source(rules: List[Path], demo: bool, replay: Optional[Path], speed: float,
                refresh: float, duration: Optional[float], pid: Optional[int], transport: str = DEFAULT_TRANSPORT):
    """Validate the options (exit code 2 on bad input) and build the source."""
    check_transport(transport)
    if not 0.5 <= refresh <= 30:
        raise BpfauditError(f"--refresh {refresh:g} is out of range; use 0.5 to 30 per second")
    if duration is not None and duration < 0:
        raise BpfauditError("--duration must be 0 or more seconds")
    if pid is not None and pid <= 0:
        raise BpfauditError(f"-p {pid} is not a process id; give a positive pid")
    if speed < 0:
        raise BpfauditError("--speed must be 0 (as fast as possible) or more")
    from tracer.top.sources import LiveSource, ReplaySource

    if replay is not None:
        if rules or demo or transport != DEFAULT_TRANSPORT:
            raise BpfauditError("--replay shows a recorded trace: drop -R/--demo/--transport, or drop --replay "
                                "to watch the live system")
        if not replay.is_file():
            raise BpfauditError(f"replay file {replay} does not exist; record one with "
                                "`bpfaudit trace --format json > FILE`")
        return ReplaySource(str(replay), speed=speed)
    for path in rules:
        if not path.is_file():
            raise BpfauditError(f"rule file {path} does not exist; give an auditctl rule file to -R")
    ruleset, label = load_ruleset(rules)  # rule errors first: they need no root
    if os.geteuid() != 0:
        raise BpfauditError("watching the live system loads BPF programs and needs root: "
                            f"sudo {Path(sys.argv[0]).name} top ...")
    return LiveSource(ruleset, label, pid=pid, transport=transport)
