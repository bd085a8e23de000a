"""tracer/capture/layout.py against the header text: constants, struct sizes and drift."""

from __future__ import annotations

import ctypes
import re

import pytest

from tracer.capture.layout import BPF_DIR, HEADERS, Layout, LayoutError, layout

L = layout()


def header_text(name: str) -> str:
    return (BPF_DIR / name).read_text()


def test_record_header_size_is_the_whole_header_and_items_are_8_byte_aligned():
    rec, item = L.structs["ba_record"], L.structs["ba_item"]
    assert L.BA_RECORD_HDR_SIZE == ctypes.sizeof(rec)
    assert ctypes.sizeof(rec) % 8 == 0 and ctypes.sizeof(item) % 8 == 0
    # every BA_ITEM_* kind is distinct, and so are the item flags
    kinds = [v for k, v in L.consts.items() if k.startswith("BA_ITEM_") and k not in ("BA_ITEM_CUT", "BA_ITEM_FAULT")]
    assert len(kinds) == len(set(kinds)) == 8
    assert L.BA_ITEM_CUT & L.BA_ITEM_FAULT == 0


def test_array_dimensions_agree_with_the_limits_they_stand_for():
    rec, rule, sc, cfg = (L.structs[n] for n in ("ba_record", "ba_rule", "ba_syscall", "ba_config"))
    assert rec.comm.size == L.BA_COMM_LEN == cfg.comm.size
    assert rec.tty.size == L.BA_TTY_LEN
    assert len(rec().args) == L.BA_NARGS
    # an event fits a perf sample (u16 size) and the buffers' masks (powers of two)
    assert L.BA_EVENT_MAX < 65536 and L.BA_EVENT_MAX & (L.BA_EVENT_MAX - 1) == 0
    assert L.BA_NAME_MAX & (L.BA_NAME_MAX - 1) == 0
    # the fixed-size items (two names, cwd, exe, proctitle, sockaddr) leave room for EXECVE arguments
    fixed = L.BA_RECORD_HDR_SIZE + 4 * (16 + L.BA_NAME_MAX) + 2 * (16 + 128)
    assert L.BA_EVENT_MAX - fixed >= 8192
    assert len(rule().fields) == L.BA_MAX_FIELDS
    assert len(sc().rule) == L.BA_MAX_CANDIDATES
    assert len(sc().path_arg) == L.BA_MAX_PATHS
    # a rule index is stored in a __u8 and BA_NO_PATH must not be a real argument index
    assert L.BA_MAX_RULES <= 0xFF and L.BA_NO_PATH >= L.BA_NARGS


def _asserted_sizes() -> dict:
    sizes = {}
    for h in HEADERS:
        for name, size in re.findall(r"_Static_assert\s*\(\s*sizeof\s*\(\s*struct\s+(\w+)\s*\)\s*==\s*(\d+)",
                                     header_text(h)):
            sizes[name] = int(size)
    return sizes


def test_every_struct_has_the_size_the_header_asserts():
    sizes = _asserted_sizes()
    assert set(sizes) == set(L.structs), "every struct in the headers needs a _Static_assert of its size"
    for name, size in sizes.items():
        assert ctypes.sizeof(L.structs[name]) == size, name


def test_structs_have_no_implicit_padding():
    # STYLE: explicit padding, so C and ctypes cannot disagree on holes
    for name, cls in L.structs.items():
        members = sum(getattr(cls, f).size for f, _t in cls._fields_)
        assert members == ctypes.sizeof(cls), f"struct {name} has {ctypes.sizeof(cls) - members} bytes of implicit padding"


def test_members_are_in_header_order_and_offsets_increase():
    for name, cls in L.structs.items():
        body = re.search(r"struct\s+%s\s*\{(.*?)\};" % name, header_text("record.h") + header_text("rules.h"), re.S)
        text = re.sub(r"/\*.*?\*/", "", body.group(1), flags=re.S)
        declared = re.findall(r"(\w+)\s*(?:\[\d+\])*\s*;", text)
        assert [f for f, _t in cls._fields_] == declared
        offsets = [getattr(cls, f).offset for f, _t in cls._fields_]
        assert offsets == sorted(offsets)


def test_drift_every_define_in_the_shared_headers_is_parsed():
    # a constant the parser silently drops (hex, expression) would leave Python without it
    for h in HEADERS:
        for name, value in re.findall(r"^\s*#\s*define\s+(BA_\w+)\s+(\S+)", header_text(h), re.M):
            assert name in L.consts, f"{h}: #define {name} {value} is not visible in layout().consts"
            assert L.consts[name] == int(value, 0)


def test_drift_other_bpf_headers_do_not_shadow_shared_constants():
    # BPF-private constants (map sizes, x86 status bits) live in the other headers; they must
    # not redefine a shared one with another value behind Python's back
    for path in sorted(BPF_DIR.glob("*.h")) + sorted(BPF_DIR.glob("*.c")):
        if path.name in HEADERS:
            continue
        for name, value in re.findall(r"^\s*#\s*define\s+(BA_\w+)\s+(\S+)", path.read_text(), re.M):
            assert name not in L.consts, f"{path.name} redefines shared constant {name}"


def test_constants_are_attributes():
    assert L.BA_MAX_PATHS == L.consts["BA_MAX_PATHS"]
    with pytest.raises(AttributeError):
        L.BA_NO_SUCH_CONSTANT


def test_a_small_header_parses_into_ctypes():
    lay = Layout(["#define BA_X 7 /* why */\n#define BA_NEG -3\n"
                  "struct in { __u16 a; __u8 b[2]; };\n"
                  "struct out { __u32 n; struct in items[3]; __s64 big; };\n"
                  "_Static_assert(sizeof(struct out) == 24, \"\");\n"])
    assert lay.consts == {"BA_X": 7, "BA_NEG": -3}
    out = lay.structs["out"]
    assert out.items.offset == 4 and out.big.offset == 16
    o = out()
    o.items[2].b[1] = 255
    o.big = -1
    assert bytes(o)[4 + 2 * 4 + 3] == 255
    assert bytes(o)[16:] == b"\xff" * 8


@pytest.mark.parametrize("member", ["float f", "__u32 *p", "__u32 bits : 3", "unsigned int x", "struct nope n"])
def test_an_unsupported_member_is_a_layout_error(member):
    with pytest.raises(LayoutError) as info:
        Layout([f"struct s {{ __u32 a; {member}; }};"])
    assert "struct s" in str(info.value)


def test_a_size_assert_for_an_undefined_struct_is_a_layout_error():
    with pytest.raises(LayoutError, match="nope"):
        Layout(['_Static_assert(sizeof(struct nope) == 4, "");'])


def test_a_wrong_static_assert_is_a_layout_error():
    with pytest.raises(LayoutError, match="asserts 16 bytes.*has 12"):
        Layout(['struct s { __u32 a; __u32 b[2]; };\n_Static_assert(sizeof(struct s) == 16, "");'])


def test_the_c_compiler_agrees_with_every_ctypes_offset(tmp_path):
    # the alignchecker idea: the host compiler, not our parser, says where each member is
    import shutil
    import subprocess

    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "no C compiler: install gcc (sudo scripts/setup does)"
    checks = []
    for name, cls in L.structs.items():
        checks.append(f'_Static_assert(sizeof(struct {name}) == {ctypes.sizeof(cls)}, "sizeof {name}");')
        for member, _t in cls._fields_:
            off = getattr(cls, member).offset
            checks.append(f'_Static_assert(offsetof(struct {name}, {member}) == {off}, "{name}.{member}");')
    src = tmp_path / "layout_check.c"
    src.write_text("#include <stddef.h>\n#include <linux/types.h>\n"
                   + "".join(f'#include "{h}"\n' for h in HEADERS) + "\n".join(checks) + "\n")
    r = subprocess.run([cc, "-fsyntax-only", "-Wall", "-Werror", f"-I{BPF_DIR}", str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len(checks) > 50
