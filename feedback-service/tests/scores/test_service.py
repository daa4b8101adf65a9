import pytest

from feedback.scores.service import PRIOR_MEAN, PRIOR_WEIGHT, bayesian_average


def test_no_ratings_score_the_prior_mean() -> None:
    assert bayesian_average({}) == PRIOR_MEAN


def test_one_five_star_rating_does_not_make_a_five_star_provider() -> None:
    assert bayesian_average({5: 1}) == pytest.approx((PRIOR_WEIGHT * PRIOR_MEAN + 5) / (PRIOR_WEIGHT + 1))
    assert bayesian_average({5: 1}) == pytest.approx(4.1667, abs=1e-4)


def test_many_ratings_outweigh_the_prior() -> None:
    many = bayesian_average({5: 160, 4: 40})  # raw mean 4.8
    assert many == pytest.approx((5 * 4.0 + 960) / 205)
    assert many > bayesian_average({5: 1})
    assert bayesian_average({1: 200}) == pytest.approx((20 + 200) / 205)
