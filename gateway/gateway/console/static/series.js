/* The call center's recurring care: what the caller's entitlement has left this period (on the card, and the
   quote's price note before booking), a weekly or working-day series booked from the booking step with its
   read-back date by date, a full slot's waitlist (join, read back the position, take someone out), the quota
   line of subsidised units of the same service, and the caller's own places in line on her card.
   app.js hands its helpers over through window.LinliSeries(ctx) and places what this returns. */
"use strict";

(function () {
  // Each new text: [Chinese, English].
  const WORDS = {
    "ent.none": ["无个人补贴额度", "No personal subsidy allowance"],
    "ent.title": ["补贴余额", "Subsidy left"],
    "ent.left": ["{period}{name}补贴剩余 {left}/{units} {unit}", "{name} subsidy {period}: {left}/{units} {unit} left"],
    "ent.period.month": ["本月", "this month"],
    "ent.period.week": ["本周", "this week"],
    "ent.unit.booking": ["次", "times"],
    "ent.unit.hour": ["小时", "hours"],
    "ent.tag_expired": ["“{tag}”资格证明已于 {date} 到期，待复核", "The evidence for “{tag}” expired on {date}: to be re-checked"],
    "quote.note": ["价格说明：{note}", "Price note: {note}"],
    "quote.why.entitlement_used_up": ["{name}{period}的补贴已用完（{per}{units}{unit}，已用{used}{unit}，剩余{left}{unit}），排补贴名额候补也不能按补贴价收费；{renews}起恢复。", "{name}'s own subsidy for {period} is used up ({units} {unit} per {per}, {used} used, {left} left): waiting for a subsidised unit would not lower her price; it renews on {renews}."],
    "quote.why.entitlement_used_up_plain": ["{name}本期的补贴已用完，排补贴名额候补也不能按补贴价收费。", "{name}'s own subsidy for this period is used up: waiting for a subsidised unit would not lower her price."],
    "quote.why.evidence_expired": ["{name}的资格证明已到期，复核后才能按补贴价收费，现在不能排补贴名额候补。", "{name}'s eligibility evidence has expired: re-check it before she can be subsidised or wait for a unit."],
    "quote.why.not_eligible": ["{name}不符合资助这项服务的补贴项目的条件，按原价收费。", "{name} is not eligible for the programmes funding this service: full price."],
    "quote.why.not_funded": ["这一天没有补贴项目资助这项服务，按原价收费。", "No programme funds this service that day: full price."],
    "series.open": ["按周期预约", "Book a series"],
    "series.title": ["周期预约", "Recurring booking"],
    "series.kind": ["重复方式", "Repeats"],
    "series.kind.weekly": ["每周固定几天", "On chosen weekdays"],
    "series.kind.working_days": ["每个工作日（节假日除外，调休上班日照常）", "Every working day (public holidays off, make-up days on)"],
    "series.weekdays": ["星期", "Weekdays"],
    "series.time": ["时间", "Time"],
    "series.start": ["开始日期", "Start date"],
    "series.end": ["结束方式", "Ends"],
    "series.end.date": ["到某天为止", "On a date"],
    "series.end.count": ["共几次", "After a number of times"],
    "series.end_date": ["结束日期", "End date"],
    "series.count": ["次数", "Times"],
    "series.waitlist": ["已满的日期排入候补", "Waitlist the dates that are full"],
    "series.submit": ["预约这些日期", "Book these dates"],
    "series.kind_required": ["请选择重复方式", "Choose how it repeats"],
    "series.weekdays_required": ["请选择星期几", "Choose the weekdays"],
    "series.end_required": ["请选择结束方式", "Choose how it ends"],
    "series.end_date_required": ["请填写结束日期", "Enter the end date"],
    "series.count_required": ["请填写次数", "Enter the number of times"],
    "series.readback_title": ["请向居民复述（周期预约）", "Read back to the resident (series)"],
    "series.readback_title_other": ["请向来电人复述（周期预约）", "Read back to the caller (series)"],
    "series.readback_intro": ["{name}，已为您按周期预约“{service}”，每次 {time}。", "{name}, a series of “{service}” is booked for you, each at {time}."],
    "series.readback_intro_other": ["{caller}，已为{name}按周期预约“{service}”，每次 {time}。", "{caller}, a series of “{service}” is booked for {name}, each at {time}."],
    "series.booked": ["已预约 {count} 次：{dates}。", "Booked {count}: {dates}."],
    "series.booked_none": ["没有预约成功的日期。", "No date could be booked."],
    "series.full": ["已满未约 {count} 次：{dates}。", "Full, not booked {count}: {dates}."],
    "series.waitlisted": ["已满并排入候补 {count} 次：{dates}。", "Full and waitlisted {count}: {dates}."],
    "series.waitlisted_one": ["{date}（候补第 {position} 位）", "{date} (waitlist no. {position})"],
    "series.refused": ["未能预约 {count} 次：{dates}。", "Not booked {count}: {dates}."],
    "series.not_booked": ["不可预约", "cannot be booked"],
    "series.refused_one": ["{date}（{reason}）", "{date} ({reason})"],
    "series.days_off": ["节假日不约：{days}。", "Public holidays left out: {days}."],
    "weekday.0": ["周一", "Mon"],
    "weekday.1": ["周二", "Tue"],
    "weekday.2": ["周三", "Wed"],
    "weekday.3": ["周四", "Thu"],
    "weekday.4": ["周五", "Fri"],
    "weekday.5": ["周六", "Sat"],
    "weekday.6": ["周日", "Sun"],
    "wait.slot": ["{time}（已满 · 候补）", "{time} (full · waitlist)"],
    "wait.title": ["候补名单", "Waitlist"],
    "wait.slot_title": ["{service} · {time}", "{service} · {time}"],
    "wait.line": ["当前候补（{count} 人）", "In line ({count})"],
    "wait.empty": ["暂无人候补", "Nobody is waiting"],
    "wait.entry": ["第 {position} 位 · {name} · {status}", "No. {position} · {name} · {status}"],
    "wait.entry_offered": ["{name} · 已通知有空位，保留到 {time}", "{name} · offered a place, held until {time}"],
    "wait.this_caller": ["（本来电人）", " (this caller)"],
    "wait.remove": ["移出候补", "Remove from waitlist"],
    "wait.join": ["为{name}加入候补", "Put {name} on the waitlist"],
    "wait.joined": ["{name}，已为您加入候补：第 {position} 位。有空位时会短信通知您。", "{name}, you are on the waitlist: number {position}. You get a text message when a place frees."],
    "wait.joined_other": ["{caller}，已为{name}加入候补：第 {position} 位。有空位时会短信通知{name}。", "{caller}, {name} is on the waitlist: number {position}. {name} gets a text message when a place frees."],
    "wait.removed": ["已将{name}移出候补。", "{name} is off the waitlist."],
    "wait.status.waiting": ["等待中", "waiting"],
    "wait.status.offered": ["已通知有空位", "offered a place"],
    "wait.quota_line": ["补贴名额候补（{count} 人）", "Waiting for a subsidised unit ({count})"],
    "wait.quota_title": ["补贴名额候补名单", "Subsidised-unit waitlist"],
    "wait.quota_refresh": ["刷新名单", "Refresh"],
    "wait.quota_empty": ["暂无人等补贴名额", "Nobody waits for a subsidised unit"],
    "wait.quota_entry": ["第 {position} 位 · {name} · 等待中", "No. {position} · {name} · waiting"],
    "wait.quota_offered": ["{name} · 已通知有补贴名额，保留到 {time}", "{name} · offered a subsidised unit, held until {time}"],
    "wait.quota_closed": ["{name} · {status}", "{name} · {status}"],
    "wait.status.accepted": ["已接受", "accepted"],
    "wait.status.expired": ["已过期", "expired"],
    "wait.status.left": ["已退出", "left"],
    "wait.for_booking": ["（已按原价预约，等补贴）", " (booked at full price, waiting for the subsidy)"],
    "places.title": ["候补", "Waiting"],
    "places.kind.slot": ["空位", "a place"],
    "places.kind.quota": ["补贴名额", "a subsidised unit"],
    "places.waiting": ["{service} {time} · 等{kind} · 第 {position} 位", "{service} {time} · for {kind} · no. {position}"],
    "places.offered": ["{service} {time} · {kind}已保留到 {until}", "{service} {time} · {kind} held until {until}"],
    "places.open_line": ["名单", "Line"],
    "places.open_line_label": ["查看{service}的补贴名额候补名单", "Open the subsidised-unit waitlist of {service}"],
    "quota.offer": ["补贴名额已用完：可以先按原价预约，同时排补贴名额候补；排到时这次预约改按补贴价。", "The subsidised units are used up: book at the full price and wait for a unit; when one frees, this booking is re-priced."],
    "quota.join": ["同时排入补贴名额候补", "Also wait in the subsidised-unit line"],
    "quota.join_alone": ["只排补贴名额候补，先不预约", "Only wait for a subsidised unit, do not book yet"],
    "quota.joined": ["已为您排入补贴名额候补第{position}位。有补贴名额空出时会短信通知您，确认后这次预约改按补贴价收费。", "You wait for a subsidised unit: number {position}. You get a text message when one frees; once you confirm, this booking is re-priced at the subsidised price."],
    "quota.joined_other": ["已为{name}排入补贴名额候补第{position}位。有补贴名额空出时会短信通知{name}，确认后这次预约改按补贴价收费。", "{name} waits for a subsidised unit: number {position}. {name} gets a text message when one frees; once confirmed this booking is re-priced at the subsidised price."],
    "quota.joined_alone": ["{name}，已为您排入补贴名额候补第{position}位（还没有预约）。有补贴名额空出时会短信通知您，确认后按补贴价预约。", "{name}, you wait for a subsidised unit: number {position} (nothing booked yet). You get a text message when one frees; once you confirm, it is booked at the subsidised price."],
    "quota.joined_alone_other": ["{caller}，已为{name}排入补贴名额候补第{position}位（还没有预约）。有补贴名额空出时会短信通知{name}，确认后按补贴价预约。", "{caller}, {name} waits for a subsidised unit: number {position} (nothing booked yet). {name} gets a text message when one frees; once confirmed it is booked at the subsidised price."],
    "quota.refused": ["没有排入补贴名额候补：{reason}", "Not in the subsidised-unit line: {reason}"],
    "quota.used_up": ["{name}{period}的补贴已用完（{per}{units}次，已用{used}次，剩余{left}次），排到补贴名额也不能按补贴价收费；{renews}起恢复。", "{name}'s own subsidy {period} is used up ({units} per {per}, {used} used, {left} left): a unit would not lower her price; it renews on {renews}."],
    "quota.per.month": ["每月", "month"],
    "quota.per.week": ["每周", "week"],
    "quota.readback_title": ["补贴名额候补", "Subsidised-unit line"],
    "wait.status.ended": ["已结束", "ended"],
    "wait.end_reason.program_ended": ["补贴项目已结束", "the programme ended"],
    "wait.end_reason.slot_passed": ["时间已过", "its time passed"],
    "wait.end_reason.booking_ended": ["预约已取消", "the booking ended"],
    "error.code.offer_already_accepted": ["这个名额刚刚已经确认过了，不用再确认", "The offer was just accepted"],
    "error.code.quota_not_full": ["补贴名额还有剩余，可以直接按补贴价预约", "Subsidised units are left: book at the subsidised price"],
    "error.code.not_eligible": ["该居民不符合这个补贴项目的条件", "The resident is not eligible for this programme"],
    "error.code.program_not_funding": ["这一天没有补贴项目资助这项服务", "No programme funds this service that day"],
    "error.code.entitlement_used_up": ["该居民本期补贴已用完，不能排队等补贴名额", "The resident's own subsidy for this period is used up"],
    "error.code.already_subsidised": ["该居民的这次预约已按补贴价收费", "The resident's booking is subsidised already"],
    "error.code.weekday_not_offered": ["这一天该服务在此时间没有时段", "The service has no slot at this time on that day"],
    "error.code.weekdays_required": ["请选择星期几", "Choose the weekdays"],
    "error.code.weekdays_not_expected": ["每个工作日的预约不选星期", "Working-day series take no weekdays"],
    "error.code.weekdays_repeated": ["星期选重复了", "A weekday is chosen twice"],
    "error.code.start_in_past": ["开始日期不能早于今天", "The start date is in the past"],
    "error.code.series_beyond_horizon": ["超出了可预约的范围，请提前结束", "Beyond the booking horizon: end it earlier"],
    "error.code.end_required": ["请选择结束日期或次数", "Choose an end date or a number of times"],
    "error.code.end_date_and_count": ["结束日期和次数只能选一个", "Give an end date or a number of times, not both"],
    "error.code.end_before_start": ["结束日期早于开始日期", "The end date is before the start date"],
    "error.code.series_too_long": ["周期太长，请缩短", "The series is too long"],
    "error.code.too_many_occurrences": ["次数太多，请减少", "Too many dates"],
    "error.code.slot_not_full": ["这个时段还有空位，可以直接预约", "This slot has a free place: book it"],
    "error.code.already_waiting": ["该居民已在这个时段的候补名单中", "The resident is already on this slot's waitlist"],
    "error.code.already_booked": ["该居民已预约了这个时段", "The resident already holds this slot"],
    "error.code.slot_full": ["已满", "full"],
    "error.code.slot_not_in_schedule": ["当天不开放", "closed that day"],
  };
  const DICT = window.LINLI_I18N;
  for (const [key, [zh, en]] of Object.entries(WORDS)) {
    if (!(key in DICT["zh-CN"])) DICT["zh-CN"][key] = zh;
    if (!(key in DICT.en)) DICT.en[key] = en;
  }

  const TZ = "Asia/Shanghai";
  const SLOTS_FULL_SHOWN = 3;

  window.LinliSeries = function install(ctx) {
    const { api, state, t, h, money, dateTime, slotRange, newKey, spoken } = ctx;
    state.entitlements = null; // {resident_id, eligibility, entitlements}
    state.waitPlaces = null; // {resident_id, items}: the caller's open places in slot and quota lines
    state.seriesReadback = null; // {series, service, time, caller}: caller, who was on the line
    state.quotaReadback = null; // {resident_id, booking_id, text(), refused}: the quota line joined with a booking

    function hhmm(iso) {
      return new Intl.DateTimeFormat("en-GB", { timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false })
        .format(new Date(iso));
    }

    function day(iso) {
      return new Intl.DateTimeFormat("en-CA", { timeZone: TZ }).format(new Date(iso));
    }

    /* "2026-12-08" → "12月8日周二" ("Tue 8 Dec"): a date as it is read out to the caller. */
    function shortDate(isoDay) {
      const [, month, date] = isoDay.split("-").map(Number);
      const weekday = (new Date(isoDay + "T12:00:00Z").getUTCDay() + 6) % 7; // 0 = Monday
      if (state.lang === "en") {
        return t("weekday." + weekday) + " " + date + " " + new Intl.DateTimeFormat("en-GB", { month: "short", timeZone: "UTC" })
          .format(new Date(isoDay + "T12:00:00Z"));
      }
      return month + "月" + date + "日" + t("weekday." + weekday);
    }

    function list(items) {
      return items.join(state.lang === "en" ? ", " : "、");
    }

    // -------------------------------------------------------------- entitlements left this period

    async function loadEntitlements(residentId) {
      const found = await api.get("/api/v1/residents/" + residentId + "/entitlements").catch(() => null);
      state.entitlements = found && found.resident_id === residentId ? found : null;
    }

    function entitlementLine(e) {
      return t("ent.left", {
        period: t("ent.period." + e.period), name: e.offering_name || "", left: e.left, units: e.units_per_period,
        unit: t("ent.unit." + e.unit),
      });
    }

    function entitlementsSection() {
      const found = state.entitlements;
      if (!found || !state.resident || found.resident_id !== state.resident.id) return null;
      const lines = found.entitlements.map((e) => h("li", {
        class: e.left > 0 ? "" : "bad", "data-entitlement": e.offering_id, text: entitlementLine(e) }));
      for (const tag of found.eligibility.filter((x) => x.status === "expired")) {
        lines.push(h("li", { class: "bad", text: t("ent.tag_expired", { tag: t("tag." + tag.tag), date: tag.expires_on }) }));
      }
      return h("div", { id: "entitlements", class: "entitlements", "aria-label": t("ent.title") },
        h("span", { class: "muted", text: t("ent.title") + "：" }),
        lines.length ? h("ul", { class: "inline-list" }, lines) : h("span", { text: t("ent.none") }));
    }

    /* The quote for the slot's own day: its price note says why this booking is (not) subsidised, and its
       ``subsidy`` code decides what the operator may offer. Only when a programme would subsidise her but its
       units are used up (quota_used_up) may she book at the full price and wait in that programme's quota line
       for the booking, or wait in it alone; any other reason is said in the operator's words instead. */
    function priceNote(item, slot, caller) {
      const note = h("div", { class: "price-note", id: "price-note", "aria-live": "polite" });
      const why = h("p", { class: "muted", id: "subsidy-why", hidden: true });
      const quota = h("div", { id: "quota-offer", hidden: true });
      const box = h("div", {}, note, why, quota);
      api.get("/api/v1/bookings/quote", { offering_id: item.offering.id, resident_id: state.resident.id, date: day(slot.start) })
        .then((quote) => {
          if (!quote) return;
          if (quote.price_note) note.textContent = t("quote.note", { note: quote.price_note });
          if (quote.subsidy === "quota_used_up") fillQuotaOffer(quota, item, slot, caller);
          else if (quote.subsidy && quote.subsidy !== "subsidised") {
            why.textContent = whyNotSubsidised(quote);
            why.hidden = false;
          }
        })
        .catch(() => {});
      return box;
    }

    /* Why the quote carries no subsidy, for the reasons with no quota line to offer: her own allowance says what
       is left and when it renews. */
    function whyNotSubsidised(quote) {
      const name = state.resident.name;
      const e = quote.entitlement;
      if (quote.subsidy !== "entitlement_used_up") return t("quote.why." + quote.subsidy, { name });
      if (!e) return t("quote.why.entitlement_used_up_plain", { name });
      const renewsOn = new Date(e.period_end + "T00:00:00Z");
      renewsOn.setUTCDate(renewsOn.getUTCDate() + 1);
      const renews = state.lang === "en" ? renewsOn.toISOString().slice(0, 10)
        : (renewsOn.getUTCMonth() + 1) + "月" + renewsOn.getUTCDate() + "日";
      const [year, month, date] = e.period_start.split("-").map(Number);
      const period = e.period === "week" ? t("period.week_of", { month, day: date }) : t("period.month", { year, month });
      return t("quote.why.entitlement_used_up", {
        name, period, per: t("quota.per." + e.period), units: e.units_per_period,
        unit: t("ent.unit." + e.unit), used: e.used, left: e.left, renews });
    }

    function fillQuotaOffer(box, item, slot, caller) {
      const said = h("p", { id: "quota-said", class: "said", role: "status" });
      const alone = h("button", { type: "button", id: "quota-join-alone", text: t("quota.join_alone"),
        onclick: () => joinAlone(item, slot, said, alone, caller) });
      box.append(
        h("p", { class: "muted", text: t("quota.offer") }),
        h("label", { class: "check" }, h("input", { type: "checkbox", id: "quota-join", name: "quota_join" }), t("quota.join")),
        " ", alone, said);
      box.hidden = false;
    }

    /* A refusal to join, in the operator's words: an allowance used up says what is left and when it renews. */
    function refusal(error) {
      const p = error && error.problem;
      if (p && p.code === "entitlement_used_up") {
        const [, month, date] = String(p.renews_on || "").split("-").map(Number);
        const renews = state.lang === "en" ? String(p.renews_on) : month + "月" + date + "日";
        return t("quota.refused", { reason: t("quota.used_up", {
          name: state.resident.name, period: t("ent.period." + p.period), per: t("quota.per." + p.period),
          units: p.units_per_period, used: p.used, left: p.left, renews }) });
      }
      const code = p && p.code;
      return t("quota.refused", { reason: code && "error.code." + code in DICT["zh-CN"]
        ? t("error.code." + code) : (p && p.detail) || t("error.network") });
    }

    async function join(item, slot) {
      return api.post("/api/v1/bookings/waitlist", {
        kind: "quota", offering_id: item.offering.id, slot_start: slot.start, resident_id: state.resident.id,
      }, newKey());
    }

    /* In line without a booking: read back to whoever is on the line, asked in the summary's 来电人 first. */
    async function joinAlone(item, slot, said, button, caller) {
      const form = button.closest("form");
      ctx.clearErrors(form);
      said.textContent = "";
      const missing = caller.check(form);
      if (missing.length) {
        missing[0].focus();
        return;
      }
      const onLine = caller.value();
      button.disabled = true;
      try {
        const entry = await join(item, slot);
        state.onLine = onLine;
        said.classList.remove("bad");
        said.textContent = spoken("quota.joined_alone", { position: entry.position }, onLine);
        button.hidden = true;
        const box = document.getElementById("quota-join");
        if (box) box.closest("label").hidden = true;
        await ctx.refreshResident(); // her new place on the card behind the dialog
      } catch (error) {
        said.classList.add("bad");
        said.textContent = refusal(error);
      } finally {
        button.disabled = false;
      }
      said.setAttribute("tabindex", "-1");
      said.focus();
    }

    /* Whether the operator ticked 同时排入补贴名额候补 in the booking dialog ``form``. */
    function quotaWanted(form) {
      const box = form.querySelector("#quota-join");
      return Boolean(box && box.checked && !box.closest("[hidden]"));
    }

    /* After the full-price booking: her place in the quota line for it, read back beside the booking's. */
    async function joinForBooking(item, booking, onLine) {
      const slot = { start: booking.slot_start };
      try {
        const entry = await join(item, slot);
        // Worded when shown, so a switch of language words it again.
        state.quotaReadback = { resident_id: booking.resident_id, booking_id: booking.id, refused: false,
          text: () => spoken("quota.joined", { position: entry.position }, onLine) };
      } catch (error) {
        state.quotaReadback = { resident_id: booking.resident_id, booking_id: booking.id, refused: true,
          text: () => refusal(error) };
      }
    }

    function quotaReadback(readback) {
      const done = state.quotaReadback;
      if (!done || !state.resident || done.resident_id !== state.resident.id || !readback ||
        readback.kind !== "booked" || readback.booking.id !== done.booking_id) return null;
      return h("section", { class: done.refused ? "readback bad" : "readback", id: "quota-readback", role: "status",
        "aria-labelledby": "quota-readback-title" },
        h("h3", { id: "quota-readback-title", text: t("quota.readback_title") }),
        h("p", { text: done.text() }));
    }

    // -------------------------------------------------------------- a series from the booking step

    function radios(name, values, prefix) {
      return h("div", { class: "checks" }, values.map((value) => h("label", { class: "check" },
        h("input", { type: "radio", name, value }), t(prefix + value))));
    }

    /* ``caller``: the summary's 来电人, whose choice the series dialog keeps. */
    function seriesButton(item, slot, caller) {
      return h("button", { type: "button", id: "open-series", text: t("series.open"),
        onclick: () => openSeries(item, slot, caller.kind.value ? caller.value() : null) });
    }

    /* The booking dialog gives way to the series': the slot's button stays the one focus returns to. */
    async function openSeries(item, slot, preset) {
      const dialog = document.getElementById("dialog");
      const opener = state.dialogOpener;
      if (dialog.open) {
        const closed = new Promise((resolve) => dialog.addEventListener("close", resolve, { once: true }));
        dialog.close();
        await closed;
      }
      const o = item.offering;
      const key = newKey();
      const time = hhmm(slot.start);
      const weekdays = h("fieldset", { class: "field", "data-field": "weekdays", id: "series-weekdays", hidden: true },
        h("legend", { text: t("series.weekdays") }),
        h("div", { class: "checks" }, [0, 1, 2, 3, 4, 5, 6].map((d) => h("label", { class: "check" },
          h("input", { type: "checkbox", name: "weekday", value: String(d) }), t("weekday." + d)))),
        h("span", { class: "field-error" }));
      const endDate = h("input", { id: "series-end-date", type: "date", "data-field": "end_date", min: day(slot.start) });
      const count = h("input", { id: "series-count", type: "number", min: "1", max: "260", "data-field": "count", inputmode: "numeric" });
      const endDateBox = ctx.field("series-end-date", t("series.end_date"), endDate);
      const countBox = ctx.field("series-count", t("series.count"), count);
      endDateBox.hidden = true;
      countBox.hidden = true;
      const waitlist = h("input", { type: "checkbox", id: "series-waitlist", name: "waitlist_when_full" });
      const caller = ctx.callerFields("series-caller", preset);
      const form = h("form", { novalidate: true },
        h("div", { class: "form-error", role: "alert" }),
        h("p", { class: "item-title", text: ctx.offeringName(o) + " · " + t("series.time") + " " + time + " · " +
          t("series.start") + " " + shortDate(day(slot.start)) }),
        h("fieldset", { class: "field", "data-field": "kind" }, h("legend", { text: t("series.kind") }),
          radios("kind", ["weekly", "working_days"], "series.kind."), h("span", { class: "field-error" })),
        weekdays,
        h("fieldset", { class: "field", "data-field": "end" }, h("legend", { text: t("series.end") }),
          radios("end", ["date", "count"], "series.end."), h("span", { class: "field-error" })),
        h("div", { class: "grid" }, endDateBox, countBox),
        h("label", { class: "check" }, waitlist, t("series.waitlist")),
        caller.fields());
      form.addEventListener("change", () => {
        const kind = form.querySelector("input[name=kind]:checked");
        const end = form.querySelector("input[name=end]:checked");
        weekdays.hidden = !kind || kind.value !== "weekly";
        endDateBox.hidden = !end || end.value !== "date";
        countBox.hidden = !end || end.value !== "count";
      });
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        ctx.clearErrors(form);
        const kind = form.querySelector("input[name=kind]:checked");
        const end = form.querySelector("input[name=end]:checked");
        const days = Array.from(weekdays.querySelectorAll("input:checked"), (el) => Number(el.value));
        const marks = [];
        if (!kind) marks.push(["kind", "series.kind_required"]);
        else if (kind.value === "weekly" && !days.length) marks.push(["weekdays", "series.weekdays_required"]);
        if (!end) marks.push(["end", "series.end_required"]);
        else if (end.value === "date" && !endDate.value) marks.push(["end_date", "series.end_date_required"]);
        else if (end.value === "count" && !count.value) marks.push(["count", "series.count_required"]);
        const inputs = marks.map(([name, words]) => ctx.markField(form, name, t(words))).concat(caller.check(form));
        if (inputs.length) {
          if (inputs[0]) inputs[0].focus();
          return;
        }
        const onLine = caller.value();
        const body = {
          offering_id: o.id, resident_id: state.resident.id, channel: "phone", kind: kind.value, time,
          start_date: day(slot.start), waitlist_when_full: waitlist.checked,
        };
        if (kind.value === "weekly") body.weekdays = days;
        if (end.value === "date") body.end_date = endDate.value;
        else body.count = Number(count.value);
        await ctx.busy(form, async () => {
          try {
            const series = await api.post("/api/v1/bookings/series", body, key);
            state.onLine = onLine;
            ctx.closeDialog(false);
            state.readback = null;
            state.seriesReadback = { series, service: ctx.offeringName(o), time, caller: onLine };
            await ctx.refreshResident();
            const shown = document.getElementById("series-readback");
            if (shown) shown.focus();
            await ctx.refreshAvailability(o.id);
          } catch (error) {
            ctx.showError(error, form);
          }
        });
      });
      ctx.openDialog(t("series.title"), form, t("series.submit"), opener);
    }

    /* Why a date was not booked, in the operator's words (never a raw code). */
    function reason(code) {
      return code && "error.code." + code in DICT["zh-CN"] ? t("error.code." + code) : t("series.not_booked");
    }

    function seriesReadback() {
      const done = state.seriesReadback;
      if (!done || !state.resident || done.series.resident_id !== state.resident.id) return null;
      const by = (outcome) => done.series.occurrences.filter((o) => o.outcome === outcome);
      const booked = by("booked");
      const full = by("full");
      const waitlisted = by("waitlisted");
      const refused = by("refused");
      const lines = [spoken("series.readback_intro", { service: done.service, time: done.time }, done.caller)];
      lines.push(booked.length
        ? t("series.booked", { count: booked.length, dates: list(booked.map((o) => shortDate(o.date))) })
        : t("series.booked_none"));
      if (waitlisted.length) {
        lines.push(t("series.waitlisted", { count: waitlisted.length, dates: list(waitlisted.map((o) =>
          t("series.waitlisted_one", { date: shortDate(o.date), position: o.waitlist ? o.waitlist.position : "?" }))) }));
      }
      if (full.length) lines.push(t("series.full", { count: full.length, dates: list(full.map((o) => shortDate(o.date))) }));
      if (refused.length) {
        lines.push(t("series.refused", { count: refused.length, dates: list(refused.map((o) =>
          t("series.refused_one", { date: shortDate(o.date), reason: reason(o.code) }))) }));
      }
      if (done.series.days_off_skipped.length) {
        lines.push(t("series.days_off", { days: list(done.series.days_off_skipped.map((d) => d.name + " " + shortDate(d.date))) }));
      }
      return h("section", { class: "readback", id: "series-readback", tabindex: "-1", "aria-labelledby": "series-readback-title",
        "data-series": done.series.id },
        h("h3", { id: "series-readback-title", text: spoken("series.readback_title", {}, done.caller) }),
        lines.map((text) => h("p", { text })));
    }

    // -------------------------------------------------------------- the caller's own places in line (the card)

    async function loadWaitPlaces(residentId) {
      const found = await api.get("/api/v1/residents/" + residentId + "/waitlist", { open: true, limit: 5 })
        .catch(() => null);
      state.waitPlaces = found ? { resident_id: residentId, items: found.items } : null;
    }

    function placeLine(p) {
      const values = { service: p.offering_name || "", time: dateTime(p.slot_start), kind: t("places.kind." + p.kind) };
      return p.status === "offered"
        ? t("places.offered", { ...values, until: dateTime(p.offer_expires_at) })
        : t("places.waiting", { ...values, position: p.position });
    }

    /* One short line on the card: what the caller waits for, where she stands; a quota place opens its line. */
    function waitPlacesSection() {
      const found = state.waitPlaces;
      if (!found || !state.resident || found.resident_id !== state.resident.id || !found.items.length) return null;
      return h("div", { id: "wait-places", class: "entitlements", "aria-label": t("places.title") },
        h("span", { class: "muted", text: t("places.title") + "：" }),
        h("ul", { class: "inline-list" }, found.items.map((p) => h("li", { "data-wait-place": p.id },
          h("span", { text: placeLine(p) }),
          p.kind === "quota" ? [" ", h("button", { type: "button", class: "link", "data-action": "quota-line",
            text: t("places.open_line"), "aria-label": t("places.open_line_label", { service: p.offering_name || "" }),
            onclick: (e) => openQuotaLine(p, e.currentTarget) })] : null))));
    }

    // -------------------------------------------------------------- a service's quota line

    function quotaName(entry) {
      const name = entry.resident ? entry.resident.name : t("common.unknown");
      return state.resident && entry.resident_id === state.resident.id ? name + t("wait.this_caller") : name;
    }

    function quotaItem(entry) {
      const name = quotaName(entry);
      let text;
      if (entry.status === "waiting") text = t("wait.quota_entry", { position: entry.position, name });
      else if (entry.status === "offered") text = t("wait.quota_offered", { name, time: dateTime(entry.offer_expires_at) });
      else {
        const why = entry.end_reason ? "（" + t("wait.end_reason." + entry.end_reason) + "）" : "";
        text = t("wait.quota_closed", { name, status: t("wait.status." + entry.status) + why });
      }
      if (entry.for_booking_id && (entry.status === "waiting" || entry.status === "offered")) text += t("wait.for_booking");
      return h("li", { "data-quota-entry": entry.id, "data-status": entry.status, text });
    }

    /* The quota lines of the service (every programme funding it), in order; filled into ``box``. */
    async function showQuotaLine(box, offeringId, always) {
      const found = await api.get("/api/v1/bookings/waitlist/quota", { offering_id: offeringId, limit: 20 });
      box.textContent = "";
      if (!found.items.length && !always) return;
      box.append(h("h3", { text: t("wait.quota_line", { count: found.items.filter((e) => e.status === "waiting" ||
        e.status === "offered").length }) }));
      if (!found.items.length) box.append(h("p", { class: "muted", text: t("wait.quota_empty") }));
      else box.append(h("ul", { class: "items" }, found.items.map(quotaItem)));
    }

    function openQuotaLine(place, opener) {
      const line = h("div", { id: "quota-line", "aria-live": "polite" }, t("common.loading"));
      const form = h("form", { novalidate: true },
        h("div", { class: "form-error", role: "alert" }),
        h("p", { class: "item-title", text: place.offering_name || "" }),
        line);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        ctx.clearErrors(form);
        await ctx.busy(form, () => showQuotaLine(line, place.offering_id, true).catch((error) => ctx.showError(error, form)));
      });
      ctx.openDialog(t("wait.quota_title"), form, t("wait.quota_refresh"), opener);
      showQuotaLine(line, place.offering_id, true).catch((error) => ctx.showError(error, form));
    }

    // -------------------------------------------------------------- a full slot's waitlist

    function fullSlots(item) {
      const a = item.availability;
      if (!a || !a.bookable) return [];
      return a.slots.filter((s) => s.remaining === 0).slice(0, SLOTS_FULL_SHOWN).map((slot) => h("button", {
        type: "button", class: "slot full", "data-full-slot": slot.start,
        text: t("wait.slot", { time: dateTime(slot.start) }), onclick: (e) => openWaitlist(item, slot, e.currentTarget) }));
    }

    async function residentName(id) {
      if (state.resident && id === state.resident.id) return state.resident.name + t("wait.this_caller");
      const found = await api.get("/api/v1/residents/" + id).catch(() => null);
      return found ? found.name : t("common.unknown");
    }

    function openWaitlist(item, slot, opener) {
      const o = item.offering;
      const key = newKey();
      const resident = state.resident;
      const line = h("div", { id: "waitlist-line", "aria-live": "polite" }, t("common.loading"));
      const said = h("p", { id: "waitlist-said", class: "said", role: "status" });
      // The same service's subsidised units may have a line of their own: shown when someone waits in it.
      const quota = h("div", { id: "quota-line", "aria-live": "polite" });
      // Her place is read back to whoever is on the line: asked here when this call has not said yet.
      const caller = ctx.callerFields("waitlist-caller");
      const form = h("form", { novalidate: true },
        h("div", { class: "form-error", role: "alert" }),
        h("p", { class: "item-title", text: t("wait.slot_title", { service: ctx.offeringName(o), time: slotRange({ slot_start: slot.start, slot_end: slot.end }) }) }),
        caller.fields(), said, line, quota);

      async function show() {
        const entries = await api.get("/api/v1/bookings/waitlist", { offering_id: o.id, slot_start: slot.start });
        const open = entries.filter((e) => e.status === "waiting" || e.status === "offered");
        const names = await Promise.all(open.map((e) => residentName(e.resident_id)));
        line.textContent = "";
        line.append(h("h3", { text: t("wait.line", { count: open.length }) }));
        if (!open.length) line.append(h("p", { class: "muted", text: t("wait.empty") }));
        else {
          line.append(h("ul", { class: "items" }, open.map((entry, n) => h("li", { "data-waitlist": entry.id },
            h("span", { text: entry.status === "offered"
              ? t("wait.entry_offered", { name: names[n], time: dateTime(entry.offer_expires_at) })
              : t("wait.entry", { position: entry.position, name: names[n], status: t("wait.status." + entry.status) }) }),
            " ",
            h("button", { type: "button", class: "danger", "data-action": "leave", text: t("wait.remove"),
              "aria-label": t("wait.remove") + " " + names[n], onclick: () => remove(entry, names[n]) })))));
        }
        const submit = form.querySelector("button[type=submit]");
        if (submit) submit.hidden = open.some((e) => e.resident_id === resident.id);
      }

      async function remove(entry, name) {
        ctx.clearErrors(form);
        try {
          await api.post("/api/v1/bookings/waitlist/" + entry.id + "/leave", {});
          said.textContent = t("wait.removed", { name: name.replace(t("wait.this_caller"), "") });
          await show();
          said.setAttribute("tabindex", "-1");
          said.focus();
        } catch (error) {
          ctx.showError(error, form);
        }
      }

      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        ctx.clearErrors(form);
        const missing = caller.check(form);
        if (missing.length) {
          missing[0].focus();
          return;
        }
        const onLine = caller.value();
        await ctx.busy(form, async () => {
          try {
            const entry = await api.post("/api/v1/bookings/waitlist",
              { offering_id: o.id, slot_start: slot.start, resident_id: resident.id }, key);
            state.onLine = onLine;
            said.textContent = spoken("wait.joined", { position: entry.position }, onLine);
            await show();
            said.setAttribute("tabindex", "-1");
            said.focus();
          } catch (error) {
            ctx.showError(error, form);
          }
        });
      });
      ctx.openDialog(t("wait.title"), form, t("wait.join", { name: resident.name }), opener);
      if (caller.chosen) form.querySelector("button[type=submit]").focus(); // asked already: joining is the next key
      show().catch((error) => ctx.showError(error, form));
      showQuotaLine(quota, o.id, false).catch(() => {});
    }

    return {
      loadEntitlements, entitlementsSection, loadWaitPlaces, waitPlacesSection, priceNote, seriesButton, seriesReadback,
      fullSlots, quotaWanted, joinForBooking, quotaReadback,
      forget() {
        state.quotaReadback = null;
        state.entitlements = null;
        state.waitPlaces = null;
        state.seriesReadback = null;
      },
    };
  };
})();
