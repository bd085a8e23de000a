"""S5 (overload) without root: latency histogram maths, the loss check, the backlog figures, targets, rate
choice, and the tables rendered from a report."""

import io
import math
import os
import time
import types

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from tracer.bench import cli
from tracer.bench.accounting import account
from tracer.bench.backlog import config_hz, summarize
from tracer.bench.latency import bucket_of, histogram, merge, percentile, summary
from tracer.bench import s5
from tracer.bench.s5 import OverloadBpfaudit, add_ratios, overload_rate, s5_targets
from tracer.bench.table import build_tables, notes
from tracer.bench.workload import command, parse_output


# -- latency histogram ---------------------------------------------------------------------------

def test_buckets_are_exact_below_32_then_32_per_power_of_two():
    assert bucket_of(0) == (0, 1)
    assert bucket_of(31) == (31, 1)
    assert bucket_of(32) == (32, 1)
    assert bucket_of(64) == (64, 2) and bucket_of(65) == (64, 2)
    assert bucket_of(1000) == (992, 16)  # 1000 = 0b1111101000: top 6 bits 111110 -> 62 << 4
    assert bucket_of(1_000_000) == (999_424, 16_384)


@given(st.integers(min_value=0, max_value=10**10))
def test_a_value_lies_in_its_bucket_and_the_bucket_is_under_3_2_percent_wide(v):
    lo, width = bucket_of(v)
    assert lo <= v < lo + width
    assert width == 1 or width / lo <= 1 / 32


def exact_rank(values, q):
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


@given(st.lists(st.integers(min_value=1, max_value=10**8), min_size=1, max_size=300),
       st.sampled_from([0.5, 0.9, 0.99, 0.999, 1.0]))
def test_percentile_is_within_the_bucket_of_the_exact_nearest_rank(values, q):
    est = percentile(histogram(values), q)
    lo, width = bucket_of(exact_rank(values, q))
    assert lo <= est <= lo + width - 1


def test_percentile_of_known_samples():
    values = [20] * 98 + [5000, 200_000]  # 20 ns: a bucket of width 1, exact
    h = histogram(values)
    assert percentile(h, 0.5) == 20
    assert percentile(h, 0.98) == 20
    lo, width = bucket_of(5000)
    assert percentile(h, 0.99) == lo + width - 1  # the one sample of its bucket: the bucket's top
    assert percentile(h, 1.0, maximum=200_000) == 200_000  # capped by the exact maximum


def test_percentile_edge_cases():
    assert percentile([], 0.99) is None
    with pytest.raises(ValueError):
        percentile([(1, 1, 1)], 0)
    with pytest.raises(ValueError):
        percentile([(1, 1, 1)], 1.5)


def test_merge_adds_counts_per_bucket_and_summary_counts_samples():
    a, b = histogram([10, 10, 500]), histogram([10, 70_000])
    m = merge([a, b])
    assert m == histogram([10, 10, 500, 10, 70_000])
    s = summary(m, maximum=70_001)
    assert s["samples"] == 5 and s["max"] == 70_001 and s["p50"] == 10


# -- the workload's latency output ---------------------------------------------------------------

def test_latency_flag_goes_first_and_the_histogram_is_parsed():
    assert command("/b/w", 5.0, 120000, latency=True) == ["/b/w", "-l", "5", "120000"]
    assert command("/b/w", 5.0, 120000) == ["/b/w", "5", "120000"]  # S1-S3 unchanged
    r = parse_output('{"calls": 3, "warmup": 0, "ns": 3000, "ns_per_call": 1000.0, "cpu_ns_per_call": 900.0, '
                     '"slice_median_ns_per_call": 0.0, "calls_per_s": 1e6, "lat_min_ns": 150, '
                     '"lat_max_ns": 7000, "lat_hist": [[148, 4, 2], [6912, 128, 1]]}')
    assert r.latency_hist == ((148, 4, 2), (6912, 128, 1))
    assert (r.latency_min_ns, r.latency_max_ns) == (150, 7000)
    assert parse_output('{"calls": 1, "ns": 1, "ns_per_call": 1, "calls_per_s": 1}').latency_hist == ()


# -- the loss check -------------------------------------------------------------------------------

def losses(**kw):
    base = {"emitted": 0, "delivered": 0, "bpf_submit_failed": 0, "perf_lost": 0, "userspace_dropped": 0,
            "queued": 0, "seq_gaps": 0, "malformed": 0, "userspace_filtered": 0, "stash_full": 0}
    base.update(kw)
    return base


def test_every_record_delivered_or_lost_is_exact():
    led = account(losses(emitted=1000, delivered=700, bpf_submit_failed=250, perf_lost=250,
                         userspace_dropped=50, seq_gaps=290))
    assert (led["emitted"], led["delivered"], led["lost"], led["unaccounted"]) == (1000, 700, 300, 0)
    assert led["exact"] and led["reconciled"] and led["perf_lost_caught_up"]


def test_late_perf_lost_is_noted_not_counted():
    led = account(losses(emitted=100, delivered=90, bpf_submit_failed=10, perf_lost=4, seq_gaps=10))
    assert led["exact"] and led["lost"] == 10 and not led["perf_lost_caught_up"]
    assert any("not (yet) reported" in n for n in led["ledger_notes"])


def test_records_in_flight_or_queued_are_not_exact():
    in_flight = account(losses(emitted=100, delivered=80, bpf_submit_failed=5))
    assert not in_flight["exact"] and in_flight["unaccounted"] == 15 and not in_flight["reconciled"]
    queued = account(losses(emitted=100, delivered=90, queued=10, userspace_dropped=0))
    assert not queued["exact"]


def test_per_cpu_columns_must_balance_too():
    led = account(losses(emitted=30, delivered=25, bpf_submit_failed=5),
                  per_cpu={"emitted": [10, 20], "submit_failed": [0, 5]},
                  delivery={"delivered": {0: 12, 1: 13}, "userspace_dropped": {}, "seq_gaps": {}})
    assert led["exact"]  # the totals balance...
    assert not led["reconciled"]  # ...but CPU 0 delivered more than it emitted
    assert [row["cpu"] for row in led["per_cpu"]] == [0, 1]


# -- kernel audit's backlog -----------------------------------------------------------------------

def test_backlog_summary_deltas_maximum_and_wait_in_ms():
    before = {"lost": 2**32 - 2, "backlog": 0, "backlog_limit": 8192, "backlog_wait_time": 15000,
              "backlog_wait_time_actual": 100}
    after = dict(before, lost=3, backlog=10, backlog_wait_time_actual=350)
    s = summarize(before, after, [0, 8192, 9000, 40], hz=250)
    assert s["lost_delta"] == 5  # the kernel's u32 wrapped
    assert s["backlog_max"] == 9000 and s["backlog_full_samples"] == 2 and s["backlog_samples"] == 4
    assert s["backlog_wait_jiffies"] == 250 and s["backlog_wait_ms"] == 1000.0
    assert summarize(before, after, [], hz=None)["backlog_wait_ms"] is None


def test_config_hz():
    assert config_hz("# CONFIG_HZ_100 is not set\nCONFIG_HZ_250=y\nCONFIG_HZ=250\n") == 250
    assert config_hz("CONFIG_X=y\n") is None


# -- rate, ratios, targets ------------------------------------------------------------------------

def test_rate_is_the_option_else_three_times_the_s3_ceiling():
    assert overload_rate(90_000, {"ceiling_per_s": 40_000})[0] == 90_000
    rate, source = overload_rate(None, {"ceiling_per_s": 40_000, "generator_bound": True})
    assert rate == 120_000 and "3x the S3 ceiling" in source and "lower bound" in source
    assert overload_rate(None, None)[0] is None
    assert overload_rate(None, {"ceiling_per_s": None})[0] is None


def row(name, p50, p99, **extra):
    return {"name": name, "target_per_s": 120_000, "achieved_per_s": 119_990.0, "calls": 600_000,
            "latency_ns": {"p50": p50, "p90": p50, "p99": p99, "p999": p99 * 2, "max": p99 * 10,
                           "samples": 600_000}, **extra}


def s5_report(ledger, kaudit_status=None):
    rows = add_ratios([row("bare", 150, 400),
                       row("bpfaudit", 1500, 900, ledger=ledger, consumer_cpu_ms=2500.0, job_wall_ms=5000.0),
                       row("kernel audit + auditd tuned", 6000, 40_000, kaudit_status=kaudit_status,
                           auditd_records=600_000, foreign_tracers=0, foreign_tracers_after=2)])
    return {"scenarios": {"S5": {"kind": "overload", "title": "S5 overload: 120,000 getppid/s for 5 s",
                                 "rows": rows, "notes": ["S5 rate: --s5-rate 120,000/s"]}},
            "skipped": {}}


def test_ratios_are_over_the_bare_row():
    rows = s5_report(account(losses()))["scenarios"]["S5"]["rows"]
    assert [r["p99_x_bare"] for r in rows] == [1.0, 2.25, 100.0]
    assert rows[1]["p50_x_bare"] == 10.0


def test_targets_met_and_missed():
    exact = account(losses(emitted=10, delivered=8, bpf_submit_failed=2, perf_lost=2))
    t = s5_targets(s5_report(exact)["scenarios"])
    assert [(x.value, x.limit, x.met) for x in t] == [(0, 0, True), (2.25, 2.0, False)]
    assert "emitted 10 = delivered 8 + lost 2" in t[0].note and "900 ns vs 400 ns" in t[1].note
    short = account(losses(emitted=10, delivered=7, bpf_submit_failed=2))
    assert s5_targets(s5_report(short)["scenarios"])[0].met is False
    assert s5_targets({}) == []


def test_the_p99_target_says_what_the_empty_programs_alone_cost():
    report = s5_report(account(losses(emitted=10, delivered=10)))
    rows = report["scenarios"]["S5"]["rows"]
    rows.insert(1, row("empty raw tracepoint", 300, 700))
    add_ratios(rows)
    p99 = s5_targets(report["scenarios"])[1]
    assert p99.note == "p99 900 ns vs 400 ns; the empty raw-tracepoint pair alone: 1.75x"
    # and the row renders like any run without a ledger
    assert "empty raw tracepoint" in render(build_tables(report)[0])


# -- tables ---------------------------------------------------------------------------------------

def render(table) -> str:
    buf = io.StringIO()
    Console(file=buf, width=400, color_system=None).print(table)
    return buf.getvalue()


def kaudit_status():
    return summarize({"lost": 634, "backlog": 0, "backlog_limit": 8192, "backlog_wait_time": 15000,
                      "backlog_wait_time_actual": 11086},
                     {"lost": 640, "backlog": 4000, "backlog_limit": 8192, "backlog_wait_time": 15000,
                      "backlog_wait_time_actual": 13586}, [100, 8193, 8200], hz=250)


def test_s5_tables_latency_ledger_and_backlog():
    report = s5_report(account(losses(emitted=1000, delivered=700, bpf_submit_failed=300, perf_lost=300)),
                       kaudit_status())
    tables = build_tables(report)
    assert [t.title.split(":")[0] for t in tables] == [
        "S5 overload", "S5 bpfaudit loss ledger (after detach and drain)", "S5 kernel audit + auditd tuned"]
    lat = render(tables[0])
    bpf_line = next(ln for ln in lat.splitlines() if "bpfaudit" in ln)
    assert "1,500" in bpf_line and "900" in bpf_line and "2.25x" in bpf_line
    assert "700 records decoded, 300 lost (30%)" in lat and "consumer CPU 50% of a core" in lat
    assert "backlog max 8,200/8,192, waited 10,000 ms, lost 6" in lat
    assert "auditd logged 600,000 of 600,000 calls" in lat
    assert "other syscall programs attached: 0 before, 2 after the run" in lat
    ledger = render(tables[1])
    assert "yes" in ledger and "1,000" in ledger and "300" in ledger
    backlog = render(tables[2])
    assert "634 -> 640" in backlog and "2/3" in backlog and "10.0 s" in backlog and "HZ 250" in backlog
    assert notes(report) == ["S5 rate: --s5-rate 120,000/s"]


def test_a_run_without_loss_is_flagged_as_no_overload():
    text = render(build_tables(s5_report(account(losses(emitted=50, delivered=50))))[0])
    assert "nothing lost: not an overload for this consumer" in text


def test_ledger_table_shows_the_gap_when_not_exact():
    report = s5_report(account(losses(emitted=1000, delivered=700, bpf_submit_failed=295)))
    assert "NO (+5)" in render(build_tables(report)[1])


def test_cli_refuses_a_tiny_s5_rate_with_exit_2(monkeypatch):
    monkeypatch.setattr(cli.os, "geteuid", lambda: 0)
    result = CliRunner().invoke(cli.app, ["--scenarios", "S5", "--s5-rate", "10"])
    assert result.exit_code == 2 and "--s5-rate must be at least 1000" in result.output


# -- bpfaudit's drain: perf rings wait for their LOST records, a ring buffer has none ---------------

class ScriptedCapture:
    """What OverloadBpfaudit uses of a CaptureSession, overloaded: of `emitted` records `failed` were
    refused by BPF and the rest wait in the ring, handed out `per_poll` at a time. A perf ring
    reports its failures (perf_lost) only after a later write on each CPU (flush_rings)."""

    def __init__(self, transport, emitted=1000, failed=600, per_poll=150):
        self.transport = f"{transport} transport (scripted)"
        self.ring_writes_lost = transport != "ringbuf"
        self.emitted, self.failed, self.per_poll = emitted, failed, per_poll
        self.delivered = 0
        self.perf_lost = 0
        self.flushed = 0
        self.polls = 0

    def poll(self, timeout_ms=None):
        self.polls += 1
        n = min(self.per_poll, self.emitted - self.failed - self.delivered)
        self.delivered += n
        return [types.SimpleNamespace(pid=7)] * n

    def flush(self, cpus):
        # each CPU's matching call: emitted (and delivered) one more record, and, on a perf ring,
        # writes the LOST record of the drops before it
        self.emitted += len(cpus)
        self.flushed += len(cpus)
        if self.ring_writes_lost:
            self.perf_lost = self.failed

    def losses(self):
        return losses(emitted=self.emitted, delivered=self.delivered, bpf_submit_failed=self.failed,
                      perf_lost=self.perf_lost, seq_gaps=self.failed)

    def counters_per_cpu(self):
        return {"emitted": [self.emitted], "submit_failed": [self.failed]}

    def delivery_per_cpu(self):
        return {"delivered": {0: self.delivered}, "userspace_dropped": {}, "seq_gaps": {0: self.failed}}


class Switch:
    def __init__(self):
        self.on_now = False

    def on(self):
        self.on_now = True

    def off(self):
        self.on_now = False


class OneJob:
    """A workload that is done at the first look."""

    def start(self):
        return types.SimpleNamespace(pid=7, poll=lambda: 0)

    def finish(self, proc):
        return parse_output('{"calls": 1000, "ns": 1000000, "ns_per_call": 1000, "calls_per_s": 1e6}', pid=7)


def overloaded(monkeypatch, transport):
    cap = ScriptedCapture(transport)
    config = OverloadBpfaudit("bpfaudit", ruleset=None, transport=transport)
    config.cap, config.switch = cap, Switch()

    def flush_rings(cpus, auid=1000):
        assert config.switch.on_now, "flushed after the programs were switched off: no record would be written"
        cap.flush(cpus)
        return len(cpus)

    monkeypatch.setattr(s5, "flush_rings", flush_rings)
    return cap, config


@pytest.mark.parametrize("transport", ["perf-ring", "bcc"])
def test_perf_rings_are_flushed_and_waited_for_until_perf_lost_catches_up(monkeypatch, transport):
    cap, config = overloaded(monkeypatch, transport)
    _res, extra = config.measure(OneJob())
    cpus = len(os.sched_getaffinity(0))
    assert extra["drained"] is True and extra["flush_calls"] == cpus == cap.flushed
    assert extra["perf_lost_waited"] is True  # perf_lost caught up with BPF's 600 failures
    led = extra["ledger"]
    assert led["exact"] and led["reconciled"] and led["perf_lost_caught_up"]
    assert (led["emitted"], led["delivered"], led["lost"], led["perf_lost"]) == (1000 + cpus, 400 + cpus, 600, 600)
    assert extra["records"] == 400 + cpus


def test_a_ring_buffer_is_drained_without_flush_calls_or_a_perf_lost_wait(monkeypatch):
    cap, config = overloaded(monkeypatch, "ringbuf")
    t0 = time.monotonic()
    _res, extra = config.measure(OneJob())
    # no 10 s wait for LOST records that never come, no extra calls on each CPU
    assert time.monotonic() - t0 < 5 and cap.flushed == 0
    assert extra["drained"] is True and extra["flush_calls"] == 0 and extra["perf_lost_waited"] is None
    led = extra["ledger"]
    assert led["exact"] and led["reconciled"] and led["unaccounted"] == 0
    assert (led["emitted"], led["delivered"], led["lost"]) == (1000, 400, 600)  # delivered + submit failures
    assert led["perf_lost"] is None and led["perf_lost_caught_up"] is None and led["transport"] == "ringbuf"
    assert not any("perf ring" in n for n in led["ledger_notes"])
    cells = [c.strip() for c in render(build_tables(s5_report(led))[1]).splitlines()[-2].split("│")[1:-1]]
    assert cells[:5] == ["1,000", "400", "600", "-", "0"]  # perf_lost: none, not 0


def test_a_drain_that_never_catches_up_is_reported_not_hidden(monkeypatch):
    cap, config = overloaded(monkeypatch, "ringbuf")
    cap.per_poll = 0  # records stuck in the ring: emitted 1000, delivered 0 + lost 600
    monkeypatch.setattr(s5.time, "monotonic", iter(range(0, 10_000, 30)).__next__)  # each look: 30 s later
    _res, extra = config.measure(OneJob())
    assert extra["drained"] is False
    assert not extra["ledger"]["exact"] and extra["ledger"]["unaccounted"] == 400
