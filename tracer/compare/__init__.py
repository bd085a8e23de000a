"""`bpfaudit compare`: one workload under kernel audit, under bpfaudit and under
neither, side by side (records, losses, cost)."""

from tracer.compare.observe import Observation
from tracer.compare.report import build_report, render_report
from tracer.compare.run import CompareOptions, run_compare

__all__ = ["CompareOptions", "Observation", "build_report", "render_report", "run_compare"]
