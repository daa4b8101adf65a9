"""Phone numbers: parsed as Chinese numbers by default, stored in E.164, masked for those who need not see them."""

import phonenumbers

from service_kit.errors import ValidationFailed


def normalize(raw: str) -> str:
    """``138 1234 5678`` or ``+86-138-1234-5678`` → ``+8613812345678``; anything not a real number is refused."""
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed("phone: not a phone number.", code="invalid_phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed("phone: not a valid phone number.", code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(e164: str) -> str:
    """``+8613812345678`` → ``138****5678``: enough for a provider to recognise a caller, not to dial them."""
    try:
        national = str(phonenumbers.parse(e164).national_number)
    except phonenumbers.NumberParseException:
        national = e164.lstrip("+")
    if len(national) >= 8:
        return f"{national[:3]}****{national[-4:]}"
    return "*" * max(len(national) - 2, 0) + national[-2:]
