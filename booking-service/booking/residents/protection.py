"""ID-card numbers at rest: AES-GCM encrypted, with an HMAC-SHA256 blind index for exact lookup.

Both keys are derived (HKDF-SHA256) from ``settings.data_key`` with distinct labels, so the index key never
decrypts and the encryption key never indexes. The stored form is ``v1:<base64(nonce ‖ ciphertext)>``.
"""

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

from service_kit.errors import ValidationFailed

_AAD = b"linli.booking.resident.id_card"


def _derive(secret: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"linli-booking", info=label).derive(secret)


def normalize_id_card(raw: str) -> str:
    """The 18-character resident ID number: length, digits, check digit and birth date validated with
    python-stdnum's ``cn.ric``; anything else is a 422.

    ``ric.validate`` also requires the region code to have existed on the birth date, which refuses most of
    Fangshan's elderly: the code 110111 dates from the district's creation (1986), and those born before it
    hold it all the same. So the region is not checked against the birth date here."""
    number = str(ric.compact(raw)).upper()
    try:
        if len(number) != 18:
            raise stdnum_errors.InvalidLength()
        if not number[:-1].isdigit():
            raise stdnum_errors.InvalidFormat()
        if number[-1] != ric.calc_check_digit(number):
            raise stdnum_errors.InvalidChecksum()
        ric.get_birth_date(number)
    except stdnum_errors.ValidationError as exc:
        raise ValidationFailed("id_card_number: not a valid resident ID number.", code="invalid_id_card") from exc
    return number


def mask_id_card(number: str) -> str:
    """``110101194001011234`` → ``1101**********1234``."""
    return f"{number[:4]}{'*' * (len(number) - 8)}{number[-4:]}"


@dataclass(frozen=True)
class Protector:
    encryption_key: bytes
    index_key: bytes

    @classmethod
    def from_secret(cls, data_key: SecretStr) -> "Protector":
        secret = data_key.get_secret_value().encode()
        return cls(_derive(secret, b"id-card-encryption"), _derive(secret, b"id-card-blind-index"))

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.encryption_key).encrypt(nonce, plaintext.encode(), _AAD)
        return "v1:" + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, stored: str) -> str:
        version, _, body = stored.partition(":")
        if version != "v1":
            raise ValueError("unknown protected-field version")
        raw = base64.b64decode(body)
        try:
            return AESGCM(self.encryption_key).decrypt(raw[:12], raw[12:], _AAD).decode()
        except InvalidTag as exc:
            raise ValueError("protected field does not open with this key") from exc

    def blind_index(self, number: str) -> str:
        return hmac.new(self.index_key, number.encode(), hashlib.sha256).hexdigest()
