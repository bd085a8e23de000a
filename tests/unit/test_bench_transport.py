"""The bench's --transport: which transport S2, S3 and S5 judge, what is measured beside it,
and a bad value refused in one line with exit code 2."""

import pytest
from typer.testing import CliRunner

from tracer.capture.session import DEFAULT_TRANSPORT
from tracer.bench import cli
from tracer.bench.s2 import beside_name, other_transport
from tracer.bench.s3 import TARGETED, setups

REPORT = {"machine": {"nproc": 2, "cpu_model": "x", "kernel": "6.18", "loadavg_before": 0.1,
                      "loadavg_after": 0.1}, "scenarios": {}, "targets": [], "skipped": {}, "elapsed_s": 0.0}


@pytest.fixture
def settings_seen(monkeypatch):
    seen = []

    def fake_run_bench(settings, log):
        seen.append(settings)
        return REPORT

    monkeypatch.setattr(cli.os, "geteuid", lambda: 0)
    monkeypatch.setattr(cli, "run_bench", fake_run_bench)
    return seen


@pytest.mark.parametrize("args, expected", [([], DEFAULT_TRANSPORT), (["--transport", "ringbuf"], "ringbuf"),
                                            (["--transport", "bcc"], "bcc"), (["--transport", "perf-ring"], "perf-ring")])
def test_the_option_reaches_the_settings(settings_seen, args, expected):
    result = CliRunner().invoke(cli.app, ["--scenarios", "S5", *args])
    assert result.exit_code == 0, result.output
    assert [s.transport for s in settings_seen] == [expected]


def test_a_bad_transport_is_one_line_and_exit_2(settings_seen):
    result = CliRunner().invoke(cli.app, ["--transport", "ring"])
    assert result.exit_code == 2 and settings_seen == []
    assert result.output.strip() == "bpfaudit bench: --transport ring: use perf-ring, ringbuf or bcc"


def test_s2_measures_the_other_ring_beside_the_judged_one():
    assert (other_transport("perf-ring"), other_transport("ringbuf"), other_transport("bcc")) == \
        ("ringbuf", "perf-ring", "ringbuf")
    assert beside_name("ringbuf") == "bpfaudit, perf-ring transport"


@pytest.mark.parametrize("transport, beside", [
    ("perf-ring", {"decode-bcc": "bcc", "decode-ringbuf": "ringbuf", "count-ringbuf": "ringbuf"}),
    ("ringbuf", {"decode-bcc": "bcc", "decode-perf-ring": "perf-ring", "count-perf-ring": "perf-ring"}),
    ("bcc", {"decode-ringbuf": "ringbuf", "count-ringbuf": "ringbuf"}),
])
def test_s3_searches_the_judged_transport_under_the_targeted_keys(transport, beside):
    found = setups(transport)
    # S5 takes its rate from "S3-decode": the per-record consumer on the judged transport
    assert {k: found[k][:2] for k in TARGETED} == {"decode": (True, transport), "count": (False, transport)}
    assert {k: v[1] for k, v in found.items() if k not in TARGETED} == beside
    assert all(v[0] == k.startswith("decode") for k, v in found.items())
    assert len({v[2] for v in found.values()}) == len(found)  # every search has its own title
