"""Run auditd for the length of a comparison (or use the running one) and read the records it logged."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time

from tracer.errors import BpfauditError
from tracer.kaudit import netlink
from tracer.kaudit.records import AuditEvent, ParsedRecord, parse_audit_records  # noqa: F401  (public API)
from tracer.kaudit.state import AuditState, kernel_audit_session

AUDITD = "/usr/sbin/auditd"
DISTRO_CONF = "/etc/audit/auditd.conf"
DEFAULT_LOG = "/var/log/audit/audit.log"

# What the benchmark's "tuned" auditd changes from the distro defaults: no fsync
# policy and no user/group name lookups per record.
TUNED = {"flush": "NONE", "log_format": "RAW"}


def read_conf(path: str = DISTRO_CONF) -> dict[str, str]:
    """auditd.conf as an ordered dict (comments dropped)."""
    conf: dict[str, str] = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if "=" in line:
                    key, value = (part.strip() for part in line.split("=", 1))
                    conf[key] = value
    except FileNotFoundError:
        pass
    return conf


def render_conf(conf: dict[str, str]) -> str:
    return "".join(f"{key} = {value}\n" for key, value in conf.items())


def private_conf(log_dir: str, plugin_dir: str, tuned: bool, base: dict[str, str] | None = None) -> dict[str, str]:
    """Distro auditd.conf with the log and plugins moved to our temp dir (and TUNED applied if asked)."""
    conf = dict(read_conf() if base is None else base)
    conf.update({
        "log_file": os.path.join(log_dir, "audit.log"),
        "write_logs": "yes",
        # Rotation would move records away from under our offset; the run is short.
        "max_log_file_action": "IGNORE",
        # No dispatcher plugins (syslog, af_unix): they are not what is measured.
        "plugin_dir": plugin_dir,
    })
    # Listening on TCP is not part of a local comparison and could clash with a real auditd.
    conf.pop("tcp_listen_port", None)
    if tuned:
        conf.update(TUNED)
    return conf


def _pid_cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def running_auditd_log(pid: int) -> str:
    """The log file of a running auditd: from its `-c DIR` if given, else the distro config."""
    args = _pid_cmdline(pid)
    conf_dir = "/etc/audit"
    for i, arg in enumerate(args):
        if arg == "-c" and i + 1 < len(args):
            conf_dir = args[i + 1]
    return read_conf(os.path.join(conf_dir, "auditd.conf")).get("log_file", DEFAULT_LOG)


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def wait_flushed(log_path: str, settle: float = 0.3, timeout: float = 15.0) -> None:
    """Wait until the kernel backlog is empty and the log has not grown for `settle` seconds.

    Records already accepted by the kernel sit in its backlog queue and then in
    auditd's write queue; neither tells us when it is on disk, so watch both ends.
    """
    deadline = time.monotonic() + timeout
    size, stable_since = _file_size(log_path), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now_size = _file_size(log_path)
        if now_size != size or netlink.audit_status().backlog:
            size, stable_since = now_size, time.monotonic()
        elif time.monotonic() - stable_since >= settle:
            return
    raise BpfauditError(f"auditd log {log_path} kept growing for {timeout:g}s; records may be incomplete",
                        exit_code=1)


class AuditdRun:
    """Context manager: kernel audit with auditd consuming its records, restored afterwards.

    `with AuditdRun(tuned=False) as run: <load rules, run workload>`; then
    `run.events()` gives the events logged during the block. If auditd is not
    running, a private one is started (distro config, log in a temp dir, no
    plugins; `tuned` adds flush=NONE and log_format=RAW) and stopped on exit. If
    one is running it is left alone and its configured log is read from the
    offset at entry. The whole run is a kernel_audit_session: rules and status
    are restored on exit.
    """

    def __init__(self, tuned: bool = False, lock_timeout: float | None = None, start_timeout: float = 10.0):
        self.tuned = tuned
        self.lock_timeout = lock_timeout
        self.start_timeout = start_timeout
        self.before: AuditState | None = None
        self.log_path = ""
        self.started_pid: int | None = None  # our auditd, None if we used a running one
        self.exit_code: int | None = None  # how our auditd ended
        self._offset = 0
        self._text: str | None = None
        self._tmpdir: str | None = None
        self._proc: subprocess.Popen | None = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> AuditdRun:
        if not os.path.exists(AUDITD):
            raise BpfauditError(f"{AUDITD} not found; install the auditd package")
        with contextlib.ExitStack() as stack:
            self.before = stack.enter_context(kernel_audit_session(self.lock_timeout))
            if self.before.auditd_pid is not None:
                if self.tuned:
                    raise BpfauditError("a running auditd cannot be switched to the tuned config; "
                                        "stop it or run untuned")
                self.log_path = running_auditd_log(self.before.auditd_pid)
                self._offset = _file_size(self.log_path)
                if self.before.enabled == 0:
                    netlink.set_enabled(1)
            else:
                self._start(stack)
            self._stack = stack.pop_all()
        return self

    def _start(self, stack: contextlib.ExitStack) -> None:
        if self.before is not None and self.before.pid and netlink.pid_alive(self.before.pid):
            raise BpfauditError(f"audit pid slot is held by pid {self.before.pid} (not auditd); "
                                "stop that audit consumer first")
        self._tmpdir = tempfile.mkdtemp(prefix="bpfaudit-auditd-")
        stack.callback(shutil.rmtree, self._tmpdir, True)
        plugin_dir = os.path.join(self._tmpdir, "plugins.d")
        os.mkdir(plugin_dir, 0o750)
        conf = private_conf(self._tmpdir, plugin_dir, self.tuned)
        conf_path = os.path.join(self._tmpdir, "auditd.conf")
        with open(conf_path, "w") as f:
            f.write(render_conf(conf))
        os.chmod(conf_path, 0o640)
        self.log_path = conf["log_file"]
        self._offset = 0
        stderr = open(os.path.join(self._tmpdir, "auditd.stderr"), "w+")
        stack.callback(stderr.close)
        # -n: stay our child so we can stop and reap it; -s enable: audit on
        # while it runs (the session restores the flag afterwards anyway).
        self._proc = subprocess.Popen([AUDITD, "-n", "-s", "enable", "-c", self._tmpdir],
                                      stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                                      start_new_session=True)
        stack.callback(self._stop)
        deadline = time.monotonic() + self.start_timeout
        while netlink.audit_status().pid != self._proc.pid:
            if self._proc.poll() is not None or time.monotonic() > deadline:
                stderr.seek(0)
                tail = " ".join(stderr.read().split())[-300:]
                raise BpfauditError(f"auditd did not register with the kernel: {tail or 'no output'}",
                                    exit_code=1)
            time.sleep(0.02)
        self.started_pid = self._proc.pid

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            if netlink.audit_status().pid == proc.pid:
                with contextlib.suppress(BpfauditError):
                    wait_flushed(self.log_path)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # Nonzero when auditd died during the run (e.g. disk_full_action): the log is then short.
        self.exit_code = proc.returncode
        self._read()

    def _read(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            data = b""
        # A record line cut by a concurrent write ends without newline: leave it out.
        if data and not data.endswith(b"\n"):
            data = data[: data.rfind(b"\n") + 1]
        self._text = data.decode("utf-8", "surrogateescape")
        return self._text

    def __exit__(self, *exc) -> None:
        try:
            if self._proc is None and self._text is None and self.log_path:
                # Running auditd that we leave alone: wait for it, then read our slice.
                with contextlib.suppress(BpfauditError):
                    wait_flushed(self.log_path)
                self._read()
        finally:
            self._stack.close()

    def flush(self) -> str:
        """While running: wait for the log to settle and return the text logged so far."""
        wait_flushed(self.log_path)
        return self._read()

    def log_text(self) -> str:
        """Log text written during the run (after the block, or after flush())."""
        if self._text is None:
            return self.flush()
        return self._text

    def events(self) -> list[AuditEvent]:
        return parse_audit_records(self.log_text())
