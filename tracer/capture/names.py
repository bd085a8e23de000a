"""Kernel audit's names list (kernel/auditsc.c), replayed in Python over what BPF saw: the
call's names as passed (PATH items) and, in the kernel's order, the bookkeeping calls kernel
audit made for them (OBJ items). The result is kernel audit's PATH records: how many, in what
order, each one's nametype, the name it prints and its inode."""

from __future__ import annotations

import os
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from tracer.capture.events import PathItem
from tracer.capture.layout import layout
from tracer.syscall_meta import PATH_ARGS
from tracer.syscall_table import NEWER_SYSCALLS

_L = layout()
OBJ_INODE, OBJ_PARENT = _L.BA_OBJ_INODE, _L.BA_OBJ_PARENT
OBJ_CREATE, OBJ_DELETE = _L.BA_OBJ_CREATE, _L.BA_OBJ_DELETE
HAS_INODE, KNAME = _L.BA_OBJ_HAS_INODE, _L.BA_OBJ_KNAME
PATH_SUN = _L.BA_PATH_SUN

NAME_FULL = -1  # AUDIT_NAME_FULL: the entry prints its whole name
UNKNOWN, NORMAL, PARENT, CREATE, DELETE = "UNKNOWN", "NORMAL", "PARENT", "CREATE", "DELETE"
_CHILD_TYPE = {OBJ_CREATE: CREATE, OBJ_DELETE: DELETE}

# The order in which getname() copies a call's names, as slots (indexes into PATH_ARGS[call]),
# where it is not the slots' own order. fs/namei.c's wrappers (6.1 to 6.18) call getname() in
# argument lists, e.g. do_renameat2(olddfd, getname(oldname), newdfd, getname(newname), flags),
# which GCC on x86-64 evaluates right to left: the new name is copied first. (Later kernels
# copy them in statement order: Al Viro's CLASS(filename, ...) series of 2026.)
# mount's device name is copied by copy_mount_string(), not getname(): it is no entry unless
# a lookup of it makes one as a kernel name (OBJ item with BA_OBJ_KNAME).
# Calls not listed copy each name in slot order (one name, or user_path_at() one after the other).
GETNAME_ORDER: Dict[str, Tuple[int, ...]] = {
    "rename": (1, 0), "renameat": (1, 0), "renameat2": (1, 0),
    "link": (1, 0), "linkat": (1, 0),
    "symlink": (1, 0), "symlinkat": (1, 0),
    "mount": (1,),
}

_NEWER_BY_NR = {str(nr): name for name, nr in NEWER_SYSCALLS.items()}


class Obj(NamedTuple):
    """One OBJ item (struct ba_obj and the name after it)."""

    op: int  # BA_OBJ_INODE, _PARENT, _CREATE, _DELETE
    flags: int  # BA_OBJ_HAS_INODE, BA_OBJ_KNAME
    ino: int
    dev: int
    mode: int
    uid: int
    gid: int
    rdev: int
    uptr: int = 0  # INODE/PARENT: the caller's pointer the name came from (0: no name)
    dir_ino: int = 0  # CREATE/DELETE: the directory
    dir_dev: int = 0
    name: Optional[str] = None  # KNAME: the kernel's name; CREATE/DELETE: the child's d_name


class _Entry:
    """A struct audit_names: `name` is the text of its struct filename (None: no name)."""

    __slots__ = ("name", "name_len", "type", "ino", "dev", "mode", "uid", "gid", "rdev")

    def __init__(self, name: Optional[str], type_: str = UNKNOWN):
        self.name = name
        self.name_len = NAME_FULL
        self.type = type_
        self.ino: Optional[int] = None  # AUDIT_INO_UNSET
        self.dev = self.mode = self.uid = self.gid = self.rdev = None

    def copy_inode(self, ino: int, dev: int, attrs: Optional[Tuple[int, int, int, int]]) -> None:
        self.ino, self.dev = ino, dev
        self.mode, self.uid, self.gid, self.rdev = attrs if attrs is not None else (None, None, None, None)


def parent_len(path: str) -> int:
    """kernel/auditfilter.c parent_len(): the length of `path` up to and including the slash
    before its last component (trailing slashes disregarded); 0 when it has no directory part.
    On str: '/' is one byte and one character whatever else the name holds."""
    n = len(path)
    if n == 0:
        return 0
    p = n - 1
    while path[p] == "/" and p > 0:
        p -= 1
    while path[p] != "/" and p > 0:
        p -= 1
    return p + 1 if path[p] == "/" else p


def dname_matches(dname: str, path: str, parentlen: int, slash_fix: bool = True) -> bool:
    """not audit_compare_dname_path(): whether the child `dname` is the last component of
    `path`, whose directory part is `parentlen` long (NAME_FULL: computed). With `slash_fix`
    trailing slashes of the path are ignored (commit "audit: fix suffixed '/' filename
    matching", Linux 6.14); before it "dir/" never matched "dir"."""
    if parentlen == NAME_FULL:
        parentlen = parent_len(path)
    rest = path[parentlen:]
    if slash_fix:
        rest = rest.rstrip("/")
    return rest == dname


def kernel_fixes_trailing_slash(release: Optional[str] = None) -> bool:
    """Whether the kernel matches a child against a name with trailing slashes (see
    dname_matches). No feature shows it: the release number is all there is to go by."""
    release = os.uname().release if release is None else release
    try:
        major, minor = (int(x) for x in release.split("-", 1)[0].split(".")[:2])
    except ValueError:
        return True
    return (major, minor) >= (6, 14)


def call_name(syscall_name: str) -> str:
    """The name PATH_ARGS knows a call by (calls libaudit cannot name are numbers)."""
    return _NEWER_BY_NR.get(syscall_name, syscall_name) if syscall_name.isdigit() else syscall_name


def path_items(call: str, args: Sequence[int], paths: Sequence[Optional[str]], slots: Sequence[int],
               objs: Sequence[Obj], cwd: Optional[str], compat: bool = False,
               slash_fix: bool = True) -> List[PathItem]:
    """Kernel audit's PATH items of one call.

    `call`: the syscall's name (call_name()); `args`: a0..a5; `paths`/`slots`: the PATH items'
    names as passed (None: unreadable) and their aux (slot, or BA_PATH_SUN); `objs`: the OBJ
    items in order; `cwd`: the working directory, which an item whose directory part is empty
    prints; `compat`: an i386 call (32-bit pointers)."""
    if not objs:
        if not paths:
            return []
        if len(paths) == 1 and slots[0] != PATH_SUN and call not in GETNAME_ORDER:
            return [PathItem(paths[0])]
    elif len(objs) == 1 and len(paths) == 1 and call not in GETNAME_ORDER:
        # the common case: one name and its lookup (an open, a stat, an access)
        o, slot = objs[0], slots[0]
        arg = PATH_ARGS.get(call, ())
        if (o.op == OBJ_INODE and o.flags == HAS_INODE and slot < len(arg) and o.uptr
                and args[arg[slot]] & (0xFFFFFFFF if compat else ~0) == o.uptr):
            return [PathItem(paths[0], o.ino, o.dev, o.mode, o.uid, o.gid, o.rdev, NORMAL)]
    return _replay(call, args, paths, slots, objs, cwd, compat, slash_fix)


def _replay(call, args, paths, slots, objs, cwd, compat, slash_fix) -> List[PathItem]:
    names: List[_Entry] = []
    # __audit_getname() of each name the call copied from the caller, in the kernel's order
    by_slot = {slot: text for text, slot in zip(paths, slots) if slot != PATH_SUN}
    by_slot_entry: Dict[int, _Entry] = {}
    for slot in GETNAME_ORDER.get(call) or sorted(by_slot):
        if slot in by_slot:
            by_slot_entry[slot] = entry = _Entry(by_slot[slot])
            names.append(entry)
    # a unix socket's path: getname_kernel() of the call's only name, claimed by its lookup
    kernel_names = [_Entry(text) for text, slot in zip(paths, slots) if slot == PATH_SUN]
    names.extend(kernel_names)

    mask = 0xFFFFFFFF if compat else 0xFFFFFFFFFFFFFFFF
    slot_of: Dict[int, int] = {}
    for slot, idx in reversed(list(enumerate(PATH_ARGS.get(call, ())))):  # the lower slot wins a tie
        if slot in by_slot_entry and idx < len(args):
            slot_of[args[idx] & mask] = slot
    # a directory's attributes, for a parent entry kernel audit makes from the directory alone
    attrs = {(o.ino, o.dev): (o.mode, o.uid, o.gid, o.rdev) for o in objs if o.flags & HAS_INODE}

    for o in objs:
        has_inode = bool(o.flags & HAS_INODE)
        if o.op == OBJ_INODE or o.op == OBJ_PARENT:
            _audit_inode(names, o, has_inode, o.op == OBJ_PARENT, by_slot_entry, slot_of, kernel_names, mask)
        elif o.op in _CHILD_TYPE:
            _audit_inode_child(names, o, has_inode, _CHILD_TYPE[o.op], attrs, slash_fix)

    out = []
    for n in names:
        if n.name is None:
            shown = None
        elif n.name_len == NAME_FULL:
            shown = n.name
        elif n.name_len == 0:
            shown = cwd  # a relative name's directory is the working directory
        else:
            shown = n.name[: n.name_len]
        if n.ino is None:
            out.append(PathItem(shown, nametype=n.type))
        else:
            out.append(PathItem(shown, n.ino, n.dev, n.mode, n.uid, n.gid, n.rdev, n.type))
    return out


def _type_fits(n: _Entry, parent: bool) -> bool:
    return n.type in (PARENT, UNKNOWN) if parent else n.type != PARENT


def _audit_inode(names, o: Obj, has_inode: bool, parent: bool, by_slot_entry, slot_of, kernel_names, mask) -> None:
    """__audit_inode(name, dentry, parent ? AUDIT_INODE_PARENT : 0)."""
    if o.flags & KNAME:
        # getname_kernel() made the name just before its lookup, and added it to the list
        aname = next((e for e in kernel_names if e.name == o.name), None)
        if aname is not None:
            kernel_names.remove(aname)
        else:
            aname = _Entry(o.name)
            names.append(aname)
    elif o.uptr:
        slot = slot_of.get(o.uptr & mask)
        if slot is not None:
            aname = by_slot_entry[slot]
        else:  # a name the kernel copied but BPF did not: its entry, without its text
            aname = _Entry(None)
            names.append(aname)
    else:
        aname = None  # no name (__audit_file()): always a new entry
    n = None
    if aname is not None:
        if _type_fits(aname, parent):
            n = aname
        elif has_inode:
            # Reverse search by inode. The kernel compares names only for an entry whose ino is
            # 0, and an entry without an inode holds AUDIT_INO_UNSET, not 0: never by name.
            for e in reversed(names):
                if e.ino is not None and e.ino == o.ino and e.dev == o.dev and _type_fits(e, parent):
                    n = e
                    break
    if n is None:
        n = _Entry(None if aname is None else aname.name)
        names.append(n)
    if parent:
        n.name_len = parent_len(n.name) if n.name is not None else NAME_FULL
        n.type = PARENT
    else:
        n.name_len = NAME_FULL
        n.type = NORMAL
    if has_inode:
        n.copy_inode(o.ino, o.dev, (o.mode, o.uid, o.gid, o.rdev))
    else:
        n.ino = None


def _audit_inode_child(names, o: Obj, has_inode: bool, ctype: str, attrs, slash_fix: bool) -> None:
    """__audit_inode_child(dir, dentry, AUDIT_TYPE_CHILD_CREATE or _DELETE)."""
    dname = o.name or ""
    found_parent = found_child = None
    for n in names:
        if n.name is None:  # only entries with a name match
            continue
        if (found_parent is None and n.type in (PARENT, UNKNOWN) and n.ino is not None
                and n.ino == o.dir_ino and n.dev == o.dir_dev and dname_matches(dname, n.name, n.name_len, slash_fix)):
            n.type = PARENT
            found_parent = n
            if found_child is not None:
                break
            continue
        if found_child is None and n.type in (ctype, UNKNOWN) and (
                dname == n.name or dname_matches(dname, n.name, found_parent.name_len if found_parent else NAME_FULL,
                                                 slash_fix)):
            if n.type == UNKNOWN:
                n.type = ctype
            found_child = n
            if found_parent is not None:
                break
    if found_parent is None:
        anonymous = _Entry(None, PARENT)  # made from the directory alone: no name
        anonymous.copy_inode(o.dir_ino, o.dir_dev, attrs.get((o.dir_ino, o.dir_dev)))
        names.append(anonymous)
    if found_child is None:
        found_child = _Entry(found_parent.name if found_parent is not None else None, ctype)
        names.append(found_child)
    if has_inode:
        found_child.copy_inode(o.ino, o.dev, (o.mode, o.uid, o.gid, o.rdev))
    else:
        found_child.ino = None
