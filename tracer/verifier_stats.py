"""The verifier's cost of each bpfaudit program on the running kernel: loads
them with the verifier's statistics on (log level 1) and attaches nothing."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import List

from tracer.capture.loader import PROGRAM, assemble_source, bpf_class, compile_flags, import_bcc, require_root, running_kernel_hooks, running_kernel_offsets

# bcc attaches RAW_TRACEPOINT_PROBE functions as it loads them: renamed, they only load
_PROBE = re.compile(r"RAW_TRACEPOINT_PROBE\((\w+)\)")
_STATS = re.compile(r"processed \d+ insns.*")


# programs only reached by tail calls (bpf/maps.h prog arrays)
_TAIL = re.compile(r"^int (ba_tail_\w+)\(struct bpf_raw_tracepoint_args \*ctx\)", re.M)


def program_names(text: str):
    return [f"bpfaudit_{name}" for name in _PROBE.findall(text)] + _TAIL.findall(text)


def loadable_text(text: str) -> str:
    return _PROBE.sub(r"int bpfaudit_\1(struct bpf_raw_tracepoint_args *ctx)", text)


def builds(defines: List[str]) -> List[List[str]]:
    """The flag sets to measure: the ones given, else the build of each transport
    (the default ring-buffer build first, as `trace` compiles it, then the perf-ring one)."""
    if defines:
        return [defines]
    from tracer.capture.session import CaptureOptions, ringbuf_defines

    return [[f"-D{d}" for d in ringbuf_defines(CaptureOptions(transport="ringbuf"))], []]


def main(argv=None) -> int:
    """argv: -DNAME[=VALUE] build flags (e.g. -DBA_RINGBUF=2048, a ring-buffer build; none: each
    transport's), and program sources to measure instead of bpf/bpfaudit.bpf.c (variants under study)."""
    require_root()
    args = argv if argv is not None else sys.argv[1:]
    failed = 0
    for path in [a for a in args if not a.startswith("-D")] or [str(PROGRAM)]:
        for defines in builds([a for a in args if a.startswith("-D")]):
            print(f"== {path} {' '.join(defines) or '(perf-ring build)'}")
            failed += measure(Path(path), defines)
    return 1 if failed else 0


def measure(path: Path, defines=()) -> int:
    bcc = import_bcc()
    text = assemble_source(path)
    try:
        bpf = bpf_class(bcc)(text=loadable_text(text).encode(),
                      cflags=compile_flags(running_kernel_offsets(), running_kernel_hooks()) + list(defines), debug=bcc.DEBUG_BPF)
    except Exception as err:  # bcc raises bare Exception; the compiler's messages are on stderr
        print(f"{path}: does not compile ({err})")
        return 1
    failed = 0
    for name in program_names(text):
        # bcc writes the verifier log to fd 2 from C: catch it there
        with tempfile.TemporaryFile() as log:
            saved = os.dup(2)
            os.dup2(log.fileno(), 2)
            try:
                bpf.load_func(name.encode(), bcc.BPF.RAW_TRACEPOINT)
                error = ""
            except Exception as err:  # bcc raises bare Exception
                error = str(err).splitlines()[0]
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            log.seek(0)
            verifier_log = log.read().decode(errors="replace")
        found = _STATS.findall(verifier_log)
        stats = found[-1] if found else "no statistics in the verifier log"
        print(f"{name}: {'REJECTED (' + error + '): ' if error else ''}{stats}")
        if error:
            print("  " + "\n  ".join(verifier_log.strip().splitlines()[-6:]))
        failed += bool(error)
    bpf.cleanup()
    return failed


if __name__ == "__main__":
    sys.exit(main())
