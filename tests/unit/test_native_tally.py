"""The dashboard fed by the compiled core's tallies (native.Tallier) shows what it shows when
fed the reference decoder's events: the same counts, labels, failures and tail."""

from __future__ import annotations

from tests.unit import samples
from tests.unit.test_native_format import NR, RULES, corpus, decide_even
from tracer.capture.events import EventTally
from tracer.capture.reader import RecordDecoder
from tracer.formats import native
from tracer.top.aggregate import Aggregator



def snapshots(raws, decide=None, batches=1, tail=50):
    ref_dec = RecordDecoder(RULES, decide, slash_fix=True)
    dec = RecordDecoder(RULES, decide, slash_fix=True)
    dec._mono_to_wall, dec._serial = ref_dec._mono_to_wall, ref_dec._serial
    tallier = native.Tallier(dec, tail=tail)
    ref = Aggregator(start=1000.0, tail=tail, user_name=str)
    got = Aggregator(start=1000.0, tail=tail, user_name=str)
    step = max(1, -(-len(raws) // batches))
    for i in range(0, len(raws), step):
        ref.feed(ref_dec.decode_batch(-1, raws[i:i + step]), 1000.5)
        t = tallier.tally(raws[i:i + step])
        assert isinstance(t, EventTally)
        got.feed(t, 1000.5)
    for a in (ref, got):
        a.tick(1002.0)
    counters = lambda d: (d.delivered, d.malformed, d.seq_gaps, d.cut, d.userspace_filtered, d._serial)
    assert counters(dec) == counters(ref_dec)
    return ref.snapshot(rows=50, tail=tail), got.snapshot(rows=50, tail=tail)


def same(ref, got):
    assert (got.events, got.failures, got.rate_now) == (ref.events, ref.failures, ref.rate_now)
    for name in ("syscalls", "processes", "auids", "keys"):
        key = lambda row: (row.cells, row.count)
        assert sorted(getattr(got, name).rows, key=key) == sorted(getattr(ref, name).rows, key=key), name
    assert got.tail == ref.tail


def test_corpus_counts_alike():
    same(*snapshots(corpus()))


def test_user_space_decisions_counted_alike():
    same(*snapshots(corpus(), decide=decide_even))


def test_many_batches_and_a_short_tail():
    same(*snapshots(corpus(), batches=9, tail=7))


def test_processes_interleaved_keep_their_own_labels():
    raws = []
    for i in range(300):
        pid = 100 + i % 3
        raws.append(samples.sample(syscall=NR["getppid"] if i % 2 else NR["openat"], pid=pid, seq=i + 1,
                                   comm=f"p{pid}".encode(), exe=f"/bin/p{pid}", exit=-2 if i % 5 == 0 else 0,
                                   auid=1000 + i % 2, rule=i % 4))
    ref, got = snapshots(raws, batches=4)
    same(ref, got)
    assert {row.cells[1] for row in got.processes.rows} == {"p100", "p101", "p102"}


def test_tail_is_decoded_only_when_shown():
    dec = RecordDecoder(RULES, None, slash_fix=True)
    t = native.Tallier(dec, tail=3).tally([samples.sample(seq=i + 1) for i in range(10)])
    assert t.events == 10 and len(t.tail) == 3 and all(callable(x) for x in t.tail)
    assert [ev.seq for ev in (x() for x in t.tail)] == [8, 9, 10]
