"""The verifier's cost of each bpfaudit program on the running kernel: loads
them with the verifier's statistics on (log level 1) and attaches nothing."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

from tracer.loader import PROGRAM, assemble_source, compile_flags, import_bcc, require_root, running_kernel_offsets

# bcc attaches RAW_TRACEPOINT_PROBE functions as it loads them: renamed, they only load
_PROBE = re.compile(r"RAW_TRACEPOINT_PROBE\((\w+)\)")
_STATS = re.compile(r"processed \d+ insns.*")


def program_names(text: str):
    return [f"bpfaudit_{name}" for name in _PROBE.findall(text)]


def loadable_text(text: str) -> str:
    return _PROBE.sub(r"int bpfaudit_\1(struct bpf_raw_tracepoint_args *ctx)", text)


def main(argv=None) -> int:
    """argv: -DNAME[=VALUE] build flags (e.g. -DBA_RINGBUF=2048, the ring-buffer build), and
    program sources to measure instead of bpf/bpfaudit.bpf.c (variants under study)."""
    require_root()
    args = argv if argv is not None else sys.argv[1:]
    defines = [a for a in args if a.startswith("-D")]
    failed = 0
    for path in [a for a in args if not a.startswith("-D")] or [str(PROGRAM)]:
        print(f"== {path} {' '.join(defines)}".rstrip())
        failed += measure(Path(path), defines)
    return 1 if failed else 0


def measure(path: Path, defines=()) -> int:
    bcc = import_bcc()
    text = assemble_source(path)
    try:
        bpf = bcc.BPF(text=loadable_text(text).encode(),
                      cflags=compile_flags(running_kernel_offsets()) + list(defines), debug=bcc.DEBUG_BPF)
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
