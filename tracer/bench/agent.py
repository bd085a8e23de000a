"""One bpfaudit build's capture session in a process of its own, for the bench's --baseline-rev.

Started by tracer.bench.builds as `python -c BOOT TREE THIS_FILE`, with TREE (a directory holding
one revision's tracer/ and bpf/) first on sys.path: `tracer` here is that revision's, so the
program is compiled, its rule tables written and its records read by the code it was written
with. The bench writes one JSON command a line on stdin; every command gets one line back:

  {"open": {...}}       load and attach, self-check, detach -> {"ok", "programs", "tracer"}
  {"cmd": "on"}         attach -> {"ok"}; then take records until the next command
  {"cmd": "off", "pid"} detach, drain -> {"ok", "tally", "losses", "consumer_cpu_s"}
  {"cmd": "close"}      close the session -> {"ok"}, and exit

Besides that revision's tracer, only the standard library and the stdlib-only siblings
consume.py, probes.py, bpfstats.py and channel.py, loaded by path.
"""

from __future__ import annotations

import collections
import importlib.util
import os
import sys
import time
import traceback
from pathlib import Path


def sibling(name: str):
    """This directory's `name`.py, whatever `tracer` resolves to in this process."""
    spec = importlib.util.spec_from_file_location(f"bench_agent_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


consume = sibling("consume")
probes = sibling("probes")
bpfstats = sibling("bpfstats")
channel = sibling("channel")


class Agent:
    def __init__(self, chan) -> None:
        self.chan = chan
        self.cap = None
        self.switch = None
        self.decode = False
        self.own = None  # "pid" or "ppid": count decoded records by that field, told the workload's pid at "off"

    def open(self, spec) -> dict:
        import tracer
        from tracer.capture import CaptureOptions, open_capture
        from tracer.rules import parse_text

        self.decode, self.own = bool(spec["decode"]), spec.get("own")
        self.cap = open_capture(CaptureOptions(rules=parse_text(spec["rules"]), transport=spec["transport"],
                                               wakeup_events=spec["wakeup_events"], page_cnt=spec["page_cnt"],
                                               drain_ms=spec["drain_ms"]))
        self.switch = probes.ProbeSwitch(self.cap.program.bpf)
        self.switch.off()
        ids = {k: bpfstats.prog_id(fd) for k, fd in self.switch.program_fds().items()}
        return {"ok": True, "programs": ids, "tracer": tracer.__file__}

    def measure(self) -> dict:
        """From "on" to "off": attached, taking records, the consumer's CPU counted; then drained."""
        self.cap.poll(0) if self.decode else self.cap.discard(0)
        before = self.cap.losses()
        tally = {"records": 0}
        owners = collections.Counter()

        def once() -> None:
            n, batch = consume.take(self.cap, self.decode)
            tally["records"] += n
            if self.own and batch:
                owners.update(getattr(e, self.own) for e in batch)

        cpu0 = time.process_time()
        self.switch.on()
        try:
            self.chan.send({"ok": True})
            while not self.chan.pending():
                once()
            command = self.chan.receive()
            consumer_cpu = time.process_time() - cpu0
        finally:
            self.switch.off()
        if command.get("cmd") != "off":
            raise ValueError(f"expected off, got {command}")
        d = consume.drain(self.cap, self.decode, before, tally, once)
        if self.own:
            tally["own_records"] = owners.get(int(command["pid"]), 0)
        return {"ok": True, "tally": tally, "losses": d, "consumer_cpu_s": consumer_cpu}

    def serve(self) -> None:
        first = self.chan.receive()
        self.chan.send(self.open(first["open"]))
        while True:
            command = self.chan.receive()
            if command.get("cmd") == "on":
                self.chan.send(self.measure())
            elif command.get("cmd") == "close":
                self.cap.close()
                self.cap = None
                self.chan.send({"ok": True})
                return
            else:
                self.chan.send({"ok": False, "error": f"unknown command {command}"})


def main() -> int:
    chan = channel.LineChannel(0, 1)
    sys.stdout = sys.stderr  # anything else printing must not corrupt the answers
    agent = Agent(chan)
    try:
        agent.serve()
    except channel.ChannelClosed:
        pass
    except BaseException as err:  # the bench shows this line, the traceback goes to stderr
        traceback.print_exc()
        try:
            chan.send({"ok": False, "error": f"{type(err).__name__}: {err}"})
        except OSError:
            pass
        return 1
    finally:
        if agent.cap is not None:
            agent.cap.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
