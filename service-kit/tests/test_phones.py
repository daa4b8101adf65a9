"""Phone numbers as every service keeps them: E.164, Chinese by default; mobiles alone sign in; masked for others."""

import pytest

from service_kit import phones
from service_kit.errors import ValidationFailed


@pytest.mark.parametrize(
    "raw",
    ["13812345678", "138 1234 5678", "+86 138-1234-5678", "0086 13812345678", "+8613812345678"],
)
def test_chinese_mobile_numbers_are_stored_in_e164(raw: str) -> None:
    assert phones.normalize(raw) == "+8613812345678"


def test_a_beijing_landline_gets_its_area_code() -> None:
    assert phones.normalize("010-6935 1234") == "+861069351234"


@pytest.mark.parametrize("raw", ["12345", "not a phone", "1381234567", "+86 999 9999 9999", "☎☎☎"])
def test_what_is_not_a_phone_number_is_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        phones.normalize(raw)
    assert caught.value.code == "invalid_phone"


def test_masking_keeps_the_first_three_and_last_four_digits() -> None:
    assert phones.mask("+8613812345678") == "138****5678"
    assert phones.mask("+861069351234") == "106****1234"


def test_a_validator_gets_a_value_error_naming_what_is_wrong() -> None:
    assert phones.e164("138 1234 5678") == "+8613812345678"
    with pytest.raises(ValueError, match="not a valid phone number"):
        phones.e164("1381234567")


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("010-6935 1234", "not a mobile number"),
        ("+1 650 253 0000", "a number outside mainland China"),
        ("not a phone", "not a phone number"),
    ],
)
def test_only_a_mainland_mobile_number_is_one_a_sign_in_code_goes_to(raw: str, why: str) -> None:
    assert phones.mobile("+86 138-1234-5678") == "+8613812345678"
    with pytest.raises(ValidationFailed) as caught:
        phones.mobile(raw)
    assert caught.value.code == "not_a_mobile_number"
    assert why in str(caught.value)
