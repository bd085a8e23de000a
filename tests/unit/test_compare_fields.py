"""Pairing two audit logs' events and counting field agreement (tracer.compare.fields)."""

from __future__ import annotations

from tracer.compare.fields import (
    compare,
    field_class,
    is_deferred,
    pair_events,
    pair_key,
    render_markdown,
    session_events,
    slot_fields,
    slots,
)
from tracer.kaudit.records import parse_audit_records

GS = "\x1d"


def syscall(serial, pid=100, nr=257, exit_=3, a1="7f00", items=1, comm='"cat"', ses=3, key='"t"', t="1.000"):
    return (f"type=SYSCALL msg=audit({t}:{serial}): arch=c000003e syscall={nr} success={'yes' if exit_ >= 0 else 'no'} "
            f"exit={exit_} a0=ffffff9c a1={a1} a2=0 a3=0 items={items} ppid=1 pid={pid} auid=1000 uid=0 gid=0 "
            f"euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses={ses} comm={comm} exe=\"/usr/bin/cat\" "
            f"key={key}")


def path(serial, item, name, kernel=True, t="1.000"):
    extra = " inode=12 dev=fe:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL" if kernel else \
        " nametype=UNKNOWN"
    return f"type=PATH msg=audit({t}:{serial}): item={item} name={name}{extra}"


def rec(serial, rtype, body, t="1.000"):
    return f"type={rtype} msg=audit({t}:{serial}): {body}"


def events(*lines):
    return parse_audit_records("\n".join(lines) + "\n")


def test_pair_key_from_the_syscall_record():
    (ev,) = events(syscall(7, pid=42, nr=2, exit_=-2, a1="abc"))
    assert pair_key(ev) == (42, 2, -2, 0xFFFFFF9C, 0xABC, 0, 0)
    (cwd_only,) = events(rec(8, "CWD", 'cwd="/"'))
    assert pair_key(cwd_only) is None


def test_pairs_in_order_of_occurrence_and_reports_the_rest():
    kernel = events(syscall(1, a1="10"), syscall(2, a1="10"), syscall(3, a1="20"), syscall(4, pid=7))
    # bpfaudit: another serial scheme, another order across keys, one event kernel audit lacks
    bpf = events(syscall(90, a1="20"), syscall(91, a1="10"), syscall(92, a1="30"), syscall(93, a1="10"))
    p = pair_events(kernel, bpf)
    assert [(k.serial, b.serial) for k, b in p.pairs] == [(1, 91), (2, 93), (3, 90)]
    assert [e.serial for e in p.kernel_only] == [4]
    assert [e.serial for e in p.bpf_only] == [92]


def test_session_events_by_ses_and_rule_key():
    log = events(
        syscall(1, ses=3), syscall(2, ses=4),
        rec(3, "LOGIN", "pid=5 uid=0 old-auid=4294967295 auid=1000 tty=(none) old-ses=4294967295 ses=3 res=1"),
        syscall(3, nr=1, ses=3, key="(null)"),
        rec(4, "CONFIG_CHANGE", "auid=4294967295 ses=4294967295 op=add_rule key=(null) list=4 res=1"),
    )
    assert [e.serial for e in session_events(log, 3)] == [1, 3]
    assert [e.serial for e in session_events(log, 3, keys={"t"})] == [1]


def test_path_twins_by_item_other_types_by_type():
    (ev,) = events(syscall(1, items=2), rec(1, "EXECVE", "argc=2 a0=\"x\""), rec(1, "EXECVE", " a1[0]=\"y\""),
                   path(1, 0, '"/a"'), path(1, 1, '"/b"'))
    s = slots(ev)
    assert list(s) == [("SYSCALL", None), ("EXECVE", None), ("PATH", "0"), ("PATH", "1")]
    assert slot_fields(s[("EXECVE", None)]) == {"argc": "2", "a0": '"x"', "a1[0]": '"y"'}


def test_repeated_field_names_are_numbered():
    (ev,) = events(rec(1, "X", "a=1"), rec(1, "X", "a=2"))
    assert slot_fields(ev.records) == {"a": "1", "a#2": "2"}


def test_field_classes_and_deferred_fields():
    assert [field_class("EXECVE", f) for f in ("argc", "a0", "a12", "a3_len", "a3[1]")] == \
        ["argc", "a*", "a*", "a*_len", "a*[*]"]
    assert field_class("SYSCALL", "a0") == "a0"
    assert is_deferred("SYSCALL", "items") and not is_deferred("SYSCALL", "exit")
    assert is_deferred("PATH", "inode") and not is_deferred("PATH", "name")
    assert not is_deferred("BPRM_FCAPS", "fver") and not is_deferred("PATH", "cap_fp")


def test_counts_equal_different_and_missing():
    kernel = events(
        syscall(1, items=1), rec(1, "CWD", 'cwd="/w"'), path(1, 0, '"/etc/hostname"'),
        rec(1, "PROCTITLE", "proctitle=636174"),
        syscall(2, a1="99", comm='"ls"', items=2), path(2, 0, '"/x"'), path(2, 1, '"/y"'),
        syscall(3, a1="55"),  # no twin
    )
    # bpfaudit: CWD and PROCTITLE missing, a name cut, another comm, one PATH item fewer
    bpf = events(
        syscall(50, items=1), path(50, 0, '"/etc/host"', kernel=False),
        syscall(51, a1="99", comm='"sh"', items=1), path(51, 0, '"/x"', kernel=False),
    )
    a = compare(kernel, bpf)
    assert len(a.pairing.pairs) == 2 and len(a.pairing.kernel_only) == 1
    r = a.records
    assert (r["SYSCALL"].kernel, r["SYSCALL"].bpf, r["SYSCALL"].paired) == (3, 2, 2)
    assert (r["PATH"].kernel, r["PATH"].bpf, r["PATH"].paired) == (3, 2, 2)
    assert (r["CWD"].kernel, r["CWD"].bpf, r["CWD"].paired) == (1, 0, 0)
    comm = a.fields[("SYSCALL", "comm")]
    assert (comm.kernel, comm.equal, comm.different, comm.missing_in_pair, comm.missing_unpaired) == (3, 1, 1, 0, 1)
    assert comm.examples[0].kernel == '"ls"' and comm.examples[0].bpf == '"sh"'
    assert "serial=2" in comm.examples[0].where
    items = a.fields[("SYSCALL", "items")]
    assert (items.equal, items.different) == (1, 1)
    name = a.fields[("PATH", "name")]
    assert (name.kernel, name.equal, name.different, name.missing) == (3, 1, 1, 1)
    inode = a.fields[("PATH", "inode")]
    assert (inode.kernel, inode.equal, inode.missing_in_pair) == (3, 0, 3)
    nametype = a.fields[("PATH", "nametype")]
    assert (nametype.equal, nametype.different) == (0, 2)
    cwd = a.fields[("CWD", "cwd")]
    assert (cwd.kernel, cwd.missing_in_pair) == (1, 1)
    assert not cwd.examples and cwd.missing_examples[0].bpf is None
    assert not a.bpf_only_fields
    total, equal = a.totals()
    assert total == sum(c.kernel for c in a.fields.values()) and equal == sum(c.equal for c in a.fields.values())
    assert a.totals(include_deferred=False)[0] < total


def test_fields_only_bpfaudit_wrote_are_listed():
    kernel = events(syscall(1))
    bpf = events(syscall(2) + " per=8", rec(2, "CWD", 'cwd="/"'))
    a = compare(kernel, bpf)
    assert a.bpf_only_fields == {("SYSCALL", "per"): 1, ("CWD", "cwd"): 1}
    assert a.records["CWD"].kernel == 0 and a.records["CWD"].bpf == 1


def test_enriched_suffix_is_not_compared():
    kernel = events(syscall(1) + GS + 'ARCH=x86_64 SYSCALL=openat AUID="alice" UID="root"')
    bpf = events(syscall(2))
    a = compare(kernel, bpf)
    assert all(fc.equal == fc.kernel for fc in a.fields.values())
    assert not any(f in ("ARCH", "AUID") for _, f in a.fields)


def test_execve_split_over_records_compares_as_one():
    big = "78" * 10
    kernel = events(syscall(1, nr=59, exit_=0), rec(1, "EXECVE", f"argc=2 a0=\"x\" a1_len=20 a1[0]={big[:10]}"),
                    rec(1, "EXECVE", f" a1[1]={big[10:]}"))
    bpf = events(syscall(2, nr=59, exit_=0), rec(2, "EXECVE", f"argc=2 a0=\"x\" a1_len=20 a1[0]={big[:10]}"
                                                             f" a1[1]={big[10:]}"))
    a = compare(kernel, bpf)
    assert (a.records["EXECVE"].kernel, a.records["EXECVE"].bpf, a.records["EXECVE"].paired) == (2, 1, 1)
    assert a.fields[("EXECVE", "a*[*]")].equal == 2
    assert a.fields[("EXECVE", "a*_len")].equal == 1


def test_markdown_table():
    kernel = events(syscall(1), rec(1, "CWD", 'cwd="/w"'), path(1, 0, '"/etc/hostname"'),
                    rec(1, "BPRM_FCAPS", "fver=0 fp=0"), syscall(3, a1="55", comm='"ls"'))
    bpf = events(syscall(2, comm='"dog"'), path(2, 0, '"/etc/host|name"', kernel=False), syscall(4, a1="66"))
    md = render_markdown(compare(kernel, bpf), notes=["workload exit 0"])
    assert md.startswith("## Field agreement: kernel audit and bpfaudit\n")
    assert "**Kernel field instances reproduced: " in md and "without the fields left to #13" in md
    assert "msg timestamp and serial" in md and "0x1d" in md
    assert "- workload exit 0" in md
    assert "| SYSCALL | 2 | 2 | 1 |" in md
    assert "| BPRM_FCAPS | 1 | 0 | 0 |" in md
    assert "| SYSCALL | comm | 2 | 0 | 1 | 1 |  |" in md
    assert "| SYSCALL | items | 2 | 1 | 0 | 1 | #13 |" in md
    assert "| CWD | cwd | 1 | 0 | 0 | 1 |  |" in md
    assert '| SYSCALL | comm | `"cat"` | `"dog"` | syscall=257 pid=100 serial=1 |' in md
    assert '`"/etc/host\\|name"`' in md  # a pipe in a value does not break the table
    assert "| kernel audit | 100 | c000003e | 257 | 3 | `\"ls\"` |  |" in md
    assert "| bpfaudit | 100 | c000003e | 257 | 3 | `\"cat\"` |  |" in md
    # every table row has as many cells as its header
    for block in md.split("\n\n"):
        rows = [ln for ln in block.splitlines() if ln.startswith("|")]
        if rows:
            widths = {len(ln.replace("\\|", "").split("|")) for ln in rows}
            assert len(widths) == 1, block


def test_long_values_are_cut_in_the_examples():
    kernel = events(syscall(1), rec(1, "PROCTITLE", "proctitle=" + "41" * 100))
    bpf = events(syscall(2), rec(2, "PROCTITLE", "proctitle=" + "42" * 100))
    md = render_markdown(compare(kernel, bpf))
    assert "… (200 chars)" in md
