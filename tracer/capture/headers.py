"""Finds the kernel header tree bcc compiles against and says whether it
matches the running kernel (it is only used to compile: offsets come from BTF)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from tracer.errors import BpfauditError


@dataclass(frozen=True)
class HeaderTree:
    path: str  # what /lib/modules/$(uname -r)/build resolves to
    version: str  # UTS_RELEASE of that tree
    running: str  # uname -r

    @property
    def matching(self) -> bool:
        return self.version == self.running

    def describe(self) -> str:
        if self.matching:
            return f"headers {self.path} (matching {self.running})"
        return f"headers {self.path} ({self.version}, substitute for {self.running}: compile only)"


def header_tree(modules_dir: str = "/lib/modules") -> HeaderTree:
    running = os.uname().release
    build = Path(modules_dir) / running / "build"
    if not (build / "include").is_dir():
        raise BpfauditError(
            f"no kernel header tree at {build}: run `sudo scripts/setup` (it installs the distribution's headers)"
        )
    version = "unknown"
    uts = build / "include" / "generated" / "utsrelease.h"
    if uts.is_file():
        m = re.search(r'UTS_RELEASE\s+"([^"]+)"', uts.read_text())
        if m:
            version = m.group(1)
    return HeaderTree(str(build.resolve()), version, running)
