"""tracer/capture/reader.py: raw event samples (tests/unit/samples.py builds them as BPF does), decoded to
SyscallEvents: the header, every item kind, cut and unreadable items, malformed samples."""

from __future__ import annotations

import ctypes
import os
import json
import time

import pytest

import tracer.capture.reader as reader_mod
from tracer.filters import KernelRule
from tracer.formats import audit_text, jsonl
from tracer.capture.reader import RecordDecoder, proctitle_rtrim, serial_base
from tracer.syscall_table import AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, syscall_number

from tests.unit.samples import (EXECVE, HDR, IDS, OPENAT, RENAME, L, Record, caps, header, item, obj, pack_items,
                                sample)

RULES = [KernelRule(L.BA_ACT_ALWAYS, None, key=f"key{i}") for i in range(3)] + [KernelRule(L.BA_ACT_ALWAYS, None)]


@pytest.fixture
def dec():
    return RecordDecoder(RULES)


def test_every_header_field_maps_into_the_event(dec):
    before = time.time() - time.monotonic()
    ev = dec.decode(0, sample(seq=7, cpu=1, exit=3, rule=1, per=8, paths=["/etc/passwd"]))
    after = time.time() - time.monotonic()
    assert ev.arch == AUDIT_ARCH_X86_64 and ev.syscall == OPENAT and ev.syscall_name == "openat"
    assert ev.success is True and ev.exit == 3
    assert ev.args == [0xFFFFFFFFFFFFFF00 + i for i in range(6)]
    assert ev.pid == os.getpid() and ev.tid == os.getpid() + 1
    for i, name in enumerate(IDS):
        assert getattr(ev, name) == 100 + i, name
    assert ev.comm == "cat" and ev.tty == "pts3" and ev.per == 8
    assert ev.exe == "/usr/bin/cat"  # from the EXE item, never from /proc
    assert ev.rule == 1 and ev.key == "key1"
    assert ev.paths == ["/etc/passwd"] and ev.cut == ()
    assert (ev.enter_ns, ev.exit_ns, ev.duration_ns) == (5_000_000_000, 5_000_123_456, 123_456)
    assert ev.cpu == 1 and ev.seq == 7
    # the event's time is the syscall's entry, as kernel audit stamps it: wall = monotonic + offset
    assert before - 0.01 <= ev.time - 5.0 <= after + 0.01
    assert (dec.delivered, dec.malformed, dec.seq_gaps) == (1, 0, 0)


def test_every_item_kind_decodes(dec):
    argv = b"/bin/echo\0a b\0\0\xff\x01\0"
    ev = dec.decode(0, sample(syscall=EXECVE, exit=0, paths=["/bin/echo"], items=[
        item("EXECVE", argv, aux=4), item("SOCKADDR", bytes.fromhex("020000097f000001"), aux=16),
        item("CWD", "/tmp"), item("PROCTITLE", b"sh\0-c\0true", aux=0)], exe="/usr/bin/echo"))
    assert ev.argv == ["/bin/echo", "a b", "", b"\xff\x01".decode("utf-8", "surrogateescape")]
    assert ev.argc == 4
    assert ev.sockaddr == bytes.fromhex("020000097f000001")
    assert ev.cwd == "/tmp" and ev.exe == "/usr/bin/echo" and ev.paths == ["/bin/echo"]
    assert ev.proctitle == b"sh\0-c\0true"
    assert ev.cut == () and dec.cut == 0


def test_a_task_without_exe_or_items_has_none(dec):
    ev = dec.decode(0, sample(exe=None))
    assert (ev.exe, ev.cwd, ev.proctitle, ev.argv, ev.sockaddr, ev.paths) == (None, None, None, None, None, [])


def test_cut_and_unreadable_items_are_flagged_never_silent(dec):
    ev = dec.decode(0, sample(paths=["/ok", None], items=[
        item("EXECVE", b"a\0bbb", flags=L.BA_ITEM_CUT, aux=7), item("CWD", b"", flags=L.BA_ITEM_FAULT)],
        exe=None))
    assert ev.paths == ["/ok", None]  # unreadable: None (PATH name=(null)), never ""
    assert ev.argv == ["a", "bbb"] and ev.argc == 7  # the cut argument kept as far as it went
    assert ev.cwd is None
    assert ev.cut == ("path1", "argv", "cwd")
    assert dec.cut == 1


@pytest.mark.parametrize("raw,setproctitle,want", [
    (b"sh\0-c\0echo hi\0", False, b"sh\0-c\0echo hi"),  # trailing NUL trimmed
    (b"python3\0x.py\n\0", False, b"python3\0x.py"),  # trailing unprintable bytes too (audit_proctitle_rtrim)
    (b"\0", False, b""),
    (b"", False, b""),
    (b"nginx: worker\0garbage", True, b"nginx: worker"),  # setproctitle(): up to the first NUL
])
def test_proctitle_is_trimmed_as_kernel_audit_trims_it(raw, setproctitle, want):
    assert proctitle_rtrim(raw, setproctitle) == want


@pytest.mark.parametrize("exit,success", [(0, True), (-1, False), (-13, False), (-4095, False), (-4096, True),
                                          (2**40, True)])
def test_success_follows_the_kernels_is_err_value(dec, exit, success):
    ev = dec.decode(0, sample(exit=exit))
    assert ev.success is success and ev.exit == exit


def test_no_tty_is_none_and_unknown_rule_has_no_key(dec):
    ev = dec.decode(0, sample(tty=b"", rule=3))
    assert ev.tty == "(none)" and ev.key is None and ev.rule == 3
    assert dec.decode(0, sample(seq=2, rule=200)).key is None


def test_compat_records_use_the_i386_table(dec):
    ev = dec.decode(0, sample(arch=AUDIT_ARCH_I386, syscall=syscall_number("i386", "openat")))
    assert ev.syscall_name == "openat"


def test_long_and_hostile_names_survive_whole(dec):
    long = "/" + "/." * 2000 + "/etc/hostname"  # past the old 255-byte slot
    ev = dec.decode(0, sample(paths=[long, b"/tmp/\xff\n\x1b[2J"]))
    assert ev.paths[0] == long
    assert ev.paths[1].encode("utf-8", "surrogateescape") == b"/tmp/\xff\n\x1b[2J"


def test_perf_padding_is_accepted(dec):
    # perf rounds a raw sample up so that its u32 size plus data is 8-aligned: the header's size rules
    ev = dec.decode(0, sample(paths=["/x"]) + b"\0\0\0\0")
    assert ev.paths == ["/x"] and dec.malformed == 0


@pytest.mark.parametrize("damage", ["short-sample", "size-past-sample", "size-below-header", "item-past-size",
                                    "too-many-items", "unknown-kind", "other-version", "tiny", "huge"])
def test_malformed_samples_are_counted_not_decoded(dec, damage):
    good = sample(paths=["/etc/shadow"])
    raw = {
        "short-sample": good[:-8],
        "size-past-sample": sample(paths=["/etc/shadow"], size=len(good) + 8),
        "size-below-header": sample(size=HDR - 8),
        "item-past-size": sample(paths=["/etc/shadow"], size=HDR + 16),
        "too-many-items": sample(paths=["/etc/shadow"], n_items=9),
        "unknown-kind": sample(items=[item(99, b"x")]),
        "other-version": sample(version=L.BA_SCHEMA_VERSION + 1),
        "tiny": good[:8],
        "huge": good + b"\0" * L.BA_EVENT_MAX,
    }[damage]
    assert dec.decode(0, raw) is None
    assert (dec.delivered, dec.malformed) == (1, 1)
    assert dec.decode(0, sample(seq=2)) is not None
    assert (dec.delivered, dec.malformed) == (2, 1)


def test_sequence_gaps_are_counted_per_cpu(dec):
    # BPF numbers records per CPU; samples of two CPUs interleave in the reader
    for cpu, seq in [(0, 1), (1, 50), (0, 2), (1, 51), (0, 5), (1, 54), (0, 6), (1, 55)]:
        assert dec.decode(cpu, sample(seq=seq, cpu=cpu)) is not None
    assert dec.seq_gaps == 2 + 2
    # the first record of a CPU sets its start, whatever its number
    dec.decode(1, sample(seq=1000, cpu=7))
    assert dec.seq_gaps == 4


def test_serials_increase_from_a_base_later_runs_never_reach(dec):
    serials = [dec.decode(0, sample(seq=i)).serial for i in range(1, 4)]
    assert serials == sorted(set(serials))
    assert serial_base(1000.0) < serials[0] - 1 < serial_base(time.time() + 1)
    # a later run (one millisecond on) starts above anything this run numbers at under 10**9 events/s
    assert serial_base(2000.001) - serial_base(2000.0) > 1_000_000


class Decider:
    def __init__(self, answer):
        self.answer, self.calls = answer, []

    def __call__(self, event, start):
        self.calls.append((event.syscall_name, start, event.exe))
        return self.answer


def test_userspace_check_asks_the_decider_with_the_kernels_exe():
    d = Decider(2)
    dec = RecordDecoder(RULES, d)
    ev = dec.decode(0, sample(rule=1, flags=L.BA_REC_USERSPACE_CHECK, exe="/usr/bin/vi"))
    assert d.calls == [("openat", 1, "/usr/bin/vi")]
    assert ev.rule == 2 and ev.key == "key2"
    assert dec.userspace_filtered == 0


def test_userspace_check_can_filter_the_record_out():
    d = Decider(None)
    dec = RecordDecoder(RULES, d)
    assert dec.decode(0, sample(rule=0, flags=L.BA_REC_USERSPACE_CHECK)) is None
    assert dec.userspace_filtered == 1 and dec.delivered == 1 and dec.malformed == 0


def test_records_decided_in_bpf_do_not_ask():
    d = Decider(None)
    dec = RecordDecoder(RULES, d)
    ev = dec.decode(0, sample(rule=1, flags=L.BA_REC_CUT))
    assert ev is not None and ev.key == "key1" and d.calls == []


def test_userspace_check_without_a_decider_keeps_the_candidate(dec):
    ev = dec.decode(0, sample(rule=2, flags=L.BA_REC_USERSPACE_CHECK))
    assert ev.rule == 2 and ev.key == "key2"


def test_nothing_is_read_from_proc(monkeypatch, dec):
    def refuse(*a, **k):
        raise AssertionError("the decoder must not look anything up")

    monkeypatch.setattr(os, "readlink", refuse)
    monkeypatch.setattr("builtins.open", refuse)
    ev = dec.decode(0, sample(pid=0x7FFFFFF0, syscall=EXECVE, exit=0, paths=["/bin/true"], exe="/usr/bin/true"))
    assert ev.exe == "/usr/bin/true"


def strip(e):
    """An event's content, less what depends on when its decoder started (wall offset, serial base)."""
    return {k: v for k, v in jsonl.to_json_dict(e).items() if k not in ("time", "serial")}


def test_a_batch_decodes_as_its_records_one_by_one():
    raws = [sample(seq=1), sample(seq=2, paths=["/a", "/b"]), b"\0" * 8,
            sample(seq=5, paths=["/gone"], n_items=7), sample(seq=6, tty=b"", comm=b"")]
    one, batch = RecordDecoder(RULES), RecordDecoder(RULES)
    singles = [e for e in (one.decode(1, r) for r in raws) if e is not None]
    events = batch.decode_batch(1, raws)
    assert [strip(e) for e in events] == [strip(e) for e in singles]
    assert len(events) == 3 and events[2].comm == "" and events[2].tty == "(none)"
    for dec in (one, batch):
        assert (dec.delivered, dec.malformed, dec.seq_gaps) == (5, 2, 2)


def test_the_header_struct_is_the_layouts_own():
    hs = reader_mod.HeaderStruct(Record, HDR)
    assert hs.struct.size == HDR and hs.members == reader_mod.HEADER_MEMBERS
    r = header(seq=9, cpu=1, rule=2, flags=L.BA_REC_CUT, exit=-13, comm=b"vi", per=3, size=300, n_items=2)
    flat = list(hs.struct.unpack_from(bytes(r)))
    got = {}
    for name, ctype in Record._fields_[: len(hs.members)]:
        length = getattr(ctype, "_length_", 0)
        if length and ctype._type_ is not ctypes.c_char:  # integer arrays unpack as several values
            got[name], flat = tuple(flat[:length]), flat[length:]
        else:
            got[name], flat = flat[0], flat[1:]
    assert flat == []
    for name in got:
        want = getattr(r, name)
        want = tuple(want) if name == "args" else want
        assert (got[name].split(b"\0")[0] if isinstance(got[name], bytes) else got[name]) == want, name


def test_the_item_struct_is_the_layouts_own():
    raw = pack_items([item("SOCKADDR", b"\x01\x00/x", flags=L.BA_ITEM_CUT, aux=110)])
    assert RecordDecoder(RULES)._item.unpack_from(raw) == (L.BA_ITEM_SOCKADDR, L.BA_ITEM_CUT, 4, 110)
    assert len(raw) == 16 + 8  # payload padded to 8 bytes


def test_a_header_the_decoder_does_not_know_is_refused():
    fields = dict(Record._fields_)
    swapped = [(n, fields[n]) for n in ("seq", "enter_ns", "exit_ns", "exit", "args", "arch", "syscall", "tid", "pid")]

    class Swapped(ctypes.Structure):
        _fields_ = swapped + [(n, t) for n, t in Record._fields_ if n not in dict(swapped)]

    with pytest.raises(reader_mod.LayoutMismatch, match="differ"):
        reader_mod.HeaderStruct(Swapped, HDR)
    with pytest.raises(reader_mod.LayoutMismatch, match="end at"):
        reader_mod.HeaderStruct(Record, HDR - 8)


def test_a_uniform_chunk_decodes_as_its_samples_one_by_one():
    from tracer.capture.perf_ring import SAMPLE_DATA_OFFSET, sample_record, uniform_stride

    raws = [sample(seq=s, cpu=1, pid=4242 + s % 2, exit=-s % 3) for s in (1, 2, 5, 6)]
    chunk = b"".join(sample_record(r) for r in raws)
    stride = uniform_stride(chunk)
    assert stride == len(chunk) // len(raws)
    one, batch = RecordDecoder(RULES), RecordDecoder(RULES)
    singles = [one.decode(1, chunk[i + SAMPLE_DATA_OFFSET : i + stride]) for i in range(0, len(chunk), stride)]
    events = batch.decode_uniform(1, chunk, stride, SAMPLE_DATA_OFFSET)
    assert [strip(e) for e in events] == [strip(e) for e in singles]
    assert (batch.delivered, batch.malformed, batch.seq_gaps) == (4, 0, 2)
    assert [e.seq for e in events] == [1, 2, 5, 6]


# Schema 3: OBJ and CAPS items, replayed into kernel audit's PATH items and BPRM_FCAPS
ARG = [0xFFFFFFFFFFFFFF00 + i for i in range(6)]  # the pointers samples.header() gives a0..a5
DEV = 0xFE << 20


def test_an_open_with_its_lookup_is_one_normal_item(dec):
    from tracer.capture.events import PathItem
    ev = dec.decode(0, sample(paths=["/etc/passwd"], items=[
        obj("INODE", ino=42, dev=DEV, mode=0o100644, uid=0, gid=5, uptr=ARG[1])]))
    assert ev.paths == ["/etc/passwd"]
    assert ev.path_items == [PathItem("/etc/passwd", 42, DEV, 0o100644, 0, 5, 0, "NORMAL")]
    assert ev.bprm_fcaps is None and ev.cut == ()


def test_a_rename_replays_into_the_kernels_four_items(dec):
    ev = dec.decode(0, sample(syscall=RENAME, exit=0, paths=["x", "../x"], items=[
        item("CWD", "/T/sub"),
        obj("PARENT", ino=30, dev=DEV, mode=0o40755, uptr=ARG[0]),
        obj("PARENT", ino=31, dev=DEV, mode=0o40755, uptr=ARG[1]),
        obj("DELETE", ino=32, dev=DEV, mode=0o100644, dir_ino=30, dir_dev=DEV, name="x"),
        obj("CREATE", ino=32, dev=DEV, mode=0o100644, dir_ino=31, dir_dev=DEV, name="x")]))
    assert [(i.name, i.nametype, i.inode) for i in ev.path_items] == [
        ("../", "PARENT", 31), ("/T/sub", "PARENT", 30), ("x", "DELETE", 32), ("../x", "CREATE", 32)]
    text = audit_text.format_event(ev)
    assert " items=4 " in text.splitlines()[0]
    assert 'item=3 name="../x" inode=32 dev=fe:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=CREATE' in text


def test_an_execs_kernel_names_follow_the_program(dec):
    ev = dec.decode(0, sample(syscall=EXECVE, exit=0, paths=["/bin/true"], items=[
        obj("INODE", ino=50, dev=DEV, mode=0o100755, uptr=ARG[0]),
        obj("INODE", ino=51, dev=DEV, mode=0o100755, name="/lib64/ld-linux-x86-64.so.2",
            flags=L.BA_OBJ_HAS_INODE | L.BA_OBJ_KNAME)]))
    assert [(i.name, i.nametype) for i in ev.path_items] == [
        ("/bin/true", "NORMAL"), ("/lib64/ld-linux-x86-64.so.2", "NORMAL")]


def test_events_without_obj_items_keep_their_names_unknown(dec):
    ev = dec.decode(0, sample(paths=["/nonexistent/x"]))
    assert [(i.name, i.nametype, i.inode) for i in ev.path_items] == [("/nonexistent/x", "UNKNOWN", None)]
    assert dec.decode(0, sample()).path_items == []


def test_a_caps_item_becomes_bprm_fcaps_when_the_kernel_writes_one(dec):
    part = 0x1FFFEFFFFFF  # root's sets, one capability short of the full set
    ev = dec.decode(0, sample(syscall=EXECVE, exit=0, uid=0, euid=0, paths=["/bin/true"], items=[
        caps(old_pp=part, old_pe=part, pp=part, pe=part)]))
    assert audit_text.bprm_fcaps_record(ev.bprm_fcaps) == (
        "fver=0 fp=0 fi=0 fe=0 old_pp=000001fffeffffff old_pi=0 old_pe=000001fffeffffff old_pa=0 "
        "pp=000001fffeffffff pi=0 pe=000001fffeffffff pa=0 frootid=0")
    lines = audit_text.format_event(ev).splitlines()
    assert [x.split(" ", 1)[0] for x in lines] == ["type=SYSCALL", "type=BPRM_FCAPS", "type=PATH"]
    full = (1 << 41) - 1
    ev = dec.decode(0, sample(syscall=EXECVE, exit=0, uid=0, euid=0, items=[
        caps(old_pp=full, old_pe=full, pp=full, pe=full)]))
    assert ev.bprm_fcaps is None


def test_a_cut_kernel_name_is_flagged(dec):
    ev = dec.decode(0, sample(syscall=EXECVE, exit=0, paths=["/bin/true"], items=[
        obj("INODE", ino=51, name="/lib64/ld", flags=L.BA_OBJ_HAS_INODE | L.BA_OBJ_KNAME, item_flags=L.BA_ITEM_CUT)]))
    assert ev.cut == ("objs",)


@pytest.mark.parametrize("spec", [
    obj("INODE", ino=1, name="abc", name_len=99),  # its name runs past the item
    item("OBJ", b"\0" * 8),  # shorter than struct ba_obj
    item("CAPS", b"\0" * 8),  # shorter than struct ba_caps
])
def test_short_obj_and_caps_items_are_malformed(dec, spec):
    assert dec.decode(0, sample(paths=["/x"], items=[spec])) is None and dec.malformed == 1


def test_path_items_and_bprm_fcaps_survive_json_lines(dec):
    part = 0x1FFFEFFFFFF
    ev = dec.decode(0, sample(syscall=EXECVE, exit=0, uid=0, euid=0, paths=[b"/bin/\xff"], items=[
        obj("INODE", ino=50, dev=DEV | 3, mode=0o100755, rdev=(136 << 20) | 2, uptr=ARG[0]),
        caps(old_pp=part, old_pe=part, pp=part, pe=part, fmagic=0x02000001, frootid=0xFFFFFFFF, fp=5)]))
    obj_json = jsonl.to_json_dict(ev)
    assert obj_json["path_items"] == [{"name": {"hex": "2F62696E2FFF"}, "nametype": "NORMAL", "inode": 50,
                                       "dev": "fe:03", "mode": "0100755", "ouid": 0, "ogid": 0, "rdev": "88:02"}]
    assert obj_json["bprm_fcaps"]["fver"] == 2 and obj_json["bprm_fcaps"]["fe"] == 1
    assert obj_json["bprm_fcaps"]["frootid"] == -1 and obj_json["bprm_fcaps"]["fp"] == "0000000000000005"
    back = jsonl.from_json_dict(json.loads(jsonl.format_event(ev)))
    assert back.path_items == ev.path_items and back.bprm_fcaps == ev.bprm_fcaps
