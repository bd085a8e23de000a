"""scripts/verifier-stats' source handling (no root: nothing is loaded)."""

from tracer.loader import PROGRAM, assemble_source
from tracer.verifier_stats import loadable_text, program_names


def test_both_raw_tracepoint_programs_are_found_and_renamed_so_bcc_does_not_attach_them():
    text = assemble_source(PROGRAM)
    assert program_names(text) == ["bpfaudit_sys_enter", "bpfaudit_sys_exit"]
    loadable = loadable_text(text)
    assert "RAW_TRACEPOINT_PROBE(" not in loadable
    for name in program_names(text):
        assert f"int {name}(struct bpf_raw_tracepoint_args *ctx)" in loadable
    # nothing but the two probe lines changes
    changed = [(a, b) for a, b in zip(text.splitlines(), loadable.splitlines()) if a != b]
    assert len(changed) == 2 and len(text.splitlines()) == len(loadable.splitlines())
