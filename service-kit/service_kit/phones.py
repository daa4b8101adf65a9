"""Phone numbers, one way for every Linli service: parsed as Chinese numbers unless they say otherwise, kept in
E.164 (``+8613812345678``), masked for those who need not see them.

- ``e164``: the number, or ``ValueError`` (for a pydantic validator: the field's 422 names it).
- ``normalize``: the number, or 422 ``invalid_phone`` (for a service's rules).
- ``mobile``: a mainland Chinese mobile number, or 422 ``not_a_mobile_number``: where a one-time code is sent.
- ``mask``: ``138****5678``.
"""

import phonenumbers

from service_kit.errors import ValidationFailed


def _parse(raw: str) -> phonenumbers.PhoneNumber:
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return number


def _format(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def e164(raw: str) -> str:
    """``138 1234 5678`` or ``+86-138-1234-5678`` → ``+8613812345678``; ``ValueError`` when it is no real number."""
    return _format(_parse(raw))


def normalize(raw: str) -> str:
    """``e164``, refusing what is no real number with 422 ``invalid_phone``."""
    try:
        return e164(raw)
    except ValueError as exc:
        raise ValidationFailed(f"phone: {exc}.", code="invalid_phone") from exc


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
        number = _parse(raw)
    except ValueError as exc:
        raise _not_mobile(str(exc)) from exc
    if phonenumbers.region_code_for_number(number) != "CN":
        raise _not_mobile("a number outside mainland China")
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        raise _not_mobile("not a mobile number")
    return _format(number)


def mask(number: str) -> str:
    """``+8613812345678`` → ``138****5678``: enough for a provider to recognise a caller, not to dial them."""
    try:
        national = str(phonenumbers.parse(number).national_number)
    except phonenumbers.NumberParseException:
        national = number.lstrip("+")
    if len(national) >= 8:
        return f"{national[:3]}****{national[-4:]}"
    return "*" * max(len(national) - 2, 0) + national[-2:]
