"""The one exception type commands turn into a one-line message and an exit code."""


class BpfauditError(Exception):
    """A problem the user can fix: `str(err)` names it and the fix, in one line.

    Exit code 2 is for bad input or an unusable environment (the usage-error
    code of typer/click and auditctl), 1 for failures while running.
    """

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
