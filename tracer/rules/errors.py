"""The error a malformed rule raises: one line naming where, the offending token and the fix."""

from __future__ import annotations

from typing import Optional

from tracer.errors import BpfauditError

COMMAND_LINE = "<command line>"


class RuleError(BpfauditError):
    """A rule that auditctl (or the kernel) would refuse, or that bpfaudit cannot use.

    `str(err)` is `WHERE: TOKEN: problem; expected/fix` with WHERE `FILE:LINE`
    or `<command line>`.
    """

    def __init__(self, where: str, token: Optional[str], message: str):
        self.where = where
        file, _, line = where.rpartition(":")
        self.file, self.line = (file, int(line)) if line.isdigit() else (where, 0)
        self.token = token
        self.problem = message
        shown = token if token is None or len(token) <= 80 else token[:60] + f"...({len(token)} characters)"
        text = f"{where}: {shown}: {message}" if token else f"{where}: {message}"
        super().__init__(text, exit_code=2)
