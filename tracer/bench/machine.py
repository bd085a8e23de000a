"""What the numbers were measured on: CPUs, kernel, CPU model, load."""

from __future__ import annotations

import os
import platform
from typing import Dict


def cpu_model(cpuinfo: str) -> str:
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def describe() -> Dict[str, object]:
    with open("/proc/cpuinfo") as f:
        model = cpu_model(f.read())
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu_model": model,
            "loadavg_before": loadavg()}
