"""tracer/capture/ringbuf.py: BPF ring buffer records walked out of bytes laid out as the kernel lays
them out (8-byte headers, BUSY and DISCARD bits, 8-byte alignment, the data area mapped twice
so a wrapped record reads whole), and one ring's records split into runs by CPU."""

from __future__ import annotations

import struct

import pytest

from tracer.capture.ringbuf import (BUSY_BIT, DISCARD_BIT, HDR_SZ, MemoryRingbuf, SequenceGaps, merge_tallies,
                            record_size, scan_records, tally_samples, tally_uniform, uniform_prefix)


def data(n, size=192, start=0):
    return [bytes([(start + i) % 256]) * size for i in range(n)]


def header(length, flags=0):
    return struct.pack("<II", length | flags, 0)


def record(raw, flags=0):
    return header(len(raw), flags) + raw + b"\0" * (record_size(len(raw)) - HDR_SZ - len(raw))


def test_records_are_header_and_data_rounded_up_to_8_bytes():
    assert [record_size(n) for n in (0, 1, 192, 193, 200, 704)] == [8, 16, 200, 208, 208, 712]


def test_equal_committed_records_are_found_without_walking_them():
    chunk = b"".join(record(r) for r in data(50))
    assert uniform_prefix(chunk) == (200, 50)
    found = scan_records(chunk)
    assert (found.stride, found.uniform, found.spans, found.end) == (200, 50, [], len(chunk))


def test_the_uniform_prefix_ends_at_a_record_of_another_length():
    a, b = data(3), [b"p" * 230, b"q" * 192]
    chunk = b"".join(record(r) for r in a + b)
    found = scan_records(chunk)
    assert (found.uniform, found.end) == (3, len(chunk))
    assert [chunk[o : o + n] for o, n in found.spans] == b


def test_a_length_differing_only_in_a_high_byte_ends_the_prefix():
    a, b = b"a" * 192, b"b" * (192 + 256)
    chunk = record(a) * 2 + record(b)
    assert uniform_prefix(chunk) == (200, 2)
    assert [chunk[o : o + n] for o, n in scan_records(chunk).spans] == [b]


def test_a_busy_record_stops_the_walk_even_with_committed_records_after_it():
    chunk = record(b"a" * 192) + header(192, BUSY_BIT) + b"\0" * 192 + record(b"c" * 192)
    found = scan_records(chunk)
    assert (found.uniform, found.spans, found.end) == (1, [], 200)


def test_a_busy_first_record_leaves_everything_for_the_next_read():
    found = scan_records(header(192, BUSY_BIT) + b"\0" * 192)
    assert (found.uniform, found.spans, found.end, found.corrupt) == (0, [], 0, False)


def test_discarded_records_are_skipped_and_counted():
    chunk = record(b"a" * 192) + record(b"x" * 192, DISCARD_BIT) + record(b"c" * 100)
    found = scan_records(chunk)
    assert found.uniform == 1 and found.discarded == 1 and found.end == len(chunk)
    assert [chunk[o : o + n] for o, n in found.spans] == [b"c" * 100]


def test_a_length_past_the_producer_position_is_corrupt_and_uses_the_read():
    chunk = record(b"a" * 192) + header(4000) + b"\0" * 64
    found = scan_records(chunk)
    assert found.corrupt and found.end == len(chunk)


def test_a_read_takes_everything_committed_and_hands_the_space_back():
    ring = MemoryRingbuf(4096)
    assert ring.reader.read().count == 0
    raws = data(20)
    assert sum(ring.output(r) for r in raws) == 20  # 20 x 200 bytes fit in 4096
    assert not ring.output(b"z" * 192)  # full: bpf_ringbuf_output fails, BPF counts it
    batch = ring.reader.read()
    assert batch.raw_samples() == raws and batch.uniform == 20
    cons, prod = ring.positions()
    assert cons == prod == 4000 and ring.reader.pending() == 0


def test_samples_keep_their_exact_length():
    ring = MemoryRingbuf(8192)
    raws = [b"a" * 192, b"b" * 197, b"c" * 450, b"d" * 192]
    for r in raws:
        assert ring.output(r)
    batch = ring.reader.read()
    assert batch.uniform == 1 and batch.samples == raws[1:] and batch.raw_samples() == raws


def test_records_wrapping_past_the_end_of_the_data_area_read_whole():
    ring = MemoryRingbuf(4096)
    for r in data(15):  # 3000 bytes, then handed back: the next records cross the end at 4096
        ring.output(r)
    ring.reader.read()
    raws = data(12, start=100) + [b"w" * 301]
    for r in raws:
        assert ring.output(r)
    cons, prod = ring.positions()
    assert cons % 4096 + (prod - cons) > 4096  # the unread bytes do wrap
    assert ring.reader.read().raw_samples() == raws
    assert ring.reader.pending() == 0


def test_a_record_still_being_written_holds_back_the_ones_after_it():
    ring = MemoryRingbuf(4096)
    ring.output(b"a" * 192)
    pos, ok = ring.reserve(192)
    assert ok
    ring.output(b"c" * 192)
    assert ring.reader.read().raw_samples() == [b"a" * 192]
    assert ring.reader.read().count == 0 and ring.reader.pending() == 400
    ring.commit(pos, b"b" * 192)
    assert ring.reader.read().raw_samples() == [b"b" * 192, b"c" * 192]


def test_a_discarded_reservation_is_skipped():
    ring = MemoryRingbuf(4096)
    pos, _ = ring.reserve(192)
    ring.commit(pos, b"x" * 192, discard=True)
    ring.output(b"y" * 192)
    batch = ring.reader.read()
    assert batch.raw_samples() == [b"y" * 192] and batch.discarded == 1 and ring.reader.discarded == 1
    assert ring.reader.pending() == 0


def test_a_corrupt_read_is_counted_and_skipped():
    ring = MemoryRingbuf(4096)
    pos, _ = ring.reserve(192)
    ring._put(pos, header(3000))  # a length past what the producer reserved
    batch = ring.reader.read()
    assert batch.corrupt and batch.count == 0 and ring.reader.corrupt == 1 and ring.reader.pending() == 0


def test_the_data_size_must_be_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        MemoryRingbuf(3000)


# -- one ring, records of every CPU ----------------------------------------------------
CPU_AT, SEQ_AT = 100, 0  # where the u32 CPU and the u64 sequence number lie in these test records


def numbered(cpu, seq, size=192):
    raw = bytearray(size)
    struct.pack_into("<Q", raw, SEQ_AT, seq)
    struct.pack_into("<I", raw, CPU_AT, cpu)
    return bytes(raw)


def expected_tally(recs):
    out = {}
    for cpu, seq in recs:
        n, first, _ = out.get(cpu, (0, seq, seq))
        out[cpu] = (n + 1, first, seq)
    return out


@pytest.mark.parametrize("recs", [
    [(0, 1), (0, 2), (1, 7), (1, 8), (1, 9), (0, 3), (2, 1)],
    [(3, 5)],
    [(1, 1), (0, 1), (1, 2), (0, 2)],  # two busy CPUs alternate
    [(0, 1), (300, 1), (300, 2), (2, 1), (65536, 4), (2, 2)],  # CPU numbers past one byte: record by record
])
def test_a_read_is_tallied_per_cpu_without_splitting_it(recs):
    chunk = b"".join(record(numbered(c, q)) for c, q in recs)
    assert tally_uniform(chunk, 200, len(recs), CPU_AT, SEQ_AT) == expected_tally(recs)
    assert tally_samples([numbered(c, q, 250) for c, q in recs], CPU_AT, SEQ_AT) == expected_tally(recs)


def test_only_the_uniform_records_are_tallied():
    chunk = b"".join(record(numbered(1, q)) for q in (1, 2)) + record(numbered(0, 1, 300))
    assert tally_uniform(chunk, 200, 2, CPU_AT, SEQ_AT) == {1: (2, 1, 2)}


def test_a_sample_too_short_to_say_its_cpu_counts_for_the_one_before():
    a, b, short = numbered(0, 4), numbered(1, 9), b"x" * 10
    assert tally_samples([a, b, short], CPU_AT, SEQ_AT) == {0: (1, 4, 4), 1: (2, 9, 9)}
    assert tally_samples([short], CPU_AT, SEQ_AT, prev_cpu=5) == {5: (1, -1, -1)}


def test_tallies_of_one_read_merge_in_order():
    a = {0: (2, 1, 2), 1: (1, 5, 5)}
    b = {1: (2, 6, 9), 2: (1, -1, -1)}
    assert merge_tallies(a, b) == {0: (2, 1, 2), 1: (3, 5, 9), 2: (1, -1, -1)}
    assert merge_tallies({3: (1, -1, -1)}, {3: (1, 8, 8)}) == {3: (2, 8, 8)}


def test_sequence_gaps_per_cpu_across_reads():
    gaps = SequenceGaps()
    assert gaps.add({0: (3, 10, 12), 1: (2, 1, 2)}) == {}  # a CPU's first record sets its start
    assert gaps.add({0: (2, 15, 16), 1: (1, 3, 3)}) == {0: 2}  # 13 and 14 never arrived
    assert gaps.add({1: (2, 4, 9)}) == {1: 4}  # within a read: 4 .. 9 holds 2 records
    assert gaps.add({0: (1, 15, 15)}) == {}  # out of order (preempted between numbering and output)
    assert gaps.add({0: (1, -1, -1)}) == {} and gaps.expect == {0: 17, 1: 10}
