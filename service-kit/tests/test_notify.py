"""The shared message rules: templates, quiet hours, the rate limit, masked phones, the fake sender."""

from datetime import UTC, datetime, timedelta

import pytest

from service_kit.notify import rules, templates
from service_kit.notify.sms import FakeSmsSender, Sms, mask_phone
from service_kit.timeutil import SHANGHAI


def beijing(hour: int, minute: int = 0, day: int = 7) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI)


def test_a_template_renders_its_parameters_in_order_and_says_what_is_missing() -> None:
    message = templates.render("booking_confirmed", time="12月8日 09:00", service="老年餐桌")
    assert message.params == ("老年餐桌", "12月8日 09:00")
    assert message.text == "预约已确认：老年餐桌，12月8日 09:00。请按时等候。"
    assert message.sms_text == "【邻里】预约已确认：老年餐桌，12月8日 09:00。请按时等候。"
    assert message.title == "预约已确认"
    with pytest.raises(KeyError, match="time"):
        templates.render("booking_confirmed", service="老年餐桌")
    assert "sign_in_code" not in templates.RESIDENT_KINDS


def test_a_complaint_number_is_read_in_two_groups_of_four() -> None:
    assert templates.spoken_reference("47112086") == "4711 2086"
    # An event written before complaints had numbers still makes a message.
    assert templates.spoken_reference(None) == "—"
    message = templates.render("complaint_escalated", reference=templates.spoken_reference("47112086"))
    assert message.sms_text == "【邻里】您的投诉（编号 4711 2086）已交给上级部门处理，请耐心等一等。"
    assert message.params == ("4711 2086",)


def test_every_message_is_short() -> None:
    for template in templates.TEMPLATES.values():
        assert len(template.text.format(**dict.fromkeys(template.params, "一二三四五六七八"))) <= 60, template.kind


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (beijing(20, 59), None),
        (beijing(21, 0), beijing(8, day=8)),
        (beijing(23, 59), beijing(8, day=8)),
        (beijing(0, 0, day=8), beijing(8, day=8)),
        (beijing(7, 59, day=8), beijing(8, day=8)),
        (beijing(8, 0, day=8), None),
    ],
)
def test_the_quiet_hours_run_from_nine_at_night_to_eight_in_the_morning(now: datetime, until: datetime | None) -> None:
    assert rules.quiet_hours_end(now) == until
    assert rules.quiet_hours_end(now.astimezone(UTC)) == until  # whatever zone the clock gives


def test_in_the_quiet_hours_only_codes_and_same_day_changes_go() -> None:
    night = beijing(22, 0)
    assert rules.sms_not_before(night, "sign_in_code") is None
    assert rules.sms_not_before(night, "booking_confirmed", about=beijing(10, day=8)) == beijing(8, day=8)
    assert rules.sms_not_before(night, "booking_cancelled", about=beijing(22, 30)) is None  # tonight
    assert rules.sms_not_before(night, "booking_cancelled", about=beijing(7, 30, day=8)) is None  # before 08:00
    assert rules.sms_not_before(night, "complaint_resolved") == beijing(8, day=8)
    assert rules.sms_not_before(night, "complaint_resolved", quiet_hours=False) is None
    assert rules.sms_not_before(beijing(10), "complaint_resolved") is None


def test_the_rate_limit_allows_up_to_its_count() -> None:
    limit = rules.RateLimit(2, timedelta(hours=1))
    assert [limit.allows(n) for n in range(4)] == [True, True, False, False]


def test_phones_are_masked() -> None:
    assert mask_phone("+8613812345678") == "+86138****5678"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone(None) == ""


async def test_the_fake_sender_records_and_finds_the_last_code() -> None:
    sender = FakeSmsSender(keep=2)
    for code in ("111111", "222222", "333333"):
        message = templates.render("sign_in_code", code=code, minutes="5")
        await sender.send(Sms(phone="+8613812345678", kind=message.kind, params=message.params, text=message.sms_text))
    assert len(sender.messages) == 2
    assert sender.last_code("+8613812345678") == "333333"
    assert sender.last_code("+8613900000000") is None
