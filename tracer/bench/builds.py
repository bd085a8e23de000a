"""Other builds of bpfaudit measured beside this one in the same run (--baseline-rev REV).

A revision's program can only be loaded by the code written with it: its rule tables and
records are defined by that revision's bpf/*.h (struct ba_syscall was 48 bytes at 8b817fd,
56 since issue 12), and today's loader refuses a program whose structs differ from today's
headers. So a build is a directory holding one revision's tracer/ and bpf/ (`git archive`),
run by agent.py in a process of its own; the working tree is measured the same way beside it
("worktree"), so that the two rows differ in the build and nothing else.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from tracer.bench import consume
from tracer.bench.channel import ChannelClosed, LineChannel
from tracer.bench.configs import Config
from tracer.capture.session import DEFAULT_TRANSPORT, DEFAULT_WAKEUP
from tracer.errors import BpfauditError

REPO = Path(__file__).resolve().parents[2]
AGENT = Path(__file__).with_name("agent.py")
# the agent's first lines: the build's tree before anything else on sys.path, then agent.py as __main__
BOOT = "import runpy, sys; sys.path.insert(0, sys.argv[1]); runpy.run_path(sys.argv[2], run_name='__main__')"
WORKTREE = "worktree"


@dataclass(frozen=True)
class Build:
    label: str  # how rows name it: "worktree" or the revision's short hash
    tree: str  # a directory holding the build's tracer/ and bpf/
    commit: str  # the revision (the working tree: its HEAD)
    dirty: bool = False  # the working tree's tracer/ or bpf/ differ from HEAD

    def to_json(self) -> Dict[str, object]:
        return {"label": self.label, "tree": self.tree, "commit": self.commit, "dirty": self.dirty,
                "bpf_sha256": bpf_digest(self.tree)}


def build_row(label: str, what: str = "") -> str:
    """The row name of a build's configuration: 'bpfaudit @8b817fd, transport-only consumer'."""
    return f"bpfaudit @{label}" + (f", {what}" if what else "")


def bpf_digest(tree: str) -> str:
    """sha256 of the build's bpf/ (names and contents): which program a row compiled."""
    h = hashlib.sha256()
    for path in sorted(Path(tree, "bpf").glob("*")):
        if path.is_file():
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _git(repo: Path, *args: str, binary: bool = False):
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=not binary, timeout=60)
    return proc.returncode, proc.stdout


def worktree_build(repo: Path = REPO) -> Build:
    _, head = _git(repo, "rev-parse", "HEAD")
    _, status = _git(repo, "status", "--porcelain", "--", "tracer", "bpf")
    return Build(WORKTREE, str(repo), head.strip(), bool(status.strip()))


def extract_revision(rev: str, dest: str, repo: Path = REPO) -> Build:
    """`rev`'s tracer/ and bpf/ unpacked into `dest` (git archive): a tree agent.py can run."""
    code, commit = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if code != 0:
        raise BpfauditError(f"--baseline-rev {rev}: not a commit of {repo}", 2)
    commit = commit.strip()
    code, data = _git(repo, "archive", "--format=tar", commit, "tracer", "bpf", binary=True)
    if code != 0:
        raise BpfauditError(f"--baseline-rev {rev}: {commit[:12]} has no tracer/ and bpf/ to build from", 2)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest)  # our own repository's archive
    # the capture API: a module until issue 12, the package tracer/capture/ since
    for needed in ("bpf/bpfaudit.bpf.c", ("tracer/capture.py", "tracer/capture/__init__.py")):
        options = (needed,) if isinstance(needed, str) else needed
        if not any(Path(dest, n).is_file() for n in options):
            raise BpfauditError(f"--baseline-rev {rev}: {commit[:12]} has no {' or '.join(options)}", 2)
    _, short = _git(repo, "rev-parse", "--short", commit)
    return Build(short.strip(), dest, commit)


def agent_argv(tree: str) -> List[str]:
    return [sys.executable, "-c", BOOT, tree, str(AGENT)]


class BuildAgent(Config):
    """A build's capture session run by agent.py, attached only while measured, as Bpfaudit's.

    `decode` False: records taken undecoded (CaptureSession.discard(), the transport-only
    consumer); True: decoded by the build's own poll(), `own` ("pid"/"ppid") counted.
    The consumer runs in the agent's process instead of the bench's: the workload is
    another process either way.
    """

    def __init__(self, name: str, build: Build, rules: str, decode: bool = False, own: Optional[str] = None,
                 transport: str = DEFAULT_TRANSPORT, wakeup_events: int = DEFAULT_WAKEUP, page_cnt: int = 1024,
                 drain_ms: int = 100, open_timeout: float = 300.0) -> None:
        self.name = name
        self.build = build
        self.spec = {"rules": rules, "decode": decode, "own": own if decode else None, "transport": transport,
                     "wakeup_events": wakeup_events, "page_cnt": page_cnt, "drain_ms": drain_ms}
        self.open_timeout = open_timeout
        self.proc: Optional[subprocess.Popen] = None
        self.chan: Optional[LineChannel] = None
        self.ids: Dict[str, int] = {}
        self.bpf_sha256 = ""
        self._stderr = None

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        return " | ".join(lines[-3:])

    def _ask(self, message: Dict[str, object], timeout: float = 60.0) -> Dict[str, object]:
        try:
            self.chan.send(message)
            reply = self.chan.receive(timeout)
        except (TimeoutError, ChannelClosed, OSError) as err:
            raise BpfauditError(f"{self.name}: the build's agent did not answer ({err}); "
                                f"its stderr: {self._stderr_tail()}", 1) from None
        if not reply.get("ok"):
            raise BpfauditError(f"{self.name}: {reply.get('error')}; its stderr: {self._stderr_tail()}", 1)
        return reply

    def open(self) -> None:
        self.bpf_sha256 = bpf_digest(self.build.tree)
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(agent_argv(self.build.tree), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, cwd=self.build.tree)
        self.chan = LineChannel(self.proc.stdout.fileno(), self.proc.stdin.fileno())
        reply = self._ask({"open": self.spec}, self.open_timeout)
        if not Path(str(reply["tracer"])).resolve().is_relative_to(Path(self.build.tree).resolve()):
            raise BpfauditError(f"{self.name}: the agent imported {reply['tracer']}, not the build's", 1)
        self.ids = {str(k): int(v) for k, v in dict(reply["programs"]).items()}

    def measure(self, job):
        self._ask({"cmd": "on"})
        try:
            res = job.run()
        except BaseException:
            self._ask({"cmd": "off", "pid": 0})
            raise
        reply = self._ask({"cmd": "off", "pid": res.pid})
        return res, consume.run_extra(reply["tally"], reply["losses"], reply["consumer_cpu_s"], res.ns)

    def program_ids(self) -> Dict[str, int]:
        return dict(self.ids)

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self._ask({"cmd": "close"}, timeout=30)
        except BpfauditError:
            pass
        finally:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # our own child, by its Popen
                self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout, self._stderr):
                if f is not None:
                    f.close()
            self.proc = None


def build_configs(builds: Sequence[Build], what: str, rules: str, **options) -> List[BuildAgent]:
    """One BuildAgent per build, each row named build_row(label, what)."""
    return [BuildAgent(build_row(b.label, what), b, rules, **options) for b in builds]


def builds_note(builds: Sequence[Build], consumer: str) -> List[str]:
    """What a scenario's build rows are, for its notes (none without --baseline-rev)."""
    return [f"{build_row(b.label)}: " + (
        "the working tree's tracer/ and bpf/" if b.label == WORKTREE else f"revision {b.commit[:12]}'s tracer/ and bpf/"
    ) + f" in a process of its own (tracer/bench/agent.py: that code compiles, loads and reads), {consumer}"
        for b in builds]
