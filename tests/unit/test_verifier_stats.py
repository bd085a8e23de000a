"""scripts/verifier-stats' source handling (no root: nothing is loaded)."""

from tracer.capture.loader import PROGRAM, TAIL_PROGRAMS, assemble_source
from tracer.verifier_stats import builds, loadable_text, program_names


def test_every_raw_tracepoint_program_is_found_and_renamed_so_bcc_does_not_attach_them():
    text = assemble_source(PROGRAM)
    # the raw tracepoint programs, renamed, and the programs only tail calls reach (loaded as they are)
    assert program_names(text) == ["bpfaudit_sched_process_exec", "bpfaudit_sys_enter", "bpfaudit_sys_exit",
                                   "ba_tail_sys_exit_items", "ba_tail_sys_exit_submit"]
    assert set(program_names(text)) >= {n for names in TAIL_PROGRAMS.values() for n in names}
    loadable = loadable_text(text)
    assert "RAW_TRACEPOINT_PROBE(" not in loadable
    for name in program_names(text):
        assert f"int {name}(struct bpf_raw_tracepoint_args *ctx)" in loadable
    # nothing but the probe lines changes
    changed = [(a, b) for a, b in zip(text.splitlines(), loadable.splitlines()) if a != b]
    assert len(changed) == 3 and len(text.splitlines()) == len(loadable.splitlines())


def test_without_flags_each_transports_build_is_measured_the_default_first(monkeypatch):
    monkeypatch.setattr("tracer.capture.session.online_cpus", lambda: [0, 1])
    ringbuf, perf = builds([])
    assert ringbuf == ["-DBA_RINGBUF=2048", "-DBA_RINGBUF_WAKEUP=1024"] and perf == []
    assert builds(["-DBA_RINGBUF=64"]) == [["-DBA_RINGBUF=64"]]
