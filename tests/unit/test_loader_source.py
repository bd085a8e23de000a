"""tracer/capture/loader.py without a kernel: source assembly, compiler flags and the layout check."""

from __future__ import annotations

import ctypes
import re

import pytest

from tracer.capture.btf import KERNEL_FIELDS
from tracer.errors import BpfauditError
from tracer.capture.layout import BPF_DIR, layout
from tracer.capture.loader import MAP_VALUE_STRUCTS, PROGRAM, Program, assemble_source, check_layout, compile_flags


def write(path, text):
    path.write_text(text)
    return path


@pytest.fixture
def tree(tmp_path):
    write(tmp_path / "a.h", '#ifndef A\n#define A\n#include "b.h"\nint a_marker;\n#endif\n')
    write(tmp_path / "b.h", '#include "a.h"\nint b_marker;\n')
    main = write(tmp_path / "main.c", '#include <linux/sched.h>\n#include "a.h"\n#include "b.h"\n'
                                      '#include "missing.h"\nint main_marker;\n')
    return main


def test_local_headers_are_inlined_once_each(tree):
    src = assemble_source(tree)
    assert src.count("int a_marker;") == 1 and src.count("int b_marker;") == 1
    assert '#include "a.h"' not in src and '#include "b.h"' not in src
    # b.h comes first: a.h includes it before a_marker
    assert src.index("int b_marker;") < src.index("int a_marker;") < src.index("int main_marker;")


def test_system_and_unknown_includes_are_left_alone(tree):
    src = assemble_source(tree)
    assert "#include <linux/sched.h>" in src
    assert '#include "missing.h"' in src


def resolve_lines(src: str):
    """(file, line) of every non-directive line, following #line as the C preprocessor does."""
    where, out = None, []
    for text in src.splitlines():
        m = re.match(r'#line (\d+) "([^"]+)"$', text)
        if m:
            where = [m.group(2), int(m.group(1))]
            continue
        out.append((where[0], where[1], text))
        where[1] += 1
    return out


def test_line_markers_point_at_the_real_file_and_line(tree):
    files = {p.name: p.read_text().splitlines() for p in tree.parent.iterdir()}
    for name, line, text in resolve_lines(assemble_source(tree)):
        assert files[name][line - 1] == text, (name, line, text)


def test_the_real_program_assembles_with_every_bpf_header_once():
    src = assemble_source(PROGRAM)
    included = set(re.findall(r'^#line 1 "([\w.]+)"', src, re.M))
    assert included >= {"record.h", "rules.h", "maps.h"}
    for name in included - {PROGRAM.name}:
        assert src.count(f'#line 1 "{name}"') == 1, name
    assert not re.search(r'^\s*#\s*include\s+"', src, re.M)
    files = {p.name: p.read_text().splitlines() for p in BPF_DIR.iterdir() if p.suffix in (".h", ".c")}
    for name, line, text in resolve_lines(src):
        assert files[name][line - 1] == text, (name, line)


def offsets():
    return {m: 1000 + 8 * i for i, m in enumerate(KERNEL_FIELDS)}


def test_compile_flags_carry_every_offset():
    offs = offsets()
    flags = compile_flags(offs)
    for macro, off in offs.items():
        assert f"-DBA_OFF_{macro}={off}" in flags
    assert f"-I{BPF_DIR}" in flags
    regs = [offs[m] for m in KERNEL_FIELDS if m.startswith("PT_REGS_")]
    assert f"-DBA_REGS_LO={min(regs)}" in flags
    assert f"-DBA_REGS_WORDS={(max(regs) + 8 - min(regs)) // 8}" in flags


def test_every_offset_the_programs_read_comes_from_btf():
    used = set()
    for p in BPF_DIR.iterdir():
        used |= set(re.findall(r"\bBA_OFF_(\w+)", p.read_text()))
    assert used == set(KERNEL_FIELDS)


class FakeTable:
    def __init__(self, leaf):
        self.Leaf = leaf


class FakeProgram(Program):
    def __init__(self, leaves):
        super().__init__(bpf=None, headers=None, offsets={}, rules=[])
        self.leaves = leaves

    def table(self, name):
        return FakeTable(self.leaves[name])


def test_check_layout_accepts_the_headers_structs():
    L = layout()
    check_layout(FakeProgram({m: L.structs[s] for m, s in MAP_VALUE_STRUCTS.items()}))


def test_check_layout_refuses_a_different_struct():
    L = layout()
    leaves = {m: L.structs[s] for m, s in MAP_VALUE_STRUCTS.items()}
    fields = list(L.structs["ba_config"]._fields_)
    fields[0], fields[1] = fields[1], fields[0]  # same size, members in another order
    leaves["config"] = type("ba_config", (ctypes.Structure,), {"_fields_": fields})
    with pytest.raises(BpfauditError, match="struct ba_config"):
        check_layout(FakeProgram(leaves))
    leaves["config"] = type("ba_config", (ctypes.Structure,), {"_fields_": fields[:-1]})
    with pytest.raises(BpfauditError, match="struct ba_config.*differs"):
        check_layout(FakeProgram(leaves))
