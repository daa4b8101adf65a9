"""The edge's moving window, on its own: budgets per caller, the wait it names, callers forgotten when quiet."""

from __future__ import annotations

import pytest
from limits import parse

from gateway import ratelimit
from gateway.ratelimit import MovingWindow
from service_kit.testing import MonotonicClock


@pytest.fixture
def clock() -> MonotonicClock:
    return MonotonicClock(1000.0)


def test_a_budget_is_per_caller_and_moves_with_time(clock: MonotonicClock) -> None:
    window = MovingWindow(clock)
    three = parse("3/minute")
    for second in (0, 10, 20):
        clock.now = 1000.0 + second
        assert window.hit(three, "li-na") is None
    clock.now = 1030.0
    # The oldest hit (at 0 s) leaves the window at 60 s: 30 s from now.
    assert window.hit(three, "li-na") == pytest.approx(30.0)
    assert window.hit(three, "chen") is None  # another caller has their own budget
    clock.now = 1060.0
    assert window.hit(three, "li-na") is None  # the 0 s hit has left; refused hits never counted
    assert window.hit(three, "li-na") == pytest.approx(10.0)  # 10 s and 20 s hits, and the one just made


def test_limits_with_different_budgets_count_apart(clock: MonotonicClock) -> None:
    window = MovingWindow(clock)
    one, two = parse("1/second"), parse("2/second")
    assert window.hit(one, "ip") is None
    assert window.hit(one, "ip") is not None
    assert window.hit(two, "ip") is None
    assert window.hit(two, "ip") is None
    assert window.hit(two, "ip") is not None


def test_quiet_callers_are_forgotten(clock: MonotonicClock) -> None:
    window = MovingWindow(clock)
    minute = parse("5/minute")
    for caller in ("a", "b", "c"):
        window.hit(minute, caller)
    clock.now += ratelimit.SWEEP_SECONDS + 1
    window.hit(minute, "d")
    assert set(window._hits) == {(minute, "d")}
