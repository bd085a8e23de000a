"""NETLINK_AUDIT message packing/unpacking and the request/ack conversation, over fake sockets."""

from __future__ import annotations

import errno
import socket
import struct

import pytest

from tracer.errors import BpfauditError
from tracer.kaudit import netlink as nl


def hdr(length, msg_type, flags=0, seq=0, pid=0):
    return struct.pack("=IHHII", length, msg_type, flags, seq, pid)


def ack(seq, error=0, acked_type=nl.AUDIT_GET):
    payload = struct.pack("=i", error) + hdr(16, acked_type, 5, seq, 0)
    return hdr(16 + len(payload), nl.NLMSG_ERROR, 0, seq) + payload


def status_bytes(*values):
    return struct.pack(f"={len(values)}I", *values)


FULL = status_bytes(0, 1, 2, 1234, 5, 8192, 7, 3, 0x7F, 60000, 11)


def test_pack_nlmsg_header_and_padding():
    msg = nl.pack_nlmsg(nl.AUDIT_SET, b"abcde", seq=9)
    assert len(msg) == 24  # 16 header + 5 payload + 3 pad
    length, msg_type, flags, seq, pid = struct.unpack_from("=IHHII", msg)
    assert (length, msg_type, flags, seq, pid) == (21, 1001, nl.NLM_F_REQUEST | nl.NLM_F_ACK, 9, 0)
    assert msg[16:21] == b"abcde" and msg[21:] == b"\0\0\0"


def test_unpack_several_messages_with_padding():
    first = nl.pack_nlmsg(nl.AUDIT_GET, b"xyz", seq=1, flags=nl.NLM_F_MULTI)
    second = nl.pack_nlmsg(nl.NLMSG_DONE, b"", seq=1, flags=nl.NLM_F_MULTI)
    msgs = nl.unpack_nlmsgs(first + second)
    assert [(m.type, m.seq, m.payload) for m in msgs] == [(nl.AUDIT_GET, 1, b"xyz"), (nl.NLMSG_DONE, 1, b"")]
    assert msgs[0].flags == nl.NLM_F_MULTI


def test_unpack_kauditd_record_length_quirk():
    text = b"audit(1700000000.123:42): arch=c000003e syscall=110"
    # kauditd sets nlmsg_len to the payload length only.
    datagram = hdr(len(text), 1300) + text
    (msg,) = nl.unpack_nlmsgs(datagram)
    assert msg.type == 1300 and msg.payload == text


def test_unpack_record_with_correct_length_is_not_overread():
    text = b"audit(1.000:1): x=1"
    (msg,) = nl.unpack_nlmsgs(hdr(16 + len(text), 1300) + text)
    assert msg.payload == text


@pytest.mark.parametrize("length", [4, 1000])
def test_unpack_rejects_corrupt_control_message(length):
    with pytest.raises(BpfauditError, match="malformed netlink"):
        nl.unpack_nlmsgs(hdr(length, nl.AUDIT_GET) + b"\0" * 8)


def test_ack_error_reads_code_and_seq():
    (msg,) = nl.unpack_nlmsgs(ack(77, -errno.EPERM))
    assert nl.ack_error(msg) == (-errno.EPERM, 77)


def test_status_full_reply():
    st = nl.AuditStatus.from_bytes(FULL)
    assert (st.enabled, st.failure, st.pid, st.rate_limit, st.backlog_limit, st.lost, st.backlog) == (
        1, 2, 1234, 5, 8192, 7, 3)
    assert (st.feature_bitmap, st.backlog_wait_time, st.backlog_wait_time_actual) == (0x7F, 60000, 11)


def test_status_short_reply_from_old_kernel():
    st = nl.AuditStatus.from_bytes(FULL[:36])  # up to feature_bitmap: pre-3.14
    assert st.backlog_limit == 8192 and st.feature_bitmap == 0x7F
    assert st.backlog_wait_time is None and st.backlog_wait_time_actual is None
    st = nl.AuditStatus.from_bytes(FULL[:32])
    assert st.backlog == 3 and st.feature_bitmap is None


def test_status_longer_reply_from_newer_kernel_is_accepted():
    st = nl.AuditStatus.from_bytes(FULL + b"\x01\0\0\0")
    assert st.backlog_wait_time_actual == 11


def test_status_too_short():
    with pytest.raises(BpfauditError, match="at least 32"):
        nl.AuditStatus.from_bytes(FULL[:20])


class Kernel:
    """The far end of a datagram socketpair standing in for kernel audit."""

    def __init__(self):
        self.ours, self.theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.conn = nl.AuditSocket(self.ours, timeout=1.0)

    def request(self):
        data = self.theirs.recv(65536)
        (msg,) = nl.unpack_nlmsgs(data)
        return msg

    def send(self, data: bytes):
        self.theirs.send(data)


@pytest.fixture
def kernel():
    k = Kernel()
    yield k
    k.conn.close()
    k.theirs.close()


def test_status_reply_arriving_after_ack(kernel):
    seq = kernel.conn._seq + 1
    # The kernel answers AUDIT_GET from a separate thread: ack first, then the reply,
    # with a record for someone else and a stale reply in between.
    kernel.send(ack(seq))
    kernel.send(hdr(30, 1300) + b"audit(1.0:1): unrelated record")
    kernel.send(nl.pack_nlmsg(nl.AUDIT_GET, status_bytes(*[9] * 11), seq=seq - 1, flags=0))
    kernel.send(nl.pack_nlmsg(nl.AUDIT_GET, FULL, seq=seq, flags=0))
    st = kernel.conn.status()
    assert st.pid == 1234 and st.backlog_wait_time == 60000
    req = kernel.request()
    assert req.type == nl.AUDIT_GET and req.seq == seq and req.flags & nl.NLM_F_ACK


def test_set_packs_mask_and_values(kernel):
    seq = kernel.conn._seq + 1
    kernel.send(ack(seq, acked_type=nl.AUDIT_SET))
    kernel.conn.set(backlog_limit=8192, enabled=1)
    req = kernel.request()
    values = struct.unpack("=11I", req.payload)
    assert values[0] == nl.AUDIT_STATUS_BACKLOG_LIMIT | nl.AUDIT_STATUS_ENABLED
    assert values[1] == 1 and values[5] == 8192 and values[3] == 0


@pytest.mark.parametrize("err,match", [
    (errno.EPERM, "CAP_AUDIT_CONTROL"),
    (errno.EEXIST, "File exists"),
    (errno.ECONNREFUSED, "initial network"),
])
def test_negative_ack_is_one_line_error(kernel, err, match):
    kernel.send(ack(kernel.conn._seq + 1, -err, acked_type=nl.AUDIT_SET))
    with pytest.raises(BpfauditError, match=match) as info:
        kernel.conn.set(rate_limit=5)
    assert "\n" not in str(info.value)


def test_positive_ack_is_returned(kernel):
    # AUDIT_SET of the lost counter returns the old count as a positive ack.
    kernel.send(ack(kernel.conn._seq + 1, 42, acked_type=nl.AUDIT_SET))
    assert kernel.conn.reset_counter(nl.AUDIT_STATUS_LOST) == 42
    assert struct.unpack_from("=I", kernel.request().payload)[0] == nl.AUDIT_STATUS_LOST


def test_set_refuses_lock_and_unknown_fields(kernel):
    with pytest.raises(BpfauditError, match="enabled 2"):
        kernel.conn.set(enabled=2)
    with pytest.raises(ValueError):
        kernel.conn.set(lost=0)


def test_no_answer_times_out(kernel):
    kernel.conn.timeout = 0.1
    with pytest.raises(BpfauditError, match="did not answer"):
        kernel.conn.status()


def test_compiled_out_and_permission_messages():
    assert "CONFIG_AUDIT" in str(nl._explain(errno.EPROTONOSUPPORT, "x"))
    assert "run as root" in str(nl._explain(errno.EPERM, "x"))


def test_reader_yields_records_skipping_control_messages(kernel):
    reader = nl.AuditNetlinkReader()
    reader.conn = kernel.conn
    texts = [b"audit(1.5:7): arch=c000003e syscall=110 key=\"t\"", b"audit(1.5:7): proctitle=6C73", b"audit(1.5:7): "]
    kernel.send(hdr(len(texts[0]), 1300) + texts[0])
    kernel.send(hdr(0, nl.AUDIT_REPLACE) + b"\0\0\0\0")
    kernel.send(hdr(len(texts[1]) + 1, 1327) + texts[1] + b"\0")
    kernel.send(hdr(len(texts[2]), 1320) + texts[2])
    login = b"audit(1.4:6): pid=5 uid=0 old-auid=4294967295 auid=1000 res=1"
    kernel.send(hdr(len(login), nl.AUDIT_LOGIN) + login)
    kernel.send(nl.pack_nlmsg(nl.AUDIT_GET, FULL, seq=3, flags=0))  # a late reply, not a record
    records = reader.read(timeout=0.2)
    assert [(r.type, r.type_name) for r in records] == [
        (1300, "SYSCALL"), (1327, "PROCTITLE"), (1320, "EOE"), (1006, "LOGIN")]
    assert records[1].text == "audit(1.5:7): proctitle=6C73"
    assert records[0].log_line() == 'type=SYSCALL msg=audit(1.5:7): arch=c000003e syscall=110 key="t"'
    assert list(reader.records(idle_timeout=0.05)) == []
    reader.conn = None


def test_list_rules_collects_multipart_until_done(kernel):
    seq = kernel.conn._seq + 1
    rule_a, rule_b = b"A" * 1041, b"B" * 1054
    kernel.send(ack(seq, acked_type=nl.AUDIT_LIST_RULES))
    kernel.send(nl.pack_nlmsg(nl.AUDIT_LIST_RULES, rule_a, seq=seq, flags=nl.NLM_F_MULTI)
                + nl.pack_nlmsg(nl.AUDIT_LIST_RULES, rule_b, seq=seq, flags=nl.NLM_F_MULTI))
    kernel.send(nl.pack_nlmsg(nl.NLMSG_DONE, b"\0\0\0\0", seq=seq, flags=nl.NLM_F_MULTI))
    assert kernel.conn.list_rules() == [rule_a, rule_b]


def test_list_rules_empty(kernel):
    seq = kernel.conn._seq + 1
    kernel.send(nl.pack_nlmsg(nl.NLMSG_DONE, b"\0\0\0\0", seq=seq, flags=nl.NLM_F_MULTI))
    kernel.send(ack(seq, acked_type=nl.AUDIT_LIST_RULES))
    assert kernel.conn.list_rules() == []
