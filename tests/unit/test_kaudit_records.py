"""Parsing auditd log text into records and events (hex-encoded strings, quoting, grouping)."""

from __future__ import annotations

from tracer.kaudit.records import decode_value, parse_audit_records, parse_record_line

GS = "\x1d"

SYSCALL = (
    'type=SYSCALL msg=audit(1795352463.832:4711): arch=c000003e syscall=110 success=yes exit=18348 '
    'a0=7f14c0a99c60 a1=0 a2=a3db20 a3=7f14c0b56590 items=0 ppid=18348 pid=18349 auid=1000 uid=0 '
    'gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=3 comm=6D7920636F6D6D '
    'exe="/usr/bin/python3.11" subj=unconfined key="t"'
)
PROCTITLE = "type=PROCTITLE msg=audit(1795352463.832:4711): proctitle=707974686F6E002D63007072696E74"
ENRICHED = SYSCALL + GS + 'ARCH=x86_64 SYSCALL=getppid AUID="alice" UID="root"'


def test_syscall_fields_decoded():
    rec = parse_record_line(SYSCALL)
    assert rec.type == "SYSCALL" and rec.timestamp == "1795352463.832" and rec.serial == 4711
    assert rec.fields["syscall"] == "110" and rec.fields["success"] == "yes" and rec.fields["pid"] == "18349"
    assert rec.fields["comm"] == "my comm"  # hex because of the space
    assert rec.raw_fields["comm"] == "6D7920636F6D6D"
    assert rec.fields["exe"] == "/usr/bin/python3.11"  # quoted: quotes removed
    assert rec.fields["tty"] == "(none)"
    assert rec.keys == ["t"]
    assert rec.enriched == {} and rec.node is None


def test_proctitle_hex_keeps_nul_separators():
    rec = parse_record_line(PROCTITLE)
    assert rec.fields["proctitle"] == "python\0-c\0print"


def test_null_key_and_multiple_keys():
    no_key = parse_record_line(SYSCALL.replace('key="t"', "key=(null)"))
    assert no_key.fields["key"] is None and no_key.keys == []
    two = parse_record_line(SYSCALL.replace('key="t"', "key=" + "a\x01bc".encode().hex().upper()))
    assert two.keys == ["a", "bc"]


def test_hex_only_decoded_for_untrusted_fields():
    rec = parse_record_line(SYSCALL)
    assert rec.fields["a0"] == "7f14c0a99c60"  # lowercase hex number, not a string
    assert decode_value("a2", "ABCD") == "ABCD"
    assert decode_value("name", "ABCD") == "\xab\xcd".encode("latin-1").decode("utf-8", "surrogateescape")
    assert decode_value("name", "2F746D702F6120620A") == "/tmp/a b\n"


def test_non_utf8_hex_round_trips():
    raw = decode_value("name", "FF41")
    assert raw.encode("utf-8", "surrogateescape") == b"\xffA"


def test_enriched_part_parsed_apart():
    rec = parse_record_line(ENRICHED)
    assert rec.fields["key"] == "t" and "ARCH" not in rec.fields
    assert rec.enriched == {"ARCH": "x86_64", "SYSCALL": "getppid", "AUID": "alice", "UID": "root"}


def test_user_record_nested_msg_flattened():
    line = ("type=USER_START msg=audit(1700000000.001:9): pid=12 uid=0 auid=1000 ses=1 "
            "msg='op=PAM:session_open acct=\"root\" exe=\"/usr/sbin/cron\" hostname=? res=success'")
    rec = parse_record_line(line)
    assert rec.fields["pid"] == "12" and rec.fields["op"] == "PAM:session_open"
    assert rec.fields["acct"] == "root" and rec.fields["res"] == "success"
    assert rec.fields["msg"].startswith("op=PAM")


def test_node_prefix_and_non_record_lines():
    rec = parse_record_line("node=host1 " + SYSCALL)
    assert rec.node == "host1" and rec.serial == 4711
    assert parse_record_line("") is None
    assert parse_record_line("garbage type=SYSCALL") is None


def test_events_grouped_by_serial_in_order():
    other = SYSCALL.replace(":4711)", ":4712)").replace("syscall=110", "syscall=39")
    eoe = "type=EOE msg=audit(1795352463.832:4711): "
    text = "\n".join([SYSCALL, other, PROCTITLE, eoe, "type=SYSCALL msg=audit(17953524"]) + "\n"
    events = parse_audit_records(text)
    assert [(e.serial, e.types) for e in events] == [(4711, ["SYSCALL", "PROCTITLE"]), (4712, ["SYSCALL"])]
    assert events[0].keys == ["t"] and events[0].time == 1795352463.832
    assert events[1].record("SYSCALL").fields["syscall"] == "39"
    assert events[0].record("PATH") is None and events[0].all("PROCTITLE")[0].serial == 4711


def test_enriched_lines_not_split_at_group_separator():
    events = parse_audit_records(ENRICHED + "\n" + PROCTITLE + "\n")
    assert len(events) == 1 and events[0].record("SYSCALL").enriched["SYSCALL"] == "getppid"


def test_same_serial_different_time_are_different_events():
    later = SYSCALL.replace("1795352463.832", "1795352999.000")
    assert len(parse_audit_records([SYSCALL, later])) == 2
