"""`bpfaudit top --demo` in a real terminal (tmux): records and counters show
up, q and Ctrl-C both quit, and nothing of ours stays attached or running."""

import json
import os
import pwd
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

ROOT = Path(__file__).resolve().parents[2]
DEMO_SYSCALLS = ("openat", "open", "execve", "unlink", "unlinkat", "connect", "chmod", "fchmodat",
                 "creat")


def require(condition: bool, message: str) -> None:
    # Integration tests must not skip as root: a missing precondition fails.
    if not condition:
        pytest.fail(message)


def prog_ids() -> set:
    """Ids of every BPF program loaded in the kernel."""
    out = subprocess.run(["bpftool", "prog", "list", "-j"], check=True, capture_output=True,
                         text=True).stdout
    return {p["id"] for p in json.loads(out or "[]")}


def prog_ids_held_by(pid: int) -> set:
    """Ids of the BPF programs a process holds open (fdinfo's prog_id), so
    programs other tests load at the same time are not mistaken for ours."""
    ids = set()
    fdinfo = Path(f"/proc/{pid}/fdinfo")
    for entry in fdinfo.iterdir():
        try:
            for line in entry.read_text().splitlines():
                if line.startswith("prog_id:"):
                    ids.add(int(line.split()[1]))
        except OSError:
            continue  # closed meanwhile
    return ids


def demo_processes() -> list:
    """pids running the demo workload (python -m tracer.demo), anywhere."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"tracer.demo" in cmd:
            found.append(int(entry))
    return found


class Tmux:
    """A private tmux server (own socket) running one command in a 120x40 pane.

    The command's exit status is written to a file by the pane's shell: tmux
    3.3's #{pane_dead_status} is empty now and then even for a clean exit.
    """

    def __init__(self, tmp_path: Path):
        self.sock = tmp_path / "tmux.sock"  # private server, cleaned up with tmp_path
        self.rc_file = tmp_path / "rc"

    def run(self, *args, check=True) -> str:
        return subprocess.run(["tmux", "-S", str(self.sock), "-f", "/dev/null", *args],
                              check=check, capture_output=True, text=True).stdout

    def start(self, command: str) -> None:
        self.run("new-session", "-d", "-s", "top", "-x", "120", "-y", "40",
                 f"{command}; echo $? > {self.rc_file}; sleep 600")

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "top").rstrip() + "\n"

    def command_pid(self) -> int:
        """The pid of the command the pane's shell runs (bpfaudit after its exec)."""
        shell = int(self.run("display-message", "-p", "-t", "top", "#{pane_pid}").strip())
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == shell:
                    return int(entry)
        pytest.fail(f"no child of the pane's shell {shell}:\n{self.screen()}")

    def exit_status(self):
        """None while the command runs, then its exit status."""
        try:
            return int(self.rc_file.read_text())
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        self.run("kill-server", check=False)


@pytest.fixture
def tmux(tmp_path):
    require(os.geteuid() == 0, "bpfaudit top needs root: run the integration tests with sudo")
    require(shutil.which("tmux") is not None, "tmux is missing: run scripts/setup")
    require(shutil.which("bpftool") is not None, "bpftool is missing: run scripts/setup")
    require(not demo_processes(), f"a demo workload is already running: {demo_processes()}")
    t = Tmux(tmp_path)
    yield t
    t.kill()


def wait_for_dashboard(tmux: Tmux, timeout: float = 240.0) -> str:
    """The first screen showing counted records of the demo, or fail with the
    last screen (compiling the BPF programs takes from seconds to minutes on a busy VM)."""
    deadline = time.monotonic() + timeout
    screen = ""
    user = pwd.getpwuid(1000).pw_name if _has_uid(1000) else "1000"
    while time.monotonic() < deadline:
        status = tmux.exit_status()
        screen = tmux.screen()
        if status is not None:
            pytest.fail(f"bpfaudit top exited with {status} before showing records:\n{screen}")
        total = re.search(r"total ([\d,]+)", screen)
        if (total and int(total.group(1).replace(",", "")) > 0
                and re.search(r"^\s*1000\s+\S+\s+[\d,]+", screen, re.M)
                and any(re.search(rf"\b{name}\b", screen) for name in DEMO_SYSCALLS)
                and user in screen):
            return screen
        time.sleep(0.5)
    pytest.fail(f"no demo records on the dashboard after {timeout:.0f} s; last screen:\n{screen}")


def _has_uid(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def wait_exit(tmux: Tmux, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = tmux.exit_status()
        if status is not None:
            return status
        time.sleep(0.2)
    pytest.fail(f"bpfaudit top still running {timeout:.0f} s after the quit key:\n{tmux.screen()}")


@pytest.mark.parametrize("quit_key", ["q", "C-c"])
def test_top_demo_shows_records_and_quits_cleanly(tmux, quit_key):
    # --duration is a safety net: the test quits well before it.
    tmux.start(f"{ROOT}/scripts/bpfaudit top --demo --refresh 4 --duration 900")
    screen = wait_for_dashboard(tmux)
    ours = prog_ids_held_by(tmux.command_pid())
    require(ours, "bpfaudit top shows records but holds no BPF program fd")
    assert ours <= prog_ids()

    # the loss panel and the header are there, with numbers
    assert "losses" in screen and "latest records" in screen
    assert re.search(r"events/s [\d,]+", screen)
    assert "built-in default" in screen

    tmux.run("send-keys", "-t", "top", quit_key)
    status = wait_exit(tmux)
    assert status == 0, tmux.screen()

    # detached: every program loaded during the run is gone (they unload
    # when their last fd closes, which can lag the exit a little)
    deadline = time.monotonic() + 5
    while ours & prog_ids() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not (ours & prog_ids()), f"BPF programs still loaded after exit: {ours & prog_ids()}"
    # and no orphan workload
    deadline = time.monotonic() + 5
    while demo_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not demo_processes(), f"demo workload left running: {demo_processes()}"
