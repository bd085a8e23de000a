"""One auditctl rule line (tokens) to a Rule, option by option as auditctl's setopt() reads it,
with the kernel's refusals checked too, and one clear RuleError for anything wrong."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from typing import List, Optional, Set

from tracer.rules import fields as F
from tracer.rules.errors import COMMAND_LINE, RuleError
from tracer.rules.model import (
    AUDIT_MAX_FIELDS,
    AUDIT_MAX_KEY_LEN,
    KEY_SEPARATOR,
    NR_SYSCALL_BITS,
    Cond,
    Ignored,
    Rule,
    Source,
)
from tracer.syscall_table import (
    ARCH_NAMES,
    AUDIT_ARCH_X86_64,
    NEWER_SYSCALLS,
    syscall_number,
    syscall_table,
)

ARG_OPTIONS = set("CefrbaAdSFmRwWkpq")
FLAG_OPTIONS = set("hicslDvt")
LONG_OPTIONS = {  # name: takes an argument
    "loginuid-immutable": False,
    "backlog_wait_time": True,
    "reset-lost": False,
    "reset_backlog_wait_time_actual": False,
    "signal": True,
}
NOT_APPLICABLE = {
    "D": "deletes the kernel's rules; bpfaudit starts from an empty rule list",
    "b": "sets the kernel's audit backlog; bpfaudit has its own buffers (see trace options)",
    "e": "sets the kernel's audit enabled flag; not applicable to eBPF",
    "f": "sets the kernel's failure mode; not applicable to eBPF",
    "r": "sets the kernel's audit rate limit; not applicable to eBPF",
    "c": "auditctl: continue after errors; bpfaudit reports every bad rule and stops",
    "i": "auditctl: ignore errors; bpfaudit reports every bad rule and stops",
    "s": "auditctl status report; not applicable",
    "l": "auditctl list request; use `bpfaudit rules list`",
    "v": "auditctl version; not applicable",
    "h": "auditctl help; not applicable",
    "t": "trims the kernel's directory watches; not applicable",
    "q": "kernel mount-point watch equivalence; not applicable",
    "m": "sends a user message to the kernel; not applicable",
    "R": "nested rule files are not supported (auditctl refuses them too)",
    "loginuid-immutable": "locks the kernel's loginuid; not applicable to eBPF",
    "backlog_wait_time": "sets the kernel's backlog wait time; not applicable to eBPF",
    "reset-lost": "resets the kernel's lost counter; not applicable",
    "reset_backlog_wait_time_actual": "kernel counter reset; not applicable",
    "signal": "signals auditd; not applicable",
}
LISTS = {"exit", "user", "task", "exclude", "filesystem", "io_uring"}
ACTIONS = {"always", "never"}
NAME_MAX = 255
PATH_MAX = 4096


@dataclass
class Line:
    """What one rules line does: add or delete a rule, clear the list, or nothing for us."""

    rule: Optional[Rule] = None
    delete: bool = False
    clear: bool = False
    clear_key: Optional[str] = None  # -D -k KEY: only rules whose key contains KEY (auditctl's strstr)
    ignored: List[Ignored] = field(default_factory=list)


class _LineParser:
    def __init__(self, tokens: List[str], source: Source, command_line: bool):
        self.tokens = tokens
        self.src = source
        self.where = str(source) if not command_line else COMMAND_LINE
        self.cmdline = command_line
        self.list: Optional[str] = None
        self.action: Optional[str] = None
        self.prepend = False
        self.delete = False
        self.elf: Optional[int] = None
        self.syscalls: Optional[Set[int]] = set()
        self.syscall_added = False
        self.perm_added = False
        self.exe_added = False
        self.fs_added = False
        self.watch = False
        self.arch_defaulted = False
        self.conds: List[Cond] = []
        self.keys: List[str] = []
        self.warnings: List[str] = []
        self.line = Line()

    def fail(self, token: Optional[str], message: str) -> RuleError:
        return RuleError(self.where, token, message)

    # -- option loop ------------------------------------------------------------------
    def parse(self) -> Line:
        toks, i = self.tokens, 0
        while i < len(toks):
            tok = toks[i]
            i += 1
            if tok.startswith("--") and len(tok) > 2:
                name, eq, arg = tok[2:].partition("=")
                if name not in LONG_OPTIONS:
                    raise self.fail(tok, "unknown option; see `auditctl -h` for the rule options")
                if LONG_OPTIONS[name] and not eq:
                    if i >= len(toks):
                        raise self.fail(tok, "needs a value")
                    arg = toks[i]
                    i += 1
                shown = tok if eq or not LONG_OPTIONS[name] else f"{tok} {arg}"
                self.ignore(shown, NOT_APPLICABLE[name])
                continue
            if tok.startswith("#"):
                raise self.fail(tok, "a comment must be on a line of its own (auditctl reads it as a word)")
            if not tok.startswith("-") or len(tok) < 2:
                raise self.fail(
                    tok,
                    "unexpected word: each word must be an option (-a, -S, -F, -k, -w, -p ...) "
                    "or the value right after one"
                    + ("; quote values with spaces" if self.cmdline else "; escape spaces as '\\ '"),
                )
            opt = tok[1]
            if opt in FLAG_OPTIONS:
                if len(tok) > 2:
                    raise self.fail(tok, f"-{opt} takes no value; separate options with spaces")
                self.flag(opt, tok)
                continue
            if opt not in ARG_OPTIONS:
                raise self.fail(tok, "unknown option; see `auditctl -h` for the rule options")
            if len(tok) > 2:
                arg = tok[2:]
            else:
                if i >= len(toks):
                    raise self.fail(tok, self.missing_arg(opt))
                arg = toks[i]
                i += 1
            self.option(opt, arg, f"-{opt} {arg}" if len(tok) == 2 else tok)
        return self.finish()

    @staticmethod
    def missing_arg(opt: str) -> str:
        return {
            "a": "needs LIST,ACTION, e.g. -a always,exit",
            "A": "needs LIST,ACTION, e.g. -A always,exit",
            "d": "needs LIST,ACTION, e.g. -d always,exit",
            "S": "needs a syscall name or number, e.g. -S openat",
            "F": "needs FIELD OP VALUE, e.g. -F auid>=1000",
            "C": "needs FIELD OP FIELD, e.g. -C auid!=uid",
            "k": "needs a key name",
            "w": "needs a path",
            "W": "needs a path",
            "p": "needs permissions, letters of rwxa",
        }.get(opt, "needs a value")

    def ignore(self, text: str, reason: str) -> None:
        self.line.ignored.append(Ignored(self.src, text, reason))

    def flag(self, opt: str, tok: str) -> None:
        if opt == "D":
            self.line.clear = True
        self.ignore(tok, NOT_APPLICABLE[opt])

    def option(self, opt: str, arg: str, tok: str) -> None:
        if opt in "aAd":
            self.set_list(opt, arg, tok)
        elif opt == "S":
            self.add_syscalls(arg, tok)
        elif opt == "F":
            self.add_field(arg, tok)
        elif opt == "C":
            self.add_compare(arg, tok)
        elif opt in "wW":
            self.add_watch(opt, arg, tok)
        elif opt == "p":
            self.set_perm(arg, tok)
        elif opt == "k" and self.line.clear and self.list is None:
            self.line.clear_key = arg  # -D -k KEY: delete only the rules with that key
        elif opt == "k":
            if not (self.syscall_added or self.perm_added or self.exe_added or self.fs_added) or (
                self.list is None
            ):
                raise self.fail(
                    tok,
                    "-k needs a rule before it: -a/-A with -S, or -w, or -F path/dir/perm/exe "
                    "(auditctl's rule); or write -F key=" + arg,
                )
            self.add_key(arg, tok)
        else:  # e f r b m R q: kernel/daemon control with a value
            self.ignore(tok, NOT_APPLICABLE[opt])

    # -- -a/-A/-d ---------------------------------------------------------------------
    def set_list(self, opt: str, arg: str, tok: str) -> None:
        if self.list is not None:
            raise self.fail(
                tok,
                "a second -a/-A/-d/-w on one line; put each rule on its own line"
                if not self.watch
                else "-w makes a rule of its own; it cannot be combined with -a/-A/-d",
            )
        parts = arg.split(",")
        if len(parts) != 2 or not all(parts):
            raise self.fail(tok, "expected LIST,ACTION with one comma, e.g. always,exit")
        a, b = parts
        # auditctl takes both orders; pick the reading that names a known list
        if a in LISTS or (b not in LISTS and a not in ACTIONS and a != "possible"):
            lst, action = a, b
        else:
            action, lst = a, b
        if action == "possible":
            raise self.fail(tok, "the 'possible' action is deprecated and refused; use always or never")
        if lst not in LISTS:
            guess = difflib.get_close_matches(lst, sorted(LISTS), 1)
            raise self.fail(
                tok,
                f"unknown list '{lst}'; expected exit, user, task, exclude, filesystem or io_uring"
                + (f" (did you mean {guess[0]}?)" if guess else ""),
            )
        if action not in ACTIONS:
            raise self.fail(tok, f"unknown action '{action}'; expected always or never")
        if lst == "task" and self.syscall_added:
            raise self.fail(tok, "-S given for the task list; task rules take no syscalls")
        self.list, self.action = lst, action
        self.prepend = opt == "A"
        self.delete = opt == "d"

    # -- -S -----------------------------------------------------------------------------
    def add_syscalls(self, arg: str, tok: str) -> None:
        if self.watch:
            raise self.fail(tok, "-S cannot be added to a -w watch; write the rule with -a and -F path=")
        if self.list in ("task", "user", "filesystem", "exclude"):
            raise self.fail(tok, f"syscalls cannot be used on the {self.list} list; only exit takes -S")
        if self.elf is None:
            self.elf = AUDIT_ARCH_X86_64
            self.arch_defaulted = True
        arch = ARCH_NAMES[self.elf]
        for item in arg.split(","):
            if not item:
                continue
            if item == "all":
                self.syscalls = None
                continue
            nr = syscall_number(arch, item.lower())
            if nr is None and item[:1].isdigit():
                nr = F.c_number(item)
                if nr is None:
                    raise self.fail(tok, f"'{item}' is neither a syscall name nor a number")
                if nr >= NR_SYSCALL_BITS:
                    raise self.fail(
                        tok, f"syscall number {nr} is out of range (the kernel's mask holds 0-{NR_SYSCALL_BITS - 1})"
                    )
            if nr is None:
                raise self.fail(tok, self.unknown_syscall(item, arch))
            if self.syscalls is not None:
                self.syscalls.add(nr)
        self.syscall_added = True

    @staticmethod
    def unknown_syscall(name: str, arch: str) -> str:
        other = "i386" if arch == "x86_64" else "x86_64"
        msg = f"unknown syscall '{name}' for arch {arch} (libaudit's table, as auditctl resolves names)"
        if syscall_number(other, name.lower()) is not None:
            flag = "b32" if other == "i386" else "b64"
            return msg + f"; it is an {other} syscall: put -F arch={flag} before -S"
        newer = NEWER_SYSCALLS.get(name.lower())
        if newer is not None:
            return (
                f"syscall '{name}' is newer than libaudit 3.0.9's table, which auditctl resolves "
                f"names with; write its number: -S {newer}"
            )
        guess = difflib.get_close_matches(name.lower(), list(syscall_table(arch).values()), 1)
        if guess:
            return msg + f"; did you mean {guess[0]}?"
        return msg + "; use its number if the kernel has it but libaudit does not"

    # -- -F -------------------------------------------------------------------------------
    def add_field(self, arg: str, tok: str) -> None:
        if self.list is None:
            raise self.fail(tok, "-F before the list: put -a always,exit (or -w) first on the line")
        if arg[:4].lower() == "key=":
            self.add_key(arg[4:], tok)
            return
        op = next((o for o in F.OPERATORS if o in arg), None)
        if op is None:
            raise self.fail(tok, self.missing_operator(arg))
        name, value = arg.split(op, 1)
        if not name:
            raise self.fail(tok, f"missing field name before '{op}'")
        spec = F.lookup(name)
        if spec is None:
            if name.lower() in ("loginuid_set", "ses"):
                hint = {"loginuid_set": "auid!=unset (or auid=unset)", "ses": "sessionid"}[name.lower()]
                raise self.fail(tok, f"unknown field '{name}' for auditctl; write {hint}")
            if name.lower() == "field_compare":
                raise self.fail(tok, "compare fields with -C, e.g. -C auid!=uid")
            guess = difflib.get_close_matches(name.lower(), sorted(F.FIELDS), 1)
            raise self.fail(
                tok, f"unknown field '{name}'" + (f"; did you mean {guess[0]}?" if guess else "")
            )
        if not value:
            raise self.fail(tok, f"missing value after '{op}'")
        if self.list not in spec.lists:
            lists = " or ".join(sorted(spec.lists - {"io_uring"}))
            raise self.fail(tok, f"field {spec.name} is only valid on the {lists} list, not {self.list}")
        if self.list == "filesystem" and spec.name != "fstype":
            raise self.fail(tok, "the filesystem list takes only fstype (and a key)")
        if op not in spec.ops:
            allowed = " ".join(o for o in ("=", "!=", "<", ">", "<=", ">=", "&", "&=") if o in spec.ops)
            why = " (bit operators are for syscall arguments a0-a3 and pers)" if op in ("&", "&=") else ""
            raise self.fail(tok, f"operator '{op}' is not allowed for {spec.name}; use {allowed}{why}")
        if spec.name == "arch" and self.syscall_added:
            raise self.fail(
                tok, "-F arch must come before -S: auditctl resolves -S names in the table of the arch given before them"
            )
        try:
            val, text, warning = F.parse_value(spec, op, value)
        except F.ValueProblem as err:
            raise self.fail(tok, str(err)) from None
        if warning:
            self.warnings.append(f"{self.where}: {tok}: {warning}")
        if spec.kind == "path":
            self.check_exists(spec.name, text or "", tok)
        if spec.kind == "path" or spec.name == "inode":
            if any(c.name in ("path", "dir", "inode") for c in self.conds):
                raise self.fail(tok, "only one of path, dir, inode per rule (the kernel refuses more)")
        if spec.name == "exe" and self.exe_added:
            raise self.fail(tok, "only one exe per rule (the kernel refuses more)")
        if spec.name == "arch":
            self.elf = val
        if spec.kind == "path" or spec.name == "perm":
            self.perm_added = True
        if spec.name == "exe":
            self.exe_added = True
        if spec.name == "fstype":
            self.fs_added = True
        if spec.name == "perm":  # a later perm replaces an earlier one, as auditctl updates it
            for k, c in enumerate(self.conds):
                if c.name == "perm":
                    self.conds[k] = Cond("perm", spec.type, op, val, None, tok)
                    return
        self.append(Cond(spec.name, spec.type, op, val, text, tok), tok)

    def missing_operator(self, arg: str) -> str:
        base = f"no operator in '{arg}'; expected FIELD OP VALUE with OP one of = != < > <= >= & &="
        if self.cmdline:
            return (
                base + ". On a shell command line an unquoted >, < or & is shell syntax (redirection "
                f"or background): the shell ate the operator and value after '{arg}' (and may have "
                f"created a file); quote the whole rule, e.g. '-F {arg}>=1000'"
            )
        return base

    def append(self, cond: Cond, tok: str) -> None:
        if len(self.conds) >= AUDIT_MAX_FIELDS - 1:
            raise self.fail(tok, f"too many fields: a rule holds at most {AUDIT_MAX_FIELDS - 1}")
        self.conds.append(cond)

    # -- -C -------------------------------------------------------------------------------
    def add_compare(self, arg: str, tok: str) -> None:
        if self.list not in ("exit", "io_uring"):
            raise self.fail(tok, "-C is only valid on the exit list; put -a always,exit before it")
        if "!=" in arg:
            op = "!="
        elif "=" in arg:
            op = "="
        else:
            raise self.fail(tok, "-C takes only = or !=, e.g. -C auid!=uid")
        left, right = arg.split(op, 1)
        if not left or not right:
            raise self.fail(tok, f"expected FIELD{op}FIELD, e.g. -C auid{op}uid")
        names = []
        for side in (left, right):
            spec = F.lookup(side)
            if spec is None:
                raise self.fail(tok, f"unknown field '{side}'")
            names.append(spec.name)
        entry = F.COMPARES.get(frozenset(names))
        if entry is None or names[0] == names[1]:
            raise self.fail(
                tok,
                f"cannot compare {names[0]} with {names[1]}: -C compares uid-type fields with each "
                "other (uid euid suid fsuid auid obj_uid) or gid-type ones (gid egid sgid fsgid obj_gid)",
            )
        code, l, r = entry
        self.append(Cond("field_compare", F.AUDIT_FIELD_COMPARE, op, code, f"{l},{r}", tok), tok)

    # -- -w/-W/-p -------------------------------------------------------------------------
    def add_watch(self, opt: str, path: str, tok: str) -> None:
        if self.list is not None:
            raise self.fail(tok, "-w makes a rule of its own; it cannot be combined with -a/-A/-d")
        if len(path) >= PATH_MAX:
            raise self.fail(tok, "the watched path is too long")
        if not path.startswith("/"):
            raise self.fail(tok, "the watched path must be absolute (start with '/')")
        if len(os.path.basename(path.rstrip("/"))) > NAME_MAX:
            raise self.fail(tok, "the last component of the path is longer than 255 characters")
        if ".." in path:
            self.warnings.append(f"{self.where}: {tok}: relative path notation (..) is not supported")
        if "*" in path or "?" in path:
            self.warnings.append(f"{self.where}: {tok}: wildcards are not supported; the path is literal")
        if len(path) > 2:
            while len(path) > 1 and path.endswith("/"):
                path = path[:-1]
        kind = "dir" if os.path.isdir(path) else "path"
        self.check_exists(kind, path, tok)
        self.list, self.action = "exit", "always"
        self.delete = opt == "W"
        self.watch = True
        self.syscalls = None
        self.syscall_added = self.perm_added = True
        spec = F.FIELDS[kind]
        self.conds = [
            Cond(kind, spec.type, "=", len(path), path, tok),
            Cond("perm", F.AUDIT_PERM, "=", 15, None, tok),
        ]

    def check_exists(self, kind: str, path: str, tok: str) -> None:
        # The kernel resolves watches when the rule is loaded: a missing directory (or the
        # parent of a watched file) makes it refuse the rule with ENOENT.
        missing = path if kind == "dir" else os.path.dirname(path.rstrip("/")) or "/"
        if not os.path.isdir(missing):
            self.warnings.append(
                f"{self.where}: {tok}: directory {missing} does not exist here: the kernel would "
                "refuse this rule (No such file or directory); bpfaudit keeps it"
            )

    def set_perm(self, arg: str, tok: str) -> None:
        if self.list is None:
            raise self.fail(tok, "-p needs a watch before it: -w PATH -p PERMS")
        if not self.conds:
            raise self.fail(tok, "-p needs a watch (or other fields) before it")
        try:
            val, _, _ = F.parse_value(F.FIELDS["perm"], "=", arg)
        except F.ValueProblem as err:
            raise self.fail(tok, str(err)) from None
        if not arg:
            raise self.fail(tok, "-p needs permissions, letters of rwxa")
        self.perm_added = True
        for k, c in enumerate(self.conds):
            if c.name == "perm":
                self.conds[k] = Cond("perm", F.AUDIT_PERM, "=", val, None, tok)
                return
        self.append(Cond("perm", F.AUDIT_PERM, "=", val, None, tok), tok)

    # -- -k -------------------------------------------------------------------------------
    def add_key(self, key: str, tok: str) -> None:
        if not key:
            raise self.fail(tok, "empty key")
        if KEY_SEPARATOR in key:
            raise self.fail(tok, "the key contains \\x01, the separator of several keys")
        total = len(KEY_SEPARATOR.join(self.keys + [key]))
        if total > AUDIT_MAX_KEY_LEN:
            raise self.fail(
                tok,
                f"keys too long: {total} characters for the rule, at most {AUDIT_MAX_KEY_LEN} "
                "(all -k of a rule together, joined by one separator each)",
            )
        self.keys.append(key)

    # -- end of line --------------------------------------------------------------------
    def finish(self) -> Line:
        line = self.line
        if self.list is None:
            if self.syscall_added or self.conds or self.keys:
                raise self.fail(None, "no list given: add -a always,exit (or -w PATH) to the rule")
            return line
        if self.keys and not (self.syscall_added or self.perm_added or self.exe_added or self.fs_added):
            raise self.fail(
                "key=" + self.keys[0],
                "a key needs -S, -w, -F path/dir/perm or -F exe in the rule (auditctl refuses "
                "it otherwise); add e.g. -S all",
            )
        if self.keys and len(self.conds) >= AUDIT_MAX_FIELDS - 1:
            raise self.fail(None, f"too many fields: a rule holds at most {AUDIT_MAX_FIELDS - 1}")
        if self.list != "task" and not self.syscall_added:
            self.syscalls = None  # auditctl adds "-S all"
        if self.list in ("task", "user", "exclude", "filesystem"):
            syscalls = None
        else:
            syscalls = None if self.syscalls is None else frozenset(self.syscalls)
        if self.arch_defaulted and syscalls is not None and not self.delete and self.list == "exit":
            self.warnings.append(
                f"{self.where}: -S without -F arch: the names were resolved in the x86_64 table "
                "and the rule applies to both ABIs (an i386 process matches by the same numbers); "
                "put -F arch=b64 before -S (and add a -F arch=b32 copy for 32-bit programs)"
            )
        line.rule = Rule(
            list=self.list,
            action=self.action or "always",
            syscalls=syscalls,
            conds=list(self.conds),
            keys=list(self.keys),
            source=self.src,
            prepend=self.prepend,
            from_watch=self.watch,
            warnings=list(self.warnings),
        )
        line.delete = self.delete
        return line


def parse_tokens(tokens: List[str], source: Source, command_line: bool = False) -> Line:
    """Parse the tokens of one rules line; raises RuleError."""
    return _LineParser(tokens, source, command_line).parse()

