"""The VM harness's host-side pieces: what it packs for the guest, and that the
guest image carries every package scripts/setup would otherwise download."""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "scripts" / "vm" / "pack-input"


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def make_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    (tree / "scripts").mkdir(parents=True)
    (tree / ".venv" / "bin").mkdir(parents=True)
    (tree / "build" / "vm").mkdir(parents=True)
    (tree / ".gitignore").write_text(".venv/\nbuild/\n*.pyc\n")
    (tree / "scripts" / "test").write_text("#!/bin/sh\n")
    (tree / "scripts" / "test").chmod(0o755)
    (tree / "gone.txt").write_text("tracked, then deleted\n")
    (tree / ".venv" / "bin" / "python").write_text("host venv\n")
    (tree / "build" / "vm" / "base.img").write_text("image\n")
    git(tree, "init", "-q")
    git(tree, "add", ".")
    git(tree, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "t")
    (tree / "gone.txt").unlink()
    (tree / "new work.py").write_text("untracked, not ignored\n")
    (tree / "mod.pyc").write_bytes(b"ignored")
    return tree


def pack(tree: Path, out: Path, *args: str, env: dict[str, str] | None = None) -> tarfile.TarFile:
    subprocess.run([str(PACK), str(tree), str(out), *args], check=True, capture_output=True, env=env)
    return tarfile.open(out)


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@needs_git
def test_pack_takes_the_working_tree_without_ignored_files(tmp_path):
    tar = pack(make_tree(tmp_path), tmp_path / "in.tar", env={"PATH": "/usr/bin:/bin"})
    names = set(tar.getnames())
    assert {"work-tree/.gitignore", "work-tree/scripts/test", "work-tree/new work.py"} <= names
    assert not any(n.startswith(("work-tree/.venv", "work-tree/build", "work-tree/.git/")) for n in names)
    assert "work-tree/mod.pyc" not in names and "work-tree/gone.txt" not in names
    member = tar.getmember("work-tree/scripts/test")
    assert member.mode & 0o111 and member.uid == 0 and member.gid == 0


def test_pack_without_git_leaves_out_build_venv_and_git(tmp_path):
    # A tree that is not a git checkout (an unpacked release): fixed exclusions.
    tree = tmp_path / "tree"
    for d in ("scripts", ".venv/bin", "build/vm", ".git"):
        (tree / d).mkdir(parents=True)
    for f in ("scripts/test", ".venv/bin/python", "build/vm/base.img", ".git/HEAD", "pyproject.toml"):
        (tree / f).write_text("x\n")
    tar = pack(tree, tmp_path / "in.tar", env={"PATH": "/usr/bin:/bin", "GIT_DIR": str(tmp_path / "none")})
    assert set(tar.getnames()) == {"work-tree/scripts/test", "work-tree/pyproject.toml",
                                   "vm-test-args", "vm-test-env"}


def test_pack_passes_arguments_and_terminal_exactly(tmp_path):
    args = ["-k", "open and not slow", "", "tests/unit/test_x.py::test_y[a b]"]
    tree = tmp_path / "tree"
    (tree / "scripts").mkdir(parents=True)
    (tree / "scripts" / "test").write_text("#!/bin/sh\n")
    tar = pack(tree, tmp_path / "in.tar", *args,
               env={"PATH": "/usr/bin:/bin", "TERM": "xterm-256color", "GIT_DIR": str(tmp_path / "none")})
    assert tar.extractfile("vm-test-args").read().split(b"\0")[:-1] == [a.encode() for a in args]
    assert tar.extractfile("vm-test-env").read() == b"TERM=xterm-256color\0"


def packages_in(path: Path) -> set[str]:
    return {line.split("#")[0].strip() for line in path.read_text().splitlines()} - {""}


def test_guest_image_carries_every_package_setup_installs():
    # The guest has no network: a package scripts/setup installs but the image
    # lacks would make every VM run fail at set-up. Unindented apt_install lines
    # are the unconditional ones; indented ones are other distributions' branches.
    setup = (ROOT / "scripts" / "setup").read_text()
    wanted = set()
    for line in re.findall(r"^apt_install\s+(.+)$", setup, flags=re.M):
        wanted |= {word for word in line.split() if re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", word)}
    assert "python3-bpfcc" in wanted, "scripts/setup's apt_install line was not found"
    missing = wanted - packages_in(ROOT / "scripts" / "vm" / "packages")
    assert not missing, f"add {sorted(missing)} to scripts/vm/packages"
