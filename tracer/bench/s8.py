"""S8, records written end to end (issue 14): `bpfaudit trace -o FILE`, the command itself, in
audit text and in JSON, against kernel audit with a tuned auditd writing its log.

Two measurements per configuration, side by side in one run:
- the lossless ceiling: a paced getppid generator (auid 1000, every call recorded) stepped up
  as S3 steps it; a step is lossless when nothing was lost and the file holds one record per
  call the generator made (kernel audit: auditd's log, and no `lost` growth);
- the consumer's CPU per 100,000 records at a fixed 50,000 records/s: the `trace` process
  (formatting and writing included; compiling and loading before the run excluded), and
  auditd plus kauditd for kernel audit.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

from tracer.bench import kstate
from tracer.bench.configs import KernelAudit, count_logged
from tracer.bench.quiet import QuietWaiter
from tracer.bench.s2 import TUNED_BACKLOG, TUNED_NAME
from tracer.bench.stats import at_least, at_most
from tracer.bench.stepping import Step, bounds, ceiling, next_rate
from tracer.bench.workload import GetppidJob
from tracer.errors import BpfauditError

REPO = Path(__file__).resolve().parents[2]
FORMATS = ("audit", "json")
CPU_RATE = 50_000  # records/s at which the consumers' CPU is compared
CPU_SECONDS = 4.0
SETTLE = 0.5  # s after the workload for the consumer to write what is left (its CPU counted)
READY = "exit rules"  # what `trace` prints on stderr once its programs are attached


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def kernel_thread(name: str) -> Optional[int]:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == name:
                        return int(entry)
            except OSError:
                continue
    return None


class TraceRun:
    """One `bpfaudit trace --format FMT -o FILE` process under the bench rule, for one measurement."""

    def __init__(self, fmt: str, tmp: str, timeout: float = 180.0):
        self.fmt, self.timeout = fmt, timeout
        self.out = os.path.join(tmp, f"trail.{fmt}")
        self.stats_path = os.path.join(tmp, "stats.json")
        self.err_path = os.path.join(tmp, "trace.err")
        self.proc: Optional[subprocess.Popen] = None
        self.stats: Dict[str, object] = {}

    def __enter__(self) -> "TraceRun":
        for p in (self.out, self.stats_path):
            if os.path.exists(p):
                os.unlink(p)
        with open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tracer", "trace", "--format", self.fmt, "--rule", kstate.BENCH_RULE,
                 "-o", self.out, "--stats-json", self.stats_path], cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + self.timeout
        while READY not in Path(self.err_path).read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self._stop()
                raise BpfauditError(f"bpfaudit trace did not start: {Path(self.err_path).read_text()[-300:]}", 1)
            time.sleep(0.1)
        return self

    def _stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc) -> None:
        self._stop()
        if os.path.exists(self.stats_path):
            with open(self.stats_path) as f:
                self.stats = json.load(f)

    def records(self, pid: int) -> int:
        """The workload's records in the file (audit text: its SYSCALL records; JSON: its lines)."""
        want = f" pid={pid} ".encode() if self.fmt == "audit" else f'"pid":{pid},'.encode()
        first = b"type=SYSCALL" if self.fmt == "audit" else b"{"
        n = 0
        with open(self.out, "rb") as f:
            for line in f:
                if line.startswith(first) and want in line:
                    n += 1
        os.unlink(self.out)  # a GB a step: not kept
        return n


def measure_trace(fmt: str, job: GetppidJob, tmp: str) -> Dict[str, object]:
    with TraceRun(fmt, tmp) as run:
        cpu0 = proc_cpu(run.proc.pid)
        res = job.run()
        time.sleep(SETTLE)
        cpu = proc_cpu(run.proc.pid) - cpu0
    written = run.records(res.pid)
    stats = run.stats
    lost = stats.get("lost")
    return {"target_per_s": job.rate, "achieved_per_s": res.calls_per_s, "calls": res.calls + res.warmup,
            "written": written, "records": written, "emitted": stats.get("emitted"), "lost": lost, "consumer_cpu_s": round(cpu, 3),
            "lossless": lost == 0 and written == res.calls + res.warmup}


def measure_top(job: GetppidJob, refresh: float = 4.0) -> Dict[str, object]:
    """`top`'s live source and aggregator, run here as `bpfaudit top` runs them (a snapshot
    `refresh` times a second), under the bench rule; the workload's records are what the
    dashboard counted for its pid."""
    from tracer.rules import parse_text
    from tracer.top.aggregate import Aggregator
    from tracer.top.sources import LiveSource

    with LiveSource(parse_text(kstate.BENCH_RULE), rules="bench") as source:
        agg = Aggregator(start=source.clock())
        cpu0 = time.process_time()
        proc = job.start()
        next_draw = time.monotonic()
        while proc.poll() is None:
            agg.feed(source.poll(100), source.clock())
            if time.monotonic() >= next_draw:
                agg.observe_losses(source.losses(), source.clock())
                agg.snapshot(rows=15, tail=40)
                next_draw = time.monotonic() + 1 / refresh
        res = job.finish(proc)
        deadline = time.monotonic() + SETTLE
        while time.monotonic() < deadline:
            agg.feed(source.poll(50), source.clock())
        cpu = time.process_time() - cpu0
        losses = source.losses()
    counted = agg.processes.counts.get(res.pid, 0)
    calls = res.calls + res.warmup
    lost = losses["emitted"] - losses["delivered"]
    return {"target_per_s": job.rate, "achieved_per_s": res.calls_per_s, "calls": calls, "written": counted,
            "records": counted, "emitted": losses["emitted"], "lost": lost, "consumer_cpu_s": round(cpu, 3),
            "lossless": lost == 0 and counted == calls}


class TunedKernelAudit(KernelAudit):
    """Kernel audit and a tuned auditd writing its log, with auditd's and kauditd's CPU."""

    def __init__(self) -> None:
        from tracer.kaudit.auditd import AuditdRun

        super().__init__(TUNED_NAME, extra_rule=kstate.BENCH_RULE, auditd=functools.partial(AuditdRun, tuned=True),
                         backlog_limit=TUNED_BACKLOG)

    def measure_cpu(self, job: GetppidJob) -> Dict[str, object]:
        with self.auditd() as run:
            pids = [p for p in (run.started_pid or netlink_pid(), kernel_thread("kauditd")) if p]
            cpu0 = sum(proc_cpu(p) for p in pids)
            res, extra = self._run(job)
            time.sleep(SETTLE)
            cpu = sum(proc_cpu(p) for p in pids) - cpu0
            written = count_logged(run.log_text(), res.pid, self.count_key)
        calls = res.calls + res.warmup
        return {"target_per_s": job.rate, "achieved_per_s": res.calls_per_s, "calls": calls, "written": written,
                "records": written,
                "lost": extra["kaudit_lost"], "consumer_cpu_s": round(cpu, 3),
                "lossless": extra["kaudit_lost"] == 0 and written == calls}


def netlink_pid() -> Optional[int]:
    from tracer.kaudit import netlink

    return netlink.audit_status().pid or None


def search(measure: Callable[[float], Dict[str, object]], name: str, log: Callable[[str], None], start: float,
           max_steps: int, quiet: Optional[QuietWaiter]) -> Dict[str, object]:
    steps: List[Dict[str, object]] = []
    history: List[Step] = []
    rate = next_rate(history, start=start, max_steps=max_steps)
    while rate is not None:
        if quiet:
            quiet()
        step = measure(rate)
        history.append(Step(rate, step["achieved_per_s"], step["lossless"]))
        steps.append(step)
        log(f"S8 {name}: target {rate:,.0f}/s achieved {step['achieved_per_s']:,.0f}/s: "
            f"{step['written']} of {step['calls']} written, {step['lost']} lost")
        rate = next_rate(history, start=start, max_steps=max_steps)
    return {"steps": steps, "ceiling_per_s": ceiling(history), "generator_bound": bounds(history)[2]}


def run_s8(binary: str, seconds: float, log: Callable[[str], None], start: float = 62_500, max_steps: int = 8,
           quiet: Optional[QuietWaiter] = None) -> Dict[str, object]:
    from tracer.kaudit.state import auditctl, kernel_audit_session

    out: Dict[str, object] = {}
    cpu: Dict[str, Dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="bpfaudit-s8-", dir="/var/tmp") as tmp, kernel_audit_session():
        auditctl("-D")
        kstate.set_enabled(0)
        kstate.fast_path(True)
        kaudit = TunedKernelAudit()
        for fmt in FORMATS:
            name = f"trace -o FILE --format {fmt}"
            found = search(lambda rate: measure_trace(fmt, GetppidJob(binary, seconds, rate, auid=1000), tmp),
                           name, log, start, max_steps, quiet)
            out[f"S8-{fmt}"] = {"title": f"S8 lossless records/s written, bpfaudit {name}", "consumer": name, **found}
        found = search(lambda rate: measure_top(GetppidJob(binary, seconds, rate, auid=1000)), "top", log, start,
                       max_steps, quiet)
        out["S8-top"] = {"title": "S8 lossless records/s counted, bpfaudit top (live source and aggregator)",
                         "consumer": "top", **found}
        found = search(lambda rate: kaudit.measure_cpu(GetppidJob(binary, seconds, rate, auid=1000)),
                       TUNED_NAME, log, start, max_steps, quiet)
        out["S8-kaudit"] = {"title": f"S8 lossless records/s written, {TUNED_NAME}", "consumer": TUNED_NAME, **found}
        # CPU per 100k records at one fixed rate, the configurations interleaved
        for fmt in FORMATS:
            if quiet:
                quiet()
            cpu[f"bpfaudit trace --format {fmt}"] = measure_trace(
                fmt, GetppidJob(binary, CPU_SECONDS, CPU_RATE, auid=1000), tmp)
        if quiet:
            quiet()
        cpu[TUNED_NAME] = kaudit.measure_cpu(GetppidJob(binary, CPU_SECONDS, CPU_RATE, auid=1000))
    per_100k = {k: round(v["consumer_cpu_s"] * 100_000 / max(1, v["written"]), 4) for k, v in cpu.items()}
    out["S8-cpu"] = {
        "kind": "cpu", "title": f"S8 consumer CPU seconds per 100,000 records at {CPU_RATE:,} records/s",
        "runs": cpu, "cpu_s_per_100k": per_100k,
        "notes": [f"S8: rule `{kstate.BENCH_RULE}`, auid 1000, paced getppid, {seconds:g} s per step, rate "
                  f"doubled from {start:,.0f}/s until loss, then bisected; lossless = 0 lost and one record "
                  "written per call", "S8: bpfaudit = the `trace` process (all threads) from the start of the "
                  f"workload to {SETTLE} s after it; kernel audit = auditd + kauditd over the same span; the "
                  "files are on /var/tmp"],
    }
    for key, logtext in per_100k.items():
        log(f"S8 CPU per 100k records at {CPU_RATE:,}/s: {key}: {logtext} s")
    return out


def paced_lossless(steps: List[Dict[str, object]], reach: float = 0.99) -> Optional[float]:
    """The highest paced rate at which the generator kept pace (achieved >= `reach` of it) and
    nothing was lost: what "every record of a generator paced at N/s" asks."""
    ok = [s["target_per_s"] for s in steps if s["lossless"] and s["achieved_per_s"] >= reach * s["target_per_s"]]
    return max(ok) if ok else None


def s8_targets(scenarios: Dict[str, Dict]) -> list:
    out = []
    for key in FORMATS + ("top",):
        s = scenarios.get(f"S8-{key}")
        if s:
            note = f"ceiling {s['ceiling_per_s']:,.0f}/s achieved" + (", generator-bound" if s.get("generator_bound") else "")
            out.append(at_least("S8", f"every record at a paced rate of /s, {s['consumer']}", paced_lossless(s["steps"]),
                                1_000_000, note))
    c = scenarios.get("S8-cpu")
    if c:
        per = c["cpu_s_per_100k"]
        for fmt in FORMATS:
            mine, theirs = per.get(f"bpfaudit trace --format {fmt}"), per.get(TUNED_NAME)
            if mine is not None and theirs:
                out.append(at_most("S8", f"CPU per 100k records, trace --format {fmt} / {TUNED_NAME}",
                                   round(mine / theirs, 3), 0.25))
    return out
