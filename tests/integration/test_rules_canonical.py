"""`bpfaudit rules list` prints every stock rule byte for byte as `auditctl -l` does (root).

Each -a/-A/-w/-W line of the stock rule files is loaded into the kernel alone with
`auditctl -R` (never -e 2 or --loginuid-immutable), listed with `auditctl -l`, and compared
with tracer.rules' canonical form. Kernel audit state is restored afterwards, also on failure.
"""

from __future__ import annotations

import glob
import gzip
import os
import subprocess
import tempfile

import pytest

from tracer.kaudit.state import kernel_audit_session
from tracer.rules import RuleError, parse_text
from tracer.rules.lint import rule_status

pytestmark = pytest.mark.root

STOCK_DIR = "/usr/share/doc/auditd/examples/rules"
RULE_OPTIONS = ("-a", "-A", "-w", "-W")


def stock_files():
    return sorted(glob.glob(f"{STOCK_DIR}/*.rules") + glob.glob(f"{STOCK_DIR}/*.rules.gz"))


def rule_lines(path):
    """(line number, text) of the lines that are rules, the only lines we may load."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        for n, line in enumerate(f, 1):
            words = line.split()
            if words and words[0] in RULE_OPTIONS:
                yield n, line.rstrip("\n")


def auditctl(*args):
    return subprocess.run(["auditctl", *args], capture_output=True, text=True)


def load_one(line, tmpdir):
    """auditctl's verdict on one rule: (listing, None) or (None, error)."""
    assert auditctl("-D").returncode == 0
    path = os.path.join(tmpdir, "one.rules")
    with open(path, "w") as f:
        f.write(line + "\n")
    os.chmod(path, 0o600)
    res = auditctl("-R", path)
    if res.returncode != 0:
        return None, (res.stderr.strip().splitlines() or ["(no message)"])[0]
    listing = auditctl("-l")
    assert listing.returncode == 0, listing.stderr
    return listing.stdout, None


@pytest.fixture(autouse=True)
def require_root():
    if os.geteuid() != 0:
        pytest.fail("this test loads rules into kernel audit: run it as root (sudo)")
    if not stock_files():
        pytest.fail(f"no stock rule files in {STOCK_DIR}: install auditd")
    if subprocess.run(["which", "auditctl"], capture_output=True).returncode != 0:
        pytest.fail("auditctl not found: install auditd")


def test_stock_rules_render_as_auditctl_lists_them(capsys):
    counts, mismatches = {}, []
    with kernel_audit_session(lock_timeout=300), tempfile.TemporaryDirectory() as tmpdir:
        for path in stock_files():
            name = os.path.basename(path)
            c = counts.setdefault(name, {"lines": 0, "identical": 0, "rejected": 0, "lint": 0})
            for lineno, line in rule_lines(path):
                c["lines"] += 1
                expected, refused = load_one(line, tmpdir)
                try:
                    rs = parse_text(line + "\n", f"{name}:{lineno}")
                    ours = "".join(text + "\n" for text in rs.canonical())
                    status = rule_status(rs.all_rules()[0])
                except RuleError as err:
                    ours, status = None, f"error: {err}"
                if refused is not None:
                    c["rejected"] += 1
                    print(f"{name}:{lineno}: auditctl refused: {refused}")
                    continue
                if status != "in-kernel":
                    c["lint"] += 1
                if ours == expected:
                    c["identical"] += 1
                else:
                    mismatches.append(f"{name}:{lineno}: {line}\n  auditctl -l: {expected!r}\n  bpfaudit:    {ours!r} ({status})")
    with capsys.disabled():
        print("\nfile: rule lines / identical / rejected by auditctl / reported by lint")
        for name, c in counts.items():
            print(f"{name}: {c['lines']} / {c['identical']} / {c['rejected']} / {c['lint']}")
    assert not mismatches, "\n".join(mismatches)
    assert sum(c["identical"] for c in counts.values()) > 150
