"""JSON lines: one object per syscall, the SyscallEvent field names."""

from __future__ import annotations

import json

from tracer.events import SyscallEvent


def format_event(ev: SyscallEvent) -> str:
    return json.dumps(ev.to_json_dict(), separators=(",", ":")) + "\n"
