"""Parse auditd log text (`type=X msg=audit(T:SERIAL): k=v ...`) into events grouped by serial."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

# Fields the kernel writes with audit_log_untrustedstring(): bare uppercase hex
# when the value has spaces, quotes, control or non-ASCII bytes, else quoted.
HEX_FIELDS = frozenset({
    "comm", "exe", "name", "cwd", "proctitle", "path", "key", "data", "cmd", "acct",
    "old-chardev", "new-chardev", "old-disk", "new-disk", "old-net", "new-net",
    "old-vcpu", "new-vcpu", "old-fs", "new-fs", "root_dir", "vm", "grp", "new_group", "old_group",
    "watch", "dir", "file", "sig_comm", "ocomm", "tty",
})
# Keys joined by the kernel with \x01 when a rule has several (`-k a -k b`).
KEY_SEPARATOR = "\x01"
ENRICHED_SEPARATOR = "\x1d"

_HEADER = re.compile(
    r"^(?:node=(?P<node>\S+) )?type=(?P<type>\S+) msg=audit\((?P<time>\d+\.\d+):(?P<serial>\d+)\):\s?(?P<body>.*)$"
)
_HEX = re.compile(r"^(?:[0-9A-F]{2})+$")
# key=value where value is "quoted", 'quoted' (USER records' nested msg) or bare up to a space.
_FIELD = re.compile(r"""\s*(?P<key>[^\s=]+)=(?P<value>"[^"]*"|'[^']*'|\S*)""")


@dataclasses.dataclass(frozen=True)
class ParsedRecord:
    """One log line: record type name, fields decoded (hex/quotes/(null)), and as written."""

    type: str
    timestamp: str
    serial: int
    fields: dict[str, str | None]
    raw_fields: dict[str, str]
    enriched: dict[str, str]  # ENRICHED log format's interpreted values after \x1d (AUID="root")
    node: str | None = None

    @property
    def keys(self) -> list[str]:
        """Rule keys (`-k`) on this record; several keys arrive \\x01-joined."""
        key = self.fields.get("key")
        return key.split(KEY_SEPARATOR) if key else []


@dataclasses.dataclass
class AuditEvent:
    """All records that share one `audit(T:SERIAL)` stamp, in log order."""

    timestamp: str
    serial: int
    records: list[ParsedRecord]

    @property
    def time(self) -> float:
        return float(self.timestamp)

    def record(self, type_name: str) -> ParsedRecord | None:
        return next((r for r in self.records if r.type == type_name), None)

    def all(self, type_name: str) -> list[ParsedRecord]:
        return [r for r in self.records if r.type == type_name]

    @property
    def types(self) -> list[str]:
        return [r.type for r in self.records]

    @property
    def keys(self) -> list[str]:
        syscall = self.record("SYSCALL")
        return syscall.keys if syscall else []


def decode_value(name: str, value: str) -> str | None:
    """A field's value as the kernel meant it: unquoted, hex-decoded if untrusted, None for (null)."""
    if value == "(null)":
        return None
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    if name in HEX_FIELDS and _HEX.match(value):
        return bytes.fromhex(value).decode("utf-8", "surrogateescape")
    return value


def parse_fields(body: str) -> tuple[dict[str, str | None], dict[str, str]]:
    """(decoded, raw) dicts of a record body; a nested msg='k=v ...' is also flattened in."""
    decoded: dict[str, str | None] = {}
    raw: dict[str, str] = {}
    for match in _FIELD.finditer(body):
        key, value = match.group("key"), match.group("value")
        raw[key] = value
        decoded[key] = decode_value(key, value)
        if key == "msg" and value.startswith("'"):
            inner_decoded, inner_raw = parse_fields(value[1:-1])
            for k, v in inner_decoded.items():
                decoded.setdefault(k, v)
                raw.setdefault(k, inner_raw[k])
    return decoded, raw


def parse_record_line(line: str) -> ParsedRecord | None:
    """One log line, or None when it is not an audit record line."""
    line = line.rstrip("\n")
    body_enriched = line.split(ENRICHED_SEPARATOR, 1)
    match = _HEADER.match(body_enriched[0])
    if match is None:
        return None
    fields, raw = parse_fields(match.group("body"))
    enriched = {}
    if len(body_enriched) == 2:
        enriched = {k: v for k, v in parse_fields(body_enriched[1])[0].items() if v is not None}
    return ParsedRecord(
        type=match.group("type"),
        timestamp=match.group("time"),
        serial=int(match.group("serial")),
        fields=fields,
        raw_fields=raw,
        enriched=enriched,
        node=match.group("node"),
    )


def parse_audit_records(text: str | Iterable[str]) -> list[AuditEvent]:
    """Events from auditd log text (or lines), grouped by (timestamp, serial) in first-seen order.

    Lines that are not audit records (blank, truncated by a concurrent write)
    and EOE records are skipped.
    """
    # Not splitlines(): it also breaks at \x1d, the ENRICHED format's separator.
    lines = text.split("\n") if isinstance(text, str) else text
    events: dict[tuple[str, int], AuditEvent] = {}
    for line in lines:
        record = parse_record_line(line)
        # EOE only marks an event's end on netlink; auditd never logs it, so
        # dropping it keeps events from both sources identical.
        if record is None or record.type == "EOE":
            continue
        stamp = (record.timestamp, record.serial)
        event = events.get(stamp)
        if event is None:
            event = events[stamp] = AuditEvent(record.timestamp, record.serial, [])
        event.records.append(record)
    return list(events.values())
