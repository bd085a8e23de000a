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


def test_refuses_a_file_another_user_owns(tmp_path, monkeypatch):
    """Issue 15: a file planted in a shared directory by another user is not written into (it
    would stay theirs, readable by them); the one line names its owner, and it is left as it was."""
    path = tmp_path / "trail.log"
    path.write_text("planted\n")
    owner = os.stat(path).st_uid
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1)  # as if another user ran bpfaudit
    with pytest.raises(BpfauditError, match=f"belongs to .*uid {owner}") as info:
        open_private(str(path))
    assert info.value.exit_code == 2 and "\n" not in str(info.value)
    assert path.read_text() == "planted\n"
    assert [p.name for p in tmp_path.iterdir()] == ["trail.log"]  # no temporary file left


def test_a_descriptor_opened_before_sees_nothing_of_the_new_trail(tmp_path):
    """The trail is a new inode: whoever held the old file open (it was 0644) reads none of it."""
    path = tmp_path / "trail.log"
    path.write_text("old\n")
    path.chmod(0o644)
    reader = open(path, "rb")
    try:
        with open_private(str(path), binary=True) as f:
            f.write(b"type=SYSCALL secret\n")
        assert reader.read() == b"old\n"
        assert os.fstat(reader.fileno()).st_ino != os.stat(path).st_ino
    finally:
        reader.close()
    assert path.read_bytes() == b"type=SYSCALL secret\n" and mode(path) == 0o600
