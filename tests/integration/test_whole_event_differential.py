"""Issue #12 item 5: kernel audit (auditctl + auditd) and bpfaudit trace ONE run of
tests/workloads/whole_event_workload.c at the same time, with the same rules; their
events are paired one to one and every field of every record is compared
(tracer.compare.fields). The table is printed (pytest -s) and written to
$BPFAUDIT_FIELD_TABLE if set; scripts/field-agreement runs the same outside pytest.

The assertions are the issue's acceptance, (a) to (d) below. Fields that belong to
issue #13 (SYSCALL items, PATH inode data and nametype, BPRM_FCAPS) are counted in the
table but not asserted.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, List, Optional

import pytest

from tracer.compare.fields import Agreement, compare, render_markdown, session_events
from tracer.kaudit.records import AuditEvent, parse_audit_records

WORKLOAD = Path(__file__).resolve().parents[1] / "workloads" / "whole_event_workload.c"
AUID = 1000
KEYS = ("t", "t32")
# The never rule keeps the workload's execveat(77, "reexec", ...) out of both logs, so
# that the re-executed image's calls come after an exec neither tracer saw.
RULES = f"""\
-a never,exit -F arch=b64 -S execveat -F a0=77
-a always,exit -F arch=b64 -S execve,execveat,openat,open,creat,unlink,unlinkat,rename,renameat,chmod,fchmodat,\
chown,fchownat,mkdir,mkdirat,rmdir,chdir,connect,bind,setuid -F auid={AUID} -k t
-a always,exit -F arch=b32 -S open -F auid={AUID} -k t32
"""
# Record types whose every kernel record must have a bpfaudit twin with every field equal.
WHOLE_RECORDS = ("EXECVE", "BPRM_FCAPS", "PROCTITLE", "CWD", "SOCKADDR")


@dataclasses.dataclass
class WholeEventRun:
    returncode: int
    ses: int
    kernel_log: str  # everything auditd logged during the run
    bpf_log: str  # bpfaudit's events of the session, as audit text
    kernel_events: List[AuditEvent]  # the session's events our rules recorded
    bpf_events: List[AuditEvent]
    left_out: List[AuditEvent]  # the session's kernel events no rule recorded (the login itself)
    kernel_lost: int
    bpf_losses: dict
    follows_path_walk: bool = False  # the capture followed the path walk (bpf/objects.h BA_HOOKS)
    objects_note: str = ""  # why not, as the capture said

    def agreement(self) -> Agreement:
        return compare(self.kernel_events, self.bpf_events)

    def notes(self) -> List[str]:
        types = sorted({"+".join(e.types) for e in self.left_out})
        return [
            f"workload: tests/workloads/whole_event_workload.c, one run, exit code {self.returncode}, "
            f"audit session {self.ses}, auid {AUID}",
            f"kernel audit lost {self.kernel_lost} records; bpfaudit emitted {self.bpf_losses.get('emitted')} "
            f"and delivered {self.bpf_losses.get('delivered')}, losses: "
            + (", ".join(f"{k} {v}" for k, v in self.bpf_losses.items() if v and k not in ("emitted", "delivered"))
               or "none"),
            f"left out: {len(self.left_out)} kernel event(s) of the session that no rule recorded"
            + (f" ({', '.join(types)}: the login itself)" if types else ""),
            "PATH objects: " + ("from the path walk's kernel functions (fentry/fexit)" if self.follows_path_walk
                                else self.objects_note or "at sys_exit"),
        ]


def build_workload(out_dir: Path) -> Path:
    binary = out_dir / "whole_event_workload"
    subprocess.run(["gcc", "-O1", "-Wall", "-o", str(binary), str(WORKLOAD)], check=True)
    return binary


def run_whole_event(tmp: Path, say: Callable[[str], None] = lambda _: None) -> WholeEventRun:
    """Builds the workload and runs it once as a login session while kernel audit
    (with auditd) and a bpfaudit capture both trace it. Root; kernel audit restored after."""
    from tracer.capture.session import CaptureOptions, open_capture
    from tracer.compare.session import run_login_session
    from tracer.formats.audit_text import format_event
    from tracer.kaudit import netlink
    from tracer.kaudit.auditd import AuditdRun
    from tracer.kaudit.state import load_rules as load_kernel_rules
    from tracer.rules import parse_text

    binary = build_workload(tmp)
    work = tmp / "work"
    work.mkdir()
    captured: list = []
    say("loading the BPF programs")
    with open_capture(CaptureOptions(rules=parse_text(RULES, "whole-event.rules"))) as cap:
        say("starting auditd and loading the rules into kernel audit")
        with AuditdRun() as audit:
            load_kernel_rules(RULES.splitlines())
            lost_before = netlink.audit_status().lost
            say("running the workload")
            run = run_login_session([str(binary), str(work)], AUID, lambda: captured.extend(cap.poll(20)))
            kernel_lost = netlink.audit_status().lost - lost_before
        cap.detach()  # what was submitted is still read
        captured.extend(cap.poll(0))
        bpf_losses = cap.losses()
        hooks = cap.follows_path_walk
        objects_note = next((n for n in cap.startup_notes if "PATH objects" in n), "")
    kernel_log = audit.log_text()
    bpf_log = "".join(format_event(ev) for ev in captured if ev.ses == run.ses)
    (tmp / "kernel-audit.log").write_text(kernel_log, errors="surrogateescape")
    (tmp / "bpfaudit.log").write_text(bpf_log, errors="surrogateescape")
    session = session_events(parse_audit_records(kernel_log), run.ses)
    recorded = session_events(session, run.ses, KEYS)
    return WholeEventRun(
        returncode=run.returncode,
        ses=run.ses,
        kernel_log=kernel_log,
        bpf_log=bpf_log,
        kernel_events=recorded,
        bpf_events=parse_audit_records(bpf_log),
        left_out=[e for e in session if id(e) not in {id(r) for r in recorded}],
        kernel_lost=kernel_lost,
        bpf_losses=bpf_losses,
        follows_path_walk=hooks,
        objects_note=objects_note,
    )


def table(result: WholeEventRun, agreement: Agreement) -> str:
    return render_markdown(agreement, notes=result.notes())


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return run_whole_event(tmp_path_factory.mktemp("whole-event"))


@pytest.fixture(scope="module")
def agreement(result):
    agreement = result.agreement()
    text = table(result, agreement)
    out = os.environ.get("BPFAUDIT_FIELD_TABLE")
    if out:
        Path(out).write_text(text)
    sys.stdout.write("\n" + text)
    return agreement


def _problems(agreement: Agreement, rtype: str, fields=None, in_pair_only=False) -> List[str]:
    """Rows of `rtype` where kernel audit's instances were not all reproduced, with examples."""
    out = []
    for field, fc in agreement.rows(rtype):
        if fields is not None and not fields(field):
            continue
        missing = fc.missing_in_pair if in_pair_only else fc.missing
        if fc.different or missing:
            shown = "; ".join(f"{e.where}: kernel {e.kernel[:60]!r} bpfaudit {(e.bpf or '(none)')[:60]!r}"
                              for e in fc.examples + fc.missing_examples)
            out.append(f"{rtype} {field}: {fc.different} different, {missing} missing of {fc.kernel} [{shown}]")
    return out


# -- the harness itself: passes today ---------------------------------------------

def test_harness_one_run_both_tracers(result, agreement):
    """Both tracers saw the same run completely, and the workload did what it is for."""
    assert result.returncode == 0, "the workload's calls did not all succeed or fail as planned (its stderr says which)"
    assert result.kernel_lost == 0
    assert result.bpf_losses["emitted"] == result.bpf_losses["delivered"], result.bpf_losses
    assert agreement.pairing.pairs, "no event paired: the pairing key or the capture is broken"
    assert agreement.records["SYSCALL"].paired > 0
    k = result.kernel_events
    syscalls = [e.record("SYSCALL").fields for e in k]
    assert any(f["arch"] == "40000003" for f in syscalls), "no i386 event"
    assert any(f["comm"] == "reexec" for f in syscalls), "no event of the image no rule saw exec'd"
    assert not any(f["syscall"] == "322" for f in syscalls), "the never rule did not keep execveat out"
    assert any(f["syscall"] == "105" and f["exit"] == "-1" for f in syscalls), "no failing setuid"
    assert any("a6_len" in r.fields for e in k for r in e.all("EXECVE")), "no over-long execve argument"
    assert sum(len(e.all("SOCKADDR")) for e in k) >= 4


# -- acceptance (issue #12 item 5): fails until bpfaudit writes whole events ------

def test_a_execve_proctitle_cwd_sockaddr_records_reproduced(agreement):
    """(a) every kernel EXECVE, PROCTITLE, CWD and SOCKADDR record has a bpfaudit twin with every field equal."""
    problems = []
    for rtype in WHOLE_RECORDS:
        rc = agreement.records.get(rtype)
        if rc is None:
            continue
        if rc.paired != rc.kernel:
            problems.append(f"{rtype}: {rc.kernel - rc.paired} of {rc.kernel} kernel records have no twin")
        problems += _problems(agreement, rtype)
    assert not problems, "\n".join(problems)


# Fields kernel audit writes that bpfaudit does not produce: an LSM's label of the task (subj=,
# e.g. AppArmor's "unconfined" on Debian's 6.1 kernel). Turning the LSM's secid into its text
# is a kernel call BPF cannot make; docs/records.md lists it among the known differences.
NOT_PRODUCED = ("subj",)


def test_b_syscall_fields_equal_on_paired_events(agreement):
    """(b) every SYSCALL field but items (#13) and an LSM's subj= is equal on every paired event."""
    problems = _problems(agreement, "SYSCALL", fields=lambda f: f != "items" and f not in NOT_PRODUCED,
                         in_pair_only=True)
    assert not problems, "\n".join(problems)


def test_c_every_event_pairs(agreement):
    """(c) no event of either tracer is left without a twin."""
    p = agreement.pairing

    def line(e):
        f = e.record("SYSCALL").raw_fields
        return f"pid={f['pid']} arch={f['arch']} syscall={f['syscall']} exit={f['exit']} comm={f['comm']}"

    assert not p.kernel_only and not p.bpf_only, (
        f"{len(p.kernel_only)} kernel audit events unpaired:\n  " + "\n  ".join(map(line, p.kernel_only[:30]))
        + f"\n{len(p.bpf_only)} bpfaudit events unpaired:\n  " + "\n  ".join(map(line, p.bpf_only[:30]))
    )


def test_d_every_name_the_caller_passed_is_reproduced(agreement):
    """(d) every name kernel audit logged for a name the caller passed is in bpfaudit's PATH records of
    that event. Left to #13, as the table marks: the items kernel audit adds from its own lookups (the
    PARENT directory of a create/delete/rename, an exec's loader and interpreter), which also shift
    the item numbers, and so the item-by-item comparison of the table."""
    problems, compared = [], 0
    for kernel, ours in agreement.pairing.pairs:
        names = {r.fields.get("name") for r in ours.all("PATH")}
        execve = kernel.record("SYSCALL").fields["syscall"] in ("59", "322")
        for r in kernel.all("PATH"):
            if r.fields.get("nametype") == "PARENT" or (execve and r.fields.get("item") != "0"):
                continue
            compared += 1
            if r.fields.get("name") not in names:
                problems.append(f"{kernel.record('SYSCALL').fields['syscall']} pid "
                                f"{kernel.record('SYSCALL').fields['pid']}: kernel {r.fields.get('name')!r}, "
                                f"bpfaudit {sorted(n for n in names if n)!r}")
    assert compared >= 100, compared  # the workload's names, not a vacuous pass
    assert not problems, "\n".join(problems)


# Calls whose object bpfaudit reaches at sys_exit (bpf/objects.h): open, openat, creat, chdir, and
# i386 open (5 there); and successful execs (59).
REACHED = {("c000003e", "2"), ("c000003e", "257"), ("c000003e", "85"), ("c000003e", "80"), ("40000003", "5")}
INODE_FIELDS = {"inode", "dev", "mode", "ouid", "ogid", "rdev"}


def _same_object(a, b) -> bool:
    return all(a.fields.get(f) == b.fields.get(f) for f in ("name", "inode", "dev", "nametype"))


def test_f_path_items_of_reached_objects_equal(result, agreement):
    """(f) issue #13 for the calls whose object bpfaudit reaches (open, openat, creat, chdir, a
    successful exec; with the path walk followed, an exec's loader too): items=, and every PATH
    item field for field (PARENT and CREATE of an O_CREAT open included). Known: at sys_exit an
    exec's ELF loader item has no name or attributes (flagged), and a script's own item no
    attributes (its inode is gone by then); and Debian's 6.1 kernel names an exec's file twice
    (item 1 repeats item 0), which the sys_exit objects do not: docs/records.md."""
    problems, compared = [], 0
    hooks = result.follows_path_walk
    for kernel, ours in agreement.pairing.pairs:
        sc = kernel.record("SYSCALL").fields
        exec_ok = sc["syscall"] == "59" and sc["success"] == "yes"
        if (sc["arch"], sc["syscall"]) not in REACHED and not exec_ok:
            continue
        where = f"syscall={sc['syscall']} exit={sc['exit']} pid={sc['pid']}"
        kp, bp = kernel.all("PATH"), ours.all("PATH")
        if exec_ok and not hooks and len(kp) > 1 and _same_object(kp[0], kp[1]):
            kp = kp[:1] + kp[2:]
        if len(bp) != len(kp) or (len(kp) == len(kernel.all("PATH"))
                                  and ours.record("SYSCALL").fields.get("items") != sc["items"]):
            problems.append(f"{where}: items={sc['items']} ({len(kp)} compared), bpfaudit "
                            f"{ours.record('SYSCALL').fields.get('items')}")
            continue
        for i, (k, b) in enumerate(zip(kp, bp)):
            skip = set()
            if exec_ok and not hooks and i == len(kp) - 1 and i > 0:
                skip = INODE_FIELDS | {"name"}  # the ELF loader
                if b.fields.get("name") not in (None, "(null)"):
                    problems.append(f"{where} item {i}: the loader's name is {b.fields.get('name')!r}, not flagged")
            elif exec_ok and not hooks and i == 0 and len(kp) == 3:
                skip = INODE_FIELDS  # the script itself
            for f, v in k.fields.items():
                if f in skip or f == "item":
                    continue
                compared += 1
                if b.fields.get(f) != v:
                    problems.append(f"{where} item {i} {f}: kernel {v[:60]!r}, bpfaudit {(b.fields.get(f) or '(none)')[:60]!r}")
    assert compared >= 1000, compared  # the workload's opens and execs, not a vacuous pass
    assert not problems, "\n".join(problems[:40])


def _audit_tool(args: List[str], log: Path) -> List[str]:
    out = subprocess.run(args + ["-if", str(log)], capture_output=True, text=True, errors="surrogateescape")
    return out.stdout.splitlines()


def test_e_ausearch_and_aureport_answer_alike(result, tmp_path):
    """(e) auditd's own tools read both logs alike: `ausearch --format text|csv` names the same
    object for every event (auparse's normaliser finds it after CWD), and aureport's executable and
    syscall summaries are the same. Left to #13: the events whose object auparse takes from a
    PARENT/CREATE/DELETE item (mkdir, rename, failed rmdir...), and aureport's count of files, which
    includes the PARENT, loader and interpreter items."""
    import re

    serials = {e.serial for e in result.kernel_events}
    kernel_lines = [line for line in result.kernel_log.splitlines()
                    if (m := re.search(r"msg=audit\([\d.]+:(\d+)\)", line)) and int(m.group(1)) in serials]
    logs = {"kernel": tmp_path / "kernel.log", "bpf": tmp_path / "bpf.log"}
    logs["kernel"].write_text("\n".join(kernel_lines) + "\n", errors="surrogateescape")
    logs["bpf"].write_text(result.bpf_log, errors="surrogateescape")
    parent_items = [any(r.fields.get("nametype") in ("PARENT", "CREATE", "DELETE") for r in e.all("PATH"))
                    for e in sorted(result.kernel_events, key=lambda e: e.serial)]

    # less the date, time and serial (each tracer stamps its own: kernel audit's coarse clock
    # and bpfaudit's entry time can fall on two sides of a second) and the inode (#13)
    def csv_row(line: str) -> str:
        cols = line.split(",")
        return ",".join(cols[:2] + cols[5:13] + cols[14:])

    def text_row(line: str) -> str:
        return re.sub(r"^At \S+ \S+ ", "At ", line)

    text = {k: [text_row(x) for x in _audit_tool(["ausearch", "--format", "text"], v)] for k, v in logs.items()}
    csv = {k: [csv_row(x) for x in _audit_tool(["ausearch", "--format", "csv"], v)[1:]] for k, v in logs.items()}
    assert len(text["kernel"]) == len(text["bpf"]) == len(csv["kernel"]) == len(csv["bpf"]) == len(parent_items)
    left_to_13 = 0
    for i, later in enumerate(parent_items):
        if later:
            left_to_13 += 1
            continue
        assert text["bpf"][i] == text["kernel"][i]
        assert csv["bpf"][i] == csv["kernel"][i]
    assert left_to_13 < len(parent_items) // 4, left_to_13
    for report in (["aureport", "-x", "--summary"], ["aureport", "-s", "--summary"]):
        assert _audit_tool(report, logs["bpf"]) == _audit_tool(report, logs["kernel"]), report
    # the summary's counts, all but the files (#13) and the time range (each tracer its own clock)
    summary = {k: [x for x in _audit_tool(["aureport", "--summary"], v)
                   if x.startswith("Number of") and not x.startswith("Number of files")] for k, v in logs.items()}
    assert summary["bpf"] == summary["kernel"] and len(summary["kernel"]) > 10


def main(argv: Optional[List[str]] = None) -> int:
    """scripts/field-agreement: the same run and table outside pytest."""
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(prog="field-agreement", description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", help="also write the Markdown table to this file")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("field-agreement: needs root (BPF, kernel audit, auditd): run it with sudo", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bpfaudit-field-agreement-"))
    result = run_whole_event(tmp, lambda text: print(f"field-agreement: {text}", file=sys.stderr))
    text = table(result, result.agreement())
    if args.output:
        Path(args.output).write_text(text)
    sys.stdout.write(text)
    print(f"field-agreement: both logs are in {tmp}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
