"""One login session traced by kernel audit (auditctl + auditd) and bpfaudit at once, with the
same rules: what the differential tests of single behaviours start from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List


@dataclass
class BothRun:
    returncode: int
    ses: int
    kernel_log: str  # everything auditd logged during the run
    events: list  # bpfaudit's SyscallEvents of every session
    losses: dict


def trace_session(rules: str, argv: List[str], auid: int) -> BothRun:
    """Runs argv as a login session of `auid` while both tracers record `rules`; root. Kernel audit
    is restored afterwards. Asserts the run did not fail and bpfaudit delivered what it emitted."""
    from tracer.capture.session import CaptureOptions, open_capture
    from tracer.compare.session import run_login_session
    from tracer.kaudit.auditd import AuditdRun
    from tracer.kaudit.state import load_rules as load_kernel_rules
    from tracer.rules import parse_text

    captured: list = []
    with open_capture(CaptureOptions(rules=parse_text(rules, "both.rules"))) as cap:
        with AuditdRun() as audit:
            load_kernel_rules(rules.splitlines())
            run = run_login_session(argv, auid, lambda: captured.extend(cap.poll(20)))
        cap.detach()
        captured.extend(cap.poll(0))
        losses = cap.losses()
    assert run.returncode == 0
    assert losses["emitted"] == losses["delivered"], losses
    return BothRun(run.returncode, run.ses, audit.log_text(), captured, losses)
