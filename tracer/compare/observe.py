"""Both engines' records reduced to what they can be compared on: one
Observation per audited syscall, filtered to the workload's login sessions."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Iterable, Optional, Set

from tracer.syscall_table import syscall_name

KEY_SEPARATOR = "\x01"  # several -k of one rule, as the kernel joins them
NO_KEY = "(none)"


@dataclasses.dataclass(frozen=True, order=True)
class Observation:
    """What an audited syscall looks like to a comparison: pids, times and
    serials differ between runs; these do not for a deterministic workload."""

    key: str
    syscall: str
    success: bool
    errno: int  # 0 on success
    comm: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _key(raw: Optional[str]) -> str:
    return ",".join(raw.split(KEY_SEPARATOR)) if raw else NO_KEY


def from_syscall_event(ev) -> Observation:
    """From a tracer.capture.events.SyscallEvent (bpfaudit)."""
    return Observation(_key(ev.key), ev.syscall_name, bool(ev.success),
                       0 if ev.success else -ev.exit, ev.comm)


def from_audit_event(event) -> Optional[Observation]:
    """From a tracer.kaudit.records.AuditEvent; None when it has no SYSCALL record."""
    rec = event.record("SYSCALL")
    if rec is None:
        return None
    f = rec.fields
    arch = int(f.get("arch") or "0", 16)
    success = f.get("success") == "yes"
    exit_code = int(f.get("exit") or 0)
    return Observation(_key(f.get("key")), syscall_name(arch, int(f["syscall"])), success,
                       0 if success else -exit_code, f.get("comm") or "")


def bpf_observations(events: Iterable, auid: int, sessions: Set[int]) -> Counter:
    return Counter(from_syscall_event(ev) for ev in events if ev.auid == auid and ev.ses in sessions)


# Records that make kernel audit log the syscall whatever the rules say: the
# loginuid write that starts each run's session is one (it carries the new auid and ses).
NOT_RULE_RECORDS = frozenset({"LOGIN"})


def audit_observations(events: Iterable, auid: int, sessions: Set[int]) -> Counter:
    """Rule-selected syscalls of the given sessions (events logged because of a LOGIN record are not)."""
    out: Counter = Counter()
    for event in events:
        rec = event.record("SYSCALL")
        if rec is None or NOT_RULE_RECORDS.intersection(event.types):
            continue
        try:
            if int(rec.fields.get("auid") or -1) != auid or int(rec.fields.get("ses") or -1) not in sessions:
                continue
        except ValueError:
            continue
        obs = from_audit_event(event)
        if obs is not None:
            out[obs] += 1
    return out
