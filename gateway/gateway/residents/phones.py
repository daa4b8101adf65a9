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


def _not_mobile(why: str) -> ValidationFailed:
    message = f"{why}: sign-in codes go only to mobile numbers of mainland China."
    return ValidationFailed(
        f"phone: {message}",
        code="not_a_mobile_number",
        errors=[{"field": "phone", "in": "body", "message": message, "type": "not_a_mobile_number"}],
    )


def mobile(raw: str) -> str:
    """``raw`` as a mainland Chinese mobile number in E.164: the only numbers a one-time code is sent to (and so
    the only ones that sign in). A landline, a number abroad or no number at all is 422 ``not_a_mobile_number``."""
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException as exc:
        raise _not_mobile("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise _not_mobile("not a valid phone number")
    if phonenumbers.region_code_for_number(number) != "CN":
        raise _not_mobile("a number outside mainland China")
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        raise _not_mobile("not a mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
