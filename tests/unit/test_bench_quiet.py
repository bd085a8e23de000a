"""Waiting for other syscall tracers: transient ones are waited out, long-lived ones only once."""

from tracer.bench import quiet


def scripted(monkeypatch, answers):
    calls = iter(answers)
    last = {"v": []}

    def fake():
        last["v"] = next(calls, last["v"])
        return last["v"]

    monkeypatch.setattr(quiet, "foreign_programs", fake)
    monkeypatch.setattr(quiet.time, "sleep", lambda s: None)


def prog(i, pid=50):
    return {"pid": pid, "prog_id": i, "tracepoint": "sys_enter"}


def test_transient_tracer_is_waited_out(monkeypatch):
    scripted(monkeypatch, [[prog(1)], [prog(1)], []])
    w = quiet.QuietWaiter(timeout=30)
    assert w() == []
    assert w.resident == set()


def test_long_lived_tracer_is_waited_for_once_then_measured_beside(monkeypatch):
    scripted(monkeypatch, [[prog(1)]])
    clock = iter(range(0, 10_000, 5))
    monkeypatch.setattr(quiet.time, "monotonic", lambda: next(clock))
    logs = []
    w = quiet.QuietWaiter(timeout=20, log=logs.append)
    assert w() == [prog(1)]
    assert w.resident == {1}
    n = len(logs)
    assert w() == [prog(1)]  # no second wait for the same program
    assert len(logs) == n


def test_total_wait_is_bounded_by_the_budget(monkeypatch):
    scripted(monkeypatch, [[prog(i)] for i in range(1000)])
    clock = iter(range(0, 100_000, 5))
    monkeypatch.setattr(quiet.time, "monotonic", lambda: next(clock))
    w = quiet.QuietWaiter(timeout=20, budget=60)
    for _ in range(10):
        w()
    assert w.waited <= 60 + 5
