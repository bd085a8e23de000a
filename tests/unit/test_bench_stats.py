"""Benchmark statistics: medians, paired added costs, ratios and target checks."""

import pytest

from tracer.bench.stats import ConfigResult, at_least, at_most, median, paired_added, ratio, summarize


def test_median_odd_and_even():
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 2, 3]) == 2.5


def test_median_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        median([])


def test_paired_added_uses_same_round_differences():
    # a drift that doubles both in round 3: the paired median ignores it
    bare = [100, 100, 200]
    conf = [150, 160, 260]
    assert paired_added(conf, bare) == 60
    # the difference of medians would be 160 - 100 = 60 here too; make them differ
    assert paired_added([110, 300, 320], [100, 280, 300]) == 20


def test_ratio_guards():
    assert ratio(10, 4) == 2.5
    assert ratio(None, 4) is None
    assert ratio(1, 0) is None
    assert ratio(1, -5) is None


def test_summarize_fills_ratios_against_bare_and_kaudit():
    rows = [ConfigResult("bare", [500, 520, 510]), ConfigResult("kaudit", [1000, 1020, 1010]),
            ConfigResult("ours", [700, 720, 710])]
    summarize(rows, "bare", "kaudit")
    bare, ka, ours = rows
    assert bare.added_ns == 0 and bare.x_bare == 1
    assert ka.added_ns == 500
    assert ours.median_ns == 710 and ours.added_ns == 200
    assert ours.x_bare == pytest.approx(710 / 510)
    assert ours.x_kaudit == pytest.approx(710 / 1010)
    assert ours.added_vs_kaudit == pytest.approx(200 / 500)


def test_summarize_without_baseline_is_an_error():
    with pytest.raises(ValueError, match="baseline"):
        summarize([ConfigResult("ours", [1.0])], "bare", None)


def test_summarize_leaves_kaudit_ratios_empty_without_kaudit():
    rows = summarize([ConfigResult("bare", [1.0, 1.0]), ConfigResult("x", [2.0, 3.0])], "bare", None)
    assert rows[1].added_ns == 1.5 and rows[1].x_kaudit is None


def test_targets():
    assert at_most("S1", "t", 1.1, 1.2).met is True
    assert at_most("S1", "t", 1.3, 1.2).met is False
    assert at_most("S1", "t", None, 1.2).met is None
    assert at_least("S3", "t", 600_000, 500_000).met is True
    assert at_least("S3", "t", 400_000, 500_000).met is False


def test_to_json_keeps_samples_and_extras():
    r = ConfigResult("ours", [1.0, 2.0], extra={"lost_total": 0})
    summarize([ConfigResult("bare", [1.0, 1.0]), r], "bare", None)
    d = r.to_json()
    assert d["samples_ns_per_call"] == [1.0, 2.0] and d["lost_total"] == 0 and d["added_ns"] == 0.5
