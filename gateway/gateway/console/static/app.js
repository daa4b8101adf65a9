/* The call-center console: an operator takes a call, finds (or registers) the caller, books, cancels or
   reschedules for them, records complaints, needs and ratings, and watches the shift's queue. Everything goes
   through the public API with the operator's token; nothing is kept beyond this browser tab's session. */
"use strict";

(function () {
  const { Api, ApiError, NetworkError, newKey } = window.LinliApi;
  const DICT = window.LINLI_I18N;
  const LANG_KEY = "linli.console.lang";
  const TZ = "Asia/Shanghai";
  const NOTICE = window.LINLI_PRIVACY_NOTICE; // read out at registration; its version is what consent records
  const CONSENT_VERSION = NOTICE.version;
  const TAGS = ["age_80_plus", "living_alone", "disabled", "low_income"];
  const ACTIVE = ["requested", "confirmed", "in_service"];
  const CHANGEABLE = ["requested", "confirmed"];
  const OPEN_COMPLAINT = ["submitted", "acknowledged", "investigating", "reopened"];
  const COMPLAINT_CATEGORIES = [
    "service_quality", "staff_conduct", "punctuality", "safety", "billing", "facility", "other",
  ];
  const SEVERITIES = ["normal", "low", "high", "urgent"];
  const WAITING_HOURS = 2; // a request the provider has not confirmed for this long goes on the shift's queue
  const SLOT_DAYS = 30; // how far ahead free slots are looked for: bookings' horizon (an offering's may be shorter)
  const SLOTS_SHOWN = 6;
  const RESCHEDULE_SHOWN = 20; // the soonest free times a reschedule lists before a day is chosen
  const PAGE = 200; // the API's largest page
  const QUEUE_REFRESH_MS = 60 * 1000;
  const QUEUE_MAX = 2000;
  const SHIFT_AHEAD_HOURS = 8;
  const CALLS_SHOWN = 3; // the card shows the latest calls; the earlier ones fold away
  const CALLS_SHOWN_MAX = 20;
  const URGENT_REASONS = ["fall", "no_answer", "other"];
  const REASONS = [
    "book_service", "change_booking", "service_question", "entitlement", "complaint", "registration",
    "helper_request", "callback", "safety", "other",
  ]; // a list read page by page (a shift's queue, the communities) stops there
  // Errors that name no field in errors[] but are about one.
  const CODE_FIELDS = {
    invalid_phone: "phone",
    phone_taken: "phone",
    invalid_id_card: "id_card_number",
    id_card_taken: "id_card_number",
    birth_date_mismatch: "id_card_number",
    reason_required: "reason",
    stars_required: "stars",
  };

  const api = new Api();
  const state = {
    lang: window.localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh-CN",
    me: null,
    view: "caller",
    categories: [],
    categoryNames: {},
    communities: [],
    communityNames: {},
    offerings: {},
    providers: {},
    lookup: null, // {key, params, matches?}
    resident: null,
    bookings: [],
    complaints: [],
    invitations: [],
    readback: null,
    services: null,
    queue: null,
    calls: { items: [], total: 0 }, // the card's timeline: the latest calls about the resident
    urgent: [], // the resident's urgent safety calls not yet resolved, with their escalation
    lastDone: null, // what this call has done so far ({kind, id, label}): the call log links it
    onLine: null, // who is on the line, as the operator chose it this call ({kind, name?, relation?}): read-back and log
    callbacks: null, // the shift's due callbacks and handover
    dialogOpener: null,
  };

  // ------------------------------------------------------------------ words and formats

  function t(key, params) {
    const table = DICT[state.lang] || {};
    let text = key in table ? table[key] : key in DICT["zh-CN"] ? DICT["zh-CN"][key] : key;
    if (params) {
      text = text.replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all));
    }
    return text;
  }

  function has(key) {
    return key in (DICT[state.lang] || {});
  }

  function applyI18n(root) {
    root.querySelectorAll("[data-i18n]").forEach((el) => {
      el.textContent = t(el.dataset.i18n);
    });
    root.querySelectorAll("[data-i18n-aria-label]").forEach((el) => {
      el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
    });
  }

  function money(fen) {
    return "¥" + (fen / 100).toFixed(2);
  }

  function locale() {
    return state.lang === "en" ? "en-GB" : "zh-CN";
  }

  /* Building an Intl.DateTimeFormat costs far more than formatting with one, and a screen of slots formats
     thousands of times: one formatter per locale and shape, made once. */
  const FORMATS = {
    dateTime: { month: "numeric", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit", hour12: false },
    timeOnly: { hour: "2-digit", minute: "2-digit", hour12: false },
    dateOnly: { year: "numeric", month: "numeric", day: "numeric" },
    dayLabel: { month: "numeric", day: "numeric", weekday: "short" },
    day: {}, // with en-CA: YYYY-MM-DD
  };
  const formatters = new Map();
  function format(shape, date, locale_ = locale()) {
    const key = locale_ + " " + shape;
    if (!formatters.has(key)) {
      formatters.set(key, new Intl.DateTimeFormat(locale_, { timeZone: TZ, ...FORMATS[shape] }));
    }
    return formatters.get(key).format(date);
  }

  function dateTime(iso) {
    if (!iso) return "";
    return format("dateTime", new Date(iso));
  }

  function timeOnly(iso) {
    return format("timeOnly", new Date(iso));
  }

  function dateOnly(iso) {
    return format("dateOnly", new Date(iso));
  }

  function localDay(date) {
    return format("day", date, "en-CA"); // YYYY-MM-DD
  }

  function addDays(day, days) {
    const date = new Date(day + "T12:00:00+08:00");
    date.setUTCDate(date.getUTCDate() + days);
    return localDay(date);
  }

  function slotRange(booking) {
    return dateTime(booking.slot_start) + "–" + timeOnly(booking.slot_end);
  }

  /* +8613801010001 → 138 0101 0001: read aloud in groups, as callers say their numbers. */
  function phoneText(phone) {
    const mobile = /^\+86(1\d{2})(\d{4})(\d{4})$/.exec(phone || "");
    return mobile ? mobile.slice(1).join(" ") : phone || "";
  }

  /* +8613801010001 → 138****0001: enough to tell two people apart in a list others may see. */
  function maskedPhone(phone) {
    const digits = String(phone || "").replace(/^\+86/, "");
    if (!digits) return t("lookup.no_phone");
    return digits.length >= 7 ? digits.slice(0, 3) + "****" + digits.slice(-4) : digits;
  }

  /* Whole years since the birth date, by Beijing's calendar today; null without a birth date. */
  function ageOf(birthDate) {
    if (!birthDate) return null;
    const [y, m, d] = birthDate.split("-").map(Number);
    const [ty, tm, td] = localDay(new Date()).split("-").map(Number);
    return ty - y - (tm < m || (tm === m && td < d) ? 1 : 0);
  }

  /* A datetime-local input's value (Beijing time, as the operator reads the clock) as an RFC 3339 instant. */
  function beijingInstant(localValue) {
    return localValue ? new Date(localValue + ":00+08:00").toISOString() : null;
  }

  function offeringName(offering) {
    if (!offering) return t("common.unknown");
    return state.lang === "en" && offering.name_en ? offering.name_en : offering.name_zh;
  }

  function categoryName(code) {
    const category = state.categoryNames[code];
    if (!category) return code;
    return state.lang === "en" && category.name_en ? category.name_en : category.name_zh;
  }

  function communityName(code) {
    if (!code) return t("card.none");
    const community = state.communityNames[code];
    if (!community) return code;
    return state.lang === "en" && community.name_en ? community.name_en : community.name_zh;
  }

  // ------------------------------------------------------------------ the DOM, built safely (text, never HTML)

  function $(id) {
    return document.getElementById(id);
  }

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") el.className = value;
      else if (name === "text") el.textContent = value;
      else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else if (name === "checked" || name === "selected" || name === "disabled" || name === "hidden") el[name] = true;
      else if (name === "value") el.value = value;
      else el.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  let noticeTimer = null;
  function notice(text) {
    const el = $("notice");
    el.textContent = "";
    window.clearTimeout(noticeTimer); // a notice cleared (the next caller) is not brought back by a late one
    if (text) noticeTimer = window.setTimeout(() => (el.textContent = text), 30); // re-announced even when unchanged
  }

  function field(id, labelText, input, extra) {
    return h("div", { class: "field" + (extra ? " " + extra : "") },
      h("label", { for: id, text: labelText }), input, h("span", { class: "field-error", id: id + "-error" }));
  }

  // ------------------------------------------------------------------ errors: problem details in the operator's words

  function clearErrors(form) {
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    form.querySelectorAll(".field-error").forEach((el) => (el.textContent = ""));
    const summary = form.querySelector(".form-error");
    if (summary) summary.textContent = "";
  }

  /* A problem's fields for its message, and the allowance period it names as the operator reads it out
     ("2026年12月", "12月7日起的一周"). */
  function problemParams(problem) {
    const params = Object.assign({}, problem);
    const start = /^(\d{4})-(\d{2})-(\d{2})$/.exec(problem.period_start || "");
    if (start) {
      const [year, month, day] = start.slice(1).map(Number);
      const week = problem.period === "week";
      params.period_name = week ? t("period.week_of", { month, day }) : t("period.month", { year, month });
      params.per = t(week ? "period.per_week" : "period.per_month");
      params.unit = t(problem.unit === "hour" ? "period.unit_hour" : "period.unit_booking");
    }
    return params;
  }

  /* The operator's words for a problem. The server's own detail is for developers (and in English): it goes to
     the browser's log, never to the screen. */
  function problemMessage(error) {
    if (error instanceof NetworkError || !(error instanceof ApiError)) return { message: t("error.network") };
    const code = error.code;
    let message;
    if (code && has("error.code." + code)) message = t("error.code." + code, problemParams(error.problem));
    else if (error.status >= 500) message = t("error.status.5xx");
    else if (has("error.status." + error.status)) message = t("error.status." + error.status);
    else message = t("error.status.400");
    const detail = error.problem.detail || error.problem.title || null;
    if (detail && detail !== message) console.info("Linli API:", error.status, code, detail);
    return { message };
  }

  /* "#/emergency_contact/phone" → "emergency_contact.phone" (RFC 6901 escapes undone). */
  function pointerField(pointer) {
    return pointer.replace(/^#\/?/, "").split("/").filter(Boolean)
      .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~")).join(".");
  }

  function fieldErrors(error) {
    if (!(error instanceof ApiError)) return [];
    const problem = error.problem;
    const found = [];
    if (Array.isArray(problem.errors)) {
      for (const item of problem.errors) {
        if (!item) continue;
        const path = typeof item.pointer === "string" ? pointerField(item.pointer)
          : typeof item.field === "string" ? item.field : null;
        if (path !== null) found.push({ field: path, type: item.type, ctx: item.ctx || {} });
      }
    }
    if (!found.length && error.code && CODE_FIELDS[error.code]) {
      // "emergency_contact.phone: not a phone number." names a deeper field than the code does.
      const named = /^([a-z_.]+):/.exec(problem.detail || "");
      found.push({ field: named ? named[1] : CODE_FIELDS[error.code], type: null, code: error.code, ctx: {} });
    }
    return found;
  }

  function fieldElement(form, path) {
    const parts = path.split(".");
    for (let n = parts.length; n > 0; n--) {
      const name = parts.slice(0, n).join(".");
      const el = form.querySelector('[data-field="' + CSS.escape(name) + '"]');
      if (el) return el;
    }
    return null;
  }

  function markField(form, path, message) {
    const el = fieldElement(form, path);
    if (!el) return null;
    const input = el.matches("input, select, textarea") ? el : el.querySelector("input, select, textarea");
    const box = el.closest(".field") || el;
    const slot = box.querySelector(".field-error");
    if (slot) {
      if (!slot.id) slot.id = newKey();
      slot.textContent = message;
    }
    if (input) {
      input.setAttribute("aria-invalid", "true");
      if (slot) {
        const described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
        if (!described.includes(slot.id)) input.setAttribute("aria-describedby", [...described, slot.id].join(" "));
      }
    }
    return input;
  }

  /* What to say under a field: its code's words ("电话号码无效"), a phone's trouble as a phone's, a length with
     its limit, and never "不能为空" for what was typed or for an optional field. */
  function fieldMessage(form, item) {
    const code = item.code || item.type;
    if (code && has("error.code." + code)) return t("error.code." + code);
    const last = item.field.split(".").pop();
    if (/phone$/.test(last) && item.type !== "missing") return t("error.code.invalid_phone");
    if (item.type === "string_too_short" || item.type === "missing") {
      const box = fieldElement(form, item.field);
      const label = box && (box.closest(".field") || box).querySelector("label, legend");
      if (label && /可选|optional/i.test(label.textContent)) return t("error.type.needed_with_others");
      if (item.type === "string_too_short" && item.ctx.min_length > 1) {
        return t("error.type.too_short", { min: item.ctx.min_length });
      }
    }
    if (item.type === "string_too_long" && item.ctx.max_length) return t("error.type.too_long", { max: item.ctx.max_length });
    return item.type && has("error.type." + item.type) ? t("error.type." + item.type) : t("error.field_invalid");
  }

  /* Shows an API error on a form: the summary in Chinese, every field named in errors[] marked under itself at
     once; focus goes to the first marked field, else to the summary. A phone or ID number another resident
     already has offers that resident's record. */
  function showError(error, form, summary) {
    const { message } = problemMessage(error);
    const target = summary || form.querySelector(".form-error");
    const items = fieldErrors(error);
    if (target) {
      target.textContent = "";
      target.append(items.length > 1 ? t("error.fields_count", { message, count: items.length }) : message);
    }
    const holder = error instanceof ApiError ? error.problem.existing_resident_id : null;
    let openHolder = null;
    if (holder && target) {
      openHolder = h("button", { type: "button", class: "open-holder", "data-resident": holder,
        text: t("error.open_holder"), onclick: () => openResidentById(holder, form, target) });
      target.append(" ", openHolder);
    }
    let first = null;
    for (const item of items) {
      const input = markField(form, item.field, fieldMessage(form, item));
      first = first || input;
    }
    // The caller is most likely the resident already registered: Enter opens her record, Tab goes on to fix.
    if (openHolder) openHolder.focus();
    else if (first) first.focus();
    else if (target) {
      target.setAttribute("tabindex", "-1");
      target.focus();
    }
  }

  /* Where the focus goes once a dialog's work (saving, then reading the card again) is done: not when the operator
     has moved on meanwhile (F2 and the next caller's number, F3), nor to a card gone with its caller. */
  function focusAfterWork(el) {
    if (!el || !document.body.contains(el)) return;
    const active = document.activeElement;
    if (active && active !== el && active.matches("input, select, textarea") && !$("dialog").contains(active)) return;
    el.focus();
  }

  async function busy(form, work) {
    const buttons = form.querySelectorAll("button[type=submit]");
    buttons.forEach((b) => (b.disabled = true));
    form.setAttribute("aria-busy", "true");
    try {
      return await work();
    } finally {
      buttons.forEach((b) => (b.disabled = false));
      form.removeAttribute("aria-busy");
    }
  }

  // ------------------------------------------------------------------ sign-in and the operator's session

  function showSignIn(message) {
    state.me = null;
    resetCaller();
    $("nav").hidden = true;
    $("sign-out").hidden = true;
    $("operator-name").textContent = "";
    $("caller-view").hidden = true;
    $("queue-view").hidden = true;
    $("callbacks-view").hidden = true;
    $("signin-view").hidden = false;
    const form = $("signin-form");
    clearErrors(form);
    if (message) form.querySelector(".form-error").textContent = message;
    $("signin-username").focus();
  }

  async function startSession() {
    const me = await api.get("/api/v1/auth/me");
    if (!me.roles.includes("operator") && !me.roles.includes("admin")) {
      await api.signOut();
      showSignIn(t("signin.not_operator"));
      return;
    }
    state.me = me;
    const [categories, communities] = await Promise.all([
      api.get("/api/v1/categories"),
      allPages("/api/v1/communities", {}, () => true),
    ]);
    state.categories = categories;
    state.categoryNames = {};
    for (const top of categories) {
      state.categoryNames[top.code] = top;
      for (const leaf of top.children || []) state.categoryNames[leaf.code] = leaf;
    }
    state.communities = communities;
    state.communityNames = Object.fromEntries(communities.map((c) => [c.code, c]));
    $("signin-view").hidden = true;
    $("nav").hidden = false;
    $("sign-out").hidden = false;
    renderChrome();
    showView("caller");
    const phone = new URLSearchParams(window.location.search).get("phone");
    if (phone) {
      $("phone").value = phone;
      await lookup(phone);
    } else {
      focusPhone();
    }
  }

  async function onSignIn(event) {
    event.preventDefault();
    const form = event.currentTarget;
    clearErrors(form);
    const username = $("signin-username").value.trim();
    const password = $("signin-password").value;
    await busy(form, async () => {
      try {
        await api.signIn(username, password);
        $("signin-password").value = "";
        await startSession();
      } catch (error) {
        showError(error, form);
      }
    });
  }

  async function onSignOut() {
    await api.signOut();
    window.history.replaceState(null, "", window.location.pathname);
    showSignIn();
  }

  // ------------------------------------------------------------------ views and the keyboard

  function showView(view) {
    if (state.view !== view) notice("");
    state.view = view;
    $("caller-view").hidden = view !== "caller";
    $("queue-view").hidden = view !== "queue";
    $("callbacks-view").hidden = view !== "callbacks";
    $("duty-view").hidden = view !== "duty";
    for (const [id, name] of [["nav-caller", "caller"], ["nav-queue", "queue"], ["nav-callbacks", "callbacks"], ["nav-duty", "duty"]]) {
      if (view === name) $(id).setAttribute("aria-current", "page");
      else $(id).removeAttribute("aria-current");
    }
  }

  function focusPhone() {
    showView("caller");
    const input = $("phone");
    input.focus();
    input.select();
  }

  function onKey(event) {
    if (!state.me || $("dialog").open) return;
    const typing = event.target.matches && event.target.matches("input, textarea, select");
    if (event.key === "F2" || (event.key === "/" && !typing)) {
      event.preventDefault();
      focusPhone();
    } else if (event.key === "F4") {
      event.preventDefault();
      openQueue();
    } else if (event.key === "F3" && state.resident) {
      event.preventDefault();
      showView("caller");
      $("service-category").focus();
    } else if (event.key === "F6" && state.resident) {
      event.preventDefault();
      showView("caller");
      openCallLog($("log-call"));
    } else if (event.key === "F8" && state.resident) {
      event.preventDefault();
      showView("caller");
      openUrgent($("urgent-call"));
    } else if (event.key === "F7") {
      event.preventDefault();
      openCallbacks();
    } else if (event.key === "F9") {
      event.preventDefault();
      openDutyPhones();
    }
  }

  function renderChrome() {
    document.documentElement.lang = state.lang;
    document.title = t("app.title");
    applyI18n(document);
    $("operator-name").textContent = state.me ? t("signin.signed_in_as", { name: state.me.name || state.me.username }) : "";
    $("lang-switch").setAttribute("lang", state.lang === "en" ? "zh-CN" : "en");
    fillCategorySelect($("service-category"), true);
    fillCommunitySelect();
    renderTagChecks();
    $("reg-consent-label").textContent = t("register.consent", { version: CONSENT_VERSION });
    renderPrivacyNotice();
  }

  /* The notice's words on screen, to read out in full before the caller consents, with the version recorded. */
  function renderPrivacyNotice() {
    const words = NOTICE[state.lang] || NOTICE["zh-CN"];
    const box = $("privacy-notice");
    box.textContent = "";
    box.dataset.version = NOTICE.version;
    box.append(
      h("h3", { id: "privacy-notice-title", text: t("register.notice_title", { title: words.title, version: NOTICE.version }) }),
      h("p", { class: "muted", text: words.intro }),
      ...words.paragraphs.map((text) => h("p", { text })));
  }

  function switchLanguage() {
    state.lang = state.lang === "en" ? "zh-CN" : "en";
    window.localStorage.setItem(LANG_KEY, state.lang);
    if ($("dialog").open) $("dialog").close();
    renderChrome();
    renderLookup();
    renderCard();
    renderServices();
    renderQueue();
    renderCallbacks();
  }

  function fillCategorySelect(select, withAll) {
    const chosen = select.value;
    select.textContent = "";
    if (withAll) select.append(h("option", { value: "", text: t("service.all") }));
    for (const top of state.categories) {
      select.append(h("option", { value: top.code, text: state.lang === "en" ? top.name_en : top.name_zh }));
      for (const leaf of top.children || []) {
        select.append(h("option", { value: leaf.code, text: "　· " + (state.lang === "en" ? leaf.name_en : leaf.name_zh) }));
      }
    }
    if (chosen) select.value = chosen;
  }

  function fillCommunitySelect() {
    const select = $("reg-community");
    const chosen = select.value;
    select.textContent = "";
    select.append(h("option", { value: "", text: t("register.community_none") }));
    for (const community of state.communities) {
      const name = state.lang === "en" && community.name_en ? community.name_en : community.name_zh;
      select.append(h("option", { value: community.code, text: name }));
    }
    select.value = chosen;
  }

  function renderTagChecks() {
    const box = $("reg-tags");
    const chosen = new Set(Array.from(box.querySelectorAll("input:checked"), (el) => el.value));
    box.textContent = "";
    for (const tag of TAGS) {
      box.append(h("label", { class: "check" },
        h("input", { type: "checkbox", name: "eligibility_tags", value: tag, checked: chosen.has(tag) }),
        t("tag." + tag)));
    }
  }

  // ------------------------------------------------------------------ the caller: look up, register

  function resetCaller() {
    state.lookup = null;
    state.resident = null;
    state.bookings = [];
    state.complaints = [];
    state.invitations = [];
    state.readback = null;
    state.services = null;
    state.calls = { items: [], total: 0 };
    state.urgent = [];
    state.lastDone = null;
    state.onLine = null;
    extras.forget();
    notice(null); // nothing said for the previous caller stays on screen
    $("lookup-result").textContent = "";
    $("lookup-error").textContent = "";
    $("register-panel").hidden = true;
    renderCard(); // emptied, not only hidden: the last caller's card and read-back are gone from the page
    $("service-panel").hidden = true;
    $("service-results").textContent = "";
    // The last caller's search is not the next one's: no category or "free only" carried over.
    $("service-category").value = "";
    $("service-free").checked = false;
  }

  async function onPhone(event) {
    event.preventDefault();
    await busy(event.currentTarget, () => lookup($("phone").value));
  }

  async function lookup(raw) {
    const form = $("phone-form");
    clearErrors(form);
    $("lookup-error").textContent = "";
    const query = String(raw || "").trim();
    const phone = query.replace(/[\s()-]/g, "");
    resetCaller();
    if (!query) {
      markField(form, "phone", t("phone.required")).focus();
      return;
    }
    // One box for whatever the operator has: a number, a name, pinyin initials, an ID number, an address.
    const isPhone = /^\+?\d{11,}$/.test(phone) && !/^\d{17}[\dXx]$/.test(phone);
    if (isPhone) window.history.replaceState(null, "", window.location.pathname + "?phone=" + encodeURIComponent(phone));
    state.lookup = { key: "phone.searching", params: { phone: query } };
    renderLookup();
    let page;
    try {
      page = await api.get("/api/v1/residents", { q: query, limit: 20 });
    } catch (error) {
      state.lookup = null;
      renderLookup();
      showError(error, form, $("lookup-error"));
      return;
    }
    if (page.items.length === 1) {
      state.lookup = null;
      renderLookup();
      await openResident(page.items[0]);
    } else if (page.items.length > 1) {
      state.lookup = { key: "lookup.matches", params: { count: page.items.length }, matches: page.items };
      renderLookup();
      $("lookup-result").querySelector("button").focus();
    } else if (isPhone) {
      state.lookup = { key: "lookup.not_found", params: { phone } };
      renderLookup();
      openRegistration(phone);
    } else {
      state.lookup = { key: "lookup.none", params: { query } };
      renderLookup();
      $("phone").focus();
    }
  }

  function renderLookup() {
    const box = $("lookup-result");
    box.textContent = "";
    if (!state.lookup) return;
    box.append(h("p", { class: "lookup-message", text: t(state.lookup.key, state.lookup.params) }));
    if (state.lookup.matches) {
      // Enough to tell two people apart: the masked phone, the age, the community, the address.
      box.append(h("ul", { class: "items", id: "lookup-matches" }, state.lookup.matches.map((resident) => {
        const age = ageOf(resident.birth_date);
        const facts = [maskedPhone(resident.phone), age === null ? null : t("lookup.age", { age }),
          communityName(resident.community_code), resident.address].filter(Boolean);
        return h("li", { "data-resident": resident.id },
          h("span", { class: "item-title", text: resident.name + " " }),
          h("span", { class: "item-meta", text: facts.join(" · ") + " " }),
          h("button", { type: "button", onclick: () => openResident(resident), text: t("lookup.choose") }));
      })));
    }
  }

  function openRegistration(phone) {
    const form = $("register-form");
    form.reset();
    clearErrors(form);
    renderTagChecks();
    $("reg-phone").value = phone;
    $("register-panel").hidden = false;
    $("reg-name").focus();
  }

  function registrationBody() {
    const value = (id) => $(id).value.trim();
    const body = {
      name: value("reg-name"),
      phone: value("reg-phone"),
      eligibility_tags: Array.from($("reg-tags").querySelectorAll("input:checked"), (el) => el.value),
      consent: { version: CONSENT_VERSION, channel: "phone" },
    };
    if (value("reg-community")) body.community_code = value("reg-community");
    if (value("reg-id-card")) body.id_card_number = value("reg-id-card");
    if (value("reg-address")) body.address = value("reg-address");
    if (value("reg-ec-name") || value("reg-ec-phone")) {
      body.emergency_contact = { name: value("reg-ec-name"), phone: value("reg-ec-phone") };
      if (value("reg-ec-relation")) body.emergency_contact.relation = value("reg-ec-relation");
    }
    return body;
  }

  async function onRegister(event) {
    event.preventDefault();
    const form = event.currentTarget;
    clearErrors(form);
    // The page's own checks; the rest of the form still goes to the server, which refuses a registration without
    // consent, name or a whole emergency contact: every bad field is marked in one press, the page's and the server's.
    const own = [];
    const check = (bad, path, key) => { if (bad) own.push({ path, message: t(key) }); };
    check(!$("reg-name").value.trim(), "name", "register.name_required");
    const ecName = $("reg-ec-name").value.trim();
    const ecPhone = $("reg-ec-phone").value.trim();
    check(ecPhone && !ecName, "emergency_contact.name", "register.ec_name_required");
    check(ecName && !ecPhone, "emergency_contact.phone", "register.ec_phone_required");
    check(!$("reg-consent").checked, "consent", "register.consent_required");
    const body = registrationBody();
    if (!$("reg-consent").checked) delete body.consent;
    if (own.length) {
      await busy(form, async () => {
        let serverError = null;
        try {
          await api.post("/api/v1/residents", body, newKey());
        } catch (error) {
          serverError = error;
        }
        clearErrors(form);
        const marked = new Set(own.map((item) => item.path));
        const items = serverError ? fieldErrors(serverError).filter((item) => !marked.has(item.field)) : [];
        for (const item of own) markField(form, item.path, item.message);
        for (const item of items) markField(form, item.field, fieldMessage(form, item));
        const count = own.length + items.length;
        const summary = form.querySelector(".form-error");
        summary.textContent = count > 1 ? t("error.fields_count", { message: own[0].message, count }) : own[0].message;
        const first = form.querySelector("[aria-invalid=true]");
        if (first) first.focus();
      });
      return;
    }
    if (!form.dataset.key) form.dataset.key = newKey(); // a second press replays, never registers twice
    await busy(form, async () => {
      try {
        const resident = await api.post("/api/v1/residents", body, form.dataset.key);
        delete form.dataset.key;
        $("register-panel").hidden = true;
        state.lookup = null;
        renderLookup();
        notice(t("register.done", { name: resident.name }));
        state.lastDone = { kind: "registration", id: resident.id, label: t("outcome.registration") };
        $("phone").value = resident.phone;
        await openResident(resident);
      } catch (error) {
        if (error instanceof ApiError && error.status < 500) delete form.dataset.key;
        showError(error, form);
      }
    });
  }

  // ------------------------------------------------------------------ the resident's card

  async function openResident(resident) {
    state.resident = resident;
    state.readback = null;
    state.services = null;
    state.lookup = null; // the operator has chosen: the list of matches gives the screen to the card
    renderLookup();
    extras.forget();
    $("register-panel").hidden = true;
    $("service-results").textContent = "";
    showView("caller");
    await refreshResident();
    $("service-panel").hidden = false;
    $("card-title").focus();
  }

  async function offering(id) {
    if (!(id in state.offerings)) {
      state.offerings[id] = await api.get("/api/v1/offerings/" + id).catch(() => null);
    }
    return state.offerings[id];
  }

  async function providerName(id) {
    if (!(id in state.providers)) {
      state.providers[id] = await api.get("/api/v1/organizations/" + id).catch(() => null);
    }
    return providerLabel(id) || t("common.unknown");
  }

  function providerLabel(id) {
    const org = state.providers[id];
    if (!org) return "";
    return state.lang === "en" && org.name_en ? org.name_en : org.name_zh;
  }

  async function refreshResident() {
    const id = state.resident.id;
    const [resident, bookings, complaints, invitations, calls, urgent] = await Promise.all([
      api.get("/api/v1/residents/" + id),
      api.get("/api/v1/bookings", { resident_id: id, limit: 50 }),
      api.get("/api/v1/complaints", { resident_id: id, limit: 50 }),
      api.get("/api/v1/rating-invitations", { resident_id: id, limit: 50 }).catch(() => ({ items: [] })),
      api.get("/api/v1/residents/" + id + "/calls", { limit: CALLS_SHOWN_MAX }),
      api.get("/api/v1/residents/" + id + "/urgent-calls", { limit: 5 }),
      extras.loadEntitlements(id),
      extras.loadWaitPlaces(id),
    ]);
    if (!state.resident || state.resident.id !== id) return; // another caller was opened meanwhile
    state.calls = calls;
    state.urgent = urgent.items.filter((u) => u.status !== "resolved");
    state.resident = resident;
    state.bookings = bookings.items;
    state.complaints = complaints.items;
    state.invitations = invitations.items;
    await Promise.all(state.bookings.map((b) => Promise.all([offering(b.offering_id), providerName(b.provider_id)])));
    renderCard();
  }

  function pricing(booking) {
    const parts = [t("booking.paid", { price: money(booking.price_fen) })];
    if (booking.subsidy_fen > 0) parts.push(t("booking.subsidy", { amount: money(booking.subsidy_fen) }));
    return parts.join(" · ");
  }

  /* Who made the booking: the resident in the app, their helper (a relative they authorised: "女儿 李红（代订）",
     or the helper's masked phone), an operator ("话务员 王芳") or the provider. */
  function bookedBy(booking) {
    const by = booking.booked_by;
    if (!by || by.kind === "system") return null;
    let who;
    if (by.kind === "helper") {
      const helper = by.helper || {};
      who = t("bookedby.helper", {
        relation: helper.relation || t("bookedby.relative"),
        name: helper.name || phoneText(helper.phone || ""),
      });
    } else if (by.kind === "operator") {
      // Operators' account names may already say so ("话务员 小陈"): the card says it once.
      const name = (by.name || "").replace(/^(话务员|operator)\s*/i, "");
      who = name ? t("bookedby.operator", { name: name }) : t("bookedby.operator_unnamed");
    } else {
      who = t("bookedby." + by.kind);
    }
    return h("div", { class: "item-meta booked-by", "data-booked-by": by.kind, text: t("bookedby.label") + who });
  }

  function bookingItem(booking) {
    const changeable = CHANGEABLE.includes(booking.status);
    const invitation = state.invitations.find((i) => i.booking_id === booking.id && i.status === "pending");
    const name = offeringName(state.offerings[booking.offering_id]);
    return h("li", { "data-booking": booking.id, "data-status": booking.status },
      h("div", {},
        h("span", { class: "item-title", text: name + " " }),
        h("span", { class: "badge status-" + booking.status, text: t("status." + booking.status) }),
        booking.subsidy_fen > 0 ? h("span", { class: "badge funded", text: t("booking.subsidy", { amount: money(booking.subsidy_fen) }) }) : null),
      h("div", { class: "item-meta" },
        slotRange(booking) + " · " + providerLabel(booking.provider_id) + " · " + pricing(booking)),
      booking.status === "requested" && booking.confirm_by
        ? h("div", { class: "item-meta", text: t("booking.confirm_by", { time: dateTime(booking.confirm_by) }) }) : null,
      bookedBy(booking),
      h("div", { class: "actions" },
        changeable ? h("button", { type: "button", "data-action": "reschedule", "aria-label": t("booking.reschedule") + " " + name,
          text: t("booking.reschedule"), onclick: (e) => openReschedule(booking, e.currentTarget) }) : null,
        changeable ? h("button", { type: "button", class: "danger", "data-action": "cancel", "aria-label": t("booking.cancel") + " " + name,
          text: t("booking.cancel"), onclick: (e) => openCancel(booking, e.currentTarget) }) : null,
        invitation ? h("button", { type: "button", "data-action": "rate", text: t("booking.rate"),
          onclick: (e) => openRating(booking, e.currentTarget) }) : null,
        h("button", { type: "button", "data-action": "complain", text: t("booking.complain"),
          onclick: (e) => openComplaint(e.currentTarget, booking) })));
  }

  /* The card fits a 1366×768 screen: who the caller is (name, age, tags, emergency contact), what is next for
     them (bookings, open complaints) and the actions above the fold; the latest calls, then history folded. */
  function renderCard() {
    const card = $("resident-card");
    const resident = state.resident;
    card.textContent = "";
    if (!resident) {
      card.hidden = true;
      return;
    }
    card.hidden = false;
    const now = Date.now();
    const upcoming = state.bookings
      .filter((b) => ACTIVE.includes(b.status) && Date.parse(b.slot_end) >= now)
      .sort((a, b) => Date.parse(a.slot_start) - Date.parse(b.slot_start));
    // A completed booking the caller has not rated yet keeps its 评价 in view; the rest of the past folds away.
    const toRate = state.bookings.filter((b) => !upcoming.includes(b) &&
      state.invitations.some((i) => i.booking_id === b.id && i.status === "pending"));
    const recent = state.bookings.filter((b) => !upcoming.includes(b) && !toRate.includes(b));
    const open = state.complaints.filter((c) => OPEN_COMPLAINT.includes(c.status));
    const contact = resident.emergency_contact;
    const consent = resident.consent;
    const age = ageOf(resident.birth_date);
    const facts = [
      ["card.phone", phoneText(resident.phone)],
      ["card.emergency", contact ? contact.name + (contact.relation ? "（" + contact.relation + "）" : "") + " " + phoneText(contact.phone) : t("card.none")],
      ["card.community", communityName(resident.community_code)],
      ["card.address", resident.address || t("card.none")],
      ["card.id_card", resident.id_card_number || t("card.none")],
      ["card.consent", t("card.consent_value", {
        channel: t("channel." + consent.channel), version: consent.version, date: dateOnly(consent.recorded_at) })],
    ];
    if (resident.birth_date) facts.splice(4, 0, ["card.birth", resident.birth_date]);
    const calls = state.calls.items;
    card.append(...[
      h("div", { class: "card-head" },
        h("h2", { id: "card-title", tabindex: "-1", "data-resident": resident.id, text: resident.name }),
        age === null ? null : h("span", { class: "age", id: "card-age", text: t("card.age", { age }) }),
        h("span", { class: "tags", "aria-label": t("card.tags") },
          resident.eligibility_tags.length
            ? resident.eligibility_tags.map((tag) => h("span", { class: "badge tag", "data-tag": tag, text: t("tag." + tag) }))
            : h("span", { class: "muted", text: t("card.tags") + "：" + t("card.no_tags") }))),
      h("dl", { class: "facts" }, facts.map(([key, value]) => [h("dt", { text: t(key) }), h("dd", { text: value })])),
      state.urgent.length ? h("section", { class: "urgent", id: "urgent-open", "aria-labelledby": "urgent-open-title" },
        h("h3", { id: "urgent-open-title", text: t("urgent.on_card") }),
        h("ul", { class: "items" }, state.urgent.map((u) => urgentItem(u, false)))) : null,
      extras.entitlementsSection(),
      extras.waitPlacesSection(),
      state.readback ? readback(state.readback) : extras.seriesReadback(),
      extras.quotaReadback(state.readback),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", text: t("card.find_service"),
          onclick: () => $("service-category").focus() }),
        h("button", { type: "button", id: "log-call", onclick: (e) => openCallLog(e.currentTarget) },
          t("card.log_call") + " ", h("kbd", { text: "F6" })),
        h("button", { type: "button", id: "urgent-call", class: "danger", onclick: (e) => openUrgent(e.currentTarget) },
          t("urgent.open") + " ", h("kbd", { text: "F8" })),
        h("button", { type: "button", id: "new-complaint", text: t("card.new_complaint"),
          onclick: (e) => openComplaint(e.currentTarget, null) }),
        h("button", { type: "button", id: "new-need", text: t("card.new_need"), onclick: (e) => openNeed(e.currentTarget) })),
      h("div", { class: "card-columns" },
        h("div", {},
          h("h3", { text: t("card.upcoming") }),
          upcoming.length ? h("ul", { class: "items", id: "upcoming-bookings" }, upcoming.map(bookingItem))
            : h("p", { class: "muted", id: "upcoming-bookings", text: t("card.no_upcoming") }),
          toRate.length ? [h("h3", { text: t("card.to_rate") }),
            h("ul", { class: "items", id: "bookings-to-rate" }, toRate.map(bookingItem))] : null,
          h("h3", { text: t("card.complaints") }),
          open.length ? h("ul", { class: "items", id: "open-complaints" }, open.map(complaintItem))
            : h("p", { class: "muted", id: "open-complaints", text: t("card.no_complaints") })),
        h("div", {},
          h("h3", { text: t("card.calls") }),
          calls.length ? h("ul", { class: "items", id: "call-log" }, calls.slice(0, CALLS_SHOWN).map(callItem))
            : h("p", { class: "muted", id: "call-log", text: t("card.no_calls") }),
          calls.length > CALLS_SHOWN ? h("details", { id: "more-calls" },
            h("summary", { text: t("card.more_calls", { count: state.calls.total - CALLS_SHOWN }) }),
            h("ul", { class: "items" }, calls.slice(CALLS_SHOWN).map(callItem))) : null)),
      // Past bookings fold away: a long-standing caller's history never pushes the actions off the screen.
      h("details", { id: "history" },
        h("summary", { text: t("card.history", { count: recent.length }) }),
        recent.length ? h("ul", { class: "items", id: "recent-bookings" }, recent.map(bookingItem))
          : h("p", { class: "muted", id: "recent-bookings", text: t("card.no_recent") })),
    ].filter(Boolean));
  }

  /* A call on the card's timeline: when, why, who was on the line, what came of it. */
  function callItem(call) {
    const urgent = call.urgent;
    const caller = call.caller.kind === "helper" ? t("call.by_helper", { name: call.caller.name, relation: call.caller.relation })
      : call.caller.kind === "other" ? (call.caller.name ? t("call.by_other", { name: call.caller.name }) : null)
      : t("call.by_resident");
    const meta = [dateTime(call.at), caller].filter(Boolean);
    if (call.outcome && !urgent) meta.push(t("call.linked", { what: t("outcome." + call.outcome.kind) }));
    if (call.operator_name) meta.push(t("call.operator", { name: call.operator_name }));
    return h("li", { "data-call": call.id },
      h("span", { class: "item-title", text: t("reason." + call.reason) + " " }),
      call.caller.kind === "helper" ? h("span", { class: "badge tag", "data-caller": "helper", text: t("call.caller.helper") }) : null,
      h("div", { class: "item-meta", text: meta.join(" · ") }),
      // An urgent call is told as it stands now: what happened, its state, what the caller said.
      urgent ? h("span", { class: "badge bad", "data-urgent-status": urgent.status,
        text: t("call.urgent_state", { reason: t("urgent.reason." + urgent.reason), state: t("urgent.status." + urgent.status) }) }) : null,
      urgent && urgent.note ? h("div", { class: "note", text: urgent.note }) : null,
      call.note ? h("div", { class: "note", text: call.note }) : null,
      call.callback ? h("div", { class: "item-meta", "data-callback": call.callback.id, text: t("call.callback", {
        time: dateTime(call.callback.due_at), reason: call.callback.reason }) }) : null);
  }

  /* Who is on the line (nothing pre-chosen): asked when the operator first needs it this call (a booking, a
     reschedule, a cancellation, a series, a place in a line, or F6), then kept for the call, so every read-back
     speaks to the person on the phone and the call log records the same. ``preset``: a choice made in the dialog
     this one replaces (the booking summary a series opens from). */
  function callerFields(idPrefix, preset) {
    const on = preset || state.onLine;
    const kind = h("select", { id: idPrefix, "data-field": "caller.kind" },
      h("option", { value: "", text: t("call.caller_choose") }),
      ["resident", "helper", "other"].map((k) => h("option", { value: k, text: t("call.caller." + k), selected: !!on && on.kind === k })));
    const name = h("input", { id: idPrefix + "-name", "data-field": "caller.name", maxlength: "50", value: (on && on.name) || "" });
    const relation = h("input", { id: idPrefix + "-relation", "data-field": "caller.relation", maxlength: "20",
      value: (on && on.relation) || "" });
    const who = h("div", { class: "grid", id: idPrefix + "-details" },
      field(idPrefix + "-name", t("call.caller_name"), name), field(idPrefix + "-relation", t("call.caller_relation"), relation));
    const shown = () => {
      who.hidden = !kind.value || kind.value === "resident";
      relation.closest(".field").hidden = kind.value !== "helper";
    };
    kind.addEventListener("change", shown);
    shown();
    return {
      kind,
      who,
      chosen: !!on, // asked already this call: the dialog's usual first key comes first
      /* The field and the relative's details, as a dialog places them. */
      fields() {
        return [h("div", { class: "grid" }, field(idPrefix, t("call.caller"), kind)), who];
      },
      /* Marks what is missing; the marked inputs, in order. */
      check(form) {
        if (!kind.value) return [markField(form, "caller.kind", t("call.caller_required"))];
        return [
          kind.value !== "resident" && !name.value.trim() && markField(form, "caller.name", t("error.code.caller_name_required")),
          kind.value === "helper" && !relation.value.trim() && markField(form, "caller.relation", t("error.code.relation_required")),
        ].filter(Boolean);
      },
      value() {
        const caller = { kind: kind.value };
        if (kind.value !== "resident") caller.name = name.value.trim();
        if (kind.value === "helper") caller.relation = relation.value.trim();
        return caller;
      },
    };
  }

  /* Every read-back (booked, moved, cancelled, a series, a place in a waitlist or the quota line) worded for
     ``onLine``, who was on the phone when it was done: the resident hears "您"; a relative or anyone else is
     addressed by their own name and told about the resident by hers ("李娜，已为钟淑芬预约…"). ``key`` names the
     resident's wording; ``key + "_other"`` is the one for someone calling for her. */
  function spoken(key, words, onLine) {
    const other = !!onLine && onLine.kind !== "resident";
    return t(key + (other ? "_other" : ""),
      Object.assign({ name: state.resident.name, caller: other ? onLine.name : "" }, words));
  }

  /* Every call gets a reason (chosen by the operator: none is pre-chosen) and a note, linked to what was just
     done for the caller; a relative calling is named with their relation; a callback may be scheduled. */
  function openCallLog(opener) {
    const resident = state.resident;
    if (!resident) return;
    const done = state.lastDone;
    const reason = h("select", { id: "call-reason", "data-field": "reason" },
      h("option", { value: "", text: t("call.reason_choose") }),
      REASONS.map((code) => h("option", { value: code, text: t("reason." + code) })));
    const caller = callerFields("call-caller");
    const note = h("textarea", { id: "call-note", "data-field": "note", maxlength: "1000" });
    const due = h("input", { id: "call-callback-at", type: "datetime-local", "data-field": "callback.due_at" });
    const why = h("input", { id: "call-callback-reason", "data-field": "callback.reason", maxlength: "200" });
    const form = h("form", { novalidate: true },
      h("div", { class: "form-error", role: "alert" }),
      h("div", { class: "grid" }, field("call-reason", t("call.reason"), reason), field("call-caller", t("call.caller"), caller.kind)),
      caller.who,
      field("call-note", t("call.note"), note),
      h("p", { class: "muted", id: "call-linked", text: done ? t("call.linked", { what: done.label }) : t("call.linked_none") }),
      h("div", { class: "grid" }, field("call-callback-at", t("call.callback_at"), due),
        field("call-callback-reason", t("call.callback_reason"), why)));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      let first = null;
      if (!reason.value) first = markField(form, "reason", t("call.reason_required"));
      const callerMissing = caller.check(form); // marked with the reason, not after it
      first = first || callerMissing[0] || null;
      if (due.value && !why.value.trim()) first = first || markField(form, "callback.reason", t("call.callback_reason_required"));
      if (why.value.trim() && !due.value) first = first || markField(form, "callback.due_at", t("call.callback_at_required"));
      if (first) {
        first.focus();
        return;
      }
      const body = { reason: reason.value, note: note.value.trim(), caller: caller.value() };
      if (done) body.outcome = { kind: done.kind, id: done.id };
      if (due.value) body.callback = { due_at: beijingInstant(due.value), reason: why.value.trim() };
      if (!form.dataset.key) form.dataset.key = newKey(); // a second press replays, never logs the call twice
      await busy(form, async () => {
        try {
          await api.post("/api/v1/residents/" + resident.id + "/calls", body, form.dataset.key);
          state.onLine = body.caller;
          closeDialog(true);
          state.lastDone = null; // the next call starts afresh
          notice(t("call.done"));
          state.calls = await api.get("/api/v1/residents/" + resident.id + "/calls", { limit: CALLS_SHOWN_MAX });
          renderCard();
          focusAfterWork($("card-title"));
        } catch (error) {
          if (error instanceof ApiError && error.status < 500) delete form.dataset.key;
          showError(error, form);
        }
      });
    });
    openDialog(t("call.title"), form, t("call.submit"), opener);
  }

  // ------------------------------------------------------------------ urgent safety calls

  /* In a short note, Enter is the confirm as everywhere else in the console; Shift+Enter starts a new line. */
  function enterSubmits(textarea, form) {
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
  }

  /* An urgent call as the card and the shift's list show it: why, the note, each step with who and when, whom
     the escalation reached (or why not), and the next step's button. */
  function urgentItem(call, withResident) {
    const steps = [t("urgent.opened_by", { time: dateTime(call.opened_at), name: call.opened_by_name || "" })];
    if (call.contacted_at) steps.push(t("urgent.contacted_by", { time: dateTime(call.contacted_at), name: call.contacted_by_name || "" }));
    const next = call.status === "opened" ? "contacted" : call.status === "contacted" ? "resolved" : null;
    const resident = call.resident;
    return h("li", { "data-urgent": call.id, "data-status": call.status },
      h("span", { class: "item-title", text: (withResident && resident ? resident.name + "：" : "") + t("urgent.reason." + call.reason) + " " }),
      h("span", { class: "badge bad", "data-urgent-status": call.status, text: t("urgent.status." + call.status) }),
      h("div", { class: "item-meta", text: steps.join(" · ") }),
      h("div", { class: "note", text: call.note }),
      call.contacted_note ? h("div", { class: "note", text: t("urgent.contacted_note", { note: call.contacted_note }) }) : null,
      h("ul", { class: "escalations" }, call.escalations.map((e) => h("li", { "data-escalation": e.to, "data-sms": e.status },
        t("urgent.to." + e.to, { name: e.name || t("card.none") }) + (e.phone_masked ? " " + e.phone_masked : "") + "：" +
        (e.reason === "no_phone" ? t("urgent.sms.no_phone") : t("urgent.sms." + e.status))))),
      h("div", { class: "actions" },
        next ? h("button", { type: "button", class: "primary", "data-action": next, text: t("urgent.step." + next),
          onclick: (ev) => openUrgentStep(call, next, ev.currentTarget) }) : null,
        withResident ? h("button", { type: "button", "data-action": "open", text: t("callbacks.open"),
          onclick: () => openResidentById(call.resident_id, $("callbacks-view"), $("callbacks-error")) }) : null));
  }

  /* F8 on the card: the reason (none pre-chosen) and a note, then one confirm; the emergency contact and the
     community are told at once. A second press (or the browser's retry) sends the same key: one call, two SMS. */
  function openUrgent(opener) {
    const resident = state.resident;
    if (!resident) return;
    const reason = h("select", { id: "urgent-reason", "data-field": "reason" },
      h("option", { value: "", text: t("urgent.reason_choose") }),
      URGENT_REASONS.map((code) => h("option", { value: code, text: t("urgent.reason." + code) })));
    const note = h("textarea", { id: "urgent-note", "data-field": "note", maxlength: "1000" });
    const contact = resident.emergency_contact;
    const form = h("form", { novalidate: true },
      h("div", { class: "form-error", role: "alert" }),
      field("urgent-reason", t("urgent.reason"), reason),
      field("urgent-note", t("urgent.note"), note),
      h("p", { class: "muted", id: "urgent-who", text: t("urgent.will_notify", {
        contact: contact ? contact.name + (contact.relation ? "（" + contact.relation + "）" : "") : t("urgent.no_contact"),
        community: communityName(resident.community_code) }) }));
    enterSubmits(note, form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      // Every missing detail is marked at once; the first gets the focus.
      const missing = [
        !reason.value && markField(form, "reason", t("urgent.reason_required")),
        !note.value.trim() && markField(form, "note", t("urgent.note_required")),
      ].filter(Boolean);
      if (missing.length) {
        missing[0].focus();
        return;
      }
      if (!form.dataset.key) form.dataset.key = newKey();
      await busy(form, async () => {
        try {
          await api.post("/api/v1/residents/" + resident.id + "/urgent-calls",
            { reason: reason.value, note: note.value.trim() }, form.dataset.key);
          closeDialog(false);
          notice(t("urgent.opened_notice"));
          await refreshResident();
          const shown = document.querySelector("#urgent-open li[data-urgent]");
          if (shown) shown.querySelector("button[data-action]").focus();
        } catch (error) {
          if (error instanceof ApiError && error.status < 500) delete form.dataset.key;
          showError(error, form);
        }
      });
    });
    openDialog(t("urgent.title", { name: resident.name }), form, t("urgent.submit"), opener, true);
  }

  /* 已联系上 (someone reached the resident) and then 已解决, each with a note saying who and how. */
  function openUrgentStep(call, to, opener) {
    const note = h("textarea", { id: "urgent-step-note", "data-field": "note", maxlength: "500" });
    const form = h("form", { novalidate: true },
      h("div", { class: "form-error", role: "alert" }),
      field("urgent-step-note", t("urgent.step_note." + to), note));
    enterSubmits(note, form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      if (!note.value.trim()) {
        markField(form, "note", t("urgent.step_note_required")).focus();
        return;
      }
      await busy(form, async () => {
        try {
          await api.post("/api/v1/hotline/urgent-calls/" + call.id + "/" + to, { note: note.value.trim() });
          closeDialog(false);
          notice(t("urgent.step_notice." + to, { name: call.resident ? call.resident.name : "" }));
          if (state.resident && state.resident.id === call.resident_id) await refreshResident();
          if (state.callbacks) await loadCallbacks();
          const next = document.querySelector("li[data-urgent='" + call.id + "'] button[data-action]");
          focusAfterWork(next || (state.resident ? $("card-title") : null));
        } catch (error) {
          if (error instanceof ApiError && error.code === "invalid_transition") {
            form.querySelector(".form-error").textContent = t("urgent.changed");
            if (state.resident) await refreshResident();
            return;
          }
          showError(error, form);
        }
      });
    });
    openDialog(t("urgent.step." + to), form, t("urgent.step_submit." + to), opener);
  }

  function complaintItem(complaint) {
    return h("li", { "data-complaint": complaint.id },
      h("span", { class: "item-title", text: t("ccat." + complaint.category) + " " }),
      h("span", { class: "badge warn", text: t("cstatus." + complaint.status) }),
      complaint.overdue ? h("span", { class: "badge bad", text: t("complaint.overdue") }) : null,
      h("div", { class: "item-meta" }, complaintNumber(complaint) + " · " +
        t("complaint.filed", { time: dateTime(complaint.created_at) }) + " · " +
        t("severity." + complaint.severity) + " · ", said(complaint.description)));
  }

  /* What a resident said in their own words (a complaint's description), marked as theirs: it may hold any
     script, and is shown as they said it. */
  function said(text) {
    return h("span", { "data-said": "", text });
  }

  /* A complaint's number as the operator reads it out and the caller writes it down: "投诉编号 4711 2086". The
     caller who rings back reads it from her note; the operator finds it on her card by the same groups. */
  function complaintNumber(complaint) {
    return t("complaint.number", { number: complaint.reference.replace(/(\d{4})(?=\d)/g, "$1 ") });
  }

  /* What was just done for the caller, to read back: {kind: "booked" | "rescheduled" | "cancelled", booking,
     previous (the booking before a reschedule), caller (who was on the line)}. The booking is read from the card's
     latest list, so the words are those of its state now, never of an earlier answer. */
  function readback(done) {
    const booking = state.bookings.find((b) => b.id === done.booking.id) || done.booking;
    const to = done.caller;
    // Someone calling for the resident hears what the resident pays and that she is told, in her name.
    let price = booking.price_fen === 0 ? spoken("readback.price_free", {}, to)
      : spoken("readback.price_paid", { price: money(booking.price_fen) }, to);
    if (booking.subsidy_fen > 0) price = t("readback.price_subsidy", { subsidy: money(booking.subsidy_fen) }) + price;
    const status = booking.status === "confirmed" ? t("readback.status_confirmed") : spoken("readback.status_requested", {}, to);
    const words = {
      service: offeringName(state.offerings[booking.offering_id]), provider: providerLabel(booking.provider_id),
      time: slotRange(booking), price, status,
    };
    const what = done.kind === "booked" ? "" : "_" + done.kind; // _rescheduled, _cancelled
    if (done.kind === "rescheduled") words.old = slotRange(done.previous);
    return h("section", { class: "readback", id: "readback", tabindex: "-1", "aria-labelledby": "readback-title",
      "data-readback": done.kind, "data-readback-booking": booking.id },
      h("h3", { id: "readback-title", text: spoken("readback.title" + what, {}, to) }),
      h("p", { text: spoken("readback.text" + what, words, to) }));
  }

  // ------------------------------------------------------------------ finding a service and booking it

  async function onFindService(event) {
    event.preventDefault();
    const form = event.currentTarget;
    await busy(form, async () => {
      $("service-error").textContent = "";
      try {
        await findServices($("service-category").value || null, $("service-free").checked);
      } catch (error) {
        showError(error, form, $("service-error"));
      }
    });
  }

  async function findServices(category, freeOnly) {
    const resident = state.resident;
    const results = $("service-results");
    results.textContent = t("service.searching");
    let items = [];
    let mode = "no_community";
    let community = resident.community_code;
    if (resident.community_code || resident.position) {
      mode = "fallback";
      // From the resident's own address when it is located, else from their community's centre.
      const origin = resident.position
        ? { lat: resident.position.latitude, lng: resident.position.longitude }
        : { community_code: resident.community_code };
      try {
        const page = await api.get("/api/v1/circle/offerings", Object.assign(origin, {
          category_code: category, free_only: freeOnly ? "true" : null, limit: 50,
        }));
        items = page.items.map((i) => ({ offering: i.offering, provider: i.provider_name, reach: i.reach,
          distance_m: i.distance_m, walk_minutes: i.walk_minutes }));
        if (items.length) mode = "circle";
        if (page.origin && page.origin.community_code) community = page.origin.community_code;
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error; // a community the map does not know
      }
    }
    if (!items.length) {
      // Nothing located in the circle: the district's bookable catalog, so the caller is still served.
      const page = await api.get("/api/v1/offerings", { status: "published", category_code: category, limit: 50 });
      items = page.items.filter((o) => !freeOnly || o.price_fen === 0).map((o) => ({ offering: o, provider: null }));
    }
    const from = localDay(new Date());
    await Promise.all(items.map(async (item) => {
      state.offerings[item.offering.id] = item.offering;
      const [availability, provider, quote] = await Promise.all([
        api.get("/api/v1/availability", { offering_id: item.offering.id, from, to: addDays(from, SLOT_DAYS - 1) })
          .catch(() => null),
        providerName(item.offering.provider_id),
        // What this caller would pay: the contract's price when a contract funds the service for them.
        api.get("/api/v1/bookings/quote", { offering_id: item.offering.id, resident_id: resident.id }).catch(() => null),
      ]);
      item.availability = availability;
      item.quote = quote;
      item.provider = item.provider || provider; // the circle names the provider; the catalog does not
    }));
    state.services = { mode, items, community };
    renderServices();
  }

  /* A slot the caller already holds (an active booking of the same service at the same start) is no choice. */
  function holds(offeringId, slotStart) {
    return state.bookings.some((b) => ACTIVE.includes(b.status) && b.offering_id === offeringId &&
      Date.parse(b.slot_start) === Date.parse(slotStart));
  }

  /* The "余 N" counts of the services on screen for this offering, as they are after a booking changed them. */
  async function refreshAvailability(offeringId) {
    if (!state.services) return;
    const items = state.services.items.filter((item) => item.offering.id === offeringId);
    if (!items.length) return;
    const from = localDay(new Date());
    const availability = await api.get("/api/v1/availability",
      { offering_id: offeringId, from, to: addDays(from, SLOT_DAYS - 1) }).catch(() => null);
    if (!availability) return;
    items.forEach((item) => (item.availability = availability));
    renderServices();
  }

  function fundedBadge(item) {
    const quote = item.quote;
    if (!quote || !quote.funded) return null;
    return h("span", { class: "badge funded", "data-funded": "true",
      text: t("service.funded", { price: money(quote.resident_price_fen), subsidy: money(quote.subsidy_fen) }) });
  }

  function renderServices() {
    const results = $("service-results");
    results.textContent = "";
    const found = state.services;
    if (!found || !state.resident) return;
    if (found.mode === "circle") {
      results.append(h("p", { text: t("service.circle", { community: communityName(found.community), count: found.items.length }) }));
    } else if (found.mode === "fallback") {
      results.append(h("p", { class: "muted", text: t("service.fallback") }));
    } else {
      results.append(h("p", { class: "muted", text: t("service.no_community") }));
    }
    if (!found.items.length) {
      results.append(h("p", { text: t("service.none") }));
      return;
    }
    for (const item of found.items) {
      const o = item.offering;
      const reach = item.reach === "walk"
        ? t("service.walk", { minutes: item.walk_minutes, metres: item.distance_m })
        : item.reach === "door_to_door" || o.mode === "door_to_door" ? t("service.door") : null;
      results.append(h("article", { class: "offering", "data-offering": o.id, "aria-labelledby": "offering-" + o.id },
        h("h3", { id: "offering-" + o.id, text: offeringName(o) }),
        h("div", {},
          o.price_fen === 0 ? h("span", { class: "badge free", text: t("service.free") })
            : h("span", { class: "badge", text: t("service.price", { price: money(o.price_fen) }) }),
          fundedBadge(item),
          h("span", { class: "badge tag", text: categoryName(o.category_code) }),
          reach ? h("span", { class: "item-meta", text: reach }) : null),
        h("div", { class: "item-meta", text: t("service.provider", { name: providerLabel(o.provider_id) || item.provider }) }),
        o.description ? h("div", { class: "item-meta", text: o.description }) : null,
        slotsOf(item)));
    }
  }

  /* An offering's free slots: the soonest few, or every one of the day the caller asks for ("下周三") among the
     days ahead that have any. Choosing a day changes this offering's slots alone, and the focus stays on the day. */
  function slotsOf(item) {
    const o = item.offering;
    const bookable = item.availability && item.availability.bookable;
    const free = bookable ? item.availability.slots.filter((s) => s.remaining > 0 && !holds(o.id, s.start)) : [];
    const days = byDay(free);
    if (!days.has(item.day)) item.day = null;
    const label = h("span", { class: "muted" });
    const list = h("span", { class: "slot-list" });
    const show = () => {
      const shown = item.day ? days.get(item.day) : free.slice(0, SLOTS_SHOWN);
      label.textContent = (item.day ? t("service.slots_of_day", { day: dayLabel(item.day) }) : t("service.slots")) + "： ";
      list.replaceChildren(...(shown.length ? shown.map((slot) => h("button", {
        type: "button", class: "slot", "data-slot": slot.start,
        text: t("service.slot", { time: dateTime(slot.start), remaining: slot.remaining }),
        onclick: (e) => openConfirm(item, slot, e.currentTarget),
      })) : [h("span", { text: t("service.no_slots") })]));
    };
    show();
    const picker = dayPicker(days, item.day, offeringName(o), (day) => { item.day = day; show(); });
    return h("div", { class: "slots", role: "group", "aria-label": t("service.slots") + " · " + offeringName(o) },
      label, picker,
      item.availability && !bookable ? h("span", { class: "badge warn", text: t("service.not_bookable") }) : null,
      list, extras.fullSlots(item));
  }

  /* 日期: 最近可约 (null) and each day that has room (``days``: byDay's), with how many times; ``show`` hears the
     day chosen. None for slots of one day. */
  function dayPicker(days, chosen, what, show) {
    if (days.size < 2) return null;
    return h("select", { class: "slot-day", "aria-label": t("service.day") + " · " + what,
      onchange: (e) => show(e.currentTarget.value || null) },
    h("option", { value: "", text: t("service.day_soonest"), selected: !chosen }),
    [...days].map(([day, slots]) => h("option", { value: day, selected: day === chosen,
      text: t("service.day_option", { day: dayLabel(day), count: slots.length }) })));
  }

  /* The slots by their day in Beijing (YYYY-MM-DD), in order. */
  function byDay(slots) {
    const days = new Map();
    for (const slot of slots) {
      const day = localDay(new Date(slot.start));
      if (!days.has(day)) days.set(day, []);
      days.get(day).push(slot);
    }
    return days;
  }

  function dayLabel(day) {
    return format("dayLabel", new Date(day + "T12:00:00+08:00"));
  }

  function openConfirm(item, slot, opener) {
    const o = item.offering;
    const key = newKey(); // the same key for every press of this dialog's button: one booking at most
    const caller = callerFields("confirm-caller");
    const form = h("form", { novalidate: true },
      h("div", { class: "form-error", role: "alert" }),
      h("dl", { class: "summary" },
        h("dt", { text: t("confirm.resident") }), h("dd", { text: state.resident.name + " " + phoneText(state.resident.phone) }),
        h("dt", { text: t("confirm.service") }), h("dd", { text: offeringName(o) }),
        h("dt", { text: t("confirm.provider") }), h("dd", { text: providerLabel(o.provider_id) || item.provider }),
        h("dt", { text: t("confirm.time") }), h("dd", { text: dateTime(slot.start) + "–" + timeOnly(slot.end) }),
        h("dt", { text: t("confirm.price") }), h("dd", { "data-price": "standard" },
          o.price_fen === 0 ? t("service.free") : money(o.price_fen),
          o.price_fen > 0 && !(item.quote && item.quote.funded)
            ? h("div", { class: "muted", text: t("service.funded_note") }) : null),
        item.quote && item.quote.funded ? h("dt", { text: t("confirm.pays") }) : null,
        item.quote && item.quote.funded ? h("dd", { "data-price": "resident",
          text: t("service.funded", { price: money(item.quote.resident_price_fen), subsidy: money(item.quote.subsidy_fen) }) }) : null),
      extras.priceNote(item, slot, caller), extras.seriesButton(item, slot, caller), caller.fields());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const missing = caller.check(form);
      if (missing.length) {
        missing[0].focus();
        return;
      }
      const onLine = caller.value();
      await busy(form, async () => {
        try {
          const booking = await api.post("/api/v1/bookings",
            { offering_id: o.id, slot_start: slot.start, resident_id: state.resident.id, channel: "phone" }, key);
          const waitForSubsidy = extras.quotaWanted(form);
          state.onLine = onLine;
          closeDialog(false);
          state.readback = { kind: "booked", booking, caller: onLine };
          // Booked at the full price because the subsidy is out of reach: her place in the quota line for it.
          if (waitForSubsidy) await extras.joinForBooking(item, booking, onLine);
          state.lastDone = { kind: "booking", id: booking.id, label: t("outcome.booking") + " " + slotRange(booking) };
          await refreshResident();
          const shown = $("readback");
          focusAfterWork(shown);
          await refreshAvailability(o.id);
        } catch (error) {
          showError(error, form);
        }
      });
    });
    openDialog(t("confirm.title"), form, t("confirm.submit"), opener);
    // Chosen already this call: the summary's confirm is the next key, as before.
    if (caller.chosen) form.querySelector("button[type=submit]").focus();
  }

  // ------------------------------------------------------------------ cancel, reschedule, complain, need, rate

  function openDialog(title, form, submitText, opener, danger) {
    const dialog = $("dialog");
    const body = $("dialog-body");
    body.textContent = "";
    form.append(h("div", { class: "dialog-buttons" },
      h("button", { type: "button", text: t("dialog.close"), onclick: () => closeDialog(true) }),
      h("button", { type: "submit", class: "primary" + (danger ? " danger" : ""), text: submitText })));
    body.append(h("h2", { id: "dialog-title", text: title }), form);
    // A select takes Enter as its own; in a dialog the operator means "save".
    form.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && event.target.matches("select")) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    state.dialogOpener = opener || null;
    dialog.showModal();
    const first = form.querySelector("input:not([type=hidden]), select, textarea") || form.querySelector("button[type=submit]");
    first.focus();
  }

  function closeDialog(restoreFocus) {
    const dialog = $("dialog");
    if (dialog.open) dialog.close();
    if (restoreFocus && state.dialogOpener && document.body.contains(state.dialogOpener)) state.dialogOpener.focus();
  }

  function onDialogClosed() {
    const opener = state.dialogOpener;
    state.dialogOpener = null;
    if (opener && document.body.contains(opener) && document.activeElement === document.body) opener.focus();
  }

  function openCancel(booking, opener) {
    const key = newKey();
    const reason = h("textarea", { id: "cancel-reason", name: "reason", "data-field": "reason", maxlength: "500" });
    reason.value = t("cancel.reason_default");
    const caller = callerFields("cancel-caller");
    const form = h("form", { novalidate: true },
      h("div", { class: "form-error", role: "alert" }),
      h("p", { class: "item-title", text: offeringName(state.offerings[booking.offering_id]) + " · " + slotRange(booking) }),
      field("cancel-reason", t("cancel.reason"), reason), caller.fields());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const missing = caller.check(form);
      if (missing.length) {
        missing[0].focus();
        return;
      }
      const onLine = caller.value();
      await busy(form, async () => {
        try {
          const cancelled = await api.post("/api/v1/bookings/" + booking.id + "/cancel", { reason: reason.value.trim() || null }, key);
          state.onLine = onLine;
          closeDialog(false);
          state.readback = { kind: "cancelled", booking: cancelled, caller: onLine };
          state.lastDone = { kind: "booking", id: cancelled.id, label: t("outcome.booking") + " " + slotRange(cancelled) };
          notice(t("cancel.done"));
          await refreshResident();
          focusAfterWork($("readback") || $("card-title"));
          await refreshAvailability(booking.offering_id);
        } catch (error) {
          showError(error, form);
        }
      });
    });
    openDialog(t("cancel.title"), form, t("cancel.submit"), opener, true);
  }

  async function openReschedule(booking, opener) {
    const key = newKey();
    const from = localDay(new Date());
    const choices = h("div", { class: "checks", id: "reschedule-slots" }, t("common.loading"));
    const reason = h("input", { id: "reschedule-reason", name: "reason", "data-field": "reason", maxlength: "500" });
    const caller = callerFields("reschedule-caller");
    const form = h("form", { novalidate: true },
      h("div", { class: "form-error", role: "alert" }),
      h("p", { class: "item-title", text: offeringName(state.offerings[booking.offering_id]) + " · " + slotRange(booking) }),
      h("fieldset", { class: "field", "data-field": "slot_start" },
        h("legend", { text: t("reschedule.pick") }), choices, h("span", { class: "field-error" })),
      field("reschedule-reason", t("reschedule.reason"), reason), caller.fields());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const picked = form.querySelector("input[name=slot]:checked");
      // A missing slot and a missing 来电人 are marked at once; the first takes the focus.
      const missing = [picked ? null : markField(form, "slot_start", t("reschedule.pick_required")), ...caller.check(form)]
        .filter(Boolean);
      if (!picked || missing.length) {
        if (missing[0]) missing[0].focus();
        return;
      }
      const onLine = caller.value();
      await busy(form, async () => {
        try {
          const body = { slot_start: picked.value };
          if (reason.value.trim()) body.reason = reason.value.trim();
          const moved = await api.post("/api/v1/bookings/" + booking.id + "/reschedule", body, key);
          state.onLine = onLine;
          closeDialog(false);
          state.readback = { kind: "rescheduled", booking: moved, previous: booking, caller: onLine };
          state.lastDone = { kind: "booking", id: moved.id, label: t("outcome.booking") + " " + slotRange(moved) };
          notice(t("reschedule.done", { time: slotRange(moved) }));
          await refreshResident();
          focusAfterWork($("readback") || $("card-title"));
          await refreshAvailability(booking.offering_id);
        } catch (error) {
          showError(error, form);
        }
      });
    });
    openDialog(t("reschedule.title"), form, t("reschedule.submit"), opener);
    try {
      const availability = await api.get("/api/v1/availability",
        { offering_id: booking.offering_id, from, to: addDays(from, SLOT_DAYS - 1) });
      // Not the booking's own slot, nor one the caller already holds: the caller picks, nothing is pre-chosen.
      const slots = availability.slots.filter((s) => s.remaining > 0 &&
        Date.parse(s.start) !== Date.parse(booking.slot_start) && !holds(booking.offering_id, s.start));
      const days = byDay(slots);
      const show = (day) => {
        const shown = day ? days.get(day) : slots.slice(0, RESCHEDULE_SHOWN);
        choices.replaceChildren(...(shown.length ? shown.map((slot) => h("label", { class: "check" },
          h("input", { type: "radio", name: "slot", value: slot.start }),
          t("service.slot", { time: dateTime(slot.start), remaining: slot.remaining }))) : [t("service.no_slots")]));
      };
      show(null);
      // The day the caller asks for, when it is beyond the soonest times listed: a field of its own, before the
      // times (a missing time marks and focuses the times, not the day).
      const picker = dayPicker(days, null, offeringName(state.offerings[booking.offering_id]), show);
      if (picker) choices.closest("fieldset").before(h("div", { class: "field" }, picker));
      const first = choices.querySelector("input");
      if (first && $("dialog").open) first.focus();
    } catch (error) {
      choices.textContent = "";
      showError(error, form);
    }
  }

  function options(values, prefix, chosen) {
    return values.map((value) => h("option", { value, text: t(prefix + value), selected: value === chosen }));
  }

  function openComplaint(opener, aboutBooking) {
    const resident = state.resident;
    const targets = [];
    for (const booking of state.bookings) {
      targets.push({
        value: "booking:" + booking.id, kind: "booking", id: booking.id, provider: booking.provider_id,
        label: t("complaint.target_booking", { service: offeringName(state.offerings[booking.offering_id]), time: slotRange(booking) }),
      });
    }
    for (const providerId of new Set(state.bookings.map((b) => b.provider_id))) {
      targets.push({ value: "provider:" + providerId, kind: "provider", id: providerId, provider: providerId,
        label: t("complaint.target_provider", { name: providerLabel(providerId) || t("common.unknown") }) });
    }
    if (!targets.length) {
      notice(t("complaint.no_target"));
      return;
    }
    const key = newKey();
    const target = h("select", { id: "complaint-target", "data-field": "target_id" },
      targets.map((x) => h("option", { value: x.value, text: x.label, selected: aboutBooking && x.id === aboutBooking.id })));
    // What the complaint is about is the caller's to say: no category is chosen for the operator.
    const category = h("select", { id: "complaint-category", "data-field": "category" },
      h("option", { value: "", text: t("complaint.category_choose") }), options(COMPLAINT_CATEGORIES, "ccat.", null));
    // How urgent it is, too, is the caller's to say.
    const severity = h("select", { id: "complaint-severity", "data-field": "severity" },
      h("option", { value: "", text: t("complaint.severity_choose") }), options(SEVERITIES, "severity.", null));
    const description = h("textarea", { id: "complaint-description", "data-field": "description", maxlength: "2000" });
    const form = h("form", { novalidate: true },
      h("div", { class: "form-error", role: "alert" }),
      field("complaint-target", t("complaint.target"), target),
      h("div", { class: "grid" },
        field("complaint-category", t("complaint.category"), category),
        field("complaint-severity", t("complaint.severity"), severity)),
      field("complaint-description", t("complaint.description"), description));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      // Every missing detail is marked at once; the first gets the focus.
      const missing = [
        !category.value && markField(form, "category", t("complaint.category_required")),
        !severity.value && markField(form, "severity", t("complaint.severity_required")),
        !description.value.trim() && markField(form, "description", t("complaint.description_required")),
      ].filter(Boolean);
      if (missing.length) {
        missing[0].focus();
        return;
      }
      const chosen = targets.find((x) => x.value === target.value);
      const body = {
        target_kind: chosen.kind, target_id: chosen.id, provider_id: chosen.provider, category: category.value,
        severity: severity.value, description: description.value.trim(), resident_id: resident.id, channel: "phone",
      };
      if (resident.community_code) body.community_code = resident.community_code;
      await busy(form, async () => {
        try {
          const complaint = await api.post("/api/v1/complaints", body, key);
          closeDialog(false);
          notice(t("complaint.done", { number: complaintNumber(complaint) }));
          state.lastDone = { kind: "complaint", id: complaint.id, label: t("outcome.complaint") };
          await refreshResident();
          focusAfterWork($("card-title"));
        } catch (error) {
          showError(error, form);
        }
      });
    });
    openDialog(t("complaint.title"), form, t("complaint.submit"), opener);
  }

  function openNeed(opener) {
    const resident = state.resident;
    const key = newKey();
    const kind = h("select", { id: "need-kind", "data-field": "kind" },
      h("option", { value: "need", text: t("need.kind_need") }), h("option", { value: "suggestion", text: t("need.kind_suggestion") }));
    const category = h("select", { id: "need-category", "data-field": "category_code" });
    fillCategorySelect(category, false);
    const text = h("textarea", { id: "need-text", "data-field": "text", maxlength: "2000" });
    const form = h("form", { novalidate: true },
      h("div", { class: "form-error", role: "alert" }),
      h("div", { class: "grid" }, field("need-kind", t("need.kind"), kind), field("need-category", t("need.category"), category)),
      field("need-text", t("need.text"), text));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      if (!text.value.trim()) {
        markField(form, "text", t("need.text_required")).focus();
        return;
      }
      const body = { kind: kind.value, category_code: category.value, text: text.value.trim(), resident_id: resident.id };
      if (resident.community_code) body.community_code = resident.community_code;
      await busy(form, async () => {
        try {
          const need = await api.post("/api/v1/needs", body, key);
          closeDialog(true);
          notice(t("need.done", { count: need.group_count }));
          if (need.id) state.lastDone = { kind: "need", id: need.id, label: t("outcome.need") };
        } catch (error) {
          showError(error, form);
        }
      });
    });
    openDialog(t("need.title"), form, t("need.submit"), opener);
  }

  function openRating(booking, opener) {
    const key = newKey();
    const stars = h("fieldset", { class: "field", "data-field": "stars" },
      h("legend", { text: t("rating.stars") }),
      h("div", { class: "checks" }, [5, 4, 3, 2, 1].map((n) => h("label", { class: "check" },
        h("input", { type: "radio", name: "stars", value: String(n) }), t("rating.star_n", { n })))),
      h("span", { class: "field-error" }));
    const comment = h("textarea", { id: "rating-comment", "data-field": "comment", maxlength: "1000" });
    const form = h("form", { novalidate: true },
      h("div", { class: "form-error", role: "alert" }),
      h("p", { class: "item-title", text: offeringName(state.offerings[booking.offering_id]) + " · " + slotRange(booking) }),
      stars, field("rating-comment", t("rating.comment"), comment));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const chosen = form.querySelector("input[name=stars]:checked");
      if (!chosen) { // Enter alone rates nothing: the stars are the resident's to give
        const first = markField(form, "stars", t("rating.stars_required"));
        if (first) first.focus();
        return;
      }
      const body = { booking_id: booking.id, stars: Number(chosen.value) };
      if (comment.value.trim()) body.comment = comment.value.trim();
      await busy(form, async () => {
        try {
          await api.post("/api/v1/ratings", body, key);
          closeDialog(false);
          notice(t("rating.done"));
          await refreshResident();
          focusAfterWork($("card-title"));
        } catch (error) {
          showError(error, form);
        }
      });
    });
    openDialog(t("rating.title"), form, t("rating.submit"), opener);
  }

  // ------------------------------------------------------------------ the shift's queue

  async function openQueue() {
    showView("queue");
    $("queue-title").focus();
    await loadQueue();
  }

  async function loadQueue() {
    $("queue-error").textContent = "";
    if (!state.queue) $("queue-lists").textContent = t("queue.loading");
    try {
      const today = localDay(new Date());
      const start = Date.parse(today + "T00:00:00+08:00");
      // Bookings made since midnight (Beijing), and requests made over WAITING_HOURS ago that the provider
      // has still not confirmed, the longest waiting first.
      const waitedSince = new Date(Date.now() - WAITING_HOURS * 3600 * 1000).toISOString();
      const [created, requested, overdue] = await Promise.all([
        allPages("/api/v1/bookings", { created_from: new Date(start).toISOString() }, () => true),
        allPages("/api/v1/bookings", { status: "requested", created_before: waitedSince }, () => true),
        allPages("/api/v1/complaints", { overdue: "true" }, () => true),
      ]);
      const waiting = requested.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
      await Promise.all([...created, ...waiting].map((b) => Promise.all([offering(b.offering_id), providerName(b.provider_id)])));
      state.queue = { created, waiting, overdue, at: new Date().toISOString() };
      renderQueue();
    } catch (error) {
      showError(error, $("queue-view"), $("queue-error"));
    }
  }

  /* The items of a list, page by page, while ``wanted`` holds (the lists are ordered, newest first). */
  async function allPages(path, query, wanted) {
    const found = [];
    for (let offset = 0; offset < QUEUE_MAX; offset += PAGE) {
      const page = await api.get(path, Object.assign({ limit: PAGE, offset }, query));
      const kept = page.items.filter(wanted);
      found.push(...kept);
      if (kept.length < page.items.length || offset + PAGE >= page.total) break;
    }
    return found;
  }

  function queueBooking(booking, waited) {
    const resident = booking.resident;
    return h("li", { "data-booking": booking.id },
      h("span", { class: "item-title", text: offeringName(state.offerings[booking.offering_id]) + " " }),
      h("span", { class: "badge status-" + booking.status, text: t("status." + booking.status) }),
      waited ? h("span", { class: "badge bad", text: t("queue.waited", {
        hours: ((Date.now() - Date.parse(booking.created_at)) / 3600000).toFixed(1) }) }) : null,
      h("div", { class: "item-meta", text: slotRange(booking) + " · " + providerLabel(booking.provider_id) +
        (resident ? " · " + resident.name + " " + phoneText(resident.phone) : "") }),
      resident ? h("button", { type: "button", text: t("queue.open_caller"), onclick: () => openCaller(resident.phone) }) : null);
  }

  function queueComplaint(complaint) {
    return h("li", { "data-complaint": complaint.id },
      h("span", { class: "item-title", text: t("ccat." + complaint.category) + " " }),
      h("span", { class: "badge warn", text: t("cstatus." + complaint.status) }),
      h("span", { class: "badge bad", text: t("complaint.overdue") }),
      h("div", { class: "item-meta" }, complaintNumber(complaint) + " · " +
        t("complaint.filed", { time: dateTime(complaint.created_at) }) + " · " +
        t("severity." + complaint.severity) + " · ", said(complaint.description)),
      complaint.resident_id ? h("button", { type: "button", text: t("queue.open_caller"),
        onclick: () => openResidentById(complaint.resident_id) }) : null);
  }

  function renderQueue() {
    const queue = state.queue;
    if (!queue) return;
    const box = $("queue-lists");
    box.textContent = "";
    $("queue-updated").textContent = t("queue.updated", { time: timeOnly(queue.at) });
    const section = (id, title, items, render) => h("section", { id, "aria-labelledby": id + "-title" },
      h("h3", { id: id + "-title" }, title, h("span", { class: "count", text: String(items.length) })),
      items.length ? h("ul", { class: "items" }, items.map(render)) : h("p", { class: "muted", text: t("queue.empty") }));
    box.append(
      section("queue-today", t("queue.today"), queue.created, (b) => queueBooking(b, false)),
      section("queue-waiting", t("queue.waiting", { hours: WAITING_HOURS }), queue.waiting, (b) => queueBooking(b, true)),
      section("queue-overdue", t("queue.overdue"), queue.overdue, queueComplaint));
  }

  // ------------------------------------------------------------------ callbacks and the shift's handover

  /* The shift: from the start of Beijing's day the console is on to its end, or SHIFT_AHEAD_HOURS from now when
     that is later (a night shift's callbacks due after midnight are on its list). */
  function shiftBounds() {
    const today = localDay(new Date());
    const endOfDay = Date.parse(addDays(today, 1) + "T00:00:00+08:00");
    return { since: new Date(today + "T00:00:00+08:00").toISOString(),
      until: new Date(Math.max(endOfDay, Date.now() + SHIFT_AHEAD_HOURS * 3600 * 1000)).toISOString() };
  }

  async function openCallbacks() {
    showView("callbacks");
    $("callbacks-title").focus();
    await loadCallbacks();
  }

  async function loadCallbacks(focusIndex) {
    $("callbacks-error").textContent = "";
    if (!state.callbacks) $("callbacks-lists").textContent = t("queue.loading");
    try {
      const { since, until } = shiftBounds();
      const [handover, complaints] = await Promise.all([
        api.get("/api/v1/hotline/handover", { since, until }),
        overdueComplaints(),
      ]);
      state.callbacks = { handover, complaints, at: new Date().toISOString() };
      renderCallbacks();
      if (focusIndex !== undefined) {
        const selector = typeof focusIndex === "string" ? focusIndex : "#callbacks-due li button[data-action=done]";
        const buttons = $("callbacks-lists").querySelectorAll(selector);
        focusIndex = typeof focusIndex === "string" ? 0 : focusIndex;
        const next = buttons[Math.min(focusIndex, buttons.length - 1)];
        if (next) next.focus();
        else $("callbacks-title").focus();
      }
    } catch (error) {
      showError(error, $("callbacks-view"), $("callbacks-error"));
    }
  }

  /* The complaints past a deadline, from feedback's list (operators read it: residents phone them about their
     complaints), as items of the shift's work list; booking says who took which and which are done. */
  async function overdueComplaints() {
    const complaints = await allPages("/api/v1/complaints", { overdue: "true" }, () => true);
    const ids = complaints.slice(0, PAGE).map((c) => c.id);
    let followups = [];
    if (ids.length) {
      const query = "?kind=complaint&" + ids.map((id) => "item_id=" + encodeURIComponent(id)).join("&");
      followups = await api.get("/api/v1/hotline/worklist/followups" + query);
    }
    const held = new Map(followups.map((f) => [f.item_id, f]));
    return complaints.filter((c) => !(held.get(c.id) || {}).done_at).map((c) => ({
      kind: "complaint",
      item_id: c.id,
      resident_id: c.resident_id,
      resident: null,
      reason: "complaint_overdue",
      due_at: c.acknowledged_at ? c.resolve_due_at : c.ack_due_at,
      about: { category: c.category, description: c.description },
      taken_by_name: (held.get(c.id) || {}).taken_by_name || null,
    }));
  }

  /* One item of the shift's work list: what kind of call it is and why, in words (never a code), whom it is about,
     who took it; "接听/拨打" takes it and opens the resident's card, "完成" closes it. */
  function worklistItem(item, index) {
    const resident = item.resident;
    const about = item.about || {};
    const meta = [t("worklist.due_at", { time: dateTime(item.due_at) })];
    if (resident) meta.push(resident.name + " " + phoneText(resident.phone));
    if (about.offering_name) meta.push(about.offering_name + " " + dateTime(about.slot_start));
    if (about.provider_name) meta.push(about.provider_name);
    if (about.hold_until) meta.push(t("worklist.hold_until", { time: dateTime(about.hold_until) }));
    if (about.tag) meta.push(t("worklist.tag_expires", { tag: t("tag." + about.tag), date: dateOnly(about.expires_on + "T12:00:00+08:00") }));
    if (about.category) meta.push(t("ccat." + about.category));
    return h("li", { "data-worklist": item.item_id, "data-kind": item.kind },
      h("span", { class: "item-title", text: t("worklist.kind." + item.kind) + (resident ? "：" + resident.name : "") + " " }),
      h("span", { class: "badge warn", text: t("worklist.reason." + item.reason) }),
      item.taken_by_name ? h("span", { class: "badge", "data-taken": "", text: t("worklist.taken_by", { name: item.taken_by_name }) }) : null,
      h("div", { class: "item-meta" }, meta.join(" · "), about.description ? [" · ", said(about.description)] : null),
      h("div", { class: "actions" },
        h("button", { type: "button", "data-action": "take", class: "primary", text: t("worklist.take"),
          onclick: (e) => takeItem(item, e.currentTarget) }),
        h("button", { type: "button", "data-action": "done", text: t("worklist.done"),
          onclick: (e) => closeItem(item, index, e.currentTarget) }),
        item.resident_id ? h("button", { type: "button", "data-action": "open", text: t("callbacks.open"),
          onclick: () => openResidentById(item.resident_id, $("callbacks-view"), $("callbacks-error")) }) : null));
  }

  function showWorklistError(error) {
    if (error instanceof ApiError && error.code === "worklist_item_taken" && error.problem.taken_by_name) {
      const box = $("callbacks-error");
      box.textContent = t("worklist.taken_by_other", { name: error.problem.taken_by_name });
      box.setAttribute("tabindex", "-1");
      box.focus();
      return;
    }
    showError(error, $("callbacks-view"), $("callbacks-error"));
  }

  async function takeItem(item, button) {
    button.disabled = true;
    try {
      const body = item.kind === "complaint" && item.resident_id ? { resident_id: item.resident_id } : undefined;
      await api.post("/api/v1/hotline/worklist/" + item.kind + "/" + item.item_id + "/take", body);
      state.callbacks = null;
      if (item.resident_id) {
        await openResidentById(item.resident_id, $("callbacks-view"), $("callbacks-error"));
        notice(t("worklist.taken_notice", { kind: t("worklist.kind." + item.kind) }));
      } else {
        notice(t("worklist.taken_notice", { kind: t("worklist.kind." + item.kind) }));
        await loadCallbacks();
      }
    } catch (error) {
      button.disabled = false;
      showWorklistError(error);
    }
  }

  async function closeItem(item, index, button) {
    button.disabled = true;
    try {
      await api.post("/api/v1/hotline/worklist/" + item.kind + "/" + item.item_id + "/done", {});
      notice(t("worklist.done_notice", { kind: t("worklist.kind." + item.kind),
        name: item.resident ? item.resident.name : "" }));
      await loadCallbacks("#worklist li button[data-action=take]");
    } catch (error) {
      button.disabled = false;
      showWorklistError(error);
    }
  }

  function callbackItem(callback, index) {
    const resident = callback.resident;
    const listed = (state.callbacks.handover.worklist_open || []).find((i) => i.kind === "callback" && i.item_id === callback.id);
    const taker = listed ? listed.taken_by_name : null;
    const meta = [t("callbacks.due_at", { time: dateTime(callback.due_at) })];
    if (resident) meta.push(resident.name + " " + phoneText(resident.phone));
    if (callback.created_by_name) meta.push(t("callbacks.scheduled_by", { name: callback.created_by_name }));
    return h("li", { "data-callback": callback.id },
      h("span", { class: "item-title", text: (resident ? resident.name + "：" : "") + callback.reason + " " }),
      callback.attempts ? h("span", { class: "badge warn", text: t("callbacks.attempts", { count: callback.attempts }) }) : null,
      h("div", { class: "item-meta", text: meta.join(" · ") }),
      callback.last_note ? h("div", { class: "note", text: callback.last_note }) : null,
      taker ? h("span", { class: "badge", "data-taken": "", text: t("worklist.taken_by", { name: taker }) }) : null,
      h("div", { class: "actions" },
        h("button", { type: "button", "data-action": "take", text: t("worklist.take"),
          onclick: (e) => takeItem({ kind: "callback", item_id: callback.id, resident_id: callback.resident_id }, e.currentTarget) }),
        h("button", { type: "button", "data-action": "done", class: "primary", text: t("callbacks.done"),
          onclick: (e) => workCallback(callback, index, e.currentTarget) }),
        h("button", { type: "button", "data-action": "no-answer", text: t("callbacks.no_answer"),
          onclick: (e) => openNoAnswer(callback, index, e.currentTarget) }),
        h("button", { type: "button", "data-action": "open", text: t("callbacks.open"),
          onclick: () => openResidentById(callback.resident_id, $("callbacks-view"), $("callbacks-error")) })));
  }

  function renderCallbacks() {
    const data = state.callbacks;
    if (!data) return;
    const box = $("callbacks-lists");
    box.textContent = "";
    $("callbacks-updated").textContent = t("queue.updated", { time: timeOnly(data.at) });
    const due = data.handover.callbacks_due;
    const operators = data.handover.operators;
    const urgent = data.handover.urgent_open;
    const work = (data.handover.worklist_open || []).filter((i) => i.kind !== "callback").concat(data.complaints || [])
      .sort((a, b) => Date.parse(a.due_at) - Date.parse(b.due_at));
    box.append(
      h("section", { id: "urgent-list", class: "urgent", "aria-labelledby": "urgent-list-title" },
        h("h3", { id: "urgent-list-title" }, t("urgent.list"), h("span", { class: "count", text: String(urgent.length) })),
        urgent.length ? h("ul", { class: "items" }, urgent.map((u) => urgentItem(u, true)))
          : h("p", { class: "muted", text: t("urgent.list_empty") })),
      h("section", { id: "worklist", "aria-labelledby": "worklist-title" },
        h("h3", { id: "worklist-title" }, t("worklist.title"), h("span", { class: "count", text: String(work.length) })),
        work.length ? h("ul", { class: "items" }, work.map(worklistItem)) : h("p", { class: "muted", text: t("worklist.empty") })),
      h("section", { id: "callbacks-due", "aria-labelledby": "callbacks-due-title" },
        h("h3", { id: "callbacks-due-title" }, t("callbacks.due"), h("span", { class: "count", text: String(due.length) })),
        due.length ? h("ul", { class: "items" }, due.map(callbackItem)) : h("p", { class: "muted", text: t("callbacks.empty") })),
      h("section", { id: "handover", "aria-labelledby": "handover-title" },
        h("h3", { id: "handover-title", text: t("handover.title") }),
        h("p", { id: "handover-open", text: t("handover.open", { count: due.length }) }),
        h("p", { id: "handover-urgent", text: t("handover.urgent_open", { count: urgent.length }) }),
        h("p", { id: "handover-worklist", text: t("handover.worklist_open", { count: work.length,
          taken: work.filter((i) => i.taken_by_name).length }) }),
        operators.length ? h("table", { class: "counts", id: "handover-counts" },
          h("thead", {}, h("tr", {}, ["handover.operator", "handover.calls", "handover.scheduled", "handover.done", "handover.urgent", "handover.items_done"]
            .map((key) => h("th", { scope: "col", text: t(key) })))),
          h("tbody", {}, operators.map((o) => h("tr", { "data-operator": o.operator },
            h("th", { scope: "row", text: o.operator_name || o.operator }),
            h("td", { text: String(o.calls) }), h("td", { text: String(o.callbacks_scheduled) }),
            h("td", { text: String(o.callbacks_done) }), h("td", { text: String(o.urgent_opened) }),
            h("td", { text: String(o.items_done) })))))
          : h("p", { class: "muted", text: t("handover.empty") })));
  }

  async function workCallback(callback, index, button) {
    button.disabled = true;
    try {
      await api.post("/api/v1/hotline/callbacks/" + callback.id + "/attempts", { outcome: "done", attempts: callback.attempts });
      notice(t("callbacks.done_notice", { name: callback.resident ? callback.resident.name : "" }));
      await loadCallbacks(index);
    } catch (error) {
      button.disabled = false;
      showError(error, $("callbacks-view"), $("callbacks-error"));
    }
  }

  /* No answer: the operator chooses when to try again (no time is pre-chosen). */
  function openNoAnswer(callback, index, opener) {
    const next = h("input", { id: "callback-next", type: "datetime-local", "data-field": "next_due_at" });
    const note = h("input", { id: "callback-note", "data-field": "note", maxlength: "500" });
    const form = h("form", { novalidate: true },
      h("div", { class: "form-error", role: "alert" }),
      h("p", { text: (callback.resident ? callback.resident.name + "：" : "") + callback.reason }),
      field("callback-next", t("callbacks.next_at"), next), field("callback-note", t("callbacks.note"), note));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      if (!next.value) {
        markField(form, "next_due_at", t("error.code.next_due_at_required")).focus();
        return;
      }
      const body = { outcome: "no_answer", attempts: callback.attempts, next_due_at: beijingInstant(next.value) };
      if (note.value.trim()) body.note = note.value.trim();
      await busy(form, async () => {
        try {
          const moved = await api.post("/api/v1/hotline/callbacks/" + callback.id + "/attempts", body);
          closeDialog(false);
          notice(t("callbacks.rescheduled_notice", {
            name: callback.resident ? callback.resident.name : "", time: dateTime(moved.due_at) }));
          await loadCallbacks(index);
        } catch (error) {
          showError(error, form);
        }
      });
    });
    openDialog(t("callbacks.next_title"), form, t("callbacks.submit"), opener);
  }

  // ------------------------------------------------------------------ the communities' duty phones

  /* F9: each community the gazetteer knows, with the duty phone an urgent call about its residents alerts (kept
     by the call center: the gazetteer has none). 修改 opens the community's name and phone; a bad phone is told
     under its field. */
  async function openDutyPhones() {
    showView("duty");
    $("duty-title").focus();
    await loadDutyPhones();
  }

  async function loadDutyPhones(focusCode) {
    $("duty-error").textContent = "";
    const box = $("duty-list");
    if (!box.firstChild) box.textContent = t("queue.loading");
    try {
      const contacts = await api.get("/api/v1/hotline/community-contacts");
      box.textContent = "";
      box.append(contacts.length ? h("table", { class: "counts", id: "duty-table" },
        h("thead", {}, h("tr", {}, ["duty.community", "duty.name", "duty.phone", "duty.updated", ""]
          .map((key) => h("th", { scope: "col", text: key ? t(key) : "" })))),
        h("tbody", {}, contacts.map((c) => h("tr", { "data-community": c.community_code },
          h("th", { scope: "row", text: c.community_name }),
          h("td", { "data-cell": "name", text: c.name || t("duty.none") }),
          h("td", { "data-cell": "phone", class: c.phone_masked ? "" : "bad", text: c.phone_masked || t("duty.no_phone") }),
          h("td", { class: "muted", text: c.updated_at ? t("duty.updated_by", { time: dateTime(c.updated_at), name: c.updated_by_name || "" }) : "" }),
          h("td", {}, h("button", { type: "button", "data-action": "edit-duty", "aria-label": t("duty.edit") + " " + c.community_name,
            text: t("duty.edit"), onclick: (e) => openDutyEdit(c, e.currentTarget) }))))))
        : h("p", { class: "muted", text: t("duty.empty") }));
      if (focusCode) {
        const button = box.querySelector('tr[data-community="' + CSS.escape(focusCode) + '"] button');
        if (button) button.focus();
      }
    } catch (error) {
      showError(error, $("duty-view"), $("duty-error"));
    }
  }

  function openDutyEdit(contact, opener) {
    const name = h("input", { id: "duty-name", "data-field": "name", maxlength: "50", value: contact.name || "" });
    const phone = h("input", { id: "duty-phone", "data-field": "phone", maxlength: "32", inputmode: "tel", autocomplete: "off" });
    const form = h("form", { novalidate: true },
      h("div", { class: "form-error", role: "alert" }),
      contact.phone_masked ? h("p", { class: "muted", text: t("duty.current", { phone: contact.phone_masked }) }) : null,
      field("duty-name", t("duty.name_label"), name), field("duty-phone", t("duty.phone_label"), phone));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      // Every missing field is told at once; the first gets the focus.
      const missing = [];
      if (!name.value.trim()) missing.push(markField(form, "name", t("duty.name_required")));
      if (!phone.value.trim()) missing.push(markField(form, "phone", t("duty.phone_required")));
      if (missing.length) {
        missing[0].focus();
        return;
      }
      await busy(form, async () => {
        try {
          const saved = await api.request("PUT", "/api/v1/hotline/community-contacts/" + encodeURIComponent(contact.community_code),
            { body: { name: name.value.trim(), phone: phone.value.trim() } });
          closeDialog(false);
          notice(t("duty.saved", { community: saved.community_name, phone: saved.phone_masked }));
          await loadDutyPhones(contact.community_code);
        } catch (error) {
          showError(error, form);
        }
      });
    });
    openDialog(t("duty.edit_title", { community: contact.community_name }), form, t("duty.submit"), opener);
  }

  async function openCaller(phone) {
    $("phone").value = phone;
    showView("caller");
    await lookup(phone);
  }

  async function openResidentById(id, form, summary) {
    try {
      const resident = await api.get("/api/v1/residents/" + id);
      $("phone").value = resident.phone;
      resetCaller();
      await openResident(resident);
    } catch (error) {
      showError(error, form || $("queue-view"), summary || $("queue-error"));
    }
  }

  // ------------------------------------------------------------------ start

  // Series, waitlists and entitlements left (series.js), placed by the hooks above.
  const extras = window.LinliSeries({
    api, state, t, h, money, dateTime, slotRange, newKey, offeringName, field, markField, clearErrors, showError,
    busy, openDialog, closeDialog, refreshResident, refreshAvailability, callerFields, spoken,
  });

  function start() {
    api.onSignedOut = () => showSignIn(t("signin.expired"));
    renderChrome();
    $("signin-form").addEventListener("submit", onSignIn);
    $("phone-form").addEventListener("submit", onPhone);
    $("register-form").addEventListener("submit", onRegister);
    $("service-form").addEventListener("submit", onFindService);
    $("service-category").addEventListener("keydown", (event) => {
      // A select takes Enter as its own; the operator means "search".
      if (event.key === "Enter") {
        event.preventDefault();
        $("service-form").requestSubmit();
      }
    });
    $("sign-out").addEventListener("click", onSignOut);
    $("lang-switch").addEventListener("click", switchLanguage);
    $("nav-caller").addEventListener("click", focusPhone);
    $("nav-queue").addEventListener("click", openQueue);
    $("queue-refresh").addEventListener("click", loadQueue);
    $("nav-callbacks").addEventListener("click", openCallbacks);
    $("callbacks-refresh").addEventListener("click", () => loadCallbacks());
    $("nav-duty").addEventListener("click", openDutyPhones);
    $("duty-refresh").addEventListener("click", () => loadDutyPhones());
    $("dialog").addEventListener("close", onDialogClosed);
    document.addEventListener("keydown", onKey);
    // The queue on screen keeps itself current through the shift.
    window.setInterval(() => {
      if (state.me && state.view === "queue" && !$("dialog").open) loadQueue();
    }, QUEUE_REFRESH_MS);
    if (api.signedIn) {
      startSession().catch((error) => {
        if (!api.signedIn) return; // the session ended: the sign-in form is shown already
        showSignIn();
        showError(error, $("signin-form"));
      });
    } else {
      showSignIn();
    }
  }

  start();
})();
