from procurement.reviews.service import aggregate_centi, weighted_centi


def test_weights_apply_to_each_criterion() -> None:
    criteria = [{"code": "a", "weight": 40}, {"code": "b", "weight": 35}, {"code": "c", "weight": 25}]
    assert weighted_centi(criteria, {"a": 90, "b": 80, "c": 70}) == 90 * 40 + 80 * 35 + 70 * 25  # 81.50 points


def test_fewer_than_five_sheets_are_averaged_whole() -> None:
    assert aggregate_centi([8000, 9000, 10000, 1000]) == 7000


def test_from_five_sheets_the_highest_and_lowest_are_dropped() -> None:
    assert aggregate_centi([1000, 8000, 8500, 9000, 10000]) == 8500


def test_the_average_rounds_half_up_in_hundredths() -> None:
    assert aggregate_centi([8001, 8002]) == 8002  # 80.015 → 80.02
    assert aggregate_centi([8000, 8001, 8001]) == 8001  # 80.0067 → 80.01
