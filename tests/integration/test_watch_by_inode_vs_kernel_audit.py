"""A watch (path=, `-w FILE`) matches the watched object, not the spelling of its name
(issue #13): kernel audit and bpfaudit trace one run at once with the same watch, and the
run opens the watched file through a hard link, a symlink, a ".." walk and a relative name,
and another file beside it. Both must record the same opens: every way in, and not the
other file."""

from __future__ import annotations

import os
from collections import Counter

from tests.integration.both_tracers import trace_session
from tracer.kaudit.records import parse_audit_records

AUID = 1000
CAT = os.path.realpath("/bin/cat")


def test_watch_is_not_evaded_by_other_names(tmp_path):
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
    run = trace_session(rules, ["sh", "-c", script], AUID)

    kernel = Counter()
    for e in parse_audit_records(run.kernel_log):
        sc = e.record("SYSCALL")
        if sc is None or sc.fields.get("ses") != str(run.ses) or e.keys != ["watch"]:
            continue
        kernel[(int(sc.fields["pid"]), e.all("PATH")[0].fields.get("name", "").strip('"'))] += 1
    ours = Counter((ev.pid, ev.paths[0]) for ev in run.events if ev.ses == run.ses and ev.key == "watch")
    names = {name for _pid, name in kernel}
    # every way in but the other file, as kernel audit sees it (not a vacuous pass)
    assert names == {str(tmp_path / "hard"), str(tmp_path / "soft"), f"{d}/../w/secret", str(secret),
                     "secret"}, kernel
    assert ours == kernel
