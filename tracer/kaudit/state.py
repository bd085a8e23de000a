"""Save and restore kernel audit state (rules and status), and load rules safely."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Iterable, Iterator

from tracer.errors import BpfauditError
from tracer.kaudit import netlink
from tracer.kaudit.lock import audit_lock

AUDITCTL = "/usr/sbin/auditctl"

# Status fields restored by value; `pid` is handled apart (only its owner can clear it).
RESTORED_FIELDS = ("failure", "rate_limit", "backlog_limit", "backlog_wait_time", "enabled")


@dataclasses.dataclass(frozen=True)
class AuditState:
    """What bpfaudit may change in kernel audit, and who is consuming its records."""

    rules: tuple[str, ...]
    enabled: int
    failure: int
    backlog_limit: int
    backlog_wait_time: int | None
    rate_limit: int
    pid: int
    auditd_pid: int | None
    # The rules as the kernel holds them (struct audit_rule_data): what restore()
    # reloads, because `auditctl -l` text does not always read back (auditctl
    # 3.0.9 prints `-F perm=x -F path=P` as " -p x-w P").
    rule_data: tuple[bytes, ...] = dataclasses.field(default=(), repr=False)

    @property
    def auditd_running(self) -> bool:
        return self.auditd_pid is not None


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived inside a kernel audit session (a KeyboardInterrupt so `except Exception` won't eat it)."""


def auditctl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run([AUDITCTL, *args], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise BpfauditError(f"{AUDITCTL} not found; install the auditd package") from None
    if check and proc.returncode != 0:
        msg = _first_error_line(proc.stderr) or f"exit code {proc.returncode}"
        raise BpfauditError(f"auditctl {' '.join(args)} failed: {msg}", exit_code=1)
    return proc


def _first_error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    # auditctl prints "Error sending add rule data request (...)" after the real reason.
    for line in lines:
        if not line.startswith("There was an error in line"):
            return line
    return lines[0] if lines else ""


def list_rules() -> tuple[str, ...]:
    """The loaded rules as `auditctl -l` prints them (the kernel's canonical form)."""
    out = auditctl("-l").stdout
    lines = tuple(ln for ln in out.splitlines() if ln.strip())
    return () if lines == ("No rules",) else lines


def find_auditd() -> int | None:
    """Pid of a running auditd process, if any (by /proc/*/comm, as there is no pidfile contract)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() == "auditd":
                    return int(entry)
        except OSError:
            continue
    return None


def snapshot() -> AuditState:
    status = netlink.audit_status()
    return AuditState(
        rules=list_rules(),
        rule_data=netlink.list_rule_blobs(),
        enabled=status.enabled,
        failure=status.failure,
        backlog_limit=status.backlog_limit,
        backlog_wait_time=status.backlog_wait_time,
        rate_limit=status.rate_limit,
        pid=status.pid,
        auditd_pid=find_auditd(),
    )


def diff_states(before: AuditState, after: AuditState) -> list[str]:
    """Human-readable differences in what restore() puts back (rules, status fields, pid)."""
    diffs = []
    for name in (*RESTORED_FIELDS, "pid"):
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            diffs.append(f"{name} {old} -> {new}")
    if before.rules != after.rules:
        removed = [r for r in before.rules if r not in after.rules]
        added = [r for r in after.rules if r not in before.rules]
        parts = [f"-{r}" for r in removed] + [f"+{r}" for r in added]
        diffs.append("rules: " + ("; ".join(parts) if parts else "same rules, different order"))
    return diffs


def _restore_rules(conn: netlink.AuditSocket, state: AuditState) -> None:
    """Delete what is loaded and add the saved rules back in order (binary form if saved)."""
    current = conn.list_rules()
    if state.rule_data or not state.rules:
        if tuple(current) == state.rule_data:
            return
        for rule in current:
            conn.delete_rule(rule)
        for rule in state.rule_data:
            conn.add_rule(rule)
        return
    # Only text was saved (a hand-made AuditState): reload it through auditctl.
    if list_rules() != state.rules:
        auditctl("-D")
        result = load_rules(state.rules, strict=False)
        if result.errors:
            raise BpfauditError("; ".join(f"rule {e.line!r}: {e.message}" for e in result.errors), exit_code=1)


def restore(state: AuditState) -> None:
    """Put kernel audit back to `state`: rules exactly, then status fields, then the pid slot.

    Everything restorable is restored even if one step fails; the first failure
    is raised afterwards naming what could not be put back.
    """
    current = netlink.audit_status()
    if current.enabled == 2:
        raise BpfauditError("kernel audit is locked (enabled 2) so its state cannot be restored; reboot",
                            exit_code=1)
    problems: list[str] = []
    with netlink.AuditSocket() as conn:
        try:
            _restore_rules(conn, state)
        except BpfauditError as err:
            problems.append(str(err))
        current = conn.status()
        changes = {name: getattr(state, name) for name in RESTORED_FIELDS
                   if getattr(state, name) is not None and getattr(current, name) != getattr(state, name)}
        if state.enabled == 2:
            changes.pop("enabled", None)
            problems.append("saved state had enabled 2 (locked); left enabled as is")
        for name, value in changes.items():
            try:
                conn.set(**{name: value})
            except BpfauditError as err:
                problems.append(str(err))
        if current.pid != state.pid:
            if current.pid == os.getpid():
                try:
                    conn.set(pid=state.pid if state.pid == os.getpid() else 0)
                except BpfauditError as err:
                    problems.append(str(err))
            elif state.pid == 0:
                problems.append(f"audit pid is {current.pid}, not 0: stop that audit daemon")
            # A saved pid of another process cannot be re-registered by us; that
            # daemon re-registers itself if it is alive.
    after = snapshot()
    if not problems:
        problems += diff_states(state, after)
        if state.rule_data and after.rule_data != state.rule_data:
            problems.append("rules differ from the saved kernel form")
    if problems:
        raise BpfauditError("kernel audit state not fully restored: " + "; ".join(problems), exit_code=1)


@dataclasses.dataclass(frozen=True)
class RuleError:
    lineno: int
    line: str
    message: str


@dataclasses.dataclass
class LoadResult:
    loaded: list[str] = dataclasses.field(default_factory=list)
    skipped: list[RuleError] = dataclasses.field(default_factory=list)  # filtered on purpose, with why
    errors: list[RuleError] = dataclasses.field(default_factory=list)


def _unsafe_reason(args: list[str]) -> str | None:
    """Why a rule line must never reach the kernel, or None."""
    for i, arg in enumerate(args):
        if arg == "--loginuid-immutable":
            return "--loginuid-immutable makes loginuid immutable until reboot"
        if arg == "-e2" or (arg == "-e" and i + 1 < len(args) and args[i + 1] == "2"):
            return "-e 2 locks audit configuration until reboot"
    return None


def load_rules(lines: Iterable[str], only_rules: bool = False, strict: bool = True) -> LoadResult:
    """Load auditctl lines one by one with `auditctl`, reporting each failing line.

    `-e 2` and `--loginuid-immutable` are never loaded (they lock audit until
    reboot); they are listed in `skipped`. `only_rules` also skips everything but
    -a/-A/-w/-W lines (for stock rule files whose -D/-b/-f lines are not ours to
    apply). With `strict`, any failing line raises one BpfauditError naming them.
    """
    result = LoadResult()
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            args = shlex.split(line)
        except ValueError as err:
            result.errors.append(RuleError(lineno, line, f"cannot split: {err}"))
            continue
        reason = _unsafe_reason(args)
        if reason is None and only_rules and args[0] not in ("-a", "-A", "-w", "-W"):
            reason = "not a -a/-w rule (only_rules)"
        if reason:
            result.skipped.append(RuleError(lineno, line, reason))
            continue
        proc = auditctl(*args, check=False)
        if proc.returncode != 0:
            result.errors.append(RuleError(lineno, line, _first_error_line(proc.stderr)
                                           or f"auditctl exit code {proc.returncode}"))
        else:
            result.loaded.append(line)
    if strict and result.errors:
        first = result.errors[0]
        raise BpfauditError(
            f"{len(result.errors)} audit rule line(s) failed to load; first: line {first.lineno} "
            f"`{first.line}`: {first.message}", exit_code=2)
    return result


def _on_sigterm(signum, frame):
    raise Terminated(f"signal {signum}")


@contextlib.contextmanager
def kernel_audit_session(lock_timeout: float | None = None) -> Iterator[AuditState]:
    """Hold the audit lock, snapshot kernel audit, yield the snapshot, restore it however the block ends.

    Restores on normal exit, exceptions, KeyboardInterrupt and SIGTERM (raised
    inside the block as Terminated). Refuses when audit is locked (enabled 2).
    """
    with audit_lock(lock_timeout):
        before = snapshot()
        if before.enabled == 2:
            raise BpfauditError("kernel audit is locked (enabled 2, e.g. by 99-finalize.rules): "
                                "its rules cannot change until reboot")
        # Signal handlers belong to the main thread; elsewhere only exceptions are covered.
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _on_sigterm) if main else None
        try:
            yield before
        finally:
            # Hold SIGINT/SIGTERM until restored, and put the old SIGTERM handler back only
            # then, so neither a second ^C nor SIGTERM's default action can cut the restore
            # short; a signal that arrived meanwhile is delivered after the unblock.
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM}) if main else None
            try:
                restore(before)
            finally:
                if main:
                    signal.signal(signal.SIGTERM, previous)
                    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
