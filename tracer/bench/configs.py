"""The configurations a scenario interleaves: bare, kernel audit, empty-program floors, bpfaudit.

Each is set up once per scenario (`open`), then measured repeatedly
(`measure`: one workload run with only this configuration active), then
closed. Between runs every BPF program is detached and kernel audit is off.
"""

from __future__ import annotations

import contextlib
import time
from typing import Dict, Optional, Tuple

from tracer.bench import bpfstats, consume, kstate
from tracer.bench.probes import ProbeSwitch, load_empty
from tracer.bench.workload import WorkloadResult
from tracer.capture.session import DEFAULT_TRANSPORT, DEFAULT_WAKEUP


class Config:
    name = ""

    def open(self) -> None:
        pass

    def measure(self, job) -> Tuple[WorkloadResult, Dict[str, object]]:
        """One run of `job` (a workload.GetppidJob or a macro job) with this configuration active."""
        return job.run(), {}

    def close(self) -> None:
        pass

    def program_ids(self) -> Dict[str, int]:
        """Kernel ids of the BPF programs this configuration attaches, keyed 'enter', 'exit', ...
        (what bpf_run_stats reads); none for configurations without programs."""
        return {}


class Bare(Config):
    """No tracing and no audit context (the scenario keeps `-a never,task` loaded)."""

    def __init__(self, name: str = "bare") -> None:
        self.name = name


class BareAuditContext(Config):
    """Audit disabled but the task has an audit context: the slow entry path alone (informative)."""

    name = "bare, audit context"

    def measure(self, job):
        kstate.fast_path(False)
        try:
            return job.run(), {}
        finally:
            kstate.fast_path(True)


class KernelAudit(Config):
    """Kernel audit enabled with the scenario's rules (plus `extra_rule`), an auditd consuming.

    `auditd` is a factory for a context manager running auditd for one
    measurement (tuned vs default); None when the scenario keeps one running.
    `watch` is a factory for a context manager active exactly while the job
    runs; the dict it yields is reported as "kaudit_status" (S5: the backlog).
    auditd's SYSCALL records of `count_key` are counted by the workload's pid in
    `count_field`: "pid" (its own calls), "ppid" (its children's: S6's execs).
    """

    def __init__(self, name: str, extra_rule: Optional[str] = None, auditd=None,
                 backlog_limit: Optional[int] = None, count_key: Optional[str] = "bench", watch=None,
                 count_field: str = "pid") -> None:
        self.name = name
        self.watch = watch
        self.count_key = count_key
        self.count_field = count_field
        self.extra_rule = extra_rule
        self.auditd = auditd
        self.backlog_limit = backlog_limit

    def _run(self, job):
        from tracer.kaudit import netlink

        kstate.fast_path(False)
        if self.extra_rule:
            kstate.add_rule(self.extra_rule)
        if self.backlog_limit is not None:
            netlink.set_backlog_limit(self.backlog_limit)
        lost0 = kstate.lost()
        kstate.set_enabled(1)
        watched: Dict[str, object] = {}
        try:
            with (self.watch() if self.watch else contextlib.nullcontext(watched)) as watched:
                res = job.run()
        finally:
            kstate.set_enabled(0)
            if self.extra_rule:
                kstate.delete_rule(self.extra_rule)
            kstate.fast_path(True)
        extra: Dict[str, object] = {"kaudit_lost": kstate.lost() - lost0,
                                    "backlog_limit": netlink.audit_status().backlog_limit}
        if self.watch:
            extra["kaudit_status"] = watched
        return res, extra

    def measure(self, job):
        if self.auditd is None:
            return self._run(job)
        # AuditdRun is itself a kernel_audit_session: it restores rules and
        # backlog settings as they were before this measurement.
        with self.auditd() as run:
            res, extra = self._run(job)
        if self.count_key:
            extra["auditd_records"] = count_logged(run.log_text(), res.pid, self.count_key, self.count_field)
        return res, extra


def count_logged(log_text: str, pid: int, key: str = "bench", field: str = "pid") -> int:
    """SYSCALL records of `key` whose `field` ("pid", or "ppid": a child's) is `pid`
    (scanning text: parsing 10^5 events takes too long)."""
    want_pid, want_key = f" {field}={pid} ", f'key="{key}"'
    return sum(1 for line in log_text.splitlines()
               if line.startswith("type=SYSCALL") and want_pid in line and want_key in line)


class EmptyProbes(Config):
    """The floor: programs returning 0 on raw_syscalls sys_enter/sys_exit (classic or raw tracepoint)."""

    def __init__(self, raw: bool) -> None:
        self.raw = raw
        self.name = "empty raw tracepoint" if raw else "empty classic tracepoint"
        self.bpf = None
        self.switch: Optional[ProbeSwitch] = None

    def open(self) -> None:
        self.bpf, self.switch = load_empty(self.raw)
        self.switch.off()

    def measure(self, job):
        self.switch.on()
        try:
            return job.run(), {}
        finally:
            self.switch.off()

    def program_ids(self) -> Dict[str, int]:
        return {k: bpfstats.prog_id(fd) for k, fd in self.switch.program_fds().items()}

    def close(self) -> None:
        if self.bpf is not None:
            self.bpf.cleanup()
            self.bpf = None


class Bpfaudit(Config):
    """bpfaudit's capture session with the given rule set, consumed as `bpfaudit trace` does.

    The consumer (poll(), which decodes every record) runs in this process
    while the workload runs; records and every loss counter are reported per run.
    `own`: count the decoded records whose "pid" (one-process workloads) or
    "ppid" (S6: the workload's children) is the workload's; None: do not.
    """

    def __init__(self, name: str, ruleset, wakeup_events: int = DEFAULT_WAKEUP, page_cnt: int = 1024,
                 drain_ms: int = 100, decode: bool = True, own: Optional[str] = "pid",
                 transport: str = DEFAULT_TRANSPORT) -> None:
        self.name = name
        self.own = own
        self.ruleset = ruleset
        self.decode = decode
        self.options = dict(wakeup_events=wakeup_events, page_cnt=page_cnt, drain_ms=drain_ms, transport=transport)
        self.cap = None
        self.switch: Optional[ProbeSwitch] = None
        self.bpf_sha256 = ""

    def open(self) -> None:
        from tracer.bench.builds import REPO, bpf_digest
        from tracer.capture.session import CaptureOptions, open_capture

        self.bpf_sha256 = bpf_digest(str(REPO))  # the program compiled now: others may be editing bpf/
        self.cap = open_capture(CaptureOptions(rules=self.ruleset, **self.options))
        self.switch = ProbeSwitch(self.cap.program.bpf)
        self.switch.off()

    @property
    def count_own(self) -> bool:
        return self.own is not None and self.decode

    def _consume(self, tally: Dict[str, int], pid: int, timeout_ms: int = 50) -> None:
        """One poll: counts records, and the workload's own, without keeping them."""
        n, batch = consume.take(self.cap, self.decode, timeout_ms)
        tally["records"] += n
        if self.count_own:
            tally["own_records"] += sum(1 for e in batch if getattr(e, self.own) == pid)

    def _drain(self, before: Dict[str, int], tally: Dict[str, int], pid: int, timeout: float = 10.0
               ) -> Dict[str, int]:
        """Consumes until every emitted record is delivered or counted lost (or timeout)."""
        return consume.drain(self.cap, self.decode, before, tally, lambda: self._consume(tally, pid), timeout)

    def _run(self, job, tally: Dict[str, int], attached_tail=None):
        """Runs `job` with the programs switched on, consuming records as they come;
        `attached_tail(result)` runs before they are switched off again.
        Returns (job result, the benchmark process's CPU seconds while the job ran, tail's value):
        that CPU (consumer, and bcc's reader thread) is bpfaudit's user-space cost."""
        cpu0 = time.process_time()
        self.switch.on()
        try:
            proc = job.start()
            while proc.poll() is None:
                self._consume(tally, proc.pid)
            res = job.finish(proc)
            consumer_cpu = time.process_time() - cpu0
            tail = attached_tail(res) if attached_tail is not None else None
        finally:
            self.switch.off()
        return res, consumer_cpu, tail

    def measure(self, job):
        self.cap.poll(0)
        before = self.cap.losses()
        tally = {"records": 0, "own_records": 0} if self.count_own else {"records": 0}
        res, consumer_cpu, _ = self._run(job, tally)
        d = self._drain(before, tally, res.pid)
        return res, consume.run_extra(tally, d, consumer_cpu, res.ns)

    def program_ids(self) -> Dict[str, int]:
        return {k: bpfstats.prog_id(fd) for k, fd in self.switch.program_fds().items()}

    def close(self) -> None:
        if self.cap is not None:
            self.cap.close()
            self.cap = None


def bpf_run_stats(config, job) -> Dict[str, Optional[float]]:
    """One extra run with kernel.bpf_stats_enabled: ns per run of the enter and exit programs.

    Kept out of the timed repetitions: the statistics add two clock reads to every run.
    The counts are machine-wide (every process's syscalls run the programs). Every program
    the configuration attaches: sched_process_exec's too where the build has it.
    "bpf_ns_per_workload_call": all of their time over the workload's calls (warm-up
    included; S6: execs): BPF's share of a call, without the run-to-run noise of the
    timed rounds, a lower bound of the added cost (no consumer, no cache effects).
    """
    out: Dict[str, Optional[float]] = {}
    with bpfstats.stats_enabled():
        ids = config.program_ids()
        before = {k: bpfstats.run_counters(i) for k, i in ids.items()}
        res, _ = config.measure(job)
        after = {k: bpfstats.run_counters(i) for k, i in ids.items()}
    for k in ids:
        out[f"{k}_ns_per_run"] = bpfstats.ns_per_run(before[k], after[k])
        out[f"{k}_runs"] = after[k]["run_cnt"] - before[k]["run_cnt"]
    calls = res.calls + res.warmup
    spent = sum(after[k]["run_time_ns"] - before[k]["run_time_ns"] for k in ids)
    out["workload_calls"] = calls
    out["bpf_ns_per_workload_call"] = spent / calls if calls else None
    return out
