"""Compiles bpf/bpfaudit.bpf.c with bcc, passing kernel struct offsets from BTF,
writes the configuration and rule tables, and verifies the offsets on the
tracer's own process before any record is trusted."""

from __future__ import annotations

import ctypes
import os
import re
import tempfile
import time
import warnings
from functools import lru_cache
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

from tracer.capture.btf import HOOK_FUNCTIONS, dentry_span, kernel_hooks, kernel_offsets, load_vmlinux_btf, regs_span
from tracer.errors import BpfauditError
from tracer.filters import KernelRule
from tracer.capture.headers import HeaderTree, header_tree
from tracer.capture.layout import BPF_DIR, layout
from tracer.capture.lean import release_compiler_memory
from tracer.capture.tables import build_tables

PROGRAM = BPF_DIR / "bpfaudit.bpf.c"
# programs reached by tail calls, by prog-array map and index (bpf/maps.h: sys_exit's stages)
TAIL_PROGRAMS = {"exit_stages": ("ba_tail_sys_exit_items", "ba_tail_sys_exit_submit")}


@dataclass
class Filters:
    """Restrictions on top of the rules (trace -p/--comm/-x/-S)."""

    pid: int = 0
    comm: Optional[str] = None
    failed_only: bool = False
    syscalls: Optional[Set[str]] = None
    auid: Optional[int] = None


@lru_cache(maxsize=2)
def running_kernel_offsets(btf_path: str = "") -> Dict[str, int]:
    """KERNEL_FIELDS offsets of the running kernel (parsing BTF takes ~0.5 s: once per process)."""
    return kernel_offsets(load_vmlinux_btf(btf_path))


# the smallest program that needs a BPF trampoline: whether this kernel lets BPF follow the path walk
_HOOK_PROBE = "KRETFUNC_PROBE(filename_lookup, int dfd, void *name, unsigned int flags, void *path, void *root, int ret) { return 0; }"


@lru_cache(maxsize=2)
def probe_hooks(btf_path: str = "") -> Tuple[Tuple[str, ...], str]:
    """(HOOK_FUNCTIONS bpf/objects.h may follow on this kernel, why none when none). Only
    loading an fexit program tells whether the kernel allows BPF trampolines.

    Following the path walk is experimental and off unless BPFAUDIT_FOLLOW_PATH_WALK=1: no kernel
    we test on runs it yet (docs/records.md), so the default is the sys_exit objects, tested on both."""
    bcc = import_bcc()
    if os.environ.get("BPFAUDIT_FOLLOW_PATH_WALK") != "1":
        return (), ""
    with warnings.catch_warnings():  # bcc 0.26 passes itself a str where it wants bytes here
        warnings.simplefilter("ignore", DeprecationWarning)
        if not bcc.BPF.support_kfunc():
            return (), "bcc finds no BPF trampoline support (fentry/fexit) in this kernel"
    hooks = kernel_hooks(load_vmlinux_btf(btf_path))
    if "filename_lookup" not in hooks:
        return (), "this kernel's BTF has no filename_lookup()"
    saved = os.dup(2)  # bcc prints the refusal on fd 2
    try:
        with tempfile.TemporaryFile() as log:
            os.dup2(log.fileno(), 2)
            try:
                bcc.BPF(text=_HOOK_PROBE.encode()).cleanup()
            except Exception as err:  # bcc raises bare Exception (EPERM where trampolines are refused)
                os.dup2(saved, 2)
                log.seek(0)
                said = " ".join(log.read().decode(errors="replace").split())
                return (), f"an fexit program on filename_lookup() does not load ({said or err})"
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return hooks, ""


def running_kernel_hooks(btf_path: str = "") -> Tuple[str, ...]:
    """HOOK_FUNCTIONS bpf/objects.h follows on this kernel (BA_HOOKS); none: objects at sys_exit."""
    return probe_hooks(btf_path)[0]


# without these the path walk's objects are worse than the sys_exit ones: then none is followed
ESSENTIAL_HOOKS = ("filename_lookup", "do_filp_open")


@lru_cache(maxsize=1)
def bpf_class(bcc):
    """bcc.BPF attaching the raw tracepoints as it constructs, but not the fentry/fexit programs
    (bcc would attach them all or fail): attach_hooks() attaches those one by one."""

    class BPF(bcc.BPF):
        def _trace_autoload(self):
            lib = bcc.lib
            for i in range(lib.bpf_num_functions(self.module)):
                name = lib.bpf_function_name(self.module, i)
                if name.startswith(b"raw_tracepoint__"):
                    fn = self.load_func(name, bcc.BPF.RAW_TRACEPOINT)
                    self.attach_raw_tracepoint(tp=fn.name[len(b"raw_tracepoint__"):], fn_name=fn.name)

    return BPF


def attach_hooks(bpf) -> List[str]:
    """Attaches bpf/objects.h's fentry/fexit programs one by one; the kernel functions refused."""
    bcc = import_bcc()
    refused = []
    for i in range(bcc.lib.bpf_num_functions(bpf.module)):
        name = bcc.lib.bpf_function_name(bpf.module, i)
        for prefix, attach in ((b"kfunc__", bpf.attach_kfunc), (b"kretfunc__", bpf.attach_kretfunc)):
            if name.startswith(prefix):
                saved = os.dup(2)  # bcc prints the refusal on fd 2
                try:
                    with open(os.devnull, "w") as null:
                        os.dup2(null.fileno(), 2)
                        attach(fn_name=name)
                except Exception:  # bcc raises bare Exception
                    refused.append(name[len(prefix):].decode())
                finally:
                    os.dup2(saved, 2)
                    os.close(saved)
    return refused


def require_root() -> None:
    if os.geteuid() != 0:
        raise BpfauditError("bpfaudit needs root to load BPF programs: rerun with sudo")


def import_bcc():
    try:
        import bcc  # noqa: F401  (the distribution's python3-bpfcc)
    except ImportError:
        raise BpfauditError(
            "the bcc Python module is missing: install python3-bpfcc (sudo scripts/setup does) "
            "and run bpfaudit from the project's venv (scripts/bpfaudit)"
        ) from None
    return bcc


@dataclass
class Program:
    """The loaded and attached programs. close() detaches everything."""

    bpf: object
    headers: HeaderTree
    offsets: Dict[str, int]
    rules: List[KernelRule]
    startup_notes: List[str] = field(default_factory=list)
    tables: object = None  # tracer.capture.tables.Tables, until enable() writes the candidate index
    # the kernel functions followed for PATH objects (bpf/objects.h BA_HOOKS); empty: taken at sys_exit
    hooks: Tuple[str, ...] = ()

    def table(self, name: str):
        return self.bpf[name.encode()]

    def enable(self) -> None:
        """Writes the per-syscall candidate index: from here on syscalls are traced.

        Call it once the perf buffer is open, or the first records fail to submit.
        """
        sc_map = self.table("syscalls")
        for key, entry in self.tables.syscalls.items():
            sc_map[ctypes.c_int(key)] = entry

    def detach(self) -> None:
        """Detaches both programs (no new records); the maps stay readable until close()."""
        if self.bpf is not None:
            for tp in list(self.bpf.raw_tracepoint_fds):
                self.bpf.detach_raw_tracepoint(tp)
            for fn in list(getattr(self.bpf, "kfunc_entry_fds", {})):
                self.bpf.detach_kfunc(fn)
            for fn in list(getattr(self.bpf, "kfunc_exit_fds", {})):
                self.bpf.detach_kretfunc(fn)

    def close(self) -> None:
        if self.bpf is not None:
            self.bpf.cleanup()
            self.bpf = None


_LOCAL_INCLUDE = re.compile(r'^\s*#\s*include\s+"([\w.]+)"\s*$')


def assemble_source(path: Path, seen: Optional[Set[str]] = None) -> str:
    """The program as one text, bpf/ headers inlined once each.

    bcc rewrites map syntax (`counters.lookup(...)`) only in the main file,
    so code in bpf/*.h reaches it inlined; #line keeps compiler messages
    pointing at the real file and line.
    """
    seen = set() if seen is None else seen
    out = [f'#line 1 "{path.name}"']
    for n, line in enumerate(path.read_text().splitlines(), 1):
        m = _LOCAL_INCLUDE.match(line)
        if m and (path.parent / m.group(1)).is_file():
            if m.group(1) not in seen:
                seen.add(m.group(1))
                out.append(assemble_source(path.parent / m.group(1), seen))
            out.append(f'#line {n + 1} "{path.name}"')
        else:
            out.append(line)
    return "\n".join(out)


def compile_flags(offsets: Dict[str, int], hooks: Sequence[str] = ()) -> List[str]:
    """`hooks`: the kernel functions bpf/objects.h follows (BA_HOOKS), none: objects at sys_exit."""
    flags = [f"-I{BPF_DIR}", "-Wno-macro-redefined"]
    if hooks:
        flags += ["-DBA_HOOKS=1"] + [f"-DBA_HOOK_{name.upper()}=1" for name in hooks]
    flags += [f"-DBA_OFF_{name}={off}" for name, off in sorted(offsets.items())]
    lo, words = regs_span(offsets)
    flags += [f"-DBA_REGS_LO={lo}", f"-DBA_REGS_WORDS={words}"]
    lo, span = dentry_span(offsets)
    flags += [f"-DBA_DENTRY_LO={lo}", f"-DBA_DENTRY_SPAN={span}"]
    # the event buffers: one per possible CPU (bpf/maps.h evbufs)
    flags.append(f"-DBA_NR_CPUS={possible_cpus()}")
    return flags


def possible_cpus() -> int:
    """How many CPUs the kernel may ever number (/sys/devices/system/cpu/possible, e.g. "0-3")."""
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            text = f.read().strip()
    except OSError:
        return os.cpu_count() or 1
    top = 0
    for part in text.split(","):
        top = max(top, int(part.split("-")[-1]))
    return top + 1


def load_program(rules: Sequence[KernelRule], filters: Filters = Filters(), defines: Sequence[str] = ()) -> Program:
    """Checks the environment, compiles, attaches, writes the rules, self-checks.

    `defines`: extra -D compiler flags (the transport: -DBA_RINGBUF=PAGES selects the ring buffer).
    Nothing is traced until Program.enable(); nothing stays attached when this raises.
    """
    require_root()
    bcc = import_bcc()
    offsets = running_kernel_offsets(os.environ.get("BPFAUDIT_BTF", ""))
    headers = header_tree()
    tables = build_tables(rules, filters.syscalls)
    hooks, why_not = probe_hooks(os.environ.get("BPFAUDIT_BTF", ""))
    notes = [f"PATH objects are taken at sys_exit: {why_not} (docs/records.md)"] if why_not else []
    text = assemble_source(PROGRAM).encode()
    extra = [f"-D{d}" for d in defines]
    bpf = None
    if hooks:
        try:
            bpf = bpf_class(bcc)(text=text, cflags=compile_flags(offsets, hooks) + extra)
            missing = attach_hooks(bpf)
        except Exception as err:  # bcc raises bare Exception for compile and load errors
            missing, why_not = list(hooks), f"the path walk's programs do not load ({err})"
        if bpf is not None and not set(ESSENTIAL_HOOKS) & set(missing):
            hooks = tuple(h for h in hooks if h not in missing)
            if missing:
                notes.append("not followed (the kernel refuses to attach to them): " + ", ".join(missing)
                             + "; their objects are missing from PATH items (docs/records.md)")
        else:
            # without the lookups' own objects, the sys_exit ones are the better record
            if bpf is not None:
                bpf.cleanup()
                why_not = why_not or "BPF cannot follow " + ", ".join(sorted(set(ESSENTIAL_HOOKS) & set(missing)))
            notes.append(f"PATH objects are taken at sys_exit: {why_not} (docs/records.md)")
            hooks, bpf = (), None
    if bpf is None:
        try:
            bpf = bpf_class(bcc)(text=text, cflags=compile_flags(offsets) + extra)
        except Exception as err:  # bcc raises bare Exception for compile and attach errors
            raise BpfauditError(f"loading the BPF programs failed ({err}); with {headers.describe()}", 1) from None
    prog = Program(bpf, headers, offsets, list(rules), tables=tables, startup_notes=notes, hooks=tuple(hooks))
    try:
        load_tail_programs(prog)
        check_layout(prog)
        _write_tables(prog, tables, filters)
        selfcheck(prog)
    except BaseException:
        prog.close()
        raise
    # compiled and loaded: what only compiling needed goes back (a long-running trace or top)
    before, after = release_compiler_memory()
    notes.append(f"{before} MB resident after compiling, {after} MB for the run (the compiler's memory given back)")
    return prog


def load_tail_programs(prog: Program) -> None:
    """Loads the programs sys_exit tail-calls and puts them in their prog arrays."""
    bcc = import_bcc()
    for map_name, names in TAIL_PROGRAMS.items():
        array = prog.table(map_name)
        for i, name in enumerate(names):
            try:
                fn = prog.bpf.load_func(name.encode(), bcc.BPF.RAW_TRACEPOINT)
            except Exception as err:  # bcc raises bare Exception with the verifier's verdict
                raise BpfauditError(f"loading the BPF program {name} failed ({err}); with "
                                    f"{prog.headers.describe()}", 1) from None
            array[ctypes.c_int(i)] = ctypes.c_int(fn.fd)


# map -> the bpf/*.h struct its values are
MAP_VALUE_STRUCTS = {"config": "ba_config", "rules": "ba_rule", "syscalls": "ba_syscall", "selfcheck": "ba_record"}


def check_layout(prog: Program) -> None:
    """bcc's idea of each shared struct (from the compiled program) must be the header's.

    A mismatch means a lookup would write past a buffer: refuse to go on.
    """
    L = layout()
    for map_name, struct_name in MAP_VALUE_STRUCTS.items():
        ours = L.structs[struct_name]
        theirs = prog.table(map_name).Leaf
        got = [(name, ctypes.sizeof(t)) for name, t in theirs._fields_]
        want = [(name, ctypes.sizeof(t)) for name, t in ours._fields_]
        if ctypes.sizeof(theirs) != ctypes.sizeof(ours) or got != want:
            raise BpfauditError(
                f"struct {struct_name}: the compiled program's layout ({ctypes.sizeof(theirs)} bytes) differs "
                f"from bpf/*.h as parsed ({ctypes.sizeof(ours)} bytes): fix the header or tracer/capture/layout.py", 1
            )


def _write_tables(prog: Program, tables, filters: Filters) -> None:
    L = layout()
    rules_map = prog.table("rules")
    for i, r in enumerate(tables.rules):
        rules_map[ctypes.c_int(i)] = r
    cfg = L.structs["ba_config"]()
    cfg.self_tgid = os.getpid()
    cfg.target_tgid = filters.pid
    cfg.failed_only = int(filters.failed_only)
    cfg.nrules = len(tables.rules)
    if filters.auid is not None:
        cfg.auid_filter_on, cfg.auid_filter = 1, filters.auid & 0xFFFFFFFF
    if filters.comm:
        cfg.comm_filter = 1
        cfg.comm = filters.comm.encode()[: L.BA_COMM_LEN - 1]
    prog.table("config")[ctypes.c_int(0)] = cfg


def _proc_ids(name: str) -> List[int]:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return [int(x) for x in line.split()[1:]]
    raise BpfauditError(f"/proc/self/status has no {name} line")


def selfcheck(prog: Program, timeout: float = 2.0) -> None:
    """Compares what BPF reads for this process with what /proc says."""
    cfg_map = prog.table("config")
    cfg = cfg_map[ctypes.c_int(0)]
    cfg.selfcheck = 1
    cfg_map[ctypes.c_int(0)] = cfg
    sc = prog.table("selfcheck")
    deadline = time.monotonic() + timeout
    while True:
        os.getppid()  # any syscall of ours triggers the check
        got = sc[ctypes.c_int(0)]
        if got.seq:
            break
        if time.monotonic() > deadline:
            raise BpfauditError("the BPF self-check never ran: is the raw_syscalls:sys_enter tracepoint firing?", 1)
        time.sleep(0.01)
    with open("/proc/self/loginuid") as f:
        auid = int(f.read())
    with open("/proc/self/sessionid") as f:
        ses = int(f.read())
    with open("/proc/self/comm", "rb") as f:
        comm = f.read().rstrip(b"\n")
    uid, euid, suid, fsuid = _proc_ids("Uid")
    gid, egid, sgid, fsgid = _proc_ids("Gid")
    expect = {
        "pid": os.getpid(), "ppid": os.getppid(), "auid": auid, "ses": ses,
        "uid": uid, "euid": euid, "suid": suid, "fsuid": fsuid,
        "gid": gid, "egid": egid, "sgid": sgid, "fsgid": fsgid, "comm": comm,
    }
    wrong = [f"{k}: BPF read {getattr(got, k)}, /proc says {v}" for k, v in expect.items() if getattr(got, k) != v]
    if wrong:
        raise BpfauditError(
            "kernel struct offsets are wrong for this kernel (" + "; ".join(wrong) + "): "
            f"check that /sys/kernel/btf/vmlinux belongs to the running kernel; {prog.headers.describe()}"
        )
    prog.startup_notes.append(
        f"offsets from BTF /sys/kernel/btf/vmlinux verified on pid {os.getpid()} "
        f"(auid {auid}, ses {ses}, uid {uid}); {prog.headers.describe()}"
    )
