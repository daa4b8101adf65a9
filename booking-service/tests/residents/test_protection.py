import pytest
from pydantic import SecretStr

from booking.residents.protection import Protector, mask_id_card, normalize_id_card
from service_kit.errors import ValidationFailed

FANGSHAN_1938 = "11011119380315004X"


def test_id_numbers_are_validated_by_check_digit_and_birth_date() -> None:
    assert normalize_id_card("11011119380315004x") == FANGSHAN_1938
    # A Fangshan elder born before the district's code existed is a real resident, not an error.
    assert normalize_id_card("110111193803151237") == "110111193803151237"
    for bad in ("110111193803150043", "11011119381315004X", "1101111938031500", "abc", "1" * 40):
        with pytest.raises(ValidationFailed) as raised:
            normalize_id_card(bad)
        assert raised.value.code == "invalid_id_card"


def test_masking_keeps_the_first_and_last_four() -> None:
    assert mask_id_card("110111193803151237") == "1101**********1237"


def test_encryption_round_trips_and_never_repeats() -> None:
    protector = Protector.from_secret(SecretStr("a-test-key-that-is-long-enough"))
    first, second = protector.encrypt(FANGSHAN_1938), protector.encrypt(FANGSHAN_1938)
    assert first != second
    assert FANGSHAN_1938 not in first
    assert protector.decrypt(first) == protector.decrypt(second) == FANGSHAN_1938
    other = Protector.from_secret(SecretStr("another-key-entirely-0000000000"))
    with pytest.raises(ValueError, match="does not open"):
        other.decrypt(first)
    with pytest.raises(ValueError, match="unknown protected-field version"):
        protector.decrypt("v0:" + first[3:])


def test_the_blind_index_is_keyed_and_stable() -> None:
    protector = Protector.from_secret(SecretStr("a-test-key-that-is-long-enough"))
    other = Protector.from_secret(SecretStr("another-key-entirely-0000000000"))
    assert protector.blind_index(FANGSHAN_1938) == protector.blind_index(FANGSHAN_1938)
    assert protector.blind_index(FANGSHAN_1938) != other.blind_index(FANGSHAN_1938)
    assert protector.blind_index(FANGSHAN_1938) != protector.blind_index("110111193803151237")
    assert len(protector.blind_index(FANGSHAN_1938)) == 64
