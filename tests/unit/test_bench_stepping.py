"""The S3 rate search: doubling, bisecting, stopping."""

from tracer.bench.stepping import Step, bounds, ceiling, next_rate


def run_search(capacity, generator_max=10**9, start=25_000):
    """Drives next_rate against a model tracer that is lossless up to `capacity` records/s."""
    history = []
    rate = next_rate(history, start=start)
    while rate is not None:
        achieved = min(rate, generator_max)
        history.append(Step(rate, achieved, achieved <= capacity))
        rate = next_rate(history, start=start)
    return history


def test_first_rate_is_the_start():
    assert next_rate([], start=1000) == 1000


def test_doubles_while_lossless():
    assert next_rate([Step(1000, 1000, True)]) == 2000


def test_bisects_between_good_and_bad_geometrically():
    h = [Step(100_000, 100_000, True), Step(400_000, 400_000, False)]
    assert next_rate(h) == 200_000


def test_stops_within_precision():
    h = [Step(100_000, 100_000, True), Step(110_000, 110_000, False)]
    assert next_rate(h, precision=1.15) is None


def test_finds_ceiling_within_precision():
    h = run_search(capacity=333_000)
    lo, hi, _ = bounds(h)
    assert lo <= 333_000 < hi and hi / lo <= 1.15
    assert ceiling(h) == lo


def test_stops_when_generator_saturates_without_loss():
    h = run_search(capacity=10**9, generator_max=700_000)
    assert ceiling(h) == 700_000
    assert all(s.lossless for s in h)
    assert h[-1].target > 700_000  # stopped right after the first short step


def test_loss_at_start_steps_down():
    h = run_search(capacity=5_000, start=25_000)
    assert not h[0].lossless
    assert 5_000 / 1.15 <= ceiling(h) <= 5_000


def test_max_steps_bounds_the_search():
    h = [Step(1000 * 2**i, 1000 * 2**i, True) for i in range(12)]
    assert next_rate(h, max_steps=12) is None


def test_no_lossless_step_means_no_ceiling():
    assert ceiling([Step(1000, 1000, False)]) is None


def test_short_lossless_step_while_bisecting_ends_the_search():
    h = [Step(200_000, 200_000, True), Step(240_000, 238_000, False), Step(219_000, 155_000, True)]
    assert next_rate(h) is None
    assert ceiling(h) == 200_000
