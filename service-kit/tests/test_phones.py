import pytest

from booking.residents import phones
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
