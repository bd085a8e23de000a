"""Bounded counters behind the dashboard: per-second buckets and top-N."""

from tracer.top.counters import SecondBuckets, TopCounter


def test_second_buckets_close_seconds_and_pad_gaps():
    b = SecondBuckets(span=5)
    b.advance(10.2)
    b.add(3)
    b.advance(10.9)  # same second: still filling
    b.add(2)
    b.advance(11.0)
    assert b.last() == 5
    b.add(7)
    b.advance(14.5)  # 11 closes with 7, 12 and 13 were empty
    assert b.history() == (0, 0, 5, 7, 0, 0)[-5:]
    b.advance(1000.0)  # a long jump is bounded by the span
    assert b.history() == (0, 0, 0, 0, 0)
    assert len(b.done) == 5


def test_top_counter_orders_by_count_and_by_recent_rate():
    c = TopCounter(cap=10, window=2)
    for _ in range(50):
        c.add("old")
    c.roll()
    c.roll()
    c.roll()  # "old" is out of the rate window now
    for _ in range(4):
        c.add("new")
    c.roll()
    assert [k for k, _, _ in c.top(2)] == ["old", "new"]
    assert [k for k, _, _ in c.top(2, by_rate=True)] == ["new", "old"]
    assert dict((k, r) for k, _, r in c.top(2)) == {"old": 0.0, "new": 2.0}


def test_top_counter_caps_keys_and_keeps_heavy_hitters():
    c = TopCounter(cap=8, window=3)
    for i in range(10_000):
        c.add("heavy")
        c.add(f"k{i}", label=("label", i))
    assert c.tracked() <= 16
    assert len(c.labels) <= 16
    assert len(c.current) <= 16
    top = c.top(1)
    assert top[0][0] == "heavy" and top[0][1] == 10_000
    # every record is accounted for: tracked counts plus the folded ones
    assert sum(c.counts.values()) + c.other == 20_000
