"""A whole shift at the call-center console (issue 18), as an operator works it: a browser at 1366×768, in Chinese,
keyboard only (F-keys, Tab, arrows, Space and Enter; no mouse). Ten calls of different kinds follow each other on
the same page: a known caller books lunch; a daughter calls for her mother, books lunch and moves her mother's
counseling, each read back to her (the call logged with its reason and a callback); an unknown caller registers
after four bad fields (her consent among them) marked at once; a second registration with the same ID number
offers her record; a reschedule read back old time → new time; a son's cancellation read back to him; a rating
with no star chosen for the caller; a complaint; an urgent safety call; and the shift's callbacks worked through.

After every call the test reads what the operator would read back, checks that nothing of the previous caller
stays on screen, and that no English or developer text is visible. A screenshot per call goes to
var/console-screenshots/ (shift-NN-…)."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, Route, expect
from stdnum.cn import ric

from service_kit.testing import eventually_blocking
from service_kit.timeutil import local_now

from .conftest import (
    CHROMIUM,
    COUNSELING,
    MEAL_TABLE,
    Demo,
    DevStack,
    bearer,
    book_for,
    console_page,
    free_slots,
    login,
    look_up,
    new_phone,
    provider_with_funded_offering,
    registered_by_operator,
    sign_in,
    sign_in_by_code,
    tab_to,
)

SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "console-screenshots"
SCREEN = {"width": 1366, "height": 768}  # the call center's screens
WANG_PHONE = "13801010001"  # 王秀英, a known caller of the demo data

pytestmark = [
    pytest.mark.stack,
    pytest.mark.screens,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="the console's browser tests drive Debian's /usr/bin/chromium"),
]

expect.set_options(timeout=20_000)  # the whole stack shares two cores with the browser

# Latin text an operator may see on the Chinese page: the keys she presses, the way to the English page, the search
# hint's pinyin initials (zgl: 张桂兰) and the check letter of an ID number. Anything else (a code, an English
# sentence, "null") is a defect.
ALLOWED_LATIN = {"F2", "F3", "F4", "F6", "F7", "F8", "F9", "Esc", "Enter", "English", "zgl", "X"}


async def screenshot(page: Page, name: str) -> None:
    """What the operator's 1366×768 screen shows, for the docs; not a check."""
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=path, timeout=120_000)
    print(f"console screenshot: {path}")


def same_instant(a: str, b: str) -> bool:
    return datetime.fromisoformat(a) == datetime.fromisoformat(b)


def beijing_input(when: datetime) -> str:
    """A time as a date-and-time field holds it: Beijing's clock, to the minute."""
    return when.astimezone(local_now().tzinfo).strftime("%Y-%m-%dT%H:%M")


def sms_to(gateway: httpx.Client, phone: str) -> list[str]:
    """The texts the (fake) SMS gateway took for ``phone``, as an admin reads them."""
    response = gateway.get("/api/v1/notifications/sms-outbox", headers=login(gateway, "admin"), params={"phone": phone})
    assert response.status_code == 200, response.text
    return [m["text"] for m in response.json()["items"]]


async def no_english(page: Page) -> None:
    """No Latin word outside the allow-list on the visible page (an open dialog included), leaving out what
    residents said in their own words (``data-said``: other tests' complaints on the shared stack hold any text)."""
    text = await page.evaluate(
        """() => [...document.querySelectorAll("[data-said]")].filter((said) => said.innerText).reduce(
            (text, said) => text.split(said.innerText).join(" "), document.body.innerText)"""
    )
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9_.\-]*", text)) - ALLOWED_LATIN
    assert not words, f"English or developer text on the operator's screen: {sorted(words)}"


async def choose(page: Page, selector: str, value: str) -> None:
    """A select chosen as the operator does: focused, then arrow keys until the wanted option."""
    select = page.locator(selector)
    await expect(select).to_be_focused()
    for _ in range(60):
        if await select.input_value() == value:
            return
        await page.keyboard.press("ArrowDown")
    raise AssertionError(f"{value} is not reached in {selector} by the arrow keys")


async def retype(page: Page, text: str) -> None:
    """Replace what the focused field holds, as the operator corrects it."""
    await page.keyboard.press("Control+A")
    await page.keyboard.type(text)


async def next_caller(page: Page, phone: str, name: str) -> None:
    """F2, the caller's number, Enter: her card, and nothing said for the caller before."""
    await look_up(page, phone)
    await her_card_alone(page, name)


async def her_card_alone(page: Page, name: str) -> None:
    await expect(page.locator("#card-title")).to_have_text(name)
    await expect(page.locator("#card-title")).to_be_focused()
    await expect(page.locator("#readback")).to_have_count(0)
    await expect(page.locator("#series-readback")).to_have_count(0)
    await expect(page.locator("#notice")).to_have_text("")
    await expect(page.locator("#register-panel")).to_be_hidden()


async def after_call(page: Page, number: int, name: str) -> None:
    await no_english(page)
    await screenshot(page, f"shift-{number:02d}-{name}")


async def slot_and_provider(page: Page, booking_id: str) -> tuple[str, str]:
    """A booking's time and provider as its line on the card shows them (and a read-back says them)."""
    meta = await page.locator(f"#resident-card [data-booking='{booking_id}'] .item-meta").first.inner_text()
    time, provider, *_ = meta.split(" · ")
    return time, provider


def pays(booking: dict[str, Any], whose: str) -> str:
    """What a read-back says of the price and the confirmation: to the resident (``whose`` = 您) or about her."""
    fen = booking["price_fen"]
    price = f"本次{whose}无需付费。" if fen == 0 else f"本次{whose}需支付 ¥{fen / 100:.2f}。"
    if booking["subsidy_fen"] > 0:
        price = f"政府补贴 ¥{booking['subsidy_fen'] / 100:.2f}，{price}"
    status = "预约已确认。" if booking["status"] == "confirmed" else f"服务机构确认后会短信通知{whose}。"
    return price + status


def valid_id_number(birth: str) -> str:
    """A Fangshan ID number for someone born on ``birth`` (YYYYMMDD), its sequence unique to this run."""
    body = f"110111{birth}{uuid.uuid4().int % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum reads the 17 digits before the check digit


async def test_a_whole_shift_of_ten_calls_from_the_keyboard(demo: Demo, stack: DevStack) -> None:
    gateway, operator = demo.gateway, demo.operator
    wang = demo.resident(WANG_PHONE)
    meal_id = demo.offerings[MEAL_TABLE]["id"]
    # She already holds another lunch: a reschedule never offers it to her.
    holds = [b["slot_start"] for b in demo.bookings_of(wang["id"]) if b["status"] in ("requested", "confirmed")]
    free = [s["start"] for s in demo.free_slots(MEAL_TABLE) if not any(same_instant(s["start"], h) for h in holds)]
    other_lunch = book_for(gateway, operator, meal_id, free[2], wang["id"])

    # Who will call, as the district's records have them before the shift.
    mother = registered_by_operator(
        gateway,
        operator,
        name="钟淑芬",
        birth_date="1946-04-12",
        community_code="gongchen.shidai_jiahe",
        emergency_contact={"name": "李娜", "phone": new_phone(), "relation": "女儿"},
    )
    unknown_phone = new_phone()
    valid_id = valid_id_number("19420517")
    wrong_id = valid_id[:-1] + ("0" if valid_id[-1] != "0" else "1")
    canceller = registered_by_operator(gateway, operator, name="孙建华")
    counseling_slot = demo.free_slots(COUNSELING)[0]
    to_cancel = book_for(gateway, operator, demo.offerings[COUNSELING]["id"], counseling_slot["start"], canceller["id"])
    mothers_slot = next(s for s in demo.free_slots(COUNSELING) if s["start"] != counseling_slot["start"])
    mothers_session = book_for(gateway, operator, demo.offerings[COUNSELING]["id"], mothers_slot["start"], mother["id"])
    world = provider_with_funded_offering(gateway)
    rater = registered_by_operator(gateway, operator, name="孙桂芝")
    world_slots = free_slots(gateway, world["offering_id"], operator, count=2)
    to_rate = book_for(gateway, operator, world["offering_id"], world_slots[0]["start"], rater["id"])
    for step in ("confirm", "start", "complete"):
        done = gateway.post(f"/api/v1/bookings/{to_rate['id']}/{step}", headers=world["provider"], json={})
        assert done.is_success, done.text
    complainer = registered_by_operator(gateway, operator, name="吴秀兰")
    to_complain = book_for(gateway, operator, world["offering_id"], world_slots[1]["start"], complainer["id"])
    duty_phone, daughter_phone = new_phone(), new_phone()
    duty = gateway.put(
        "/api/v1/hotline/community-contacts/gongchen.shidai_jiahe",
        json={"name": "社区值班室", "phone": duty_phone},
        headers=operator,
    )
    assert duty.status_code == 200, duty.text
    fallen = registered_by_operator(
        gateway,
        operator,
        name="刘玉兰",
        birth_date="1938-02-11",
        address="时代家和5号楼1单元302",
        community_code="gongchen.shidai_jiahe",
        eligibility_tags=["age_80_plus", "living_alone"],
        emergency_contact={"name": "刘敏", "phone": daughter_phone, "relation": "女儿"},
    )

    def invited() -> bool:
        found = gateway.get("/api/v1/rating-invitations", headers=operator, params={"resident_id": rater["id"]})
        return any(i["booking_id"] == to_rate["id"] for i in found.json().get("items", []))

    eventually_blocking(invited)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with console_page(stack.gateway_url, viewport=SCREEN) as page:
        await sign_in(page)
        readback = page.locator("#readback")
        dialog = page.locator("#dialog")

        # ---- 1. A known caller books lunch: Enter on the chosen category searches.
        await next_caller(page, WANG_PHONE, "王秀英")
        await page.keyboard.press("F3")
        await choose(page, "#service-category", "elderly.meal_table")
        await page.keyboard.press("Enter")
        meal = page.locator(f"article[data-offering='{meal_id}']")
        await expect(meal.locator("button.slot").first).to_be_visible()
        first_slot = meal.locator("button.slot").first
        lunch_start = await first_slot.get_attribute("data-slot")
        assert lunch_start is not None
        remaining = int(re.findall(r"余 (\d+)", await first_slot.inner_text())[0])
        await tab_to(page, f"article[data-offering='{meal_id}'] button.slot[data-slot='{lunch_start}']")
        await page.keyboard.press("Enter")
        # Who is on the line is the first thing asked this call, with nothing chosen: Enter alone books nothing.
        await expect(page.locator("#confirm-caller")).to_be_focused()
        await expect(page.locator("#confirm-caller")).to_have_value("")
        price_fen = demo.offerings[MEAL_TABLE]["price_fen"]
        await expect(dialog.locator("[data-price=standard]")).to_have_text(f"¥{price_fen / 100:.2f}")
        lunch_time = await dialog.locator("dd").nth(3).inner_text()
        await page.keyboard.press("Enter")
        await expect(page.locator("#confirm-caller-error")).to_have_text(
            "请选择来电人：居民本人，还是家属或其他人代为来电。"
        )
        await expect(page.locator("#confirm-caller")).to_be_focused()
        await choose(page, "#confirm-caller", "resident")
        await no_english(page)
        await page.keyboard.press("Enter")
        await expect(readback).to_be_focused()
        await expect(readback).to_contain_text(f"王秀英，已为您预约 {MEAL_TABLE}")
        await expect(readback).to_contain_text(f"时间 {lunch_time}")
        # The slot she now holds is no longer offered to her.
        await expect(meal.locator(f"button.slot[data-slot='{lunch_start}']")).to_have_count(0)
        lunch = next(
            b
            for b in demo.bookings_of(wang["id"])
            if b["offering_id"] == meal_id and same_instant(b["slot_start"], lunch_start) and b["status"] != "cancelled"
        )
        await after_call(page, 1, "known-caller-books")

        # ---- 2. A daughter calls for her mother: she books the same lunch (one place fewer), the call is logged.
        await next_caller(page, mother["phone"], "钟淑芬")
        await expect(page.locator("#service-results")).to_have_text("")
        await page.keyboard.press("F3")
        await expect(page.locator("#service-category")).to_have_value("")  # nothing of the last caller's search
        await expect(page.locator("#service-free")).not_to_be_checked()
        await choose(page, "#service-category", "elderly.meal_table")
        await page.keyboard.press("Enter")
        same_lunch = meal.locator(f"button.slot[data-slot='{lunch_start}']")
        await expect(same_lunch).to_contain_text(f"余 {remaining - 1}")
        await tab_to(page, f"article[data-offering='{meal_id}'] button.slot[data-slot='{lunch_start}']")
        await page.keyboard.press("Enter")
        # Nothing of the last call's choice: who is on the line is asked again.
        await expect(page.locator("#confirm-caller")).to_be_focused()
        await expect(page.locator("#confirm-caller")).to_have_value("")
        await choose(page, "#confirm-caller", "helper")
        await page.keyboard.press("Tab")
        await expect(page.locator("#confirm-caller-name")).to_be_focused()
        await page.keyboard.type("李娜")
        await page.keyboard.press("Tab")
        await page.keyboard.type("女儿")
        await page.keyboard.press("Enter")
        # Read back to the daughter on the phone, naming her mother: never "钟淑芬，已为您预约" to the wrong person.
        await expect(readback).to_contain_text(f"李娜，已为钟淑芬预约 {MEAL_TABLE}")
        await expect(readback).not_to_contain_text("钟淑芬，已为您")
        await expect(readback).not_to_contain_text("王秀英")
        # She also moves her mother's counseling: who is on the line was said at the booking and is kept, and the
        # read-back speaks to her about her mother.
        session_time, counselor = await slot_and_provider(page, mothers_session["id"])
        await tab_to(page, f"#upcoming-bookings [data-booking='{mothers_session['id']}'] [data-action=reschedule]")
        await page.keyboard.press("Enter")
        session_choices = page.locator("#reschedule-slots input[name=slot]")
        await expect(session_choices.first).to_be_focused()
        await expect(page.locator("#reschedule-caller")).to_have_value("helper")
        await expect(page.locator("#reschedule-caller-name")).to_have_value("李娜")
        await expect(page.locator("#reschedule-caller-relation")).to_have_value("女儿")
        await page.keyboard.press("Space")
        await tab_to(page, "#dialog button[type=submit]")
        await page.keyboard.press("Enter")
        await expect(readback.locator("h3")).to_have_text("改期成功，请向来电人复述")
        await expect(readback).to_be_focused()
        moved_session = gateway.get(f"/api/v1/bookings/{mothers_session['id']}", headers=operator).json()
        assert not same_instant(moved_session["slot_start"], mothers_session["slot_start"])
        session_moved_to, _ = await slot_and_provider(page, mothers_session["id"])
        await expect(readback.locator("p")).to_have_text(
            f"李娜，钟淑芬的 {COUNSELING}（{counselor}）已从 {session_time} 改到 {session_moved_to}。"
            + pays(moved_session, "钟淑芬")
        )
        await no_english(page)
        await page.keyboard.press("F6")
        await expect(page.locator("#call-reason")).to_be_focused()
        await expect(page.locator("#call-reason")).to_have_value("")
        await expect(page.locator("#call-linked")).to_contain_text("关联：预约")
        await choose(page, "#call-reason", "helper_request")
        await page.keyboard.press("Tab")
        # Who is calling was said at the booking: the log records the same person, not asked twice.
        await expect(page.locator("#call-caller")).to_have_value("helper")
        await expect(page.locator("#call-caller-name")).to_have_value("李娜")
        await expect(page.locator("#call-caller-relation")).to_have_value("女儿")
        await tab_to(page, "#call-note")
        await page.keyboard.type("女儿替母亲订了午餐，想确认送到后老人是否吃上。")
        await page.keyboard.press("Tab")
        # Headless Chromium's date-and-time field takes no typed digits: the one value not typed key by key.
        await page.locator("#call-callback-at").fill(beijing_input(datetime.now(UTC) + timedelta(minutes=10)))
        await tab_to(page, "#call-callback-reason")  # Tab steps through the field's year, month, day, hour, minute
        await page.keyboard.type("午餐送到后回电确认")
        await no_english(page)
        await page.keyboard.press("Enter")
        await expect(page.locator("#notice")).to_have_text("来电已记录。")
        logged = page.locator("#call-log li").first
        await expect(logged).to_contain_text("家属代为办理")
        await expect(logged).to_contain_text("女儿 李娜 代为来电")
        await expect(logged).to_contain_text("约定回访：")
        calls = gateway.get(f"/api/v1/residents/{mother['id']}/calls", headers=operator).json()["items"]
        assert [(c["reason"], c["caller"], c["outcome"]["kind"]) for c in calls] == [
            ("helper_request", {"kind": "helper", "name": "李娜", "relation": "女儿"}, "booking")
        ]
        callback = calls[0]["callback"]
        await after_call(page, 2, "relative-calls")

        # ---- 3. An unknown caller registers: three bad fields, all marked at once under themselves, in Chinese.
        await look_up(page, unknown_phone)
        await expect(page.locator("#reg-name")).to_be_focused()
        await expect(page.locator("#resident-card")).to_be_hidden()
        await expect(page.locator("#readback")).to_have_count(0)
        privacy = page.locator("#privacy-notice")
        await expect(privacy).to_be_visible()
        await expect(privacy).to_contain_text("请问您同意我们按上述方式处理您的个人信息吗？")
        await page.keyboard.type("赵桂兰")
        await page.keyboard.press("Tab")
        await expect(page.locator("#reg-phone")).to_have_value(unknown_phone)
        await retype(page, "010-123")  # she gives her home number, mistyped
        await page.keyboard.press("Tab")
        await choose(page, "#reg-community", "gongchen.shidai_jiahe")
        await page.keyboard.press("Tab")
        await page.keyboard.type(wrong_id)
        await tab_to(page, "#reg-ec-name")
        await page.keyboard.type("赵小红")
        await page.keyboard.press("Tab")
        await page.keyboard.type("13")
        await page.keyboard.press("Tab")
        await page.keyboard.type("女儿")
        # Her consent is not yet ticked: the page's own check and the server's field checks, in one press.
        await tab_to(page, "#reg-consent")
        await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")
        marked = {
            "phone": ("#reg-phone", "电话号码无效，请核对。"),
            "id_card_number": ("#reg-id-card", "身份证号码无效，请核对。"),
            "emergency_contact.phone": ("#reg-ec-phone", "电话号码无效，请核对。"),
        }
        for path, (input_id, message) in marked.items():
            await expect(page.locator(input_id)).to_have_attribute("aria-invalid", "true")
            await expect(page.locator(f"[data-field='{path}'] + .field-error")).to_have_text(message)
        await expect(page.locator("#reg-consent")).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("[data-field=consent] .field-error")).to_have_text("须居民同意后才能登记。")
        summary = page.locator("#register-form .form-error")
        await expect(summary).to_contain_text("共 4 处需要修改")
        assert gateway.get("/api/v1/residents", params={"phone": unknown_phone}, headers=operator).json()["items"] == []
        await expect(page.locator("#reg-phone")).to_be_focused()
        await no_english(page)
        await screenshot(page, "shift-03a-registration-errors")
        await retype(page, unknown_phone)
        await tab_to(page, "#reg-id-card")
        await retype(page, valid_id)
        await tab_to(page, "#reg-ec-phone")
        await retype(page, "13911112222")
        await tab_to(page, "#reg-consent")
        await page.keyboard.press("Space")
        await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")
        await expect(page.locator("#card-title")).to_have_text("赵桂兰")
        await expect(page.locator("#notice")).to_have_text("已登记 赵桂兰。")
        registered = demo.resident(unknown_phone)
        assert registered["emergency_contact"] == {"name": "赵小红", "phone": "+8613911112222", "relation": "女儿"}
        await after_call(page, 3, "unknown-caller-registers")

        # ---- 4. The same woman calls from her daughter's phone and would be registered twice: her record instead.
        other_phone = new_phone()
        await look_up(page, other_phone)
        await expect(page.locator("#reg-name")).to_be_focused()
        for field_id in ("#reg-id-card", "#reg-ec-name", "#reg-ec-phone"):
            await expect(page.locator(field_id)).to_have_value("")  # nothing of the last registration
        await expect(page.locator("#register-form .form-error")).to_have_text("")
        await page.keyboard.type("赵桂兰")
        await tab_to(page, "#reg-id-card")
        await page.keyboard.type(valid_id)
        await tab_to(page, "#reg-consent")
        await page.keyboard.press("Space")
        await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")
        await expect(page.locator("[data-field=id_card_number] + .field-error")).to_have_text(
            "这个身份证号码已登记给另一位居民。"
        )
        open_her = page.locator("#register-form button.open-holder")
        await expect(open_her).to_have_text("打开该居民")
        await expect(open_her).to_be_focused()
        await no_english(page)
        await page.keyboard.press("Enter")
        await expect(page.locator("#card-title")).to_have_attribute("data-resident", registered["id"])
        await expect(page.locator("#card-title")).to_be_focused()
        assert gateway.get("/api/v1/residents", params={"phone": other_phone}, headers=operator).json()["items"] == []
        await after_call(page, 4, "duplicate-registration")

        # ---- 5. 王秀英 calls back: lunch another day. No slot chosen for her, none she already holds offered.
        await next_caller(page, WANG_PHONE, "王秀英")
        await tab_to(page, f"#upcoming-bookings [data-booking='{lunch['id']}'] [data-action=reschedule]")
        await page.keyboard.press("Enter")
        choices = page.locator("#reschedule-slots input[name=slot]")
        await expect(choices.first).to_be_focused()
        await expect(page.locator("#reschedule-slots input:checked")).to_have_count(0)
        held = [
            b["slot_start"]
            for b in demo.bookings_of(wang["id"])
            if b["offering_id"] == meal_id and b["status"] in ("requested", "confirmed", "in_service")
        ]
        offered = [await c.get_attribute("value") or "" for c in await choices.all()]
        assert offered
        assert other_lunch["slot_start"] in held
        assert not [o for o in offered if any(same_instant(o, h) for h in held)]
        # Nor is who is on the line chosen: this call has not said yet. Both are marked at once.
        await expect(page.locator("#reschedule-caller")).to_have_value("")
        await tab_to(page, "#dialog button[type=submit]")
        await page.keyboard.press("Enter")
        await expect(dialog.locator("[data-field=slot_start] .field-error")).to_have_text("请按居民所说选择新的时段。")
        await expect(page.locator("#reschedule-caller-error")).to_have_text(
            "请选择来电人：居民本人，还是家属或其他人代为来电。"
        )
        await expect(choices.first).to_be_focused()
        await page.keyboard.press("Space")
        await expect(choices.first).to_be_checked()
        new_time = (await page.locator("#reschedule-slots label").first.inner_text()).split("（")[0]
        await tab_to(page, "#reschedule-caller")
        await choose(page, "#reschedule-caller", "resident")
        await no_english(page)
        await page.keyboard.press("Enter")  # Enter on a select in a dialog saves
        await expect(readback.locator("h3")).to_have_text("改期成功，请向居民复述")
        await expect(readback).to_contain_text(f"已从 {lunch_time} 改到 {new_time}")
        await expect(readback).to_be_focused()
        moved = gateway.get(f"/api/v1/bookings/{lunch['id']}", headers=operator).json()
        assert same_instant(moved["slot_start"], offered[0])
        lunch_moved_to, meal_provider = await slot_and_provider(page, lunch["id"])
        await expect(readback.locator("p")).to_have_text(
            f"王秀英，您的 {MEAL_TABLE}（{meal_provider}）已从 {lunch_time} 改到 {lunch_moved_to}。" + pays(moved, "您")
        )
        await after_call(page, 5, "reschedule-read-back")

        # ---- 6. Her son calls to cancel his father's counseling: who is on the line is asked, and he hears it.
        await next_caller(page, canceller["phone"], "孙建华")
        cancelled_time, cancelled_counselor = await slot_and_provider(page, to_cancel["id"])
        await tab_to(page, f"#upcoming-bookings [data-booking='{to_cancel['id']}'] [data-action=cancel]")
        await page.keyboard.press("Enter")
        await expect(page.locator("#cancel-reason")).to_be_focused()
        await expect(page.locator("#cancel-caller")).to_have_value("")  # nothing of the last call's caller
        await tab_to(page, "#dialog button[type=submit]")
        await page.keyboard.press("Enter")
        await expect(page.locator("#cancel-caller-error")).to_have_text(
            "请选择来电人：居民本人，还是家属或其他人代为来电。"
        )
        await expect(page.locator("#cancel-caller")).to_be_focused()
        assert gateway.get(f"/api/v1/bookings/{to_cancel['id']}", headers=operator).json()["status"] != "cancelled"
        await choose(page, "#cancel-caller", "helper")
        await page.keyboard.press("Tab")
        await expect(page.locator("#cancel-caller-name")).to_be_focused()
        await page.keyboard.type("孙明")
        await page.keyboard.press("Tab")
        await page.keyboard.type("儿子")
        await no_english(page)
        await page.keyboard.press("Enter")
        await expect(readback.locator("h3")).to_have_text("已取消，请向来电人复述")
        await expect(readback.locator("p")).to_have_text(
            f"孙明，孙建华原定 {cancelled_time} 的 {COUNSELING}（{cancelled_counselor}）已取消。"
        )
        await expect(readback).to_be_focused()
        cancelled = gateway.get(f"/api/v1/bookings/{to_cancel['id']}", headers=operator).json()
        assert cancelled["status"] == "cancelled"
        await after_call(page, 6, "cancellation-read-back")

        # ---- 7. A rating: no star chosen for her; Enter alone rates nothing.
        await next_caller(page, rater["phone"], "孙桂芝")
        await tab_to(page, f"#resident-card [data-booking='{to_rate['id']}'] [data-action=rate]")
        await page.keyboard.press("Enter")
        stars = dialog.locator("input[name=stars]")
        await expect(stars.first).to_be_focused()
        await expect(dialog.locator("input[name=stars]:checked")).to_have_count(0)
        await tab_to(page, "#dialog button[type=submit]")
        await page.keyboard.press("Enter")
        await expect(dialog.locator("[data-field=stars] .field-error")).to_have_text("请按居民所说选择星级。")
        await expect(stars.first).to_be_focused()
        await page.keyboard.press("ArrowDown")  # from 5 stars to 4, as she says
        await expect(dialog.locator("input[name=stars][value='4']")).to_be_checked()
        await no_english(page)
        # Her card is read again after the rating; the test holds that answer until the operator has moved on.
        card_read = asyncio.Event()

        async def hold_card(route: Route) -> None:
            await card_read.wait()
            await route.continue_()

        await page.route("**/api/v1/rating-invitations?*", hold_card)
        await tab_to(page, "#dialog button[type=submit]")
        await page.keyboard.press("Enter")
        await expect(page.locator("#notice")).to_have_text("评价已提交，谢谢。")
        ratings = gateway.get("/api/v1/ratings", params={"provider_id": world["provider_id"]}).json()["items"]
        assert [r["stars"] for r in ratings] == [4]
        await after_call(page, 7, "rating")

        # ---- 8. A complaint about a booking: the category is hers to say, none is chosen for her.
        # The next call comes in at once: F2 and her number while the last card is still being read; its answer
        # arriving then takes no focus from the number being typed.
        await page.keyboard.press("F2")
        await page.keyboard.type(complainer["phone"])
        card_read.set()
        await expect(page.locator(f"[data-booking='{to_rate['id']}'] [data-action=rate]")).to_have_count(0)
        await expect(page.locator("#phone")).to_be_focused()
        await expect(page.locator("#phone")).to_have_value(complainer["phone"])
        await page.unroute("**/api/v1/rating-invitations?*", hold_card)
        await page.keyboard.press("Enter")
        await her_card_alone(page, "吴秀兰")
        await tab_to(page, f"#upcoming-bookings [data-booking='{to_complain['id']}'] [data-action=complain]")
        await page.keyboard.press("Enter")
        await expect(page.locator("#complaint-target")).to_be_focused()
        await expect(page.locator("#complaint-target")).to_have_value(f"booking:{to_complain['id']}")
        await page.keyboard.press("Tab")
        await expect(page.locator("#complaint-category")).to_have_value("")
        await tab_to(page, "#complaint-description")
        await page.keyboard.type("上门的人迟到了一个小时，也没有提前打电话。")
        await tab_to(page, "#dialog button[type=submit]")
        await page.keyboard.press("Enter")
        await expect(page.locator("#complaint-category-error")).to_have_text("请按居民所说选择投诉类别。")
        await expect(page.locator("#complaint-severity-error")).to_have_text("请按居民所说选择紧急程度。")
        await expect(page.locator("#complaint-category")).to_be_focused()
        await choose(page, "#complaint-category", "punctuality")
        await page.keyboard.press("Tab")
        await expect(page.locator("#complaint-severity")).to_have_value("")
        await choose(page, "#complaint-severity", "normal")
        await no_english(page)
        await page.keyboard.press("Enter")  # Enter on a select in a dialog saves
        await expect(page.locator("#notice")).to_contain_text("投诉已记录，投诉编号")
        await expect(page.locator("#resident-card #open-complaints")).to_contain_text("不守时")
        complaints = gateway.get(
            "/api/v1/complaints", params={"resident_id": complainer["id"]}, headers=operator
        ).json()["items"]
        assert [(c["booking_id"], c["category"]) for c in complaints] == [(to_complain["id"], "punctuality")]
        # Digits only, in two groups of four, for her to write down and read back; her card shows the same.
        number = complaints[0]["reference"]
        assert re.fullmatch(r"[1-9][0-9]{7}", number), number
        said = f"{number[:4]} {number[4:]}"
        await expect(page.locator("#notice")).to_have_text(f"投诉已记录，投诉编号 {said}，请居民记下。")
        await expect(page.locator(f"#open-complaints [data-complaint='{complaints[0]['id']}']")).to_contain_text(
            f"投诉编号 {said}"
        )
        # When she rings back and reads it out as she wrote it, it finds her complaint and nobody else's.
        again = gateway.get("/api/v1/complaints", params={"reference": said}, headers=operator)
        assert [c["id"] for c in again.json()["items"]] == [complaints[0]["id"]]
        # The message she receives (her inbox in the app: an SMS may wait for the morning) repeats the number.
        her = bearer(sign_in_by_code(gateway, complainer["phone"]))

        def told() -> bool:
            inbox = gateway.get("/api/v1/notifications", headers=her).json()["items"]
            return any(m["body"].startswith(f"您的投诉我们收到了，投诉编号 {said}，") for m in inbox)

        eventually_blocking(told)
        # F6 for her call: neither the reason nor who called is chosen for the operator; both are marked at once.
        await page.keyboard.press("F6")
        await expect(page.locator("#call-reason")).to_be_focused()
        await expect(page.locator("#call-caller")).to_have_value("")
        await page.keyboard.press("Enter")
        await expect(page.locator("#call-reason-error")).to_have_text("请选择来电原因。")
        await expect(page.locator("#call-caller-error")).to_have_text(
            "请选择来电人：居民本人，还是家属或其他人代为来电。"
        )
        await no_english(page)
        await page.keyboard.press("Escape")
        await after_call(page, 8, "complaint")

        # ---- 9. An urgent safety call: a neighbour hears a fall.
        await next_caller(page, fallen["phone"], "刘玉兰")
        await page.keyboard.press("F8")
        await expect(page.locator("#urgent-reason")).to_be_focused()
        await expect(page.locator("#urgent-reason")).to_have_value("")
        await choose(page, "#urgent-reason", "fall")
        await page.keyboard.press("Tab")
        await page.keyboard.type("邻居来电：听见屋里摔倒的声音，敲门没人应。")
        await no_english(page)
        await page.keyboard.press("Enter")
        await expect(page.locator("#notice")).to_have_text("紧急求助已开启，已通知紧急联系人和社区。")
        opened = page.locator("#urgent-open li[data-urgent]")
        await expect(opened.locator("[data-urgent-status]")).to_have_text("已开启")
        await expect(opened.locator("button[data-action=contacted]")).to_be_focused()
        # What her daughter's phone receives, once.
        told = "【邻里】紧急：刘玉兰可能需要帮助（摔倒），您是其紧急联系人，请马上联系或前往查看，社区也已获知。"
        eventually_blocking(lambda: sms_to(gateway, daughter_phone) == [told])
        eventually_blocking(lambda: len(sms_to(gateway, duty_phone)) == 1)
        # Her daughter calls back: reached. The card is read again after the step; the test holds that answer until
        # the operator has started the next caller's number, which keeps the focus.
        await page.keyboard.press("Enter")
        await expect(page.locator("#urgent-step-note")).to_be_focused()
        await page.keyboard.type("女儿已到家，老人扭伤了脚，已送医。")
        step_read = asyncio.Event()

        async def hold_step(route: Route) -> None:
            await step_read.wait()
            await route.continue_()

        await page.route("**/api/v1/rating-invitations?*", hold_step)
        await page.keyboard.press("Enter")
        await expect(page.locator("#notice")).to_have_text("已记录：已联系上刘玉兰。")
        await page.keyboard.press("F2")
        await page.keyboard.type(WANG_PHONE)
        step_read.set()
        await expect(opened.locator("[data-urgent-status]")).to_have_text("已联系上")
        await expect(page.locator("#phone")).to_be_focused()
        await expect(page.locator("#phone")).to_have_value(WANG_PHONE)
        await page.unroute("**/api/v1/rating-invitations?*", hold_step)
        await after_call(page, 9, "urgent-call")

        # ---- 10. The shift's callbacks: the daughter's callback from call 2 is done.
        await page.keyboard.press("F7")
        await expect(page.locator("#callbacks-title")).to_be_focused()
        item = page.locator(f"#callbacks-due [data-callback='{callback['id']}']")
        await expect(item).to_contain_text("钟淑芬：午餐送到后回电确认")
        await expect(page.locator("#urgent-list li[data-urgent]", has_text="刘玉兰：摔倒")).to_have_count(1)
        await tab_to(page, f"#callbacks-due [data-callback='{callback['id']}'] [data-action=done]")
        await no_english(page)
        await page.keyboard.press("Enter")
        await expect(page.locator("#notice")).to_have_text("已记录：钟淑芬 的回访已完成。")
        await expect(item).to_have_count(0)
        await after_call(page, 10, "callbacks-worked")
