"""tracer/capture/headers.py on fake /lib/modules trees."""

from __future__ import annotations

import os

import pytest

from tracer.errors import BpfauditError
from tracer.capture.headers import header_tree

RUNNING = os.uname().release


def make_tree(root, release, uts=True, name=None):
    tree = root / (name or f"linux-headers-{release}")
    (tree / "include" / "generated").mkdir(parents=True)
    if uts:
        (tree / "include" / "generated" / "utsrelease.h").write_text(f'#define UTS_RELEASE "{release}"\n')
    return tree


def link_build(modules, tree):
    (modules / RUNNING).mkdir(parents=True, exist_ok=True)
    (modules / RUNNING / "build").symlink_to(tree)


def test_matching_headers(tmp_path):
    modules = tmp_path / "modules"
    tree = make_tree(tmp_path, RUNNING)
    link_build(modules, tree)
    h = header_tree(str(modules))
    assert h.matching and h.version == RUNNING and h.running == RUNNING
    assert h.path == str(tree.resolve())  # the tree itself, not the symlink
    assert "matching" in h.describe() and "substitute" not in h.describe()


def test_substitute_headers_are_named_as_such(tmp_path):
    modules = tmp_path / "modules"
    link_build(modules, make_tree(tmp_path, "6.1.0-99-amd64"))
    h = header_tree(str(modules))
    assert not h.matching and h.version == "6.1.0-99-amd64"
    assert "substitute for " + RUNNING in h.describe() and "compile only" in h.describe()


def test_a_tree_without_utsrelease_is_unknown(tmp_path):
    modules = tmp_path / "modules"
    link_build(modules, make_tree(tmp_path, RUNNING, uts=False))
    h = header_tree(str(modules))
    assert h.version == "unknown" and not h.matching


@pytest.mark.parametrize("setup", ["nothing", "empty build", "dangling link"])
def test_missing_headers_name_scripts_setup(tmp_path, setup):
    modules = tmp_path / "modules"
    (modules / RUNNING).mkdir(parents=True)
    if setup == "empty build":
        (modules / RUNNING / "build").mkdir()
    elif setup == "dangling link":
        (modules / RUNNING / "build").symlink_to(tmp_path / "gone")
    with pytest.raises(BpfauditError, match="scripts/setup") as info:
        header_tree(str(modules))
    assert str(modules / RUNNING / "build") in str(info.value) and info.value.exit_code == 2
