import base64
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from booking.residents.protection import ID_CARD, mask_id_card, normalize_id_card
from service_kit.errors import ValidationFailed
from service_kit.protection import Keyring, SealedValueError

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
    keyring = Keyring("a-test-key-that-is-long-enough")
    first, second = keyring.seal(ID_CARD, FANGSHAN_1938), keyring.seal(ID_CARD, FANGSHAN_1938)
    assert first != second
    assert FANGSHAN_1938 not in first
    assert keyring.open(ID_CARD, first) == keyring.open(ID_CARD, second) == FANGSHAN_1938
    other = Keyring("another-key-entirely-0000000000")
    with pytest.raises(SealedValueError, match="not in the keyring"):
        other.open(ID_CARD, first)
    with pytest.raises(SealedValueError, match="unknown sealed-value version"):
        keyring.open(ID_CARD, "v0:" + first[3:])


def _sealed_before(secret: str, number: str) -> tuple[str, str]:
    """An ID number as booking stored it before the kit's module: ``v1:`` and the index, derived the same way."""
    derive = lambda label: HKDF(  # noqa: E731
        algorithm=hashes.SHA256(), length=32, salt=b"linli-booking", info=label
    ).derive(secret.encode())
    nonce = b"\x01" * 12
    sealed = AESGCM(derive(b"id-card-encryption")).encrypt(nonce, number.encode(), b"linli.booking.resident.id_card")
    index = hmac.new(derive(b"id-card-blind-index"), number.encode(), hashlib.sha256).hexdigest()
    return "v1:" + base64.b64encode(nonce + sealed).decode(), index


def test_id_numbers_stored_before_still_open_and_are_found() -> None:
    stored, index = _sealed_before("the-old-data-key-0000000000000", FANGSHAN_1938)
    keyring = Keyring("the-old-data-key-0000000000000")
    assert keyring.open(ID_CARD, stored) == FANGSHAN_1938
    assert keyring.blind_index(ID_CARD, FANGSHAN_1938) == index
    assert not keyring.is_current(stored)  # the background job seals it again in the current form
    rotated = Keyring(
        "a-new-data-key-11111111111111",
        ["the-old-data-key-0000000000000"],
        index_key=("the-old-data-key-0000000000000"),
    )
    assert rotated.open(ID_CARD, stored) == FANGSHAN_1938
    assert rotated.blind_index(ID_CARD, FANGSHAN_1938) == index


def test_the_blind_index_is_keyed_and_stable() -> None:
    keyring = Keyring("a-test-key-that-is-long-enough")
    other = Keyring("another-key-entirely-0000000000")
    assert keyring.blind_index(ID_CARD, FANGSHAN_1938) == keyring.blind_index(ID_CARD, FANGSHAN_1938)
    assert keyring.blind_index(ID_CARD, FANGSHAN_1938) != other.blind_index(ID_CARD, FANGSHAN_1938)
    assert keyring.blind_index(ID_CARD, FANGSHAN_1938) != keyring.blind_index(ID_CARD, "110111193803151237")
    assert len(keyring.blind_index(ID_CARD, FANGSHAN_1938)) == 64
