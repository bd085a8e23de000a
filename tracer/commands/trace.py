"""`bpfaudit trace`: stream audit records of the syscalls the rules select."""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import threading
import time
from typing import Annotated, BinaryIO, Dict, List, Optional, TextIO

import typer

from tracer.capture.session import DEFAULT_TRANSPORT, TRANSPORTS, CaptureOptions, open_capture
from tracer.commands.common import RuleOpt, RulesOpt, fail, load_rule_options
from tracer.errors import BpfauditError
from tracer.formats import audit_text, jsonl, native
from tracer.capture.ledger import LossLedger, ledger_update, read_kernel_audit
from tracer.capture.loader import require_root
from tracer.output import open_private
from tracer.syscall_table import syscall_number

app = typer.Typer()

PID_MAX_LIMIT = 4194304  # the kernel's ceiling for /proc/sys/kernel/pid_max

FORMATS = {"audit": audit_text.format_event, "json": jsonl.format_event}
FLUSH_SECONDS = 1.0  # a file (or pipe) gets what was written at least this often

TRANSPORT_HELP = ("how records reach user space: ringbuf (the default: one BPF ring buffer shared by all "
                  "CPUs, the cheapest submission in BPF; no LOST records, so BPF's count is the only one), "
                  "perf-ring (per-CPU perf rings read in place; their LOST records cross-check BPF's loss "
                  "count), bcc (bcc's perf buffer: a callback per sample into a queue; the slowest)")

EPILOG = """Examples:

  sudo bpfaudit trace                              # the built-in user-activity rules

  sudo bpfaudit trace -R /etc/audit/rules.d/audit.rules -o /var/tmp/trail.log

  sudo bpfaudit trace --rule '-a always,exit -S openat -F auid>=1000 -F auid!=unset -k open' --format json

  sudo bpfaudit trace -x -S openat --duration 10   # failed openat calls for 10 seconds

Records are written as auditd writes them (ausearch -if FILE reads them) or as JSON lines."""


def run_trace(options: CaptureOptions, out: BinaryIO, fmt: str = "audit", duration: Optional[float] = None,
              notes: Optional[TextIO] = None, ledger: Optional[LossLedger] = None) -> Dict[str, int]:
    """Traces until `duration` seconds pass, Ctrl-C or SIGTERM, writing records to the byte stream
    `out`; returns the capture's loss counters and, when given `ledger`, leaves the final reading in it.

    Records are formatted a batch at a time by the compiled formatter (tracer/formats/native.py;
    the Python reference where it is not built) and written in blocks of a MiB or more, straight
    to `out`'s descriptor when it has one. What is buffered is written after every batch when
    `out` is a terminal, else at least every FLUSH_SECONDS.

    A write error ends the run: the records delivered from then on are counted, not written
    (the file, when it is one, ends on a whole record), and the ledger carries the count and
    the error (`unwritten`, `write_error`); the returned counters too."""
    stop = threading.Event()
    interactive = out.isatty()

    # Ctrl-C and SIGTERM end the loop between batches: an exception raised
    # inside one would drop the rest of a batch already taken from the queue
    def on_signal(signum, frame):
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with open_capture(options) as cap:
            sink = _sink(cap, out, fmt)
            if notes is not None:
                rs = cap.ruleset
                notes.write(f"bpfaudit: {len(rs.exit_rules)} exit rules; {cap.transport}\n")
                for note in cap.startup_notes + ([] if native.available() else [native.NOT_BUILT]):
                    notes.write(f"bpfaudit: {note}\n")
                notes.flush()
            # the duration counts from the moment the programs are attached, not from before compiling
            deadline = None if duration is None else time.monotonic() + duration
            flushed = time.monotonic()
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline) and not sink.errno:
                by_key = sink.poll()
                if interactive or time.monotonic() - flushed >= FLUSH_SECONDS:
                    sink.flush()
                    flushed = time.monotonic()
                if ledger is not None:
                    ledger.observe_keys(by_key)
            # records submitted before detaching are still on their way (after a write error:
            # taken and counted, not written)
            cap.detach()
            by_key = sink.poll(0)
            sink.flush()
            losses = dict(cap.losses(), unwritten=sink.unwritten, write_errno=sink.errno)
            if ledger is not None:
                ledger.observe_keys(by_key)
                ledger_update(ledger, cap)
                ledger.unwritten = sink.unwritten
                ledger.write_error = os.strerror(sink.errno) if sink.errno else ""
            return losses
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _CompiledSink:
    """A capture's records through the compiled formatter, to `out`'s descriptor or through `out`."""

    def __init__(self, cap, out: BinaryIO, fmt: str):
        try:
            fd = out.fileno()
        except (AttributeError, OSError, ValueError):  # a stream without one (a test's)
            fd = -1
        if fd >= 0:
            out.flush()  # anything already in its buffer goes first
        self._cap, self._out, self._fd = cap, out, fd
        self._writer = native.NativeWriter(cap.decoder, fmt, fd)

    def poll(self, timeout_ms: Optional[int] = None) -> Dict[str, int]:
        by_key = self._cap.poll_into(self._writer, timeout_ms)
        if self._fd < 0:
            self._out.write(self._writer.take())
        return by_key

    def flush(self) -> None:
        if self._fd >= 0:
            self._writer.flush()
        else:
            self._out.flush()

    @property
    def errno(self) -> int:
        """The output's first write error (0: none)."""
        return self._writer.write_errno

    @property
    def unwritten(self) -> int:
        return self._writer.unwritten


class _PythonSink:
    """A capture's records through the Python reference formatter."""

    def __init__(self, cap, out: BinaryIO, fmt: str):
        self._cap, self._out, self._render = cap, out, FORMATS[fmt]
        self.errno = 0  # the output's first write error: from then on events are counted, not written
        self.unwritten = 0

    def poll(self, timeout_ms: Optional[int] = None) -> Dict[str, int]:
        events = self._cap.poll(timeout_ms)
        by_key: Dict[str, int] = {}
        for ev in events:
            label = native.key_label(ev.key)
            by_key[label] = by_key.get(label, 0) + 1
        if self.errno:
            self.unwritten += len(events)
            return by_key
        try:
            self._out.write("".join(self._render(ev) for ev in events).encode("utf-8"))
        except OSError as err:  # how much of the batch went out is not known: all of it counted
            self.errno, self.unwritten = err.errno or 5, self.unwritten + len(events)
        return by_key

    def flush(self) -> None:
        if not self.errno:
            try:
                self._out.flush()
            except OSError as err:
                self.errno = err.errno or 5


def _sink(cap, out: BinaryIO, fmt: str):
    return (_CompiledSink if native.available() else _PythonSink)(cap, out, fmt)


def _reached_by(path: str):
    """(inode, device) of the file `path` names now, None when it names none."""
    try:
        return os.stat(path)[1:3]
    except OSError:
        return None


def check_transport(transport: str) -> str:
    """`--transport` is one of capture's transports (before root is asked for or BPF compiled)."""
    if transport not in TRANSPORTS:
        raise BpfauditError(f"--transport {transport}: use {', '.join(TRANSPORTS[:-1])} or {TRANSPORTS[-1]}")
    return transport


def _syscall_names(names: Optional[List[str]]):
    if not names:
        return None
    wanted = set()
    for item in names:
        for name in filter(None, item.split(",")):
            if syscall_number("x86_64", name) is None and syscall_number("i386", name) is None:
                raise BpfauditError(f"-S {name}: unknown syscall (see `ausyscall --dump`)")
            wanted.add(name)
    return wanted


@app.command(epilog=EPILOG)
def trace(
    rules: RulesOpt = None,
    rule: RuleOpt = None,
    pid: Annotated[int, typer.Option("--pid", "-p", help="only this process (tgid)")] = 0,
    comm: Annotated[Optional[str], typer.Option("--comm", help="only tasks with this command name")] = None,
    auid: Annotated[Optional[int], typer.Option("--auid", help="only records of this login uid")] = None,
    syscall: Annotated[Optional[List[str]], typer.Option("--syscall", "-S", help="only these syscalls (repeatable, or comma list)")] = None,
    failed: Annotated[bool, typer.Option("--failed", "-x", help="only failed syscalls")] = False,
    duration: Annotated[Optional[float], typer.Option("--duration", help="stop after SECONDS")] = None,
    fmt: Annotated[str, typer.Option("--format", help="audit (auditd's log format) or json (JSON lines)")] = "audit",
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="write records to FILE (mode 0600) instead of stdout")] = None,
    stats_json: Annotated[Optional[str], typer.Option("--stats-json", help="write the loss ledger to FILE as JSON on exit")] = None,
    max_loss: Annotated[Optional[float], typer.Option("--max-loss", help="exit 1 when lost/emitted exceeds RATIO (0..1) or the ledger does not reconcile")] = None,
    transport: Annotated[str, typer.Option("--transport", help=TRANSPORT_HELP)] = DEFAULT_TRANSPORT,
) -> None:
    """Stream kernel-audit records of the syscalls the rules select (default: built-in user-activity rules)."""
    try:
        if fmt not in FORMATS:
            raise BpfauditError(f"--format {fmt}: use audit or json")
        # a pid beyond u32 would wrap silently in the config map: a filter that matches nothing
        if not 0 <= pid <= PID_MAX_LIMIT:
            raise BpfauditError(f"-p {pid} is not a process id; give a positive pid")
        if duration is not None and duration < 0:
            raise BpfauditError("--duration must be 0 or more seconds")
        if max_loss is not None and not 0 <= max_loss <= 1:
            raise BpfauditError(f"--max-loss {max_loss}: give a ratio between 0 and 1, e.g. 0.01")
        check_transport(transport)
        options = CaptureOptions(
            rules=load_rule_options(rules, rule), pid=pid, comm=comm, failed_only=failed,
            syscalls=_syscall_names(syscall), auid=auid, transport=transport,
        )
        require_root()  # before -o creates or truncates a file that a refused run would leave behind
        out = open_private(output, binary=True) if output else sys.stdout.buffer
        written_to = os.fstat(out.fileno())[1:3] if output else None  # (inode, device) of the trail
        # --stats-json is made now: a path that cannot be written fails the run before it starts
        stats_out = open_private(stats_json) if stats_json else None
        ledger = LossLedger(read_kernel_audit())
        try:
            losses = run_trace(options, out, fmt, duration, notes=sys.stderr, ledger=ledger)
        finally:
            if output:
                try:
                    out.close()
                except OSError:  # its error is the run's, reported below
                    pass
        typer.echo(ledger.summary(), err=True)
        if written_to is not None and _reached_by(output) != written_to:
            typer.echo(f"bpfaudit: warning: {output} was removed or replaced while records were written to it: "
                       "they are in a file no name reaches any more", err=True)
        if stats_out is not None:
            with stats_out as f:
                json.dump(ledger.to_dict(), f, indent=2)
        if losses.get("write_errno") == errno.EPIPE and not output:
            # the reader went away (`trace | head`): an end, not an error, as for other filters;
            # stdout points nowhere now, so nothing at exit tries it again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        elif losses.get("write_errno"):
            raise BpfauditError(f"writing {output or 'standard output'} failed: {os.strerror(losses['write_errno'])}; "
                                f"{ledger.unwritten} records were not written (counted in the ledger)",
                                exit_code=1)
        if max_loss is not None:
            if not ledger.reconcile().ok:
                raise BpfauditError("the loss ledger does not reconcile (see above)", exit_code=1)
            if ledger.loss_ratio > max_loss:
                raise BpfauditError(f"lost {ledger.lost} of {ledger.emitted} records "
                                    f"({ledger.loss_ratio:.4%}), more than --max-loss {max_loss}", exit_code=1)
    except BpfauditError as err:
        fail(err)
