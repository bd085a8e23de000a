"""tracer/capture/perf_ring.py: perf records walked out of ring bytes laid out as the kernel lays them
out (samples, LOST records, wrap-around, records not complete yet, impossible headers)."""

from __future__ import annotations

import struct

import pytest

from tracer.capture import perf_ring
from tracer.capture.perf_ring import MemoryRing, lost_record, parse_records, sample_record


def raws(n, size=188, start=0):  # 200-byte records, no padding
    return [bytes([(start + i) % 256]) * size for i in range(n)]


def test_samples_and_lost_records_in_order():
    a, b = raws(2, 196)
    chunk = sample_record(a) + lost_record(7) + sample_record(b) + lost_record(3)
    samples, lost, used, corrupt = parse_records(chunk)
    assert samples == [a, b] and lost == 10 and used == len(chunk) and not corrupt


def test_raw_data_keeps_perfs_padding():
    # perf pads the raw data so that its u32 size plus the data is 8-aligned; the decoder accepts the padding
    samples, _, _, _ = parse_records(sample_record(b"x" * 193))
    assert samples[0][:193] == b"x" * 193 and (len(samples[0]) + 4) % 8 == 0


@pytest.mark.parametrize("cut", [1, 7, 8, 11, 12, 100, 199])
def test_a_record_not_complete_is_left_for_the_next_read(cut):
    first, second = sample_record(b"a" * 196), sample_record(b"b" * 196)
    chunk = first + second[:cut]
    samples, lost, used, corrupt = parse_records(chunk)
    assert samples == [b"a" * 196] and used == len(first) and not corrupt


@pytest.mark.parametrize("bad_size", [0, 4, 13])
def test_an_impossible_header_marks_the_chunk_corrupt(bad_size):
    good = sample_record(b"a" * 196)
    chunk = good + struct.pack("<IHHI", perf_ring.PERF_RECORD_SAMPLE, 0, bad_size, 4) + b"\0" * 64
    samples, _, used, corrupt = parse_records(chunk)
    assert samples == [b"a" * 196] and corrupt and used == len(chunk)


def test_a_sample_larger_than_its_record_is_corrupt():
    chunk = struct.pack("<IHHI", perf_ring.PERF_RECORD_SAMPLE, 0, 16, 400) + b"\0" * 4
    assert parse_records(chunk)[3]


def test_unknown_record_types_are_skipped():
    other = struct.pack("<IHH", 3, 0, 16) + b"\0" * 8  # e.g. PERF_RECORD_COMM: not ours, skipped whole
    samples, lost, used, _ = parse_records(other + sample_record(b"z" * 196))
    assert samples == [b"z" * 196] and used == 16 + 208


def test_a_ring_read_takes_everything_and_hands_the_space_back():
    ring = MemoryRing(4096)
    assert ring.reader.read().raw_samples() == []
    want = raws(10)
    assert ring.write_samples(want) == 10
    batch = ring.reader.read()
    assert batch.raw_samples() == want and batch.lost == 0
    assert ring.reader.pending() == 0
    assert ring.reader.read().raw_samples() == []


def test_records_wrapping_past_the_end_of_the_data_area():
    ring = MemoryRing(1024)  # 200-byte sample records: the sixth wraps
    for round_ in range(12):
        want = raws(4, start=round_ * 4)
        assert ring.write_samples(want) == 4
        if round_ % 3 == 2:
            assert ring.write(lost_record(round_))
        got = ring.reader.read()
        assert got.raw_samples() == want, round_
        assert got.lost == (round_ if round_ % 3 == 2 else 0)
    assert ring.head() > 5 * 1024  # went round several times


def test_a_full_ring_refuses_what_does_not_fit_until_read():
    ring = MemoryRing(1024)
    assert ring.write_samples(raws(10)) == 5  # 5 x 200 bytes
    assert ring.reader.read().raw_samples() == raws(5)
    assert ring.write_samples(raws(5)) == 5


def test_an_unpublished_record_is_not_read():
    ring = MemoryRing(1024)
    ring.write_samples(raws(1))
    ring.write(sample_record(b"late" * 47), publish=False)  # written, data_head not moved yet
    assert ring.reader.read().raw_samples() == raws(1)
    assert ring.reader.pending() == 0


def test_a_partial_record_below_data_head_waits_for_the_rest():
    ring = MemoryRing(1024)
    rec = sample_record(b"q" * 196)
    ring.write(rec[:50])  # as if data_head were published mid-record
    assert ring.reader.read().raw_samples() == [] and ring.reader.pending() == 50
    ring.write(rec[50:])
    assert ring.reader.read().raw_samples() == [b"q" * 196] and ring.reader.pending() == 0


def test_the_data_area_must_be_a_power_of_two():
    buf = bytearray(4096 + 3000)
    struct.pack_into("<QQ", buf, perf_ring.META_DATA_OFFSET, 4096, 3000)
    with pytest.raises(ValueError, match="power of two"):
        perf_ring.RingReader(buf)


def test_old_kernels_without_data_offset_use_the_page_after_the_metadata():
    buf = bytearray(4096 + 8192)
    reader = perf_ring.RingReader(buf, page_size=4096)
    assert (reader.data_offset, reader.data_size) == (4096, 8192)


def test_online_cpu_lists(tmp_path):
    f = tmp_path / "online"
    f.write_text("0-3,5,7-8\n")
    assert perf_ring.online_cpus(str(f)) == [0, 1, 2, 3, 5, 7, 8]
    f.write_text("0\n")
    assert perf_ring.online_cpus(str(f)) == [0]


def test_a_chunk_of_samples_of_one_size_is_left_whole():
    ring = MemoryRing(4096)
    ring.write_samples(raws(6))
    batch = ring.reader.read()
    assert batch.samples == [] and batch.stride == 200 and batch.count == 6 and len(batch.chunk) == 1200
    assert batch.raw_samples() == raws(6)


@pytest.mark.parametrize("records", [
    [sample_record(b"a" * 188), sample_record(b"b" * 196)],  # two sizes
    [sample_record(b"a" * 188), lost_record(3), sample_record(b"b" * 188)],  # a LOST record between
    [sample_record(b"a" * 188), struct.pack("<IHH", 3, 0, 200) + b"\0" * 192],  # another type, same size
])
def test_mixed_chunks_are_walked_record_by_record(records):
    chunk = b"".join(records)
    assert perf_ring.uniform_stride(chunk) == 0
    ring = MemoryRing(4096)
    ring.write(chunk)
    batch = ring.reader.read()
    assert batch.stride == 0 and batch.samples


def test_the_misc_field_may_differ_within_a_uniform_chunk():
    a, b = bytearray(sample_record(b"a" * 188)), sample_record(b"b" * 188)
    a[4] = 1  # PERF_RECORD_MISC_* bits
    assert perf_ring.uniform_stride(bytes(a) + b) == 200


def test_a_uniform_chunk_cut_short_is_not_uniform():
    chunk = sample_record(b"a" * 188) * 3
    assert perf_ring.uniform_stride(chunk) == 200
    assert perf_ring.uniform_stride(chunk[:-8]) == 0
