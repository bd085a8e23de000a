"""tracer/output.py: audit trail files are 0600, truncated, and never written through a symlink."""

from __future__ import annotations

import os
import stat

import pytest

from tracer.errors import BpfauditError
from tracer.output import open_private


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_creates_a_private_file(tmp_path):
    path = tmp_path / "trail.log"
    old = os.umask(0)  # a permissive umask must not widen the mode
    try:
        with open_private(str(path)) as f:
            f.write("type=SYSCALL\n")
    finally:
        os.umask(old)
    assert mode(path) == 0o600
    assert path.read_text() == "type=SYSCALL\n"


def test_truncates_and_tightens_an_existing_file(tmp_path):
    path = tmp_path / "trail.log"
    path.write_text("old records that must go\n")
    path.chmod(0o644)
    with open_private(str(path)) as f:
        f.write("new\n")
    assert path.read_text() == "new\n"
    assert mode(path) == 0o600


def test_refuses_a_symlink_and_leaves_its_target_alone(tmp_path):
    target = tmp_path / "victim"
    target.write_text("keep me\n")
    target.chmod(0o644)
    link = tmp_path / "trail.log"
    link.symlink_to(target)
    with pytest.raises(BpfauditError, match="symlink") as info:
        open_private(str(link))
    assert str(link) in str(info.value) and info.value.exit_code == 2
    assert target.read_text() == "keep me\n" and mode(target) == 0o644


def test_refuses_a_dangling_symlink_without_creating_its_target(tmp_path):
    link = tmp_path / "trail.log"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BpfauditError, match="symlink"):
        open_private(str(link))
    assert not (tmp_path / "elsewhere").exists()


def test_refuses_a_directory(tmp_path):
    with pytest.raises(BpfauditError, match=str(tmp_path)) as info:
        open_private(str(tmp_path))
    assert info.value.exit_code == 2 and "\n" not in str(info.value)


def test_refuses_a_missing_parent_directory(tmp_path):
    with pytest.raises(BpfauditError, match="cannot open .* for writing"):
        open_private(str(tmp_path / "no" / "trail.log"))


def test_refuses_a_fifo_without_blocking(tmp_path):
    # opening a FIFO for writing would block until a reader comes; a trail is a regular file
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # lets the open for writing return
    try:
        with pytest.raises(BpfauditError, match="not a regular file"):
            open_private(str(fifo))
    finally:
        os.close(reader)
