"""exe and cwd are walked once per thread and kept while they still name the same objects
(bpf/dpath.h put_cached_dpath): every event must still carry what the kernel has at the call,
across chdir, a rename of the working directory itself, chroot-free exec and fork."""

from __future__ import annotations

import os
import sys
import textwrap

from tracer.rules import parse_text

AUID = 1000

SCRIPT = textwrap.dedent("""
    import os, sys
    base = sys.argv[1]
    def touch(name):
        os.close(os.open(os.path.join(base, name), os.O_RDONLY | os.O_CREAT, 0o600))
    os.chdir(os.path.join(base, "a")); touch("1")
    touch("2")                                 # the same cwd again: from the cache
    os.chdir(os.path.join(base, "b")); touch("3")
    os.rename(os.path.join(base, "b"), os.path.join(base, "c")); touch("4")   # the cwd renamed itself
    if os.fork() == 0:                          # a new thread: walks for itself
        touch("5"); os._exit(0)
    os.wait()
    os.execv("/bin/cat", ["cat", os.path.join(base, "6")])   # a new image: a new exe
""")


def test_cached_exe_and_cwd_follow_chdir_rename_fork_and_exec(tmp_path):
    from tracer.capture.session import CaptureOptions, open_capture
    from tracer.compare.session import run_login_session

    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    (tmp_path / "6").write_text("")
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    rules = parse_text(f"-a always,exit -F arch=b64 -S openat -F auid={AUID} -k t", "cache.rules")
    events: list = []
    with open_capture(CaptureOptions(rules=rules)) as cap:
        run = run_login_session([sys.executable, str(script), str(tmp_path)], AUID,
                                lambda: events.extend(cap.poll(20)))
        cap.detach()
        events.extend(cap.poll(0))
    assert run.returncode == 0
    mine = {os.path.basename(e.paths[0]): e for e in events
            if e.ses == run.ses and e.paths and e.paths[0] and e.paths[0].startswith(str(tmp_path) + "/")}
    python = os.path.realpath(sys.executable)
    want = {
        "1": (str(tmp_path / "a"), python), "2": (str(tmp_path / "a"), python),
        "3": (str(tmp_path / "b"), python), "4": (str(tmp_path / "c"), python),
        "5": (str(tmp_path / "c"), python), "6": (str(tmp_path / "c"), os.path.realpath("/bin/cat")),
    }
    assert {k: (e.cwd, e.exe) for k, e in mine.items() if k in want} == want
    assert mine["5"].pid != mine["4"].pid and mine["6"].pid == mine["4"].pid
