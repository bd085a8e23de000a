"""A watch (path=, `-w FILE`) matches the watched object, not the spelling of its name
(issue #13): kernel audit and bpfaudit trace one run at once with the same watch, and the
run opens the watched file through a hard link, a symlink, a ".." walk and a relative name,
and another file beside it. Both must record the same opens: every way in, and not the
other file."""

from __future__ import annotations

import os
from collections import Counter

from tracer.kaudit.records import parse_audit_records

AUID = 1000
CAT = os.path.realpath("/bin/cat")


def test_watch_is_not_evaded_by_other_names(tmp_path):
    from tracer.capture.session import CaptureOptions, open_capture
    from tracer.compare.session import run_login_session
    from tracer.kaudit.auditd import AuditdRun
    from tracer.kaudit.state import load_rules as load_kernel_rules
    from tracer.rules import parse_text

    d = tmp_path / "w"
    d.mkdir()
    secret = d / "secret"
    secret.write_text("s\n")
    (d / "other").write_text("o\n")
    os.link(secret, tmp_path / "hard")
    (tmp_path / "soft").symlink_to(secret)
    ways = [str(tmp_path / "hard"), str(tmp_path / "soft"), f"{d}/../w/secret", str(secret), str(d / "other")]
    script = "; ".join([f"{CAT} {w} >/dev/null" for w in ways] + [f"cd {d} && {CAT} secret >/dev/null"])
    # the form auditctl -w FILE -p r takes in the kernel
    rules = (f"-a always,exit -F arch=b64 -S open,openat -F path={secret} -F perm=r "
             f"-F auid={AUID} -k watch\n")
    captured: list = []
    with open_capture(CaptureOptions(rules=parse_text(rules, "watch.rules"))) as cap:
        with AuditdRun() as audit:
            load_kernel_rules(rules.splitlines())
            run = run_login_session(["sh", "-c", script], AUID, lambda: captured.extend(cap.poll(20)))
        cap.detach()
        captured.extend(cap.poll(0))
        losses = cap.losses()
    assert run.returncode == 0
    assert losses["emitted"] == losses["delivered"], losses

    kernel = Counter()
    for e in parse_audit_records(audit.log_text()):
        sc = e.record("SYSCALL")
        if sc is None or sc.fields.get("ses") != str(run.ses) or e.keys != ["watch"]:
            continue
        kernel[(int(sc.fields["pid"]), e.all("PATH")[0].fields.get("name", "").strip('"'))] += 1
    ours = Counter((ev.pid, ev.paths[0]) for ev in captured if ev.ses == run.ses and ev.key == "watch")
    names = {name for _pid, name in kernel}
    # every way in but the other file, as kernel audit sees it (not a vacuous pass)
    assert names == {str(tmp_path / "hard"), str(tmp_path / "soft"), f"{d}/../w/secret", str(secret),
                     "secret"}, kernel
    assert ours == kernel
