"""compile_rules() + a model of the BPF tables agree with evaluate() on random rules and events.

The model is what the BPF programs do with the tables: walk the rules in order, skip a rule
whose syscall set lacks the call, compare the FieldChecks with tracer/capture/tables.py's encoding,
and at the first rule that passes either decide (in-kernel rule) or hand the event to user
space, which calls evaluate() from that rule on.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracer.capture.events import SyscallEvent
from tracer.capture.layout import layout
from tracer.rules import RuleError, parse_text
from tracer.rules.compile import compile_rules
from tracer.rules.evaluate import evaluate
from tracer.syscall_table import AUDIT_ARCH_I386, AUDIT_ARCH_X86_64
from tracer.capture.tables import encode_check, check_matches

L = layout()
U32 = 0xFFFFFFFF
VALUES = [0, 1, 2, 5, 13, 64, 1000, 1001, 0x7FFFFFFF, 0xFFFFFFF3, U32]
SYSCALLS = ["openat", "execve", "unlink", "read", "chmod", "rename", "open"]
NUMERIC = ["auid", "uid", "euid", "gid", "pid", "ppid", "sessionid", "exit", "success", "a0", "a1", "a2", "a3"]
OPS = ["=", "!=", "<", ">", "<=", ">=", "&", "&="]

# field type -> the value BPF puts in the field's slot
SLOT = {
    L.BA_F_PID: lambda e: e.pid, L.BA_F_UID: lambda e: e.uid, L.BA_F_EUID: lambda e: e.euid,
    L.BA_F_GID: lambda e: e.gid, L.BA_F_LOGINUID: lambda e: e.auid, L.BA_F_ARCH: lambda e: e.arch,
    L.BA_F_PPID: lambda e: e.ppid, L.BA_F_SESSIONID: lambda e: e.ses,
    L.BA_F_EXIT: lambda e: e.exit & U32, L.BA_F_SUCCESS: lambda e: 1 if e.success else 2,
    L.BA_F_ARG0: lambda e: e.args[0] & U32, L.BA_F_ARG1: lambda e: e.args[1] & U32,
    L.BA_F_ARG2: lambda e: e.args[2] & U32, L.BA_F_ARG3: lambda e: e.args[3] & U32,
}


def bpf_model(kernel_rules, parsed, event):
    for i, k in enumerate(kernel_rules):
        if k.syscalls is not None and event.syscall not in k.syscalls:
            continue
        if all(check_matches(SLOT[f.type](event), encode_check(f)) for f in k.fields):
            return evaluate(parsed, event, start=i) if k.userspace else i
    return None


condition = st.one_of(
    st.tuples(st.sampled_from(NUMERIC), st.sampled_from(OPS), st.sampled_from(VALUES)).map(
        lambda t: f"-F {t[0]}{t[1]}{t[2]}"),
    st.sampled_from(["-F exe=/bin/a", "-F exe!=/bin/a", "-F path=/etc/passwd", "-F dir=/etc",
                     "-F perm=w", "-F perm=rx", "-F perm=a", "-C auid!=uid", "-C uid=euid",
                     "-F subj_type=x_t", "-F a2&0100", "-F exit=-EACCES"]),
)
rule = st.builds(
    lambda action, arch, calls, conds: " ".join(
        [f"-a {action},exit"] + ([f"-F arch={arch}"] if arch else [])
        + ([f"-S {','.join(calls)}"] if calls else []) + conds),
    st.sampled_from(["always", "never"]),
    st.sampled_from([None, "b64", "b32"]),
    st.lists(st.sampled_from(SYSCALLS), max_size=3),
    st.lists(condition, max_size=4),
)


@st.composite
def events(draw):
    arch = draw(st.sampled_from([AUDIT_ARCH_X86_64, AUDIT_ARCH_I386]))
    nr = draw(st.sampled_from([0, 2, 5, 11, 15, 59, 82, 87, 90, 257, 295, 437]))
    ident = st.sampled_from(VALUES)
    big = st.sampled_from(VALUES + [(1 << 32) + 5, (1 << 64) - 1, 0o101])
    return SyscallEvent(
        time=0.0, serial=1, arch=arch, syscall=nr, syscall_name=str(nr),
        success=draw(st.booleans()), exit=draw(st.sampled_from([0, 3, -13, -2, 1000])),
        args=[draw(big) for _ in range(4)] + [0, 0], ppid=draw(ident), pid=draw(ident), tid=1,
        auid=draw(ident), uid=draw(ident), gid=draw(ident), euid=draw(ident), suid=0, fsuid=0,
        egid=0, sgid=0, fsgid=0, ses=draw(ident), tty="(none)", comm="x",
        exe=draw(st.sampled_from(["/bin/a", "/bin/b", None])), key=None, rule=-1,
        paths=draw(st.lists(st.sampled_from(["/etc/passwd", "/etc/x/y", "/tmp/z", "rel"]), max_size=2)),
    )


def parse_or_none(lines):
    try:
        return parse_text("".join(line + "\n" for line in lines), "p.rules").exit_rules
    except RuleError:
        return None  # a combination auditctl (or the kernel) refuses


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.lists(rule, min_size=1, max_size=5).map(parse_or_none).filter(lambda r: r is not None),
       st.lists(events(), min_size=1, max_size=5))
def test_bpf_model_agrees_with_evaluate(parsed, evs):
    kernel_rules = compile_rules(parsed)
    for e in evs:
        assert bpf_model(kernel_rules, parsed, e) == evaluate(parsed, e)
