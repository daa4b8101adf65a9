"""ID-card numbers at rest: sealed (AES-GCM) and found by their blind index (HMAC-SHA256) with the service's
keyring (``service_kit.protection``, purpose ``ID_CARD``); shown only masked."""

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

from service_kit.errors import ValidationFailed
from service_kit.protection import ID_CARD

__all__ = ["ID_CARD", "mask_id_card", "normalize_id_card"]


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
