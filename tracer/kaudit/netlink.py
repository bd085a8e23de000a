"""NETLINK_AUDIT client in pure Python: kernel audit status, its setters, and a record reader."""

from __future__ import annotations

import dataclasses
import errno
import os
import select
import socket
import struct
import time
from collections.abc import Iterator

from tracer.errors import BpfauditError
from tracer.kaudit.record_types import record_type_name

NETLINK_AUDIT = 9

# <linux/netlink.h>
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid

# <linux/audit.h>
AUDIT_GET = 1000
AUDIT_SET = 1001
AUDIT_ADD_RULE = 1011
AUDIT_DEL_RULE = 1012
AUDIT_LIST_RULES = 1013
AUDIT_GET_FEATURE = 1019
AUDIT_USER = 1005  # the two record types below 1100 (the rest there are requests/replies)
AUDIT_LOGIN = 1006
AUDIT_FIRST_USER_MSG = 1100
AUDIT_EOE = 1320
AUDIT_REPLACE = 1329

AUDIT_STATUS_ENABLED = 0x0001
AUDIT_STATUS_FAILURE = 0x0002
AUDIT_STATUS_PID = 0x0004
AUDIT_STATUS_RATE_LIMIT = 0x0008
AUDIT_STATUS_BACKLOG_LIMIT = 0x0010
AUDIT_STATUS_BACKLOG_WAIT_TIME = 0x0020
AUDIT_STATUS_LOST = 0x0040
AUDIT_STATUS_BACKLOG_WAIT_TIME_ACTUAL = 0x0080

AUDIT_FEATURE_LOGINUID_IMMUTABLE = 1

# struct audit_status grew over time: 8 u32 fields originally, then feature_bitmap
# (2.6.39-ish "version"), backlog_wait_time (3.14), backlog_wait_time_actual (5.9).
STATUS_FIELDS = (
    "mask", "enabled", "failure", "pid", "rate_limit", "backlog_limit", "lost", "backlog",
    "feature_bitmap", "backlog_wait_time", "backlog_wait_time_actual",
)
STATUS_MIN_FIELDS = 8
STATUS_SIZE = 4 * len(STATUS_FIELDS)

# Setter name -> mask bit; these are the fields save/restore touches.
SETTABLE = {
    "enabled": AUDIT_STATUS_ENABLED,
    "failure": AUDIT_STATUS_FAILURE,
    "pid": AUDIT_STATUS_PID,
    "rate_limit": AUDIT_STATUS_RATE_LIMIT,
    "backlog_limit": AUDIT_STATUS_BACKLOG_LIMIT,
    "backlog_wait_time": AUDIT_STATUS_BACKLOG_WAIT_TIME,
}


@dataclasses.dataclass(frozen=True)
class AuditStatus:
    """struct audit_status, fields named as `auditctl -s` prints them.

    Fields an older kernel does not send are None.
    """

    enabled: int
    failure: int
    pid: int
    rate_limit: int
    backlog_limit: int
    lost: int
    backlog: int
    backlog_wait_time: int | None = None
    backlog_wait_time_actual: int | None = None
    feature_bitmap: int | None = None
    mask: int = 0

    @classmethod
    def from_bytes(cls, payload: bytes) -> AuditStatus:
        count = min(len(payload) // 4, len(STATUS_FIELDS))
        if count < STATUS_MIN_FIELDS:
            raise BpfauditError(
                f"kernel sent a {len(payload)}-byte audit status (need at least "
                f"{4 * STATUS_MIN_FIELDS}); this kernel's audit interface is not supported"
            )
        values = dict(zip(STATUS_FIELDS, struct.unpack_from(f"={count}I", payload)))
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class NlMsg:
    """One netlink message: header fields and payload (padding removed)."""

    type: int
    flags: int
    seq: int
    pid: int
    payload: bytes


@dataclasses.dataclass(frozen=True)
class AuditRecord:
    """One record as the kernel sends it: numeric type and `audit(T:SERIAL): ...` text."""

    type: int
    text: str

    @property
    def type_name(self) -> str:
        return record_type_name(self.type)

    def log_line(self) -> str:
        """The line auditd would write for this record in RAW log format."""
        return f"type={self.type_name} msg={self.text}"


def pack_nlmsg(msg_type: int, payload: bytes, seq: int = 0, flags: int = NLM_F_REQUEST | NLM_F_ACK,
               pid: int = 0) -> bytes:
    """A netlink message with header, payload, and padding to 4 bytes."""
    length = NLMSGHDR.size + len(payload)
    pad = (-length) % 4
    return NLMSGHDR.pack(length, msg_type, flags, seq, pid) + payload + b"\0" * pad


def is_record_type(msg_type: int) -> bool:
    """Whether kauditd sends this type as a record (rather than as a reply to a request)."""
    return msg_type >= AUDIT_FIRST_USER_MSG or msg_type in (AUDIT_USER, AUDIT_LOGIN)


def unpack_nlmsgs(data: bytes) -> list[NlMsg]:
    """Split one datagram into its netlink messages.

    Records from kauditd (is_record_type) are one per datagram and, a
    long-standing kernel quirk, their nlmsg_len counts only the payload
    (`nlh->nlmsg_len = skb->len - NLMSG_HDRLEN` in audit_log_end), so a record
    takes the rest of the datagram, capped at nlmsg_len. Any other header whose
    length is shorter than a header or runs past the datagram is corrupt.
    """
    messages = []
    offset = 0
    while offset + NLMSGHDR.size <= len(data):
        length, msg_type, flags, seq, pid = NLMSGHDR.unpack_from(data, offset)
        body_start = offset + NLMSGHDR.size
        if is_record_type(msg_type):
            body = data[body_start:body_start + min(length, len(data) - body_start)]
            messages.append(NlMsg(msg_type, flags, seq, pid, bytes(body)))
            break
        if length < NLMSGHDR.size or offset + length > len(data):
            raise BpfauditError(
                f"malformed netlink message from kernel audit (length {length} at offset "
                f"{offset} of {len(data)}); report this kernel version"
            )
        messages.append(NlMsg(msg_type, flags, seq, pid, bytes(data[body_start:offset + length])))
        offset += (length + 3) & ~3
    return messages


def ack_error(msg: NlMsg) -> tuple[int, int]:
    """(error, acked seq) from an NLMSG_ERROR payload: int error then the request's nlmsghdr."""
    if len(msg.payload) < 4 + NLMSGHDR.size:
        raise BpfauditError("truncated netlink ack from kernel audit; report this kernel version")
    (error,) = struct.unpack_from("=i", msg.payload)
    _, _, _, seq, _ = NLMSGHDR.unpack_from(msg.payload, 4)
    return error, seq


def _explain(err: int, action: str) -> BpfauditError:
    if err == errno.EPROTONOSUPPORT:
        return BpfauditError("kernel audit is not available: this kernel is built without CONFIG_AUDIT")
    if err == errno.EPERM:
        return BpfauditError(f"not allowed to {action}: needs CAP_AUDIT_CONTROL; run as root")
    if err == errno.ECONNREFUSED:
        return BpfauditError(f"kernel audit refused to {action}: audit only answers the initial "
                             "network and user namespace; run on the host")
    return BpfauditError(f"kernel audit failed to {action}: {os.strerror(err)}", exit_code=1)


def open_audit_socket() -> socket.socket:
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
    except OSError as err:
        raise _explain(err.errno or 0, "open a NETLINK_AUDIT socket") from None
    sock.bind((0, 0))
    return sock


class AuditSocket:
    """A request/ack conversation with kernel audit over one netlink socket."""

    def __init__(self, sock: socket.socket | None = None, timeout: float = 5.0):
        self.sock = sock if sock is not None else open_audit_socket()
        self.timeout = timeout
        self._seq = int(time.monotonic() * 1000) & 0xFFFF

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> AuditSocket:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(self, msg_type: int, payload: bytes = b"", action: str = "answer",
                expect: int | None = None, multipart: bool = False) -> tuple[list[NlMsg], int]:
        """Send one request with NLM_F_ACK; return (replies for it, ack error code >= 0).

        Replies are collected until the ack for our sequence number and, if
        `expect` is given, a reply of that type (or with `multipart`, the
        NLMSG_DONE ending them): the kernel sends replies from a separate
        thread, so they may arrive after the ack. Messages for other
        sequence numbers (records, stale replies) are skipped. A negative ack is
        raised as BpfauditError; a positive one (AUDIT_SET of the lost counter
        returns the old value this way) is returned.
        """
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        seq = self._seq
        try:
            self.sock.send(pack_nlmsg(msg_type, payload, seq))
        except OSError as err:
            raise _explain(err.errno or 0, action) from None
        replies: list[NlMsg] = []
        code: int | None = None
        done = False
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.sock], [], [], remaining)[0]:
                raise BpfauditError(f"kernel audit did not answer ({action}) within {self.timeout:g}s",
                                    exit_code=1)
            try:
                data = self.sock.recv(65536)
            except OSError as err:
                if err.errno == errno.ENOBUFS:
                    continue  # records overran the buffer; our reply is still coming
                raise _explain(err.errno or 0, action) from None
            for msg in unpack_nlmsgs(data):
                if msg.type == NLMSG_ERROR:
                    error, acked = ack_error(msg)
                    if acked != seq:
                        continue
                    if error < 0:
                        raise _explain(-error, action)
                    code = error
                elif msg.seq == seq and msg.type == NLMSG_DONE:
                    done = True
                elif msg.seq == seq:
                    replies.append(msg)
            if code is None:
                continue
            if (multipart and done) or (not multipart and (expect is None or any(r.type == expect for r in replies))):
                return replies, code

    def status(self) -> AuditStatus:
        replies, _ = self.request(AUDIT_GET, action="read the audit status", expect=AUDIT_GET)
        for msg in replies:
            if msg.type == AUDIT_GET:
                return AuditStatus.from_bytes(msg.payload)
        raise BpfauditError("kernel audit acknowledged AUDIT_GET without a status", exit_code=1)

    def set(self, **fields: int) -> int:
        """AUDIT_SET the given fields (names from SETTABLE) in one message; returns the ack code."""
        mask = 0
        values = dict.fromkeys(STATUS_FIELDS, 0)
        for name, value in fields.items():
            if name not in SETTABLE:
                raise ValueError(f"audit status field {name!r} is not settable")
            mask |= SETTABLE[name]
            values[name] = value
        if fields.get("enabled") == 2:
            # enabled=2 locks audit configuration until reboot; nothing here may do that.
            raise BpfauditError("refusing to set audit enabled 2 (locks audit until reboot)")
        values["mask"] = mask
        payload = struct.pack(f"={len(STATUS_FIELDS)}I", *(values[f] for f in STATUS_FIELDS))
        _, code = self.request(AUDIT_SET, payload, action="change audit " + ", ".join(fields))
        return code

    def reset_counter(self, mask: int) -> int:
        """Reset `lost` or `backlog_wait_time_actual`; the kernel returns the old value in the ack."""
        payload = struct.pack(f"={len(STATUS_FIELDS)}I", mask, *([0] * (len(STATUS_FIELDS) - 1)))
        _, code = self.request(AUDIT_SET, payload, action="reset an audit counter")
        return code

    def list_rules(self) -> list[bytes]:
        """Every loaded rule as the kernel's struct audit_rule_data, in list order."""
        replies, _ = self.request(AUDIT_LIST_RULES, action="list audit rules", multipart=True)
        return [msg.payload for msg in replies if msg.type == AUDIT_LIST_RULES]

    def add_rule(self, rule: bytes) -> None:
        """Append a rule given as struct audit_rule_data (as list_rules returns it)."""
        self.request(AUDIT_ADD_RULE, rule, action="add an audit rule")

    def delete_rule(self, rule: bytes) -> None:
        self.request(AUDIT_DEL_RULE, rule, action="delete an audit rule")

    def features(self) -> dict[str, int]:
        """struct audit_features as a dict (vers, mask, features, lock)."""
        replies, _ = self.request(AUDIT_GET_FEATURE, action="read audit features",
                                  expect=AUDIT_GET_FEATURE)
        for msg in replies:
            if msg.type == AUDIT_GET_FEATURE and len(msg.payload) >= 16:
                return dict(zip(("vers", "mask", "features", "lock"), struct.unpack_from("=4I", msg.payload)))
        raise BpfauditError("kernel audit acknowledged AUDIT_GET_FEATURE without features", exit_code=1)


def audit_status() -> AuditStatus:
    """The kernel's current audit status (what `auditctl -s` shows)."""
    with AuditSocket() as conn:
        return conn.status()


def audit_set(**fields: int) -> None:
    """Set kernel audit status fields: enabled, failure, pid, rate_limit, backlog_limit, backlog_wait_time."""
    with AuditSocket() as conn:
        conn.set(**fields)


def set_enabled(value: int) -> None:
    audit_set(enabled=value)


def set_failure(value: int) -> None:
    audit_set(failure=value)


def set_rate_limit(value: int) -> None:
    audit_set(rate_limit=value)


def set_backlog_limit(value: int) -> None:
    audit_set(backlog_limit=value)


def set_backlog_wait_time(value: int) -> None:
    audit_set(backlog_wait_time=value)


def set_pid(value: int) -> None:
    """Register (own tgid) or unregister (0) the calling process as the audit daemon."""
    audit_set(pid=value)


def reset_lost() -> int:
    """Zero the kernel's lost-record counter; returns the count before the reset."""
    with AuditSocket() as conn:
        return conn.reset_counter(AUDIT_STATUS_LOST)


def list_rule_blobs() -> tuple[bytes, ...]:
    """The loaded rules in the kernel's binary form: exact, unlike any text rendering."""
    with AuditSocket() as conn:
        return tuple(conn.list_rules())


def loginuid_immutable() -> bool:
    """Whether loginuid is immutable (`auditctl --loginuid-immutable` was loaded)."""
    with AuditSocket() as conn:
        feats = conn.features()
    return bool(feats["features"] & (1 << AUDIT_FEATURE_LOGINUID_IMMUTABLE))


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (EPERM: it does, and is not ours)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class AuditNetlinkReader:
    """Receive kernel audit records directly, as the registered audit daemon.

    For runs where auditd is not installed. Registers this process (AUDIT_SET
    pid) on open and unregisters (pid 0) on close; the kernel sends all records
    to the registered socket, so only one reader can exist machine-wide — which
    is why it refuses when the pid slot is held by a live process.
    """

    RCVBUF = 8 << 20

    def __init__(self) -> None:
        self.conn: AuditSocket | None = None
        self.overruns = 0  # ENOBUFS: the socket buffer overflowed and records were dropped
        self._pending: list[AuditRecord] = []

    def open(self) -> AuditNetlinkReader:
        conn = AuditSocket()
        try:
            try:
                conn.sock.setsockopt(socket.SOL_SOCKET, 33, self.RCVBUF)  # SO_RCVBUFFORCE
            except OSError:
                conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.RCVBUF)
            holder = conn.status().pid
            if holder and holder != os.getpid() and pid_alive(holder):
                raise BpfauditError(
                    f"the audit daemon slot is taken by pid {holder} (auditd?); stop it or read its log instead"
                )
            try:
                conn.set(pid=os.getpid())
            except BpfauditError as err:
                if "File exists" in str(err):
                    raise BpfauditError(
                        "the audit daemon slot was taken while registering; stop the other audit daemon"
                    ) from None
                raise
        except BaseException:
            conn.close()
            raise
        self.conn = conn
        return self

    def close(self) -> None:
        if self.conn is None:
            return
        conn, self.conn = self.conn, None
        try:
            if conn.status().pid == os.getpid():
                conn.set(pid=0)
        finally:
            conn.close()

    def __enter__(self) -> AuditNetlinkReader:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _receive(self, wait: float) -> list[AuditRecord] | None:
        """Records from one datagram, or None if nothing came within `wait` seconds."""
        if self.conn is None:
            raise BpfauditError("audit reader is closed", exit_code=1)
        sock = self.conn.sock
        if not select.select([sock], [], [], max(wait, 0.0))[0]:
            return None
        try:
            data = sock.recv(1 << 16)
        except OSError as err:
            if err.errno == errno.ENOBUFS:
                self.overruns += 1
                return []
            raise _explain(err.errno or 0, "deliver audit records") from None
        records = []
        for msg in unpack_nlmsgs(data):
            if msg.type == AUDIT_REPLACE or not is_record_type(msg.type):
                # AUDIT_REPLACE is the kernel probing that the daemon is alive.
                continue
            text = msg.payload.rstrip(b"\0").decode("utf-8", "surrogateescape").rstrip("\n")
            records.append(AuditRecord(msg.type, text))
        return records

    def read(self, timeout: float = 0.0) -> list[AuditRecord]:
        """All records that arrive within `timeout` seconds (just those queued now if 0)."""
        records: list[AuditRecord] = []
        deadline = time.monotonic() + timeout
        while True:
            batch = self._receive(deadline - time.monotonic())
            if batch is None:
                return records
            records += batch

    def records(self, idle_timeout: float | None = None) -> Iterator[AuditRecord]:
        """Yield records as they come; stop after `idle_timeout` seconds without one (None: never)."""
        while True:
            batch = self._receive(3600.0 if idle_timeout is None else idle_timeout)
            if batch is None:
                if idle_timeout is not None:
                    return
                continue
            yield from batch
