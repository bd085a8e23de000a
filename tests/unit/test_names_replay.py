"""Kernel audit's names list replayed (tracer/capture/names.py): OBJ sequences as fs/namei.c makes
them, and the PATH records kernel audit printed for them on Linux 6.18."""

from __future__ import annotations

from typing import List, Optional, Sequence

import pytest

from tracer.capture import names
from tracer.capture.events import PathItem
from tracer.capture.names import (HAS_INODE, KNAME, OBJ_CREATE, OBJ_DELETE, OBJ_INODE, OBJ_PARENT, PATH_SUN, Obj,
                                  dname_matches, parent_len, path_items)
from tracer.formats.audit_text import path_record

DEV = 0xFE << 20  # fe:00
DIR, FILE = 0o40755, 0o100644
# pointers of the caller's names: a0..a5
A = [0x7FFD0000 + 0x100 * i for i in range(6)]


def inode(uptr: int, ino: int, mode: int = FILE, **kw) -> Obj:
    return Obj(OBJ_INODE, HAS_INODE, ino, DEV, mode, 0, 0, 0, uptr=uptr, **kw)


def kname(name: str, ino: int, op: int = OBJ_INODE, mode: int = FILE) -> Obj:
    return Obj(op, HAS_INODE | KNAME, ino, DEV, mode, 0, 0, 0, name=name)


def parent(uptr: int, dir_ino: int) -> Obj:
    return Obj(OBJ_PARENT, HAS_INODE, dir_ino, DEV, DIR, 0, 0, 0, uptr=uptr)


def child(op: int, dir_ino: int, name: str, ino: Optional[int], mode: int = FILE) -> Obj:
    if ino is None:
        return Obj(op, 0, 0, 0, 0, 0, 0, 0, dir_ino=dir_ino, dir_dev=DEV, name=name)
    return Obj(op, HAS_INODE, ino, DEV, mode, 0, 0, 0, dir_ino=dir_ino, dir_dev=DEV, name=name)


def printed(call: str, paths: Sequence[Optional[str]], objs: Sequence[Obj], cwd: Optional[str] = "/T/sub",
            slots: Optional[Sequence[int]] = None, **kw) -> List[str]:
    items = path_items(call, A, paths, range(len(paths)) if slots is None else slots, objs, cwd, **kw)
    return [path_record(i, item) for i, item in enumerate(items)]


CAPS = " cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"


def line(i: int, name: str, nametype: str, ino: Optional[int] = None, mode: int = FILE) -> str:
    attrs = f" inode={ino} dev=fe:00 mode=0{mode:o} ouid=0 ogid=0 rdev=00:00" if ino is not None else ""
    return f"item={i} name={name}{attrs} nametype={nametype}{CAPS}"


def test_the_kernels_own_lines():
    item = PathItem("/tmp/x/work/", 2146676, DEV, DIR, 0, 0, 0, "PARENT")
    assert path_record(0, item) == (
        'item=0 name="/tmp/x/work/" inode=2146676 dev=fe:00 mode=040755 ouid=0 ogid=0 rdev=00:00 '
        "nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0")
    assert path_record(0, PathItem("/nonexistent/x")) == (
        'item=0 name="/nonexistent/x" nametype=UNKNOWN cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0')
    assert path_record(1, PathItem(None, 5, 259 << 20 | 3, 0o20620, 0, 5, 136 << 20 | 1, "NORMAL")) == (
        "item=1 name=(null) inode=5 dev=103:03 mode=020620 ouid=0 ogid=5 rdev=88:01 nametype=NORMAL" + CAPS)


@pytest.mark.parametrize("path,n", [("", 0), ("x", 0), ("/", 1), ("/x", 1), ("a/b", 2), ("a/b/", 2),
                                    ("../x", 3), ("/tmp/foo/", 5), ("//x//", 2), ("sub/", 0)])
def test_parent_len_is_the_kernels(path, n):
    assert parent_len(path) == n


def test_dname_matching_with_and_without_the_trailing_slash_fix():
    assert dname_matches("x", "../x", 3) and dname_matches("x", "x", 0) and dname_matches("x", "a/x", -1)
    assert not dname_matches("x", "../y", 3)
    assert dname_matches("foo", "/tmp/foo/", 5, slash_fix=True)
    assert not dname_matches("foo", "/tmp/foo/", 5, slash_fix=False)


def test_open_of_an_existing_file_is_one_normal_item():
    assert printed("openat", ["/etc/passwd"], [inode(A[1], 42)]) == [line(0, '"/etc/passwd"', "NORMAL", 42)]


def test_the_one_name_shortcut_agrees_with_the_whole_replay():
    objs = [inode(A[1], 42)]
    quick = path_items("openat", A, ["/etc/passwd"], [0], objs, "/")
    assert quick == names._replay("openat", A, ["/etc/passwd"], [0], objs, "/", False, True)


def test_a_failed_lookup_leaves_the_name_unknown():
    assert printed("openat", ["/nonexistent/x"], []) == [line(0, '"/nonexistent/x"', "UNKNOWN")]
    assert printed("execve", ["/nonexistent/x"], []) == [line(0, '"/nonexistent/x"', "UNKNOWN")]


def test_creat_of_a_new_file_is_its_parent_then_the_created_name():
    objs = [parent(A[0], 10), child(OBJ_CREATE, 10, "x", 11)]
    assert printed("creat", ["sub/x"], objs) == [
        line(0, '"sub/"', "PARENT", 10, DIR), line(1, '"sub/x"', "CREATE", 11)]


def test_open_creat_of_an_existing_file_is_its_parent_then_the_file():
    objs = [parent(A[1], 10), inode(A[1], 11)]
    assert printed("openat", ["/T/x"], objs) == [
        line(0, '"/T/"', "PARENT", 10, DIR), line(1, '"/T/x"', "NORMAL", 11)]


def test_relative_mkdir_prints_the_working_directory_as_its_parent():
    objs = [parent(A[0], 10), child(OBJ_CREATE, 10, "sub", 12, DIR)]
    assert printed("mkdir", ["sub"], objs, cwd="/work/main") == [
        line(0, '"/work/main"', "PARENT", 10, DIR), line(1, '"sub"', "CREATE", 12, DIR)]


def test_a_failed_mkdir_is_its_parent_only():
    assert printed("mkdir", ["sub"], [parent(A[0], 10)], cwd="/work/main") == [
        line(0, '"/work/main"', "PARENT", 10, DIR)]


def test_unlinkat_of_a_name_in_a_descriptors_directory_prints_the_working_directory():
    objs = [parent(A[1], 20), child(OBJ_DELETE, 20, "b", 21)]
    assert printed("unlinkat", ["b"], objs, cwd="/work/main") == [
        line(0, '"/work/main"', "PARENT", 20, DIR), line(1, '"b"', "DELETE", 21)]


def test_unlink_without_a_working_directory_prints_null():
    objs = [parent(A[0], 20), child(OBJ_DELETE, 20, "b", 21)]
    assert printed("unlink", ["b"], objs, cwd=None)[0] == line(0, "(null)", "PARENT", 20, DIR)


def test_rename_copies_the_new_name_first_and_looks_up_the_old_parent_first():
    # rename("x", "../x") in /T/sub: filename_parentat(old), filename_parentat(new),
    # may_delete(old) and fsnotify_move() (create in the new directory)
    objs = [parent(A[0], 30), parent(A[1], 31), child(OBJ_DELETE, 30, "x", 32), child(OBJ_CREATE, 31, "x", 32)]
    assert printed("rename", ["x", "../x"], objs, cwd="/T/sub") == [
        line(0, '"../"', "PARENT", 31, DIR), line(1, '"/T/sub"', "PARENT", 30, DIR),
        line(2, '"x"', "DELETE", 32), line(3, '"../x"', "CREATE", 32)]


def test_renameat2_uses_the_same_order_through_its_slots():
    objs = [parent(A[1], 30), parent(A[3], 31)]
    assert printed("renameat2", ["x", "../x"], objs, cwd="/T/sub") == [
        line(0, '"../"', "PARENT", 31, DIR), line(1, '"/T/sub"', "PARENT", 30, DIR)]


def test_a_failed_rename_is_the_two_parents_only():
    objs = [parent(A[0], 30), parent(A[1], 31)]
    assert printed("rename", ["x", "../x"], objs, cwd="/T/sub") == [
        line(0, '"../"', "PARENT", 31, DIR), line(1, '"/T/sub"', "PARENT", 30, DIR)]


def test_a_rename_whose_old_parent_lookup_failed_keeps_both_names_in_getname_order():
    assert printed("rename", ["/a/x", "/b/y"], []) == [line(0, '"/b/y"', "UNKNOWN"), line(1, '"/a/x"', "UNKNOWN")]


def test_symlink_leaves_the_target_unknown_between_parent_and_link():
    objs = [parent(A[1], 40), child(OBJ_CREATE, 40, "lnk", 41, 0o120777)]
    assert printed("symlink", ["target", "lnk"], objs, cwd="/w") == [
        line(0, '"/w"', "PARENT", 40, DIR), line(1, '"target"', "UNKNOWN"), line(2, '"lnk"', "CREATE", 41, 0o120777)]


def test_exec_is_the_program_then_the_loader():
    objs = [inode(A[0], 50, 0o100755), kname("/lib64/ld-linux-x86-64.so.2", 51, mode=0o100755)]
    assert printed("execve", ["/bin/true"], objs) == [
        line(0, '"/bin/true"', "NORMAL", 50, 0o100755),
        line(1, '"/lib64/ld-linux-x86-64.so.2"', "NORMAL", 51, 0o100755)]


def test_exec_of_a_script_is_the_script_its_interpreter_and_the_loader():
    objs = [inode(A[0], 50), kname("/bin/sh", 52, mode=0o100755), kname("/lib64/ld-linux-x86-64.so.2", 51)]
    assert [x.split(" inode=")[0] for x in printed("execve", ["./s.sh"], objs)] == [
        'item=0 name="./s.sh"', 'item=1 name="/bin/sh"', 'item=2 name="/lib64/ld-linux-x86-64.so.2"']
    assert all("nametype=NORMAL" in x for x in printed("execve", ["./s.sh"], objs))


def test_a_unix_socket_path_is_claimed_by_its_own_lookup():
    got = printed("connect", ["/run/s.sock"], [kname("/run/s.sock", 60, mode=0o140777)], slots=[PATH_SUN])
    assert got == [line(0, '"/run/s.sock"', "NORMAL", 60, 0o140777)]
    assert printed("connect", ["/run/none"], [], slots=[PATH_SUN]) == [line(0, '"/run/none"', "UNKNOWN")]


def test_binding_a_unix_socket_is_its_parent_then_the_created_socket():
    objs = [kname("/tmp/s", 61, op=OBJ_PARENT, mode=DIR), child(OBJ_CREATE, 61, "s", 62, 0o140755)]
    assert printed("bind", ["/tmp/s"], objs, slots=[PATH_SUN]) == [
        line(0, '"/tmp/"', "PARENT", 61, DIR), line(1, '"/tmp/s"', "CREATE", 62, 0o140755)]


def test_a_trailing_slash_matches_only_on_kernels_that_strip_it():
    # rm -r /tmp/foo/: unlinkat(AT_FDCWD, "/tmp/foo/", AT_REMOVEDIR)
    objs = [parent(A[1], 70), child(OBJ_DELETE, 70, "foo", 71, DIR)]
    assert printed("unlinkat", ["/tmp/foo/"], objs, slash_fix=True) == [
        line(0, '"/tmp/"', "PARENT", 70, DIR), line(1, '"/tmp/foo/"', "DELETE", 71, DIR)]
    # before: an anonymous parent and child (linux-audit/audit-kernel#148)
    assert printed("unlinkat", ["/tmp/foo/"], objs, slash_fix=False) == [
        line(0, '"/tmp/"', "PARENT", 70, DIR), line(1, "(null)", "PARENT", 70, DIR),
        line(2, "(null)", "DELETE", 71, DIR)]


def test_a_child_never_made_has_no_inode():
    objs = [parent(A[1], 80), child(OBJ_CREATE, 80, "x", None)]
    assert printed("openat", ["x"], objs, cwd="/w") == [line(0, '"/w"', "PARENT", 80, DIR), line(1, '"x"', "CREATE")]


def test_an_i386_call_matches_32_bit_pointers():
    args = [0xF7F00010, 0, 0, 0, 0, 0]
    got = path_items("open", args, ["/etc/hosts"], [0], [inode(0xF7F00010, 9)], "/", compat=True)
    assert got == [PathItem("/etc/hosts", 9, DEV, FILE, 0, 0, 0, "NORMAL")]


def test_mounts_device_name_is_no_entry_of_its_own():
    objs = [inode(A[1], 90, DIR)]
    assert printed("mount", ["tmpfs", "/mnt"], objs) == [line(0, '"/mnt"', "NORMAL", 90, DIR)]


def test_a_lookup_of_a_name_bpf_did_not_read_still_makes_an_entry():
    got = path_items("openat", A, [None], [0], [inode(A[1], 42)], "/")
    assert got == [PathItem(None, 42, DEV, FILE, 0, 0, 0, "NORMAL")]
    got = path_items("openat", A, [], [], [inode(A[1], 42)], "/")
    assert got == [PathItem(None, 42, DEV, FILE, 0, 0, 0, "NORMAL")]


def test_call_names_of_newer_syscalls_are_found():
    assert names.call_name("452") == "fchmodat2" and names.call_name("openat") == "openat"


@pytest.mark.parametrize("release,fixed", [("6.1.0-56-amd64", False), ("6.13.2", False), ("6.14.0", True),
                                           ("6.18.44-fc-v1272", True), ("7.0", True), ("weird", True)])
def test_the_trailing_slash_fix_goes_by_release(release, fixed):
    assert names.kernel_fixes_trailing_slash(release) is fixed
