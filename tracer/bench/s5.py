"""S5, overload: 3x the S3 ceiling for 30 s. Every bpfaudit record must be accounted for, and the
workload's own syscall latency (p50/p99, every call timed) is compared bare, under bpfaudit and under
kernel audit, whose backlog waits are reported alongside.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from tracer.bench import accounting, backlog, kstate, latency
from tracer.bench.configs import Bare, Bpfaudit, EmptyProbes, KernelAudit
from tracer.bench.quiet import QuietWaiter, foreign_programs
from tracer.bench.runner import opened
from tracer.bench.s2 import TUNED_BACKLOG
from tracer.bench.stats import at_most, ratio
from tracer.bench.workload import GetppidJob, WorkloadResult, login_session
from tracer.capture.session import DEFAULT_TRANSPORT
from tracer.errors import BpfauditError

FACTOR = 3
BARE = "bare"
OURS = "bpfaudit"
KAUDIT = "kernel audit + auditd tuned"
FLOOR = "empty raw tracepoint"  # EmptyProbes(raw=True).name
AUID = 1000
P99_LIMIT = 2.0  # issue 6: p99 latency <= 2x baseline


def overload_rate(override: Optional[float], s3_decode: Optional[Dict]) -> Tuple[Optional[float], str]:
    """(records/s to run at, where it came from); None: no ceiling known yet (run a short S3 search)."""
    if override:
        return override, f"--s5-rate {override:,.0f}/s"
    if s3_decode and s3_decode.get("ceiling_per_s"):
        ceiling = s3_decode["ceiling_per_s"]
        bound = " (a lower bound: generator-bound)" if s3_decode.get("generator_bound") else ""
        return FACTOR * ceiling, f"{FACTOR}x the S3 ceiling of this run, per-record consumer: {ceiling:,.0f}/s{bound}"
    return None, ""


def flush_rings(cpus: Iterable[int], auid: int = AUID) -> int:
    """One matching call (getppid in a login session of `auid`) on each CPU; returns how many.

    A perf ring writes the LOST record for its dropped samples only before its
    next sample, so without a later write on that CPU perf_lost never catches up.
    """
    calls = 0
    for cpu in cpus:
        pid = os.fork()
        if pid == 0:  # the child makes simple syscalls only, then leaves without Python's clean-up
            code = 1
            try:
                os.sched_setaffinity(0, {cpu})
                login_session(auid)()
                os.getppid()
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise BpfauditError(f"the perf-ring flush call on CPU {cpu} failed", 1)
        calls += 1
    return calls


class OverloadBpfaudit(Bpfaudit):
    """bpfaudit's capture session with the drain S5 needs before its counters are read.

    Opened for one run only, so its counters since open are that run's. Perf
    rings (perf-ring, bcc): after the drain, one call per CPU so each ring
    writes its pending LOST record, and a wait for perf_lost to catch up with
    BPF's submit failures. A BPF ring buffer (ringbuf) writes no LOST records:
    nothing to wait for, the ledger is emitted = delivered + lost at once.
    """

    @property
    def ring_reports_losses(self) -> bool:
        return self.options["transport"] != "ringbuf"

    def _settled(self) -> bool:
        n = self.cap.losses()
        return n["queued"] == 0 and n["emitted"] <= n["delivered"] + n["bpf_submit_failed"] + n["userspace_dropped"]

    def _settle(self, tally: Dict[str, int], pid: int, timeout: float, until=None) -> bool:
        """Consumes until every emitted record is delivered or counted lost (and `until()` holds)."""
        deadline = time.monotonic() + timeout
        while True:
            self._consume(tally, pid)
            if self._settled() and (until is None or until()):
                return True
            if time.monotonic() > deadline:
                return False

    def _perf_lost_in(self) -> bool:
        n = self.cap.losses()
        return n["perf_lost"] >= n["bpf_submit_failed"]

    def measure(self, job):
        tally = {"records": 0, "own_records": 0}
        drained_s = 0.0

        def drain_attached(res):
            # with the programs still attached: everything emitted delivered or counted, then (perf
            # rings) one call per CPU so that each ring writes its pending LOST record
            nonlocal drained_s
            drained_s = time.monotonic()
            drained = self._settle(tally, res.pid, timeout=60)
            if not self.ring_reports_losses:
                return drained, 0, None  # None: no LOST records to wait for
            flush_calls = flush_rings(sorted(os.sched_getaffinity(0)))
            return drained, flush_calls, self._settle(tally, res.pid, timeout=10, until=self._perf_lost_in)

        res, consumer_cpu, (drained, flush_calls, caught_up) = self._run(job, tally, drain_attached)
        self._settle(tally, res.pid, timeout=10)
        drain_s = time.monotonic() - drained_s
        ledger = accounting.account(self.cap.losses(), self.cap.counters_per_cpu(), self.cap.delivery_per_cpu(),
                                    self.options["transport"])
        return res, {**tally, "transport": self.cap.transport, "ledger": ledger, "flush_calls": flush_calls,
                     "drained": drained, "perf_lost_waited": caught_up, "drain_s": round(drain_s, 2),
                     "emitted": ledger["emitted"], "lost": ledger["lost"],
                     "consumer_cpu_ms": round(consumer_cpu * 1000, 1), "job_wall_ms": round(res.ns / 1e6, 1)}


def result_row(name: str, target: float, res: WorkloadResult, extra: Dict[str, object]) -> Dict[str, object]:
    return {"name": name, "target_per_s": target, "achieved_per_s": res.calls_per_s, "calls": res.calls,
            "seconds": round(res.ns / 1e9, 3), "cpu_ns_per_call": res.cpu_ns_per_call,
            "latency_ns": latency.summary(res.latency_hist, res.latency_max_ns),
            "latency_min_ns": res.latency_min_ns, "latency_hist": [list(b) for b in res.latency_hist], **extra}


def add_ratios(rows: List[Dict[str, object]], bare: str = BARE) -> List[Dict[str, object]]:
    """p50 and p99 of each row over the bare row's, in place."""
    base = next((r for r in rows if r["name"] == bare), None)
    for r in rows:
        for q in ("p50", "p99"):
            ref = base["latency_ns"][q] if base else None
            r[f"{q}_x_bare"] = ratio(r["latency_ns"][q], ref)
    return rows


def trace_pages() -> int:
    """Perf ring pages per CPU as `bpfaudit trace` opens them (CaptureOptions' default)."""
    from tracer.capture.session import CaptureOptions

    return CaptureOptions().page_cnt


def short_search(binary: str, seconds: float, log: Callable[[str], None],
                 quiet: Optional[QuietWaiter], transport: str = DEFAULT_TRANSPORT) -> Dict[str, object]:
    """S3's search, per-record consumer only, with short steps: S5's ceiling when S3 did not run."""
    from tracer.bench.s3 import search
    from tracer.rules import parse_text

    config = Bpfaudit("bpfaudit, per-record consumer", parse_text(kstate.BENCH_RULE), page_cnt=trace_pages(),
                      transport=transport)
    with opened([config], log):
        return search(config, binary, seconds, log, start=25_000, max_steps=10, quiet=quiet)


def run_s5(binary: str, seconds: float, log: Callable[[str], None], rate: Optional[float] = None,
           s3_decode: Optional[Dict] = None, search_seconds: float = 1.0,
           quiet: Optional[QuietWaiter] = None, transport: str = DEFAULT_TRANSPORT) -> Dict[str, object]:
    from tracer.kaudit.auditd import AuditdRun
    from tracer.kaudit.state import auditctl, kernel_audit_session
    from tracer.rules import parse_text

    target, source = overload_rate(rate, s3_decode)
    out: Dict[str, object] = {}
    with kernel_audit_session() as before:
        auditctl("-D")
        kstate.set_enabled(0)
        kstate.add_rule(kstate.BENCH_RULE)
        kstate.fast_path(True)
        if target is None:
            log(f"S5: no S3 ceiling in this run and no --s5-rate: a short S3 search ({search_seconds:g} s steps)")
            found = short_search(binary, search_seconds, log, quiet, transport)
            if not found["ceiling_per_s"]:
                raise BpfauditError("S5: the short S3 search found no lossless rate; give --s5-rate", 1)
            out["search"] = found
            target, source = FACTOR * found["ceiling_per_s"], (
                f"{FACTOR}x the ceiling of a short S3 search ({search_seconds:g} s steps, per-record consumer): "
                f"{found['ceiling_per_s']:,.0f}/s" + (" (a lower bound: generator-bound)"
                                                      if found["generator_bound"] else ""))
        job = GetppidJob(binary, seconds, target, auid=AUID, latency=True)
        ours = OverloadBpfaudit(OURS, parse_text(kstate.BENCH_RULE), page_cnt=trace_pages(), transport=transport)
        # the empty programs: the latency no tracer on these tracepoints can go below
        configs = [Bare(BARE), EmptyProbes(raw=True), ours,
                   KernelAudit(KAUDIT, auditd=functools.partial(AuditdRun, tuned=True), backlog_limit=TUNED_BACKLOG,
                               watch=backlog.watch)]
        rows = []
        with opened(configs, log):
            for c in configs:
                foreign = quiet() if quiet else []
                log(f"S5 {c.name}: {target:,.0f}/s for {seconds:g} s")
                res, extra = c.measure(job)
                # a run is long: a tracer attached during it and gone before the next check is still missed
                extra["foreign_tracers"] = len(foreign)
                extra["foreign_tracers_after"] = len(foreign_programs()) if quiet else 0
                rows.append(result_row(c.name, target, res, extra))
                lat = rows[-1]["latency_ns"]
                log(f"S5 {c.name}: achieved {res.calls_per_s:,.0f}/s, p50 {lat['p50'] or 0:,.0f} ns, "
                    f"p99 {lat['p99'] or 0:,.0f} ns")
    described = next((r["transport"] for r in rows if r.get("transport")), "?")
    drain = ("one matching call on each CPU so each perf ring writes its pending LOST record, drained, detached; "
             "lost = bpf_submit_failed + userspace_dropped (perf_lost, seq_gaps: cross-checks)"
             if ours.ring_reports_losses else
             "detached (a BPF ring buffer writes no LOST records: nothing to wait for); "
             "lost = bpf_submit_failed + userspace_dropped (seq_gaps: cross-check)")
    out.update({
        "kind": "overload", "title": f"S5 overload: {target:,.0f} getppid/s for {seconds:g} s, auid {AUID}",
        "target_per_s": target, "rate_source": source, "seconds": seconds, "rows": add_ratios(rows),
        "notes": [f"S5 rate: {source}",
                  f"S5: paced getppid (auid {AUID}, rule `{kstate.BENCH_RULE}`), one {seconds:g} s run per "
                  f"configuration (bare, {FLOOR}, bpfaudit, kernel audit); the workload times every call into a log-linear "
                  "histogram (32 buckets per power of two, < 3.2 % wide; a sample includes one vDSO clock read); "
                  "percentiles by nearest rank",
                  f"S5 bpfaudit: capture session as `bpfaudit trace` opens it ({described}), "
                  f"poll() decodes every record; after the workload: drained with the programs attached, {drain}",
                  f"S5 kernel audit: tuned auditd (flush=NONE, log_format=RAW, backlog_limit {TUNED_BACKLOG}), "
                  f"backlog_wait_time as found ({before.backlog_wait_time} jiffies); status sampled every 20 ms; "
                  "its lost counter is machine-wide"],
    })
    return {"S5": out}


def s5_targets(scenarios: Dict[str, Dict]) -> list:
    s = scenarios.get("S5")
    if not s:
        return []
    rows = {r["name"]: r for r in s["rows"]}
    ours = rows.get(OURS, {})
    ledger = ours.get("ledger")
    note = (f"emitted {ledger['emitted']:,} = delivered {ledger['delivered']:,} + lost {ledger['lost']:,}"
            if ledger and ledger["exact"] else
            f"emitted {ledger['emitted']:,}, delivered {ledger['delivered']:,}, lost {ledger['lost']:,}"
            if ledger else "")
    lat = ours.get("latency_ns", {})
    base = rows.get(BARE, {}).get("latency_ns", {})
    floor = rows.get(FLOOR)
    p99_note = f"p99 {lat.get('p99') or 0:,.0f} ns vs {base.get('p99') or 0:,.0f} ns" if lat else ""
    if p99_note and floor and floor.get("p99_x_bare") is not None:
        p99_note += f"; the empty raw-tracepoint pair alone: {floor['p99_x_bare']:.2f}x"
    return [
        # off either way is a failure: a record counted twice hides one never counted
        at_most("S5", "bpfaudit records unaccounted |emitted - delivered - lost|",
                abs(ledger["unaccounted"]) if ledger else None, 0, note),
        at_most("S5", "bpfaudit p99 syscall latency / bare p99", ours.get("p99_x_bare"), P99_LIMIT, p99_note),
    ]
