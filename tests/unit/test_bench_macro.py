"""S4's generated project and jobs (no root: make and gcc run as the test user)."""

import shutil

import pytest

from tracer.bench.macro import MakeJob, Project, dd_job, generate_project, unit_source
from tracer.bench.s4 import rows_for
from tracer.bench.stats import ConfigResult


def test_unit_source_defines_its_entry_point():
    src = unit_source(3, 2)
    assert "int unit3(int x) { return f3_0(x) + f3_1(x); }" in src


def test_generated_project_layout(tmp_path):
    generate_project(str(tmp_path), units=3, functions=2)
    assert sorted(p.name for p in (tmp_path / "src").iterdir()) == ["main.c", "unit0.c", "unit1.c", "unit2.c"]
    assert "obj/%.o: src/%.c" in (tmp_path / "Makefile").read_text()


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("gcc") is None, reason="needs make and gcc")
def test_make_job_builds_from_clean_and_times_it():
    with Project() as root:
        job = MakeJob(root, None)
        first = job.run()
        second = job.run()  # from clean again, so it compiles again
    assert first.ns > 0 and second.ns > 0
    assert second.cpu_ns_per_call > 0  # the compilers' CPU time reached us through RUSAGE_CHILDREN


def test_dd_job_command():
    job = dd_job(100, None)
    assert job.argv[:4] == ["dd", "if=/dev/zero", "of=/dev/null", "bs=1"] and "count=100" in job.argv
    assert job.run().ns > 0


def test_rows_for_reads_runs_in_milliseconds():
    runs = lambda vals: {"runs": [{"wall_ns_per_call": v, "cpu_ns_per_call": v / 2} for v in vals]}  # noqa: E731
    results = {"bare": ConfigResult("bare", [], runs([1e9, 1e9])),
               "kernel audit + auditd default": ConfigResult("kernel audit + auditd default", [], runs([2e9, 2e9])),
               "bpfaudit": ConfigResult("bpfaudit", [], runs([1.5e9, 1.5e9]))}
    wall = {r.name: r for r in rows_for(results, "wall")}
    assert wall["bpfaudit"].median_ns == 1500 and wall["bpfaudit"].x_kaudit == 0.75
    cpu = {r.name: r for r in rows_for(results, "cpu")}
    assert cpu["bare"].median_ns == 500
