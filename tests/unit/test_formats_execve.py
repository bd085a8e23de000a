"""EXECVE records: the port of the kernel's audit_log_execve_info() against what the kernel wrote."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.formats.execve import MAX_EXECVE_AUDIT_LEN, execve_records

# (argv, the length of each EXECVE record body, sha256 of the bodies joined by "\n"): what kernel
# audit wrote for these execs of /bin/true (Linux 6.18, auditd log_format=RAW, rule -S execve).
KERNEL = [
    ([b"/bin/true", b"a b", b'q"x', b"nl\nx", b"\xff\xfe", b"", b"plain", b"$\\x01z"],
     [90], "7f9b8b9d071993c0"),
    ([b"c1", b"x" * 10000], [7506, 7499, 5043], "ac8aaaa22918110a"),
    ([b"c2", b"y" * 20000], [7506, 7499, 7499, 7499, 7499, 2567], "d3a78d07b5c3ecc0"),
    ([b"c3", b"z" * 7500], [7506, 7499, 43], "c59b6e1e32d06308"),
    ([b"c4", b"z" * 7499], [7506, 37], "51d0a50a0ca29197"),
    ([b"c5", b"z" * 7498], [7506, 36], "2f6efef41d6d813b"),
    ([b"c6"] + [b"%03d" % i + b"w" * 47 for i in range(400)], [7463, 7439, 7439, 812], "e366924bd2449349"),
    ([b"c7", b"a" * 3000, b"b" * 5000, b"c" * 100], [7506, 650], "3bc77b67333850ac"),
    ([b"c8", b"q" * 130000], [7505] + [7499] * 9 + [7500] * 24 + [5302], "b66e1718e6226454"),
    ([b"c9", b"\x01" * 3000, b"d" * 7300, b"e" * 7380, b"f" * 7390], [7506, 7500, 7500, 5672], "a24f8dc10e167178"),
    ([b"c10"] + [b"g" * 7000] * 3 + [b"h h"] * 3 + [b"i" * 3700] * 4, [7507, 7500, 7500, 7500, 5978],
     "58c09c7edf2327f6"),
    ([b"c11", b"\n" * 7400, b"j" * 7402], [7505, 7500, 7269], "6847b55fa0d6633c"),
]


@pytest.mark.parametrize("argv,lengths,digest", KERNEL, ids=[c[0][0].decode() for c in KERNEL])
def test_records_are_the_kernels_byte_for_byte(argv, lengths, digest):
    records = execve_records(argv, len(argv))
    assert [len(r) for r in records] == lengths
    assert hashlib.sha256("\n".join(records).encode()).hexdigest()[:16] == digest


def test_short_arguments_quoted_or_hex():
    argv = [b"/bin/true", b"a b", b'q"x', b"nl\nx", b"\xff\xfe", b"", b"plain", b"$\\x01z"]
    # the line the kernel wrote, verbatim
    assert execve_records(argv, 8) == [
        'argc=8 a0="/bin/true" a1=612062 a2=712278 a3=6E6C0A78 a4=FFFE a5="" a6="plain" a7="$\\x01z"']


def test_a_10000_byte_argument_spans_three_records_in_hex():
    arg = b"x" * 10000
    records = execve_records([b"c1", arg], 2)
    assert records[0].startswith('argc=2 a0="c1" a1_len=20000 a1[0]=7878')
    assert records[1].startswith(" a1[1]=7878") and records[2].startswith(" a1[2]=7878")
    pieces = [re.fullmatch(r".* a1\[\d\]=([0-9A-F]+)", r).group(1) for r in records]
    assert bytes.fromhex("".join(pieces)) == arg


def test_a_printable_argument_just_under_the_budget_is_split_quoted():
    records = execve_records([b"c4", b"z" * 7499], 2)
    assert records[0].startswith('argc=2 a0="c4" a1_len=7499 a1[0]="zzz') and records[0].endswith('z"')
    assert re.fullmatch(r' a1\[1\]="z+"', records[1])


def test_many_arguments_spill_into_more_records():
    argv = [b"c6"] + [b"%03d" % i + b"w" * 47 for i in range(400)]
    records = execve_records(argv, len(argv))
    assert len(records) == 4 and records[0].startswith("argc=401 a0=")
    assert all(r.startswith(" a") for r in records[1:])
    assert reassemble(records) == argv


def test_cut_argv_stops_after_the_last_argument_held():
    assert execve_records([b"ls", b"-l"], 5) == ['argc=5 a0="ls" a1="-l"']
    assert execve_records([], 3) == ["argc=3"]
    assert execve_records([b"a", b"b", b"c"], 2) == ['argc=2 a0="a" a1="b"']


_FIELD = re.compile(r'(?: a\d+_len=\d+)? a(\d+)(?:\[(\d+)\])?=("[^"]*"|[0-9A-F]*)')


def reassemble(records):
    """What ausearch does: collect aN= / aN[i]= pieces across records, unquote or unhex them."""
    head = re.match(r"argc=\d+", records[0])
    assert head
    pieces = {}
    for i, rec in enumerate(records):
        pos = head.end() if i == 0 else 0
        while pos < len(rec):
            m = _FIELD.match(rec, pos)
            assert m, rec[pos:pos + 60]
            arg, value = int(m.group(1)), m.group(3)
            pieces.setdefault(arg, []).append(value[1:-1].encode() if value.startswith('"')
                                              else bytes.fromhex(value))
            pos = m.end()
    return [b"".join(pieces[k]) for k in sorted(pieces)]


ARG = (st.binary(max_size=40).map(lambda b: b.replace(b"\0", b"")) |
       st.builds(lambda unit, n: unit * n, st.sampled_from([b"x", b"\x01", b"a b", b"\xff"]),
                 st.integers(0, 9000)))


@settings(max_examples=150, deadline=None)
@given(argv=st.lists(ARG, max_size=12), extra=st.integers(0, 3))
def test_any_argv_reassembles_and_keeps_to_the_budget(argv, extra):
    argc = len(argv) + extra  # extra: arguments cut before we got them
    records = execve_records(argv, argc)
    assert records[0].startswith(f"argc={argc}")
    if argv:
        assert reassemble(records) == argv
    assert len(records[0]) <= MAX_EXECVE_AUDIT_LEN + len(f"argc={argc}")
    assert all(len(r) <= MAX_EXECVE_AUDIT_LEN for r in records[1:])
    assert not any("\n" in r for r in records)
