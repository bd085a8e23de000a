"""Rule lines to tokens: files the way auditctl -R splits them, command-line rules like a shell."""

from __future__ import annotations

import shlex
from typing import Iterator, List, Tuple

from tracer.rules.errors import COMMAND_LINE, RuleError
from tracer.rules.model import Source


def split_file_line(text: str) -> List[str]:
    """Split on spaces only, as auditctl's audit_strsplit; `\\ ` is a space inside a token,
    `\\\\` a backslash (auditctl's preprocess/postprocess)."""
    tokens, cur, i, have = [], [], 0, False
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in " \\":
            cur.append(text[i + 1])
            have = True
            i += 2
            continue
        if ch == " ":
            if have:
                tokens.append("".join(cur))
                cur, have = [], False
        else:
            cur.append(ch)
            have = True
        i += 1
    if have:
        tokens.append("".join(cur))
    return tokens


def file_lines(path: str, text: str) -> Iterator[Tuple[Source, List[str]]]:
    """(source, tokens) of each rule line of a rules file; blank and # comment lines skipped."""
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip(" "):
            continue
        tokens = split_file_line(line)
        if not tokens or tokens[0].startswith("#"):
            continue
        src = Source(path, lineno)
        for tok in tokens:
            if "\t" in tok:
                raise RuleError(
                    str(src), tok.replace("\t", "\\t"),
                    "contains a tab: auditctl splits rule lines on spaces only; use spaces",
                )
        yield src, tokens


def split_command_line(rule: str) -> List[str]:
    """Shell-style split of one rule given as a string on the command line."""
    try:
        return shlex.split(rule)
    except ValueError as err:
        raise RuleError(COMMAND_LINE, rule, f"cannot split the rule: {err}") from None
