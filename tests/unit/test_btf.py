"""tracer/capture/btf.py on BTF blobs built here by a small encoder (kernel's include/uapi/linux/btf.h)."""

from __future__ import annotations

import os
import struct

import pytest

from tracer.capture import btf as B
from tracer.capture.btf import KERNEL_FIELDS, PT_REGS, Btf, kernel_offsets, load_vmlinux_btf, regs_span
from tracer.errors import BpfauditError


class BtfWriter:
    """Encodes types in order (ids from 1) and a string section; blob() is a BTF file."""

    def __init__(self):
        self.strings = bytearray(b"\0")
        self.types = bytearray()
        self.next_id = 1

    def _s(self, name: str) -> int:
        if not name:
            return 0
        off = len(self.strings)
        self.strings += name.encode() + b"\0"
        return off

    def _type(self, name, kind, vlen, size_or_type, trailer=b"", kind_flag=False) -> int:
        info = (vlen & 0xFFFF) | (kind << 24) | (int(kind_flag) << 31)
        self.types += struct.pack("<III", self._s(name), info, size_or_type) + trailer
        self.next_id += 1
        return self.next_id - 1

    def int_(self, name, size, signed=False):
        encoding = (1 if signed else 0) << 24 | size * 8
        return self._type(name, B.INT, 0, size, struct.pack("<I", encoding))

    def ptr(self, target):
        return self._type("", B.PTR, 0, target)

    def typedef(self, name, target):
        return self._type(name, B.TYPEDEF, 0, target)

    def const(self, target):
        return self._type("", B.CONST, 0, target)

    def array(self, elem, n, index_type=1):
        return self._type("", B.ARRAY, 0, 0, struct.pack("<III", elem, index_type, n))

    def struct(self, name, size, members, union=False, kind_flag=False):
        """members: (name, type id, bit offset[, bitfield size])"""
        trailer = b""
        for m in members:
            m_name, m_type, bit_off = m[:3]
            if kind_flag:
                bit_off |= (m[3] if len(m) > 3 else 0) << 24
            trailer += struct.pack("<III", self._s(m_name), m_type, bit_off)
        return self._type(name, B.UNION if union else B.STRUCT, len(members), size, trailer, kind_flag)

    def func_proto(self, ret, params):
        trailer = b"".join(struct.pack("<II", self._s(n), t) for n, t in params)
        return self._type("", B.FUNC_PROTO, len(params), ret, trailer)

    def blob(self) -> bytes:
        hdr = struct.pack("<HBBIIIII", B.BTF_MAGIC, 1, 0, 24, 0, len(self.types), len(self.types), len(self.strings))
        return hdr + bytes(self.types) + bytes(self.strings)


# byte offsets the synthetic kernel puts its fields at (inputs of the blob, not outputs of btf.py)
TASK = {"thread_info.status": 4, "tgid": 20, "real_parent": 32, "loginuid.val": 40, "sessionid": 44,
        "personality": 48, "cred": 56, "signal": 64, "comm": 72, "mm": 88, "fs": 96, "files": 104}
# the dentry walk's structs (bpf/dpath.h): member -> byte offset
DENTRY = {"d_parent": 24, "d_name.len": 36, "d_name.name": 40}
CRED_BASE = 8


def kernel_blob(cred_order=("uid", "gid", "suid", "sgid", "euid", "egid", "fsuid", "fsgid"),
                sessionid_size=4, bitfield_personality=False, kind_flag_task=False) -> bytes:
    w = BtfWriter()
    u32 = w.int_("unsigned int", 4)
    u64 = w.int_("long unsigned int", 8)
    char = w.int_("char", 1, signed=True)
    uid_t = w.typedef("uid_t", w.typedef("__kernel_uid32_t", u32))
    kuid = w.typedef("kuid_t", w.struct("", 4, [("val", uid_t, 0)]))
    kgid = w.typedef("kgid_t", w.struct("", 4, [("val", u32, 0)]))
    cred_members = [("usage", u32, 0)] + [
        (name, kgid if "g" in name else kuid, (CRED_BASE + 4 * i) * 8) for i, name in enumerate(cred_order)]
    kcap = w.typedef("kernel_cap_t", w.struct("", 8, [("val", u64, 0)]))
    cred_members += [("securebits", u32, 44 * 8)] + [
        (name, kcap, (48 + 8 * i) * 8) for i, name in enumerate(("cap_inheritable", "cap_permitted",
                                                                   "cap_effective", "cap_bset", "cap_ambient"))]
    cred = w.struct("cred", 96, cred_members)
    tty = w.struct("tty_struct", 96, [("magic", u32, 0), ("name", w.array(char, 64), 32 * 8)])
    signal = w.struct("signal_struct", 16, [("tty", w.ptr(tty), 8 * 8)])
    thread_info = w.struct("thread_info", 8, [("flags", u32, 0), ("status", u32, 32)])
    pid_pair = w.struct("", 8, [("pid", u32, 0), ("tgid", u32, 32)])  # anonymous struct in a union
    ids_union = w.struct("", 8, [("both", u64, 0), ("", pid_pair, 0)], union=True)
    const_cred = w.ptr(w.const(cred))
    task_id = w.next_id + 1  # the pointer to task_struct needs its id before it exists
    parent_ptr = w.ptr(task_id)
    assert parent_ptr + 1 == task_id
    sessionid_t = u32 if sessionid_size == 4 else u64
    # exe, cwd and the argument area: struct path {mnt, dentry} in file, fs_struct; d_name a qstr
    # whose hash and len share an anonymous union with hash_len, as in the kernel
    vfsmount = w.struct("vfsmount", 32, [("mnt_root", w.ptr(0), 0)])
    path = w.struct("path", 16, [("mnt", w.ptr(vfsmount), 0), ("dentry", w.ptr(0), 64)])
    file_ = w.struct("file", 64, [("f_inode", w.ptr(0), 0), ("f_mode", u32, 4 * 8), ("f_path", path, 16 * 8)])
    mm = w.struct("mm_struct", 448, [("arg_start", u64, 16 * 8), ("arg_end", u64, 24 * 8),
                                     ("exe_file", w.ptr(file_), 32 * 8), ("saved_auxv", w.array(u64, 50), 40 * 8)])
    # the objects a call reached (bpf/objects.h): descriptor table, inode, super block, mapping
    u16 = w.int_("short unsigned int", 2)
    sb = w.struct("super_block", 32, [("s_list", u64, 0), ("s_dev", u32, 16 * 8)])
    w.struct("inode", 96, [("i_mode", u16, 0), ("i_uid", kuid, 4 * 8), ("i_gid", kgid, 8 * 8),
                           ("i_sb", w.ptr(sb), 40 * 8), ("i_ino", u64, 64 * 8), ("i_rdev", u32, 76 * 8)])
    w.struct("filename", 32, [("name", w.ptr(char), 0), ("uptr", w.ptr(char), 8 * 8)])
    w.struct("open_flags", 20, [("open_flag", u32, 0)])
    w.struct("cpu_vfs_cap_data", 24, [("magic_etc", u32, 0), ("rootid", kuid, 4 * 8), ("permitted", kcap, 8 * 8),
                                      ("inheritable", kcap, 16 * 8)])
    fdtable = w.struct("fdtable", 16, [("max_fds", u32, 0), ("fd", w.ptr(w.ptr(file_)), 8 * 8)])
    files = w.struct("files_struct", 40, [("count", u32, 0), ("fdt", w.ptr(fdtable), 32 * 8)])
    fs = w.struct("fs_struct", 48, [("users", u32, 0), ("root", path, 8 * 8), ("pwd", path, 24 * 8)])
    hash_len = w.struct("", 8, [("hash", u32, 0), ("len", u32, 32)])
    qstr = w.struct("qstr", 16, [("", w.struct("", 8, [("", hash_len, 0), ("hash_len", u64, 0)], union=True), 0),
                                 ("name", w.ptr(char), 64)])
    w.struct("dentry", 64, [("d_flags", u32, 0), ("d_parent", w.ptr(0), DENTRY["d_parent"] * 8),
                            ("d_name", qstr, 32 * 8), ("d_inode", w.ptr(0), 48 * 8)])
    w.struct("mount", 96, [("mnt_parent", w.ptr(0), 16 * 8), ("mnt_mountpoint", w.ptr(0), 24 * 8),
                           ("mnt", vfsmount, 32 * 8)])
    w.struct("linux_binprm", 112, [("file", w.ptr(file_), 64 * 8), ("argc", u32, 88 * 8),
                                   ("filename", w.ptr(char), 96 * 8), ("interp", w.ptr(char), 104 * 8)])
    personality = ("personality", u32, TASK["personality"] * 8 + (3 if bitfield_personality else 0), 3)
    w.struct("task_struct", 112, [
        ("thread_info", thread_info, 0),
        ("state", u32, 8 * 8),
        ("", ids_union, 16 * 8),
        ("real_parent", parent_ptr, TASK["real_parent"] * 8),
        ("loginuid", kuid, TASK["loginuid.val"] * 8),
        ("sessionid", sessionid_t, TASK["sessionid"] * 8),
        personality,
        ("cred", const_cred, TASK["cred"] * 8),
        ("signal", w.ptr(signal), TASK["signal"] * 8),
        ("comm", w.array(char, 16), TASK["comm"] * 8),
        ("mm", w.ptr(mm), TASK["mm"] * 8),
        ("fs", w.ptr(fs), TASK["fs"] * 8),
        ("files", w.ptr(files), TASK["files"] * 8),
    ], kind_flag=kind_flag_task or bitfield_personality)
    regs = ("r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di")
    w.struct("pt_regs", 8 * len(regs), [(name, u64, 64 * i) for i, name in enumerate(regs)])
    w.func_proto(u32, [("a", u32), ("b", u64)])  # a kind with per-entry trailers after everything
    return w.blob()


@pytest.fixture(scope="module")
def kbtf() -> Btf:
    return Btf(kernel_blob())


def test_top_level_and_nested_members(kbtf):
    assert kbtf.member_offset("task_struct", "sessionid") == (TASK["sessionid"], 4)
    assert kbtf.member_offset("task_struct", "loginuid.val") == (TASK["loginuid.val"], 4)
    assert kbtf.member_offset("task_struct", "thread_info.status") == (TASK["thread_info.status"], 4)
    assert kbtf.member_offset("cred", "fsgid.val") == (CRED_BASE + 28, 4)


def test_anonymous_union_and_struct_members_add_their_offsets(kbtf):
    # tgid sits in an anonymous struct (offset 0) inside an anonymous union at byte 16
    assert kbtf.member_offset("task_struct", "tgid") == (20, 4)
    assert kbtf.member_offset("task_struct", "pid") == (16, 4)
    assert kbtf.member_offset("task_struct", "both") == (16, 8)


def test_sizes_of_pointers_arrays_and_typedef_chains(kbtf):
    assert kbtf.member_offset("task_struct", "real_parent") == (TASK["real_parent"], 8)
    assert kbtf.member_offset("task_struct", "cred") == (TASK["cred"], 8)  # through a const
    assert kbtf.member_offset("task_struct", "comm") == (TASK["comm"], 16)
    assert kbtf.member_offset("tty_struct", "name") == (32, 64)
    assert kbtf.size_of(kbtf.find(B.TYPEDEF, "uid_t")) == 4
    assert kbtf.size_of(kbtf.find(B.STRUCT, "task_struct")) == 112


def test_missing_members_and_structs_are_errors(kbtf):
    with pytest.raises(BpfauditError, match="no member 'loginuid.nope'"):
        kbtf.member_offset("task_struct", "loginuid.nope")
    with pytest.raises(BpfauditError, match="no member 'nope'"):
        kbtf.member_offset("task_struct", "nope")
    with pytest.raises(BpfauditError, match="struct nope not in"):
        kbtf.member_offset("nope", "x")
    with pytest.raises(BpfauditError, match="not inside a struct"):
        kbtf.member_offset("task_struct", "sessionid.val")


def test_a_bitfield_is_an_error():
    btf = Btf(kernel_blob(bitfield_personality=True))
    with pytest.raises(BpfauditError, match="bitfield"):
        btf.member_offset("task_struct", "personality")
    # the struct's other members still resolve under kind_flag encoding
    assert btf.member_offset("task_struct", "sessionid") == (TASK["sessionid"], 4)


def test_a_byte_aligned_bitfield_is_an_error_too():
    # kind_flag structs carry the bitfield width in the top byte; a 3-bit field can start on a byte
    w = BtfWriter()
    u32 = w.int_("unsigned int", 4)
    w.struct("s", 8, [("a", u32, 0), ("flags", u32, 32, 3)], kind_flag=True)
    btf = Btf(w.blob())
    assert btf.member_offset("s", "a") == (0, 4)
    with pytest.raises(BpfauditError, match="bitfield"):
        btf.member_offset("s", "flags")


def test_kernel_offsets_finds_every_field(kbtf):
    offs = kernel_offsets(kbtf)
    assert set(offs) == set(KERNEL_FIELDS)
    for macro, (struct_name, path) in KERNEL_FIELDS.items():
        if struct_name == "task_struct":
            assert offs[macro] == TASK[path], macro
    assert offs["CRED_UID"] == CRED_BASE and offs["SIGNAL_TTY"] == 8 and offs["TTY_NAME"] == 32
    assert offs["DENTRY_D_NAME_LEN"] == DENTRY["d_name.len"] and offs["DENTRY_D_NAME_NAME"] == 40
    assert (offs["FS_ROOT"], offs["FS_PWD"], offs["FILE_F_PATH"], offs["MOUNT_MNT"]) == (8, 24, 16, 32)
    assert (offs["MM_ARG_START"], offs["MM_EXE_FILE"], offs["BPRM_ARGC"], offs["BPRM_FILENAME"]) == (16, 32, 88, 96)


def test_dentry_span_is_one_read_of_parent_and_name(kbtf):
    offs = kernel_offsets(kbtf)
    lo, span = B.dentry_span(offs)
    assert (lo, span) == (24, 24)  # d_parent (24..32) to d_name.name (40..48)
    assert all(lo <= offs[f"DENTRY_{m}"] < lo + span for m in ("D_PARENT", "D_NAME_LEN", "D_NAME_NAME"))
    with pytest.raises(BpfauditError, match="close together"):
        B.dentry_span({**offs, "DENTRY_D_NAME_NAME": 400})


def test_regs_span_covers_every_argument_register(kbtf):
    offs = kernel_offsets(kbtf)
    assert offs["PT_REGS_DI"] == 8 * 14 and offs["PT_REGS_BP"] == 8 * 4
    lo, words = regs_span(offs)
    # bp (4) is the lowest argument register, di (14) the highest: 11 words from bp
    assert (lo, words) == (8 * 4, 11)
    assert all(lo <= offs[m] <= lo + 8 * (words - 1) for m in PT_REGS)


def test_kernel_offsets_refuses_a_field_of_another_size():
    with pytest.raises(BpfauditError, match=r"task_struct\.sessionid is 8 bytes.*expected 4"):
        kernel_offsets(Btf(kernel_blob(sessionid_size=8)))


def test_cred_ids_in_another_order_are_found_where_they_are():
    order = ("uid", "euid", "suid", "fsuid", "gid", "egid", "sgid", "fsgid")  # older kernels' order
    offs = kernel_offsets(Btf(kernel_blob(cred_order=order)))
    assert [offs[f"CRED_{n.upper()}"] for n in order] == [CRED_BASE + 4 * i for i in range(8)]


def test_not_a_btf_blob():
    with pytest.raises(BpfauditError, match="too short"):
        Btf(b"\x9f\xeb")
    with pytest.raises(BpfauditError, match="not a BTF blob"):
        Btf(b"\0" * 64)


def test_load_vmlinux_btf_missing_file(tmp_path):
    with pytest.raises(BpfauditError, match="no BTF.*CONFIG_DEBUG_INFO_BTF"):
        load_vmlinux_btf(str(tmp_path / "vmlinux"))


def test_running_kernel_btf_has_every_field():
    if os.access(B.VMLINUX_BTF, os.R_OK):
        offs = kernel_offsets(load_vmlinux_btf())
        assert set(offs) == set(KERNEL_FIELDS)
        # members that open their struct in today's kernels
        assert all(off > 0 for m, off in offs.items() if m not in ("TASK_TI_STATUS", "VFSMOUNT_MNT_ROOT", "PATH_MNT", "INODE_I_MODE", "FDTABLE_MAX_FDS", "FILENAME_NAME", "OPEN_FLAGS_OPEN_FLAG", "VFSCAP_MAGIC_ETC"))
    elif os.path.exists(B.VMLINUX_BTF):
        with pytest.raises(BpfauditError, match="sudo"):
            load_vmlinux_btf()
    else:
        with pytest.raises(BpfauditError, match="CONFIG_DEBUG_INFO_BTF"):
            load_vmlinux_btf()
