"""Reads the running kernel's BTF (/sys/kernel/btf/vmlinux) to find the byte
offsets of the kernel struct fields the BPF programs read, so that records
never depend on the layout of whatever header tree bcc compiled against."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

from tracer.errors import BpfauditError

VMLINUX_BTF = "/sys/kernel/btf/vmlinux"
BTF_MAGIC = 0xEB9F

# kinds (include/uapi/linux/btf.h)
INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT = range(1, 12)
FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = range(12, 20)

# bytes that follow struct btf_type, per kind: (fixed, per vlen entry)
_TRAILER = {
    INT: (4, 0), ARRAY: (12, 0), STRUCT: (0, 12), UNION: (0, 12), ENUM: (0, 8),
    FUNC_PROTO: (0, 8), VAR: (4, 0), DATASEC: (0, 12), DECL_TAG: (4, 0), ENUM64: (0, 12),
}
_QUALIFIERS = (TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG)


@dataclass
class BtfType:
    kind: int
    name: str
    size_or_type: int
    kind_flag: bool
    members: List[Tuple[str, int, int, int]]  # (name, type id, bit offset, bitfield bits) for STRUCT/UNION
    array: Optional[Tuple[int, int]] = None  # (element type id, nelems)


class Btf:
    """A parsed BTF blob: enough of it to resolve struct member offsets."""

    def __init__(self, blob: bytes):
        if len(blob) < 24:
            raise BpfauditError("BTF blob too short")
        magic, version, flags, hdr_len = struct.unpack_from("<HBBI", blob, 0)
        if magic != BTF_MAGIC:
            raise BpfauditError(f"not a BTF blob (magic {magic:#x}); is {VMLINUX_BTF} readable?")
        type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", blob, 8)
        self._strings = blob[hdr_len + str_off : hdr_len + str_off + str_len]
        self.types: List[Optional[BtfType]] = [None]  # ids start at 1
        self._by_name: Dict[Tuple[int, str], List[int]] = {}
        self._parse_types(blob[hdr_len + type_off : hdr_len + type_off + type_len])

    def _str(self, off: int) -> str:
        end = self._strings.index(b"\0", off)
        return self._strings[off:end].decode()

    def _parse_types(self, data: bytes) -> None:
        pos = 0
        while pos < len(data):
            name_off, info, size_or_type = struct.unpack_from("<III", data, pos)
            pos += 12
            vlen = info & 0xFFFF
            kind = (info >> 24) & 0x1F
            kind_flag = bool(info >> 31)
            fixed, per = _TRAILER.get(kind, (0, 0))
            members: List[Tuple[str, int, int, int]] = []
            array = None
            if kind in (STRUCT, UNION):
                for i in range(vlen):
                    m_name, m_type, m_off = struct.unpack_from("<III", data, pos + 12 * i)
                    # kind_flag: the top byte is the bitfield width (0: not a bitfield)
                    bit_off, bits = (m_off & 0xFFFFFF, m_off >> 24) if kind_flag else (m_off, 0)
                    members.append((self._str(m_name), m_type, bit_off, bits))
            elif kind == ARRAY:
                elem, _index, nelems = struct.unpack_from("<III", data, pos)
                array = (elem, nelems)
            pos += fixed + per * vlen
            t = BtfType(kind, self._str(name_off), size_or_type, kind_flag, members, array)
            self.types.append(t)
            if t.name:
                self._by_name.setdefault((kind, t.name), []).append(len(self.types) - 1)

    def find(self, kind: int, name: str) -> int:
        ids = self._by_name.get((kind, name))
        if not ids:
            raise KeyError(name)
        return ids[0]

    def resolve(self, type_id: int) -> int:
        """Skips typedefs and qualifiers."""
        while self.types[type_id].kind in _QUALIFIERS:
            type_id = self.types[type_id].size_or_type
        return type_id

    def size_of(self, type_id: int) -> int:
        t = self.types[self.resolve(type_id)]
        if t.kind == PTR:
            return 8
        if t.kind == ARRAY:
            elem, n = t.array
            return self.size_of(elem) * n
        return t.size_or_type

    def _members(self, type_id: int, base_bits: int = 0) -> Iterator[Tuple[str, int, int, int]]:
        """Named members, with anonymous struct/union members flattened in."""
        for name, m_type, bit_off, bitfield in self.types[type_id].members:
            if name:
                yield name, m_type, base_bits + bit_off, bitfield
            else:
                inner = self.resolve(m_type)
                if self.types[inner].kind in (STRUCT, UNION):
                    yield from self._members(inner, base_bits + bit_off)

    def member_offset(self, struct_name: str, path: str) -> Tuple[int, int]:
        """Byte offset and size of `path` ("loginuid.val") within struct `struct_name`."""
        try:
            type_id = self.find(STRUCT, struct_name)
        except KeyError:
            raise BpfauditError(f"struct {struct_name} not in the kernel's BTF") from None
        bits = 0
        for part in path.split("."):
            t = self.types[self.resolve(type_id)]
            if t.kind not in (STRUCT, UNION):
                raise BpfauditError(f"{struct_name}.{path}: {part!r} is not inside a struct")
            for name, m_type, bit_off, bitfield in self._members(self.resolve(type_id)):
                if name == part:
                    if bitfield:
                        raise BpfauditError(f"{struct_name}.{path} is a bitfield")
                    bits += bit_off
                    type_id = m_type
                    break
            else:
                raise BpfauditError(f"{struct_name} has no member {path!r} in the kernel's BTF")
        if bits % 8:
            raise BpfauditError(f"{struct_name}.{path} is a bitfield")
        return bits // 8, self.size_of(type_id)


# The kernel struct fields the BPF programs read: macro name -> (struct, member path).
KERNEL_FIELDS: Dict[str, Tuple[str, str]] = {
    "TASK_TGID": ("task_struct", "tgid"),
    "TASK_REAL_PARENT": ("task_struct", "real_parent"),
    "TASK_LOGINUID": ("task_struct", "loginuid.val"),
    "TASK_SESSIONID": ("task_struct", "sessionid"),
    "TASK_PERSONALITY": ("task_struct", "personality"),
    "TASK_CRED": ("task_struct", "cred"),
    "TASK_SIGNAL": ("task_struct", "signal"),
    "TASK_TI_STATUS": ("task_struct", "thread_info.status"),
    "TASK_COMM": ("task_struct", "comm"),
    "CRED_UID": ("cred", "uid.val"),
    "CRED_GID": ("cred", "gid.val"),
    "CRED_SUID": ("cred", "suid.val"),
    "CRED_SGID": ("cred", "sgid.val"),
    "CRED_EUID": ("cred", "euid.val"),
    "CRED_EGID": ("cred", "egid.val"),
    "CRED_FSUID": ("cred", "fsuid.val"),
    "CRED_FSGID": ("cred", "fsgid.val"),
    "SIGNAL_TTY": ("signal_struct", "tty"),
    "TTY_NAME": ("tty_struct", "name"),
    # exe and cwd: d_path() by a dentry walk (bpf/dpath.h); PROCTITLE and EXECVE: the argument area
    "TASK_MM": ("task_struct", "mm"),
    "TASK_FS": ("task_struct", "fs"),
    "MM_EXE_FILE": ("mm_struct", "exe_file"),
    "MM_ARG_START": ("mm_struct", "arg_start"),
    "MM_ARG_END": ("mm_struct", "arg_end"),
    "FILE_F_PATH": ("file", "f_path"),
    "FS_PWD": ("fs_struct", "pwd"),
    "FS_ROOT": ("fs_struct", "root"),
    "PATH_MNT": ("path", "mnt"),
    "PATH_DENTRY": ("path", "dentry"),
    "DENTRY_D_PARENT": ("dentry", "d_parent"),
    "DENTRY_D_NAME_LEN": ("dentry", "d_name.len"),
    "DENTRY_D_NAME_HASH": ("dentry", "d_name.hash"),
    "DENTRY_D_NAME_NAME": ("dentry", "d_name.name"),
    "VFSMOUNT_MNT_ROOT": ("vfsmount", "mnt_root"),
    "MOUNT_MNT": ("mount", "mnt"),
    "MOUNT_MNT_PARENT": ("mount", "mnt_parent"),
    "MOUNT_MNT_MOUNTPOINT": ("mount", "mnt_mountpoint"),
    # an exec's own name and argc (bpf/exec.h)
    "BPRM_FILENAME": ("linux_binprm", "filename"),
    "BPRM_ARGC": ("linux_binprm", "argc"),
    # the objects a call's lookups reach (bpf/objects.h): kernel audit's PATH attributes
    "BPRM_FILE": ("linux_binprm", "file"),
    "BPRM_INTERP": ("linux_binprm", "interp"),
    "FILENAME_NAME": ("filename", "name"),
    "FILENAME_UPTR": ("filename", "uptr"),
    "OPEN_FLAGS_OPEN_FLAG": ("open_flags", "open_flag"),
    "VFSCAP_MAGIC_ETC": ("cpu_vfs_cap_data", "magic_etc"),
    "VFSCAP_ROOTID": ("cpu_vfs_cap_data", "rootid.val"),
    "VFSCAP_PERMITTED": ("cpu_vfs_cap_data", "permitted"),
    "VFSCAP_INHERITABLE": ("cpu_vfs_cap_data", "inheritable"),
    "MM_SAVED_AUXV": ("mm_struct", "saved_auxv"),
    "TASK_FILES": ("task_struct", "files"),
    "FILES_FDT": ("files_struct", "fdt"),
    "FDTABLE_MAX_FDS": ("fdtable", "max_fds"),
    "FDTABLE_FD": ("fdtable", "fd"),
    "DENTRY_D_INODE": ("dentry", "d_inode"),
    "INODE_I_INO": ("inode", "i_ino"),
    "INODE_I_SB": ("inode", "i_sb"),
    "INODE_I_MODE": ("inode", "i_mode"),
    "INODE_I_UID": ("inode", "i_uid.val"),
    "INODE_I_GID": ("inode", "i_gid.val"),
    "INODE_I_RDEV": ("inode", "i_rdev"),
    "SB_S_DEV": ("super_block", "s_dev"),
    "FILE_F_MODE": ("file", "f_mode"),
    # an exec's capability sets (BPRM_FCAPS): the task's and the file's
    "CRED_CAP_INHERITABLE": ("cred", "cap_inheritable"),
    "CRED_CAP_PERMITTED": ("cred", "cap_permitted"),
    "CRED_CAP_EFFECTIVE": ("cred", "cap_effective"),
    "CRED_CAP_AMBIENT": ("cred", "cap_ambient"),
    "CRED_SECUREBITS": ("cred", "securebits"),
    # raw tracepoints get the registers: x86-64 arguments di si dx r10 r8 r9, ia32 bx cx dx si di bp
    "PT_REGS_DI": ("pt_regs", "di"),
    "PT_REGS_SI": ("pt_regs", "si"),
    "PT_REGS_DX": ("pt_regs", "dx"),
    "PT_REGS_R10": ("pt_regs", "r10"),
    "PT_REGS_R8": ("pt_regs", "r8"),
    "PT_REGS_R9": ("pt_regs", "r9"),
    "PT_REGS_BX": ("pt_regs", "bx"),
    "PT_REGS_CX": ("pt_regs", "cx"),
    "PT_REGS_BP": ("pt_regs", "bp"),
}
PT_REGS = tuple(m for m in KERNEL_FIELDS if m.startswith("PT_REGS_"))
# Expected sizes: a field of another width means a kernel we do not understand.
_SIZES = {"TASK_REAL_PARENT": 8, "TASK_CRED": 8, "TASK_SIGNAL": 8, "SIGNAL_TTY": 8, **{m: 8 for m in PT_REGS},
          **{m: 8 for m in ("TASK_MM", "TASK_FS", "MM_EXE_FILE", "MM_ARG_START", "MM_ARG_END", "PATH_MNT",
                            "PATH_DENTRY", "DENTRY_D_PARENT", "DENTRY_D_NAME_NAME",
                            "VFSMOUNT_MNT_ROOT", "MOUNT_MNT_PARENT", "MOUNT_MNT_MOUNTPOINT", "BPRM_FILENAME",
                            "BPRM_FILE", "BPRM_INTERP", "FILENAME_NAME", "FILENAME_UPTR", "DENTRY_D_INODE", "INODE_I_INO", "INODE_I_SB",
                            "CRED_CAP_INHERITABLE", "CRED_CAP_PERMITTED", "CRED_CAP_EFFECTIVE",
                            "CRED_CAP_AMBIENT", "TASK_FILES", "FILES_FDT", "FDTABLE_FD")},
          "INODE_I_MODE": 2}
# embedded structs and arrays the programs only add a member's offset to (or copy a size of their own)
_ANY_SIZE = {"MOUNT_MNT", "FILE_F_PATH", "FS_PWD", "FS_ROOT", "MM_SAVED_AUXV", "VFSCAP_PERMITTED",
             "VFSCAP_INHERITABLE"}
# Name buffers the programs copy the first 16 bytes of, as two 8-byte loads: at least that long.
_MIN_SIZES = {"TASK_COMM": 16, "TTY_NAME": 16}


def kernel_offsets(btf: Btf) -> Dict[str, int]:
    """Offsets of KERNEL_FIELDS, checked for the sizes the programs assume."""
    out: Dict[str, int] = {}
    for macro, (struct_name, path) in KERNEL_FIELDS.items():
        off, size = btf.member_offset(struct_name, path)
        if macro in _ANY_SIZE:
            pass
        elif macro in _MIN_SIZES:
            if size < _MIN_SIZES[macro]:
                raise BpfauditError(f"{struct_name}.{path} is {size} bytes in this kernel, expected at least "
                                    f"{_MIN_SIZES[macro]}")
        elif size != _SIZES.get(macro, 4):
            raise BpfauditError(f"{struct_name}.{path} is {size} bytes in this kernel, expected {_SIZES.get(macro, 4)}")
        out[macro] = off
    return out


# Kernel functions bpf/objects.h follows (fentry/fexit) where the kernel allows BPF
# trampolines, to see what kernel audit's audit_inode()/audit_inode_child() see.
HOOK_FUNCTIONS = (
    "filename_lookup", "__filename_parentat", "do_filp_open", "may_delete",
    "security_inode_create", "security_inode_mkdir", "security_inode_mknod", "security_inode_symlink",
    "security_inode_link", "security_inode_rename", "get_vfs_caps_from_disk",
)


def kernel_hooks(btf: Btf) -> Tuple[str, ...]:
    """HOOK_FUNCTIONS this kernel's BTF has (fentry/fexit attach to a function by its BTF)."""
    found = []
    for name in HOOK_FUNCTIONS:
        try:
            btf.find(FUNC, name)
        except KeyError:
            continue
        found.append(name)
    return tuple(found)


def regs_span(offsets: Dict[str, int]) -> Tuple[int, int]:
    """(first offset, 8-byte words): the part of pt_regs holding every argument register, read in one go."""
    lo = min(offsets[m] for m in PT_REGS)
    hi = max(offsets[m] for m in PT_REGS) + 8
    return lo, (hi - lo) // 8


def dentry_span(offsets: Dict[str, int]) -> Tuple[int, int]:
    """(first offset, bytes): the part of struct dentry holding d_parent and d_name, read in one go
    by each step of the dentry walk."""
    fields = {"DENTRY_D_PARENT": 8, "DENTRY_D_NAME_LEN": 4, "DENTRY_D_NAME_NAME": 8}
    lo = min(offsets[m] for m in fields)
    hi = max(offsets[m] + size for m, size in fields.items())
    if hi - lo > 64:
        raise BpfauditError(f"struct dentry: d_parent and d_name are {hi - lo} bytes apart in this kernel, "
                            "expected them close together")
    return lo, hi - lo


def load_vmlinux_btf(path: str = "") -> Btf:
    # BPFAUDIT_BTF: another BTF file (tests use it to show the no-BTF error)
    path = path or os.environ.get("BPFAUDIT_BTF", VMLINUX_BTF)
    try:
        with open(path, "rb") as f:
            return Btf(f.read())
    except FileNotFoundError:
        raise BpfauditError(
            f"{path} not found: this kernel has no BTF; bpfaudit needs CONFIG_DEBUG_INFO_BTF=y "
            "to read kernel structs at the right offsets"
        ) from None
    except PermissionError:
        raise BpfauditError(f"cannot read {path}: run as root (sudo)") from None
