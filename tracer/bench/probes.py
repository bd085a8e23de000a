"""Attach and detach a loaded bcc object's tracepoint programs between runs, and the empty-program floor.

Compiling takes seconds; attaching takes microseconds, so each BPF
configuration is compiled once per scenario and only attached while measured.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

# The floor: programs that do nothing, on the same two tracepoints bpfaudit uses.
EMPTY_CLASSIC = """
TRACEPOINT_PROBE(raw_syscalls, sys_enter) { return 0; }
TRACEPOINT_PROBE(raw_syscalls, sys_exit) { return 0; }
"""
EMPTY_RAW = """
RAW_TRACEPOINT_PROBE(sys_enter) { return 0; }
RAW_TRACEPOINT_PROBE(sys_exit) { return 0; }
"""


def _name(tp: bytes, raw: bool) -> bytes:
    return (b"raw_tracepoint__" + tp) if raw else (b"tracepoint__" + tp.replace(b":", b"__"))


class ProbeSwitch:
    """The tracepoints a bcc object attached at load, detachable and re-attachable by name."""

    def __init__(self, bpf) -> None:
        self.bpf = bpf
        self.classic: List[bytes] = list(bpf.tracepoint_fds)
        self.raw: List[bytes] = list(bpf.raw_tracepoint_fds)
        self.attached = True

    def off(self) -> None:
        for tp in list(self.bpf.tracepoint_fds):
            self.bpf.detach_tracepoint(tp)
        for tp in list(self.bpf.raw_tracepoint_fds):
            self.bpf.detach_raw_tracepoint(tp)
        self.attached = False

    def on(self) -> None:
        for tp in self.classic:
            self.bpf.attach_tracepoint(tp=tp, fn_name=_name(tp, False))
        for tp in self.raw:
            self.bpf.attach_raw_tracepoint(tp=tp, fn_name=_name(tp, True))
        self.attached = True

    def program_fds(self) -> Dict[str, int]:
        """fd of each attached program, keyed by its tracepoint: 'enter'/'exit' for the syscall
        ones, any other by its name (e.g. 'sched_process_exec')."""
        out: Dict[str, int] = {}
        for tp, raw in [(t, False) for t in self.classic] + [(t, True) for t in self.raw]:
            out[program_key(tp)] = self.bpf.funcs[_name(tp, raw)].fd
        return out


def program_key(tp: bytes) -> str:
    """b'raw_syscalls:sys_enter' or b'sys_enter' -> 'enter'; b'sched_process_exec' -> itself."""
    event = tp.split(b":")[-1].decode()
    return {"sys_enter": "enter", "sys_exit": "exit"}.get(event, event)


def load_empty(raw: bool) -> Tuple[object, ProbeSwitch]:
    """Compiles and loads the empty programs (attached); returns the bcc object and its switch."""
    from bcc import BPF

    bpf = BPF(text=EMPTY_RAW if raw else EMPTY_CLASSIC)
    return bpf, ProbeSwitch(bpf)
