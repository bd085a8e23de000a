"""Where each condition is decided: in BPF, in user space (exactly or approximately), or not at all."""

from __future__ import annotations

from typing import Optional

from tracer.capture.layout import layout
from tracer.rules.model import Cond

# BA_F_* of bpf/rules.h: the kernel's AUDIT_* numbers BPF compares as u32
BPF_TYPES = frozenset(v for k, v in layout().consts.items() if k.startswith("BA_F_"))
KERNEL, USER, APPROX, UNSUPPORTED = "in-kernel", "user-space", "approximate", "unsupported"

_UNSUPPORTED = {
    "subj_user": "SELinux subject context is not available to bpfaudit",
    "subj_role": "SELinux subject context is not available to bpfaudit",
    "subj_type": "SELinux subject context is not available to bpfaudit",
    "subj_sen": "SELinux subject context is not available to bpfaudit",
    "subj_clr": "SELinux subject context is not available to bpfaudit",
    "obj_user": "SELinux object context is not available to bpfaudit",
    "obj_role": "SELinux object context is not available to bpfaudit",
    "obj_type": "SELinux object context is not available to bpfaudit",
    "obj_lev_low": "SELinux object context is not available to bpfaudit",
    "obj_lev_high": "SELinux object context is not available to bpfaudit",
    "obj_uid": "needs the inode owner of the syscall's paths, which bpfaudit does not record",
    "obj_gid": "needs the inode group of the syscall's paths, which bpfaudit does not record",
    "devmajor": "needs the device of the syscall's paths, which bpfaudit does not record",
    "devminor": "needs the device of the syscall's paths, which bpfaudit does not record",
    "inode": "needs the inode of the syscall's paths, which bpfaudit does not record",
    "filetype": "needs the file type of the syscall's paths, which bpfaudit does not record",
    "saddr_fam": "needs the socket address of the syscall, which bpfaudit does not record",
    "msgtype": "applies to the user and exclude lists only",
    "fstype": "applies to the filesystem list only",
}
_APPROX = {
    "path": "matched by inode on open/exec/chdir, by name elsewhere; the kernel matches the inode",
    "dir": "matched by path prefix; the kernel matches the inode tree",
    "perm": "openat2's open mode is not read, assumed to match",
}


def classify(c: Cond) -> tuple:
    """(KERNEL|USER|APPROX|UNSUPPORTED, why-or-None) for one condition."""
    if c.type in BPF_TYPES:
        return KERNEL, None
    if c.name == "field_compare":
        if "obj_" in (c.text or ""):
            return UNSUPPORTED, "-C with obj_uid/obj_gid needs the inode owner of the syscall's paths"
        return USER, None
    if c.name == "exe":
        return USER, None
    if c.name == "perm" and not c.value & 6:
        return USER, None  # x and a: the syscall classes are the kernel's, exact
    if c.name in _APPROX:
        return APPROX, _APPROX[c.name]
    return UNSUPPORTED, _UNSUPPORTED.get(c.name, f"field {c.name} is not evaluated by bpfaudit")


def cond_label(c: Cond) -> str:
    """The short name lint shows: the field, or `-C left,right`."""
    return f"-C {c.text.replace(',', '/')}" if c.name == "field_compare" and c.text else c.name


def unsupported_reason(c: Cond) -> Optional[str]:
    kind, why = classify(c)
    return why if kind == UNSUPPORTED else None
