"""The aggregator: counts, ordering, rates, loss state, and bounded memory."""

import time

from top_fakes import T0, event, losses

from tracer.top.aggregate import AUID_UNSET, Aggregator, result_text


def agg(**kw):
    return Aggregator(rules="2 rules (test)", transport="fake", start=T0,
                      user_name=lambda a: {1000: "alice", AUID_UNSET: "unset"}.get(a, str(a)),
                      **kw)


def test_counts_and_ordering_of_every_table():
    a = agg()
    evs = (
        [event(name="openat", pid=10, comm="cat", auid=1000, key="files")] * 5
        + [event(name="execve", pid=11, comm="sh", exe="/bin/sh", auid=AUID_UNSET, key=None)] * 3
        + [event(name="unlink", pid=10, comm="cat", ok=False, exit=-13, key="files")] * 1
    )
    a.feed(evs, T0 + 0.5)
    s = a.snapshot()
    assert s.events == 9 and s.failures == 1
    assert [(r.cells, r.count) for r in s.syscalls.rows] == [
        (("openat",), 5), (("execve",), 3), (("unlink",), 1)]
    assert [(r.cells, r.count) for r in s.processes.rows] == [
        (("10", "cat", "/usr/bin/cat"), 6), (("11", "sh", "/bin/sh"), 3)]
    assert [(r.cells, r.count) for r in s.auids.rows] == [
        (("1000", "alice"), 6), ((str(AUID_UNSET), "unset"), 3)]
    assert [(r.cells, r.count) for r in s.keys.rows] == [(("files",), 6), (("(none)",), 3)]
    last = s.tail[-1]
    assert (last.syscall, last.success, last.result, last.auid) == ("unlink", False, "EACCES", "alice")


def test_rates_sparkline_and_events_per_second():
    a = agg(rate_window=2)
    for sec in range(4):
        a.feed([event(name="openat")] * (10 * (sec + 1)), T0 + sec + 0.5)
    a.tick(T0 + 4.1)
    s = a.snapshot()
    assert s.rate_now == 40
    assert s.sparkline[-4:] == (10, 20, 30, 40) and len(s.sparkline) == 60
    assert s.syscalls.rows[0].rate == (30 + 40) / 2
    assert abs(s.uptime - 4.1) < 1e-6
    a.tick(T0 + 10)  # silence: rates fall to zero, nothing fed
    s = a.snapshot()
    assert s.rate_now == 0 and s.syscalls.rows[0].rate == 0


def test_sort_by_rate_puts_the_busy_key_first():
    a = agg(rate_window=2)
    a.feed([event(name="old")] * 100, T0 + 0.5)
    for sec in range(1, 5):
        a.feed([event(name="busy")] * 5, T0 + sec + 0.5)
    a.tick(T0 + 5.5)
    assert [r.cells[0] for r in a.snapshot(sort="count").syscalls.rows] == ["old", "busy"]
    assert [r.cells[0] for r in a.snapshot(sort="rate").syscalls.rows] == ["busy", "old"]


def test_losing_only_while_a_loss_counter_grows():
    a = agg(rate_window=5)
    a.observe_losses(losses(), T0)
    a.tick(T0 + 1)
    a.observe_losses(losses(), T0 + 1)
    assert not a.snapshot().losing
    a.tick(T0 + 2)
    a.observe_losses(losses(perf_lost=40), T0 + 2)
    s = a.snapshot()
    assert s.losing
    ring = [c for c in s.losses if c.name == "ring buffer lost"][0]
    assert ring.total == 40 and ring.losing and ring.rate == 20.0
    for sec in range(3, 12):
        a.tick(T0 + sec)
        a.observe_losses(losses(perf_lost=40), T0 + sec)
    s = a.snapshot()
    assert not s.losing and s.lost_ever  # lost earlier, not any more


def test_kernel_audit_counters_and_unavailable_reason():
    class Status:
        lost, backlog, backlog_limit, enabled = 7, 3, 8192, 1

    a = agg()
    a.observe_kaudit(None, T0, "n/a (no kaudit module)")
    assert a.snapshot().kaudit.available is False
    assert a.snapshot().kaudit.reason == "n/a (no kaudit module)"
    a.observe_kaudit(Status, T0)
    Status.lost = 17
    a.tick(T0 + 2)
    a.observe_kaudit(Status, T0 + 2)
    k = a.snapshot().kaudit
    assert (k.lost, k.backlog, k.backlog_limit, k.lost_rate, k.losing) == (17, 3, 8192, 5.0, True)


def test_pid_labels_follow_the_latest_comm():
    a = agg()
    a.feed([event(pid=5, comm="bash", exe="/bin/bash"), event(pid=5, comm="true", exe="/bin/true")],
           T0)
    assert a.snapshot().processes.rows[0].cells == ("5", "true", "/bin/true")


def test_result_text_names_the_errno():
    assert result_text(event(ok=False, exit=-111)) == "ECONNREFUSED"
    assert result_text(event(ok=True, exit=0)) == "0"


def test_memory_stays_bounded_over_a_million_records():
    a = agg(cap=64, tail=100)
    batch = 10_000
    fed = 0
    start = time.perf_counter()
    for b in range(100):
        evs = [
            event(pid=b * batch + i, name=f"sys{(b * batch + i) % 997}",
                  auid=b * batch + i, key=f"key{i}", path=f"/tmp/f{b}-{i}", comm=f"c{i}")
            for i in range(batch)
        ]
        a.feed(evs, T0 + b * 0.25)  # four batches a second
        fed += len(evs)
    elapsed = time.perf_counter() - start
    sizes = a.tracked()
    assert fed == 1_000_000 and a.events == fed
    for name in ("syscalls", "processes", "process_labels", "auids", "keys", "recent_max"):
        assert sizes[name] <= 2 * 64, (name, sizes)
    assert sizes["tail"] == 100 and sizes["sparkline"] <= 60
    s = a.snapshot()
    # every record is accounted for in each table: shown keys + tracked rest + "other"
    assert sum(a.processes.counts.values()) + s.processes.other == fed
    print(f"aggregated {fed} records in {elapsed:.1f} s")


def test_an_unreadable_name_shows_as_null_never_empty():
    a = agg()
    ev = event(name="openat")
    ev.paths = [None]  # BPF could not read the name (flagged cut)
    a.feed([ev, event(name="getppid", path=None)], T0 + 0.5)
    tail = a.snapshot().tail
    assert [t.path for t in tail] == ["(null)", ""]
