"""Phone numbers as the booking service stores them: Chinese by default, in E.164 (``+8613812345678``)."""

import phonenumbers

from service_kit.errors import ValidationFailed


def normalize(raw: str) -> str:
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed("phone: not a phone number.", code="invalid_phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed("phone: not a valid phone number.", code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
