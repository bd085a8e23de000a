"""tracer/reader.py: raw perf samples built with the header-derived struct, decoded to SyscallEvents."""

from __future__ import annotations

import ctypes
import os
import time

import pytest

import tracer.reader as reader_mod
from tracer.filters import KernelRule
from tracer.formats import jsonl
from tracer.layout import layout
from tracer.reader import RecordDecoder
from tracer.syscall_table import AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, syscall_number

L = layout()
Record = L.structs["ba_record"]
FULL = ctypes.sizeof(Record)
HDR = L.BA_RECORD_HDR_SIZE
OPENAT = syscall_number("x86_64", "openat")
EXECVE = syscall_number("x86_64", "execve")
RULES = [KernelRule(L.BA_ACT_ALWAYS, None, key=f"key{i}") for i in range(3)] + [KernelRule(L.BA_ACT_ALWAYS, None)]

IDS = ("ppid", "auid", "uid", "gid", "euid", "suid", "fsuid", "egid", "sgid", "fsgid", "ses")


def record(seq=1, cpu=0, syscall=OPENAT, arch=AUDIT_ARCH_X86_64, exit=3, pid=None, paths=(), rule=0, flags=0,
           **kw) -> Record:
    r = Record()
    r.seq, r.cpu, r.arch, r.syscall, r.exit, r.rule, r.flags = seq, cpu, arch, syscall, exit, rule, flags
    r.pid = os.getpid() if pid is None else pid
    r.tid = r.pid + 1
    r.enter_ns, r.exit_ns = 5_000_000_000, 5_000_123_456
    for i in range(L.BA_NARGS):
        r.args[i] = 0xFFFFFFFFFFFFFF00 + i
    for i, name in enumerate(IDS):
        setattr(r, name, 100 + i)
    r.comm, r.tty = b"cat", b"pts3"
    r.n_paths = len(paths)
    for i, p in enumerate(paths):
        raw = p if isinstance(p, bytes) else p.encode()
        start = i * L.BA_PATH_LEN
        ctypes.memmove(ctypes.addressof(r) + Record.path.offset + start, raw, len(raw))
        r.path_len[i] = len(raw) + 1
    for k, v in kw.items():
        setattr(r, k, v)
    return r


def full(r) -> bytes:
    return bytes(r)


def short(r) -> bytes:
    return bytes(r)[:HDR]


@pytest.fixture
def dec():
    return RecordDecoder(RULES)


def test_every_field_maps_into_the_event(dec):
    before = time.time() - time.monotonic()
    ev = dec.decode(0, full(record(seq=7, cpu=1, exit=3, rule=1, paths=["/etc/passwd"])))
    after = time.time() - time.monotonic()
    assert ev.arch == AUDIT_ARCH_X86_64 and ev.syscall == OPENAT and ev.syscall_name == "openat"
    assert ev.success is True and ev.exit == 3
    assert ev.args == [0xFFFFFFFFFFFFFF00 + i for i in range(6)]
    assert ev.pid == os.getpid() and ev.tid == os.getpid() + 1
    for i, name in enumerate(IDS):
        assert getattr(ev, name) == 100 + i, name
    assert ev.comm == "cat" and ev.tty == "pts3"
    assert ev.exe == os.path.realpath(f"/proc/{os.getpid()}/exe")
    assert ev.rule == 1 and ev.key == "key1"
    assert ev.paths == ["/etc/passwd"]
    assert (ev.enter_ns, ev.exit_ns, ev.duration_ns) == (5_000_000_000, 5_000_123_456, 123_456)
    assert ev.cpu == 1 and ev.seq == 7
    # wall clock = monotonic exit time + the offset between the clocks when the decoder started
    assert before - 0.01 <= ev.time - 5.000123456 <= after + 0.01
    assert (dec.delivered, dec.malformed, dec.seq_gaps) == (1, 0, 0)


@pytest.mark.parametrize("exit,success", [(0, True), (-1, False), (-13, False), (-4095, False), (-4096, True),
                                          (2**40, True)])
def test_success_follows_the_kernels_is_err_value(dec, exit, success):
    ev = dec.decode(0, full(record(exit=exit)))
    assert ev.success is success and ev.exit == exit


def test_no_tty_is_none_and_unknown_rule_has_no_key(dec):
    ev = dec.decode(0, full(record(tty=b"", rule=3)))
    assert ev.tty == "(none)" and ev.key is None and ev.rule == 3
    assert dec.decode(0, full(record(seq=2, rule=200))).key is None


def test_compat_records_use_the_i386_table(dec):
    ev = dec.decode(0, full(record(arch=AUDIT_ARCH_I386, syscall=syscall_number("i386", "openat"))))
    assert ev.syscall_name == "openat"


def test_paths_are_cut_at_their_length(dec):
    long = "/" + "x" * (L.BA_PATH_LEN - 2)  # fills the slot exactly with its NUL
    r = record(paths=["/a/b", long])
    ev = dec.decode(0, full(r))
    assert ev.paths == ["/a/b", long]
    r.path_len[0] = 3  # a truncated copy: the length BPF reports wins over the bytes
    assert dec.decode(0, full(r)).paths[0] == "/a"


def test_path_lengths_beyond_the_slot_are_clamped(dec):
    r = record(paths=["/one", "/two"])
    r.path_len[0] = 60000
    ev = dec.decode(0, full(r))
    assert len(ev.paths[0]) == L.BA_PATH_LEN - 1 and ev.paths[0].startswith("/one")
    assert ev.paths[1] == "/two"


def test_non_utf8_paths_survive(dec):
    ev = dec.decode(0, full(record(paths=[b"/tmp/\xff\xfe"])))
    assert ev.paths[0].encode("utf-8", "surrogateescape") == b"/tmp/\xff\xfe"


def test_n_paths_is_clamped_to_the_slots(dec):
    r = record(paths=["/a", "/b"])
    r.n_paths = 9
    assert dec.decode(0, full(r)).paths == ["/a", "/b"]


def test_perf_padding_is_accepted(dec):
    # perf rounds a raw sample up so that its u32 size plus data is 8-aligned
    padded_full = full(record(seq=1, paths=["/x"])) + b"\0\0\0\0"
    # BPF submits the header plus the bytes of a single path ("/x\0": 3 bytes)
    padded_trimmed = short(record(seq=2, paths=["/x"])) + b"/x\0" + b"\0\0\0\0\0"
    assert dec.decode(0, padded_full).paths == ["/x"]
    ev = dec.decode(0, padded_trimmed)
    assert ev is not None and ev.paths == ["/x"]
    assert dec.malformed == 0


def test_single_path_samples_carry_only_its_bytes(dec):
    ev = dec.decode(0, short(record(paths=["/etc/shadow"], comm=b"vi")) + b"/etc/shadow\0")
    assert ev.paths == ["/etc/shadow"] and ev.comm == "vi" and ev.syscall_name == "openat"
    assert dec.malformed == 0


def test_a_path_the_sample_does_not_hold_is_malformed(dec):
    ev = dec.decode(0, short(record(paths=["/etc/shadow"], comm=b"vi")))
    assert ev.paths == [] and ev.comm == "vi"  # the record is kept, without the path
    assert dec.malformed == 1


@pytest.mark.parametrize("size", [0, 8, HDR - 1, FULL + 16, 4096])
def test_impossible_sizes_are_counted_not_decoded(dec, size):
    raw = (full(record()) + b"\0" * 4096)[:size]
    assert dec.decode(0, raw) is None
    assert (dec.delivered, dec.malformed) == (1, 1)
    assert dec.decode(0, full(record(seq=2))) is not None
    assert (dec.delivered, dec.malformed) == (2, 1)


def test_sequence_gaps_are_counted_per_cpu(dec):
    # BPF numbers records per CPU; samples of two CPUs interleave in the reader
    for cpu, seq in [(0, 1), (1, 50), (0, 2), (1, 51), (0, 5), (1, 54), (0, 6), (1, 55)]:
        assert dec.decode(cpu, short(record(seq=seq, cpu=cpu))) is not None
    assert dec.seq_gaps == 2 + 2
    # the first record of a CPU sets its start, whatever its number
    dec.decode(1, short(record(seq=1000, cpu=7)))
    assert dec.seq_gaps == 4


def test_serials_increase(dec):
    serials = [dec.decode(0, short(record(seq=i))).serial for i in range(1, 4)]
    assert serials == sorted(set(serials))


class Decider:
    def __init__(self, answer):
        self.answer, self.calls = answer, []

    def __call__(self, event, start):
        self.calls.append((event.syscall_name, start))
        return self.answer


def test_userspace_check_asks_the_decider_from_the_candidate_rule():
    d = Decider(2)
    dec = RecordDecoder(RULES, d)
    ev = dec.decode(0, full(record(rule=1, flags=L.BA_REC_USERSPACE_CHECK)))
    assert d.calls == [("openat", 1)]
    assert ev.rule == 2 and ev.key == "key2"
    assert dec.userspace_filtered == 0


def test_userspace_check_can_filter_the_record_out():
    d = Decider(None)
    dec = RecordDecoder(RULES, d)
    assert dec.decode(0, full(record(rule=0, flags=L.BA_REC_USERSPACE_CHECK))) is None
    assert dec.userspace_filtered == 1 and dec.delivered == 1 and dec.malformed == 0


def test_records_decided_in_bpf_do_not_ask():
    d = Decider(None)
    dec = RecordDecoder(RULES, d)
    ev = dec.decode(0, full(record(rule=1, flags=L.BA_REC_PATH0_TRUNCATED)))
    assert ev is not None and ev.key == "key1" and d.calls == []


def test_userspace_check_without_a_decider_keeps_the_candidate(dec):
    ev = dec.decode(0, full(record(rule=2, flags=L.BA_REC_USERSPACE_CHECK)))
    assert ev.rule == 2 and ev.key == "key2"


def test_successful_execve_invalidates_the_exe_cache(monkeypatch):
    targets = iter(["/usr/bin/bash", "/usr/bin/python3", "/usr/bin/never"])
    reads = []

    def fake_readlink(path):
        reads.append(path)
        return next(targets)

    monkeypatch.setattr(reader_mod.os, "readlink", fake_readlink)
    dec = RecordDecoder(RULES)
    pid = 4242
    assert dec.decode(0, short(record(seq=1, pid=pid))).exe == "/usr/bin/bash"
    assert dec.decode(0, short(record(seq=2, pid=pid))).exe == "/usr/bin/bash"  # cached
    assert reads == [f"/proc/{pid}/exe"]
    # a failed execve changes nothing
    assert dec.decode(0, short(record(seq=3, pid=pid, syscall=EXECVE, exit=-2))).exe == "/usr/bin/bash"
    assert len(reads) == 1
    # a successful one runs a new program: its own record already names it, as audit's does
    assert dec.decode(0, short(record(seq=4, pid=pid, syscall=EXECVE, exit=0))).exe == "/usr/bin/python3"
    assert dec.decode(0, short(record(seq=5, pid=pid))).exe == "/usr/bin/python3"
    assert len(reads) == 2


def test_exe_of_a_vanished_process_is_none(dec):
    assert dec.decode(0, short(record(pid=0x7FFFFFF0))).exe is None


def test_exe_cache_is_bounded_and_keeps_the_recently_used(monkeypatch):
    reads = []
    monkeypatch.setattr(reader_mod.os, "readlink", lambda path: reads.append(path) or f"/bin/{path.split('/')[2]}")
    cache = reader_mod.ExeCache(size=2)
    assert cache.get(1) == "/bin/1" and cache.get(2) == "/bin/2"
    cache.get(1)  # 1 is now the most recent: 2 goes first
    cache.get(3)
    assert len(reads) == 3
    cache.get(1)
    assert len(reads) == 3
    cache.get(2)
    assert reads[-1] == "/proc/2/exe" and len(reads) == 4


def test_exec_of_a_process_already_gone_names_the_file_it_ran(tmp_path):
    """Short-lived commands have exited before their records are read: the execve's path tells."""
    dec = RecordDecoder(RULES)
    gone = 0x7FFFFFF0
    link = tmp_path / "sh-link"
    link.symlink_to("/bin/sh")
    ev = dec.decode(0, full(record(seq=1, pid=gone, syscall=EXECVE, exit=0, paths=[str(link)])))
    assert ev.exe == os.path.realpath("/bin/sh")  # resolved, as the kernel reports it
    assert dec.decode(0, short(record(seq=2, pid=gone))).exe == os.path.realpath("/bin/sh")  # and remembered


def test_exec_of_a_script_names_its_interpreter(tmp_path):
    script = tmp_path / "hello"
    script.write_text("#!/bin/sh -e\necho hi\n")
    dec = RecordDecoder(RULES)
    ev = dec.decode(0, full(record(seq=1, pid=0x7FFFFFF1, syscall=EXECVE, exit=0, paths=[str(script)])))
    assert ev.exe == os.path.realpath("/bin/sh")


def test_exec_of_a_relative_path_by_a_gone_process_stays_unknown():
    dec = RecordDecoder(RULES)
    ev = dec.decode(0, full(record(seq=1, pid=0x7FFFFFF2, syscall=EXECVE, exit=0, paths=["bin/true"])))
    assert ev.exe is None


def test_a_batch_decodes_as_its_records_one_by_one():
    raws = [short(record(seq=1)), full(record(seq=2, paths=["/a", "/b"])), b"\0" * 8,
            short(record(seq=5, paths=["/gone"])), short(record(seq=6, tty=b"", comm=b""))]
    one, batch = RecordDecoder(RULES), RecordDecoder(RULES)
    singles = [e for e in (one.decode(1, r) for r in raws) if e is not None]
    events = batch.decode_batch(1, raws)
    strip = lambda e: {**jsonl.to_json_dict(e), "time": round(e.time, 3)}  # noqa: E731
    assert [strip(e) for e in events] == [strip(e) for e in singles]
    assert len(events) == 4 and events[3].comm == "" and events[3].tty == "(none)"
    for dec in (one, batch):
        assert (dec.delivered, dec.malformed, dec.seq_gaps) == (5, 2, 2)


def test_the_header_struct_is_the_layouts_own():
    hs = reader_mod.HeaderStruct(Record, HDR)
    assert hs.struct.size == HDR and hs.members == reader_mod.HEADER_MEMBERS
    r = record(seq=9, cpu=1, rule=2, flags=L.BA_REC_PATH0_TRUNCATED, exit=-13, paths=["/x"], comm=b"vi")
    flat = list(hs.struct.unpack_from(bytes(r)))
    got = {}
    for name, ctype in Record._fields_[: len(hs.members)]:
        length = getattr(ctype, "_length_", 0)
        if name == "pad":
            continue
        if length and ctype._type_ is not ctypes.c_char:  # integer arrays unpack as several values
            got[name], flat = tuple(flat[:length]), flat[length:]
        else:
            got[name], flat = flat[0], flat[1:]
    assert flat == []
    for name in got:
        want = getattr(r, name)
        want = tuple(want) if name in ("args", "path_len") else want
        assert (got[name].split(b"\0")[0] if isinstance(got[name], bytes) else got[name]) == want, name


def test_a_header_the_decoder_does_not_know_is_refused():
    fields = dict(Record._fields_)
    swapped = [(n, fields[n]) for n in ("seq", "enter_ns", "exit_ns", "exit", "args", "arch", "syscall", "tid", "pid")]

    class Swapped(ctypes.Structure):
        _fields_ = swapped + [(n, t) for n, t in Record._fields_ if n not in dict(swapped)]

    with pytest.raises(reader_mod.LayoutMismatch, match="differ"):
        reader_mod.HeaderStruct(Swapped, HDR)
    with pytest.raises(reader_mod.LayoutMismatch, match="end at"):
        reader_mod.HeaderStruct(Record, HDR - 8)


def _perf_chunk(raws):
    from tracer.perf_ring import sample_record

    return b"".join(sample_record(r) for r in raws)


@pytest.mark.parametrize("case", ["header-only", "with-paths", "too-short"])
def test_a_uniform_chunk_decodes_as_its_samples_one_by_one(case):
    from tracer.perf_ring import SAMPLE_DATA_OFFSET, uniform_stride

    if case == "header-only":  # unpacked together
        raws = [short(record(seq=s, cpu=1, pid=4242 + s % 2, exit=-s % 3)) for s in (1, 2, 5, 6)]
    elif case == "with-paths":  # same size, but a sample names a path it does not hold: cut one by one
        raws = [short(record(seq=1, cpu=1)), short(record(seq=2, cpu=1, paths=["/gone"]))]
    else:  # a size no record has: malformed, every one
        raws = [short(record(seq=s, cpu=1))[:100] for s in (1, 2)]
    chunk = _perf_chunk(raws)
    stride = uniform_stride(chunk)
    assert stride == len(chunk) // len(raws)
    one, batch = RecordDecoder(RULES), RecordDecoder(RULES)
    singles = [e for e in (one.decode(1, chunk[i + 12 : i + stride]) for i in range(0, len(chunk), stride))
               if e is not None]
    events = batch.decode_uniform(1, chunk, stride, SAMPLE_DATA_OFFSET)
    strip = lambda e: {**jsonl.to_json_dict(e), "time": round(e.time, 3)}  # noqa: E731
    assert [strip(e) for e in events] == [strip(e) for e in singles]
    assert (batch.delivered, batch.malformed, batch.seq_gaps) == (one.delivered, one.malformed, one.seq_gaps)
    assert batch.delivered == len(raws)
    if case == "header-only":
        assert batch.seq_gaps == 2 and [e.seq for e in events] == [1, 2, 5, 6]
