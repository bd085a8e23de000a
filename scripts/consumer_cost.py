"""Per-record cost of the consumer's user-space steps, off-line (no root, no BPF):
decoding synthetic records built with the header-derived layout, and walking
a perf ring holding them. Usage: .venv/bin/python scripts/consumer_cost.py [--profile]"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracer.filters import KernelRule  # noqa: E402
from tracer.capture.layout import layout  # noqa: E402
from tracer.capture.reader import RecordDecoder  # noqa: E402
from tracer.syscall_table import syscall_number  # noqa: E402
from tests.unit import samples  # noqa: E402

L = layout()
BATCH = 512  # samples per decode_batch call (a wake-up every 64 samples per CPU, drained a few wake-ups late)


def sample(seq: int, cpu: int, syscall: str, path: str = "") -> bytes:
    """One whole event as BPF submits it (tests/unit/samples.py): the header, EXE, PROCTITLE, and
    for a call taking a name its PATH and CWD items."""
    items = [samples.item("PROCTITLE", b"./getppid_loop\0-n\0100000")]
    if path:
        items.append(samples.item("CWD", "/home/alice"))
    raw = samples.sample(paths=[path] if path else [], items=items, exe="/usr/local/bin/getppid_loop", seq=seq,
                         cpu=cpu, syscall=syscall_number("x86_64", syscall), rule=0, pid=os.getpid(),
                         ppid=os.getppid(), auid=1000, uid=1000, comm=b"getppid_loop", tty=b"",
                         enter_ns=5_000_000_000 + seq, exit_ns=5_000_001_000 + seq)
    return raw + b"\0" * (-(len(raw) + 4) % 8)  # perf's padding: u32 size + data is 8-aligned


def workload(n: int, with_paths: float):
    """n samples on 2 CPUs; a fraction `with_paths` of them openat with one path, the rest getppid."""
    every = int(1 / with_paths) if with_paths else 0
    out = []
    for i in range(n):
        cpu = i & 1
        if every and i % every == 0:
            out.append((cpu, sample(i // 2 + 1, cpu, "openat", "/usr/lib/x86_64-linux-gnu/libc.so.6")))
        else:
            out.append((cpu, sample(i // 2 + 1, cpu, "getppid")))
    return out


def time_decode(samples, repeat: int = 5, batch: int = BATCH) -> float:
    """Best of `repeat`: ns per record through RecordDecoder, in batches of `batch` samples of
    one CPU (decode_batch when it exists), the events dropped after each batch as a consumer would."""
    rules = [KernelRule(L.BA_ACT_ALWAYS, None, key="bench")]
    best = float("inf")
    by_cpu = {}
    for cpu, raw in samples:
        by_cpu.setdefault(cpu, []).append(raw)
    for _ in range(repeat):
        dec = RecordDecoder(rules)
        t = time.perf_counter_ns()
        if hasattr(dec, "decode_batch"):
            for cpu, raws in by_cpu.items():
                for i in range(0, len(raws), batch):
                    dec.decode_batch(cpu, raws[i : i + batch])
        else:
            decode = dec.decode
            for cpu, raw in samples:
                decode(cpu, raw)
        best = min(best, (time.perf_counter_ns() - t) / len(samples))
        assert dec.malformed == 0 and dec.seq_gaps == 0
    return best


def time_ring(samples, repeat: int = 5, decode: bool = False) -> float:
    """ns per record to read a perf ring holding CPU 0's samples (one copy, then the record walk,
    or the uniform-chunk check), and with `decode` to decode them too: the consumer's whole path."""
    from tracer.capture import perf_ring

    rules = [KernelRule(L.BA_ACT_ALWAYS, None, key="bench")]
    raws = [raw for cpu, raw in samples if cpu == 0]
    ring = perf_ring.MemoryRing(1 << 20)
    best = float("inf")
    for _ in range(repeat):
        dec = RecordDecoder(rules)
        spent = got = 0
        for i in range(0, len(raws), BATCH):  # a batch written, then read as poll() meets it
            written = ring.write_samples(raws[i : i + BATCH])
            t = time.perf_counter_ns()
            batch = ring.reader.read()
            if decode:
                if batch.stride:
                    dec.decode_uniform(0, batch.chunk, batch.stride, perf_ring.SAMPLE_DATA_OFFSET)
                else:
                    dec.decode_batch(0, batch.samples)
            spent += time.perf_counter_ns() - t
            assert batch.count == written, (batch.count, written)
            got += written
        best = min(best, spent / got)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("--profile", action="store_true", help="cProfile one decode pass, top 15 by own time")
    args = ap.parse_args()
    for frac, label in ((0.0, "getppid (header, EXE and PROCTITLE items)"), (0.25, "1 in 4 openat with PATH and CWD")):
        samples = workload(args.n, frac)
        print(f"{label}: decode_batch {time_decode(samples):,.0f} ns/record; ring read {time_ring(samples):,.0f}, "
              f"ring read + decode {time_ring(samples, decode=True):,.0f} ns/record")
    if args.profile:
        samples = workload(args.n, 0.25)
        prof = cProfile.Profile()
        prof.runcall(time_decode, samples, 1)
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
