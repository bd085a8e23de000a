"""Derives the Python view of the kernel/user boundary from bpf/record.h and
bpf/rules.h: integer constants and ctypes structures, never restated by hand."""

from __future__ import annotations

import ctypes
import re
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Tuple, Type

BPF_DIR = Path(__file__).resolve().parents[2] / "bpf"
HEADERS = ("record.h", "rules.h")

_CTYPES = {
    "__u8": ctypes.c_uint8,
    "__u16": ctypes.c_uint16,
    "__u32": ctypes.c_uint32,
    "__u64": ctypes.c_uint64,
    "__s8": ctypes.c_int8,
    "__s16": ctypes.c_int16,
    "__s32": ctypes.c_int32,
    "__s64": ctypes.c_int64,
    "char": ctypes.c_char,
}

# a comment after the value may go on over the next lines
_DEFINE = re.compile(r"^#define\s+(BA_\w+)\s+(-?\d+)\s*(?:/\*.*)?$")
_STRUCT = re.compile(r"struct\s+(\w+)\s*\{(.*?)\};", re.S)
_MEMBER = re.compile(r"^(struct\s+\w+|\w+)\s+(\w+)((?:\[\d+\])*)$")
_ASSERT = re.compile(r"_Static_assert\(sizeof\(struct\s+(\w+)\)\s*==\s*(\d+)")


class LayoutError(Exception):
    """bpf/*.h uses a construct this parser does not accept."""


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def parse_header(text: str) -> Tuple[Dict[str, int], Dict[str, List[Tuple[str, str, List[int]]]], Dict[str, int]]:
    """Returns (constants, structs as [(type, name, dims)], asserted sizes)."""
    consts: Dict[str, int] = {}
    for line in text.splitlines():
        m = _DEFINE.match(line.strip())
        if m:
            consts[m.group(1)] = int(m.group(2))
    body = _strip_comments(text)
    structs: Dict[str, List[Tuple[str, str, List[int]]]] = {}
    for name, members in _STRUCT.findall(body):
        fields = []
        for decl in members.split(";"):
            decl = " ".join(decl.split())
            if not decl:
                continue
            m = _MEMBER.match(decl)
            if not m:
                raise LayoutError(f"struct {name}: cannot parse member {decl!r}")
            dims = [int(d) for d in re.findall(r"\[(\d+)\]", m.group(3))]
            fields.append((m.group(1), m.group(2), dims))
        structs[name] = fields
    sizes = {n: int(s) for n, s in _ASSERT.findall(body)}
    return consts, structs, sizes


class Layout:
    """Constants and ctypes structures of the shared headers."""

    def __init__(self, texts: List[str]):
        self.consts: Dict[str, int] = {}
        decls: Dict[str, List[Tuple[str, str, List[int]]]] = {}
        self.asserted: Dict[str, int] = {}
        for text in texts:
            c, s, a = parse_header(text)
            self.consts.update(c)
            decls.update(s)
            self.asserted.update(a)
        self.structs: Dict[str, Type[ctypes.Structure]] = {}
        for name in decls:
            self._build(name, decls)
        for name, size in self.asserted.items():
            if name not in self.structs:
                raise LayoutError(f"_Static_assert names struct {name}, which the headers do not define")
            got = ctypes.sizeof(self.structs[name])
            if got != size:
                raise LayoutError(f"struct {name}: header asserts {size} bytes, parsed layout has {got}")

    def _build(self, name: str, decls) -> Type[ctypes.Structure]:
        if name in self.structs:
            return self.structs[name]
        fields = []
        for ctype, member, dims in decls[name]:
            if ctype.startswith("struct "):
                if ctype.split()[1] not in decls:
                    raise LayoutError(f"struct {name}.{member}: {ctype} is not defined in bpf/*.h")
                t = self._build(ctype.split()[1], decls)
            elif ctype in _CTYPES:
                t = _CTYPES[ctype]
            else:
                raise LayoutError(f"struct {name}.{member}: unsupported type {ctype}")
            for d in reversed(dims):
                t = t * d
            fields.append((member, t))
        cls = type(name, (ctypes.Structure,), {"_fields_": fields})
        self.structs[name] = cls
        return cls

    def __getattr__(self, item: str) -> int:
        try:
            return self.consts[item]
        except KeyError:
            raise AttributeError(item) from None


@lru_cache(maxsize=1)
def layout() -> Layout:
    return Layout([(BPF_DIR / h).read_text() for h in HEADERS])
