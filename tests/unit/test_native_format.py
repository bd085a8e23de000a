"""The compiled formatter (tracer/formats/_native.c) against the Python reference: the same
samples must give byte-identical audit text and JSON lines, the same counters and the same
per-key counts, whether it formats a sample itself or hands it back."""

from __future__ import annotations

import collections
import errno
import json
import os
import socket
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit import samples
from tracer.capture.layout import layout
from tracer.capture.reader import RecordDecoder
from tracer.filters import KernelRule
from tracer.formats import audit_text, jsonl, native
from tracer.syscall_table import AUDIT_ARCH_I386, syscall_number


L = layout()
KEYS = ["open", "x\x01y", "caf\u00e9", 'sp ace"q', None]
RULES = [KernelRule(L.BA_ACT_ALWAYS, None, key=k) for k in KEYS]
NR = {n: syscall_number("x86_64", n) for n in ("getppid", "openat", "rename", "connect", "bind", "mkdir",
                                               "execve", "mount", "link", "open")}
HOSTILE = [
    "/tmp/plain", "/tmp/with space", '/tmp/q"uote', "/tmp/\x1b]0;title\x07", "/tmp/\x1b[2J", "/tmp/[bold]x[/]",
    "/tmp/caf\u00e9", "/tmp/\U0001f600", "/tmp/\x7f", "/tmp/tab\there", "/tmp/nl\nx", "/tmp/back\\slash", "",
    b"/tmp/\xff\xfe", b"/tmp/\xed\xa0\x80", b"/tmp/\xc0\xaf", b"/tmp/\xf4\x90\x80\x80", b"/tmp/\xe2\x82",
    "/" + "a" * 300,
]


def test_the_compiled_formatter_is_built_for_this_header():
    """scripts/setup builds it; every test here needs it (none skips without it)."""
    assert native.available(), native.NOT_BUILT


def decide_even(event, start):
    """A user-space decision: keeps calls with an even pid, under the rule BPF named."""
    return start if event.pid % 2 == 0 else None


def reference(raws, fmt, decide=None, chunk=None):
    d = RecordDecoder(RULES, decide, slash_fix=True)
    if chunk is not None:
        events = d.decode_uniform(-1, *chunk)
    else:
        events = d.decode_batch(-1, raws)
    render = audit_text.format_event if fmt == "audit" else jsonl.format_event
    text = "".join(render(ev) for ev in events).encode("utf-8")
    keys = collections.Counter(native.key_label(ev.key) for ev in events)
    return d, text, keys


def compiled(raws, fmt, decide=None, chunk=None, like=None, batches=1):
    d = RecordDecoder(RULES, decide, slash_fix=True)
    if like is not None:
        d._mono_to_wall, d._serial = like._mono_to_wall, like._serial
    w = native.NativeWriter(d, fmt)
    text, keys = b"", collections.Counter()
    if chunk is not None:
        sources = [chunk]
    else:
        step = max(1, -(-len(raws) // batches))
        sources = [raws[i:i + step] for i in range(0, len(raws), step)]
    for src in sources:
        keys.update(w.format(src))
        text += w.take()
    return d, text, +keys


def counters(d):
    return (d.delivered, d.malformed, d.seq_gaps, d.cut, d.userspace_filtered, d._serial)


def check(raws, decide=None, batches=1):
    for fmt in ("audit", "json"):
        ref, ref_text, ref_keys = reference(raws, fmt, decide)
        # the serial base is set from the clock: the compiled run starts from the reference's
        got, text, keys = compiled(raws, fmt, decide, like=_fresh_like(ref), batches=batches)
        assert text == ref_text, fmt
        assert keys == ref_keys
        assert counters(got) == counters(ref)
        assert got._next_seq == ref._next_seq


def _fresh_like(ref):
    """A decoder state equal to `ref`'s before it decoded anything."""
    class Like:
        pass
    like = Like()
    like._mono_to_wall = ref._mono_to_wall
    like._serial = ref._serial - ref.delivered + ref.malformed  # one serial per decoded sample
    return like


def sun(path: bytes) -> bytes:
    return struct.pack("=H", socket.AF_UNIX) + path


def inet(addr: str, port: int) -> bytes:
    return struct.pack("=H", socket.AF_INET) + struct.pack(">H", port) + socket.inet_aton(addr) + b"\0" * 8


def inet6(addr: str, port: int, scope: int = 0) -> bytes:
    return (struct.pack("=H", socket.AF_INET6) + struct.pack(">H", port) + b"\0" * 4
            + socket.inet_pton(socket.AF_INET6, addr) + struct.pack("=I", scope))


def corpus():
    """Every record kind, hostile strings in every text field, cut and unreadable items, malformed samples."""
    out = []
    seq = iter(range(1, 10 ** 6))
    pt = samples.item("PROCTITLE", b"cat\0/etc/passwd")
    cwd = samples.item("CWD", "/home/alice")
    for i, name in enumerate(HOSTILE):
        raw_name = name if isinstance(name, bytes) else name.encode("utf-8", "surrogateescape")
        ptr = 0x7FFF0000 + i
        args = dict(seq=next(seq), syscall=NR["openat"], rule=i % 6)
        o = samples.obj("INODE", ino=1000 + i, dev=(8 << 20) | 1, mode=0o100644, uid=i, gid=2, rdev=0, uptr=ptr)
        out.append(samples.sample(paths=[raw_name], items=[cwd, o, pt], **args))
        out[-1] = _with_args(out[-1], {1: ptr})
        out.append(samples.sample(paths=[raw_name], items=[samples.item("CWD", raw_name), pt], exe=raw_name,
                                  comm=raw_name[:16], seq=next(seq), syscall=NR["open"]))
        out.append(samples.sample(items=[samples.item("PROCTITLE", raw_name + b"\0x\0\x01\x02")],
                                  seq=next(seq), syscall=NR["getppid"]))
    # names kernel audit would replay: handed back
    out.append(samples.sample(paths=["/a", "/b"], items=[cwd], syscall=NR["rename"], seq=next(seq)))
    out.append(samples.sample(paths=["dev", "/mnt"], syscall=NR["mount"], seq=next(seq)))
    out.append(samples.sample(paths=["/x", "/y", "/x2"], syscall=NR["link"], seq=next(seq)))
    out.append(samples.sample(paths=["/d/new"], items=[samples.obj("PARENT", ino=5, dev=1, mode=0o40755,
                                                                   uptr=0x1000),
                                                       samples.obj("CREATE", ino=6, dev=1, dir_ino=5, dir_dev=1,
                                                                   name="new")],
                              syscall=NR["mkdir"], seq=next(seq)))
    # an open whose one lookup is not the name's: replayed
    out.append(samples.sample(paths=["/etc/x"], items=[samples.obj("INODE", ino=9, dev=1, uptr=0xDEAD)],
                              syscall=NR["openat"], seq=next(seq)))
    # sockets
    for addr in (inet("10.1.2.3", 443), inet6("fe80::1", 22, 2), inet6("::ffff:1.2.3.4", 80), sun(b"/run/s\0junk"),
                 sun(b"\0abstract\0x"), sun(b""), sun(b"/tmp/\xff"), b"\x02", b"", struct.pack("=H", 16) + b"ab",
                 struct.pack("=H", socket.AF_INET6) + b"short"):
        out.append(samples.sample(items=[samples.item("SOCKADDR", addr, aux=len(addr))], syscall=NR["connect"],
                                  seq=next(seq)))
    out.append(samples.sample(paths=["/run/sock"], items=[samples.item("SOCKADDR", sun(b"/run/sock"))],
                              syscall=NR["bind"], seq=next(seq)))
    out[-1] = _set_slot(out[-1], L.BA_PATH_SUN)
    # exec: EXECVE and CAPS, handed back
    out.append(samples.sample(paths=["/bin/true"], items=[
        samples.item("EXECVE", b"true\0a b\0\xff\0", aux=3), samples.caps(pp=1, pe=1), cwd, pt],
        syscall=NR["execve"], exit=0, seq=next(seq)))
    # cut and unreadable items
    out.append(samples.sample(paths=[None, "/ok"], items=[samples.item("CWD", b"", samples.L.BA_ITEM_FAULT)],
                              exe=None, seq=next(seq), syscall=NR["rename"]))
    out.append(samples.sample(paths=["/cut" * 10], items=[samples.item("PROCTITLE", b"x", L.BA_ITEM_CUT),
                                                          samples.item("EXE", b"", L.BA_ITEM_FAULT)],
                              exe=None, seq=next(seq), flags=L.BA_REC_OBJS_CUT))
    out.append(samples.sample(paths=["/p"], items=[samples.obj("INODE", ino=3, dev=1, uptr=0x10, item_flags=1)],
                              seq=next(seq)))
    out.append(samples.sample(items=[samples.item("PROCTITLE", b"set\0proc\0title", aux=1)], seq=next(seq),
                              syscall=NR["getppid"]))
    out.append(samples.sample(items=[samples.item("PROCTITLE", b"")], seq=next(seq), syscall=NR["getppid"]))
    # SYSCALL fields: per, i386, errors, huge values, rules beyond the keys, hostile comm and tty
    out.append(samples.sample(per=0x8, exit=-13, seq=next(seq), syscall=NR["getppid"]))
    out.append(samples.sample(arch=AUDIT_ARCH_I386, syscall=5, paths=["/i386"], seq=next(seq)))
    out.append(samples.sample(syscall=99999, exit=-4096, rule=77, seq=next(seq)))
    out.append(samples.sample(exit=-(2 ** 63), auid=0xFFFFFFFF, comm=b"\x1b[2Jabc", tty=b"", seq=next(seq)))
    out.append(samples.sample(comm=b"x" * 16, tty=b"tty\x01", seq=next(seq), enter_ns=2 ** 63, exit_ns=1))
    out.append(samples.sample(tty=b"pt\xe9", seq=next(seq)))
    # decided in user space
    out.append(samples.sample(flags=L.BA_REC_USERSPACE_CHECK, pid=2, seq=next(seq), rule=1))
    out.append(samples.sample(flags=L.BA_REC_USERSPACE_CHECK, pid=3, seq=next(seq), rule=1))
    # sequence gaps and CPU changes
    out.append(samples.sample(cpu=1, seq=40))
    out.append(samples.sample(cpu=0, seq=next(seq) + 5))
    out.append(samples.sample(cpu=1, seq=45))
    # malformed
    good = samples.sample(seq=next(seq))
    out += [good[:100], samples.sample(seq=next(seq), version=9), samples.sample(seq=next(seq), size=10 ** 6),
            samples.sample(seq=next(seq), n_items=9), samples.sample(items=[(99, b"x", 0, 0)], seq=next(seq)),
            samples.sample(items=[samples.obj("INODE", name_len=999)], seq=next(seq)),
            samples.sample(items=[samples.item("OBJ", b"short")], seq=next(seq)),
            samples.sample(items=[samples.item("CAPS", b"short")], seq=next(seq)), b"", b"\0" * 40000]
    return out


def _with_args(raw: bytes, values) -> bytes:
    r = samples.Record.from_buffer_copy(raw[: samples.HDR])
    for i, v in values.items():
        r.args[i] = v
    return bytes(r) + raw[samples.HDR:]


def _set_slot(raw: bytes, slot: int) -> bytes:
    """The first PATH item's aux set to `slot`."""
    item = samples.Item.from_buffer_copy(raw, samples.HDR)
    item.aux = slot
    return raw[: samples.HDR] + bytes(item) + raw[samples.HDR + len(bytes(item)):]


def test_corpus_identical_in_both_formats():
    check(corpus())


def test_corpus_identical_with_user_space_decisions():
    check(corpus(), decide=decide_even)


def test_corpus_identical_over_many_batches():
    """Sequence state and serials carry over from one batch to the next."""
    check(corpus(), batches=7)


def test_formats_most_samples_itself():
    """Handing back is for the rare kinds: a getppid or an open with its lookup never goes to Python."""
    d = RecordDecoder(RULES, None, slash_fix=True)
    w = native.NativeWriter(d, "audit")
    ptr = 0x7FFF1234
    o = samples.obj("INODE", ino=7, dev=1, mode=0o100600, uptr=ptr)
    raws = [samples.sample(syscall=NR["getppid"], seq=i + 1) for i in range(50)]
    raws += [_with_args(samples.sample(paths=["/etc/x"], items=[o], seq=i + 51), {1: ptr}) for i in range(50)]
    calls = []
    real = d._decode
    d._decode = lambda *a, **k: calls.append(a) or real(*a, **k)
    by_key = w.format(raws)
    assert calls == [] and by_key == {"open": 100}
    assert w.take().count(b"type=SYSCALL") == 100


def test_uniform_chunk_identical():
    """A ring's equal-sized records read in place (stride and offset), a partial one at the end."""
    offset = 8
    raws = [samples.sample(syscall=NR["getppid"], seq=i + 1, cpu=i % 2) for i in range(20)]
    stride = offset + len(raws[0])
    chunk = b"".join(b"H" * offset + r for r in raws) + b"H" * offset + raws[0][:50]
    for fmt in ("audit", "json"):
        ref, ref_text, _ = reference(None, fmt, chunk=(chunk, stride, offset))
        got, text, _ = compiled(None, fmt, chunk=(chunk, stride, offset), like=_fresh_like(ref))
        assert text == ref_text and counters(got) == counters(ref)


def test_json_lines_parse_and_round_trip():
    """Issue 15, item 5: bytes that are not UTF-8 never become lone surrogate escapes (which jq and
    every non-Python reader turn into U+FFFD): they are {"hex": ...}, and the bytes come back."""
    def strings(obj):
        if isinstance(obj, str):
            yield obj
        elif isinstance(obj, dict):
            for v in obj.values():
                yield from strings(v)
        elif isinstance(obj, list):
            for v in obj:
                yield from strings(v)

    _, text, _ = compiled(corpus(), "json", like=None)
    names = set()
    for line in text.decode("ascii").splitlines():
        obj = json.loads(line)
        for value in strings(obj):
            value.encode("utf-8")  # strict: a lone surrogate would raise
        ev = jsonl.from_json_dict(obj)
        names.update(p.encode("utf-8", "surrogateescape") for p in ev.paths if p is not None)
    assert b"/tmp/\xff\xfe" in names and b"/tmp/\xed\xa0\x80" in names


_names = st.one_of(st.binary(max_size=40), st.text(max_size=20).map(lambda s: s.encode("utf-8", "surrogatepass")))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_names, _names, _names, st.integers(0, 3), st.booleans(), st.integers(-5000, 5)),
                min_size=1, max_size=8))
def test_random_events_identical(events):
    raws = []
    for i, (name, exe, title, fault, setpt, exit_) in enumerate(events):
        items = [samples.item("CWD", exe, L.BA_ITEM_FAULT if fault == 1 else 0),
                 samples.item("PROCTITLE", title, L.BA_ITEM_CUT if fault == 2 else 0, int(setpt))]
        raws.append(samples.sample(paths=[None if fault == 3 else name], items=items, exe=exe, comm=name[:16],
                                   exit=exit_, seq=i + 1, syscall=NR["open"]))
    check(raws)


def test_hand_back_order_kept_at_volume():
    """Handed-back samples keep their place among many formatted ones."""
    raws = []
    for i in range(300):
        if i % 37 == 0:
            raws.append(samples.sample(paths=["/a", "/b"], syscall=NR["rename"], seq=i + 1))
        else:
            raws.append(samples.sample(syscall=NR["getppid"], seq=i + 1, pid=os.getpid()))
    check(raws, batches=3)


def test_event_time_repr_is_pythons():
    """JSON "time" is repr(float): the compiled shortest-digits search agrees with Python's dtoa on
    event times and on the edges of its range (binade boundaries, whole numbers, halves)."""
    import random
    from tracer.formats import _native

    rng = random.Random(14)
    values = [rng.uniform(2 ** 22, 2 ** 53) for _ in range(20000)]
    values += [rng.randrange(10 ** 15) / 1e9 + 1796527020.1234567 for _ in range(20000)]
    values += [float(i) + f for i in range(4194304, 4194304 + 500) for f in (0.0, 0.5, 0.25, 0.1)]
    for e in range(22, 54):
        bits = struct.unpack("<q", struct.pack("<d", 2.0 ** e))[0]
        values += [struct.unpack("<d", struct.pack("<q", bits + d))[0] for d in range(-5, 6)]
    handled = 0
    for v in values:
        got = _native.time_repr(v)
        if got is not None:  # outside its range: Python's own repr is used
            assert got == repr(v), v
            handled += 1
    assert handled > len(values) * 0.99


@pytest.mark.parametrize("fmt", ["audit", "json"])
def test_serials_across_a_carry_and_a_hand_back(fmt):
    """Serials are written from the last one's text plus one: across 99..9 -> 100..0, and after a
    handed-back sample, they are the reference's."""
    raws = [samples.sample(syscall=NR["getppid"], seq=i + 1) for i in range(6)]
    raws.insert(3, samples.sample(paths=["/a", "/b"], syscall=NR["rename"], seq=50))
    ref = RecordDecoder(RULES, None, slash_fix=True)
    ref._serial = 99_997
    render = audit_text.format_event if fmt == "audit" else jsonl.format_event
    want = "".join(render(ev) for ev in ref.decode_batch(-1, raws)).encode()
    got_dec = RecordDecoder(RULES, None, slash_fix=True)
    got_dec._mono_to_wall, got_dec._serial = ref._mono_to_wall, 99_997
    w = native.NativeWriter(got_dec, fmt)
    w.format(raws[:2])
    w.format(raws[2:])
    assert w.take() == want
    assert b":100000)" in want or b'"serial":100000,' in want


def test_a_write_error_is_kept_and_the_events_counted_not_raised():
    """A closed pipe (or a full disk) ends writing, not the batch: the first error is kept for the
    caller, every event formatted from then on is counted unwritten, and the counters still add up."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        d = RecordDecoder(RULES, None, slash_fix=True)
        w = native.NativeWriter(d, "audit", fd=write_end)
        w.format([samples.sample(syscall=NR["getppid"], seq=i + 1) for i in range(10)])
        w.flush()
        assert w.write_errno == errno.EPIPE and w.unwritten == 10
        w.format([samples.sample(syscall=NR["getppid"], seq=i + 11) for i in range(5)])
        w.flush()
        assert w.unwritten == 15 and d.delivered == 15 and w.pending == 0
    finally:
        os.close(write_end)
