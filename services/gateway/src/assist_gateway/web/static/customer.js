// The customer's page: the request with consent, then the live status, End, and the summary with the receipt.
"use strict";

(() => {
  const { t, api, problemText, duration, money, localTime, el } = window.Assist;
  const STORE = "assist.customer.session";
  const $ = (id) => document.getElementById(id);
  let pollTimer = null;
  let tickTimer = null;
  let current = null; // the last session view
  // What the consent allows after this page's own action (a withdrawal's or an approval's 200, which already holds
  // everywhere), until the session's view, a moment behind, says the same (or a few seconds passed): {scopes, until}.
  let expected = null;
  const EXPECTED_MS = 10000;
  // A consultant's request for more (a step up): the status this page's own answer gave each request (the session's
  // view may say "pending" a moment longer), and the id of the request on show.
  const answered = new Map();
  let shownRequest = null;
  // The session id and customer token are kept in localStorage (never a cookie: no request carries them unasked),
  // so that a reload or a closed tab leads back to the open session; "New request" forgets them.
  function saved() {
    try {
      const value = JSON.parse(localStorage.getItem(STORE) || "null");
      return value && typeof value.session_id === "string" && typeof value.customer_token === "string" ? value : null;
    } catch (_) {
      return null;
    }
  }
  const save = (value) => localStorage.setItem(STORE, JSON.stringify(value));

  function show(section) {
    for (const id of ["request-section", "status-section", "summary-section"]) $(id).hidden = id !== section;
  }

  function chosenService() {
    const option = $("service_type").selectedOptions[0];
    return {
      code: option.value,
      unitSeconds: Number(option.dataset.unitSeconds),
      unitPrice: Number(option.dataset.unitPrice),
      minimumUnits: Number(option.dataset.minimumUnits),
    };
  }

  // The same rule as billing: max(minimum, ceil(seconds / unit)) units, VAT on top. The bill itself is billing's.
  function runningCost(seconds, service) {
    const units = Math.max(service.minimumUnits, Math.ceil(seconds / service.unitSeconds));
    const net = units * service.unitPrice;
    const gross = net * (1 + Number($("vat_rate").value));
    return `${money(gross.toFixed(2))} ${$("currency").value} (${t("vat_included")})`;
  }

  // The form's own validation (the form is `novalidate`): each rule's message next to its field, in the page's
  // language, the field marked aria-invalid and described by its message; the first wrong field gets the focus.
  // The same rules as the gateway's schema (schemas.py), so what passes here is not refused there.
  const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
  const PHONE = /^[0-9+()\-. /]*$/;
  const checkedScopes = () => [...document.querySelectorAll('#request-form input[name="scope"]:checked')];
  const tooLong = (field) => field.maxLength > 0 && field.value.length > field.maxLength
    ? t("cp_err_too_long", { max: field.maxLength }) : "";
  const RULES = [
    // [field id, the element that gets the focus, what is wrong ("" when nothing)]
    ["name", "name", () => (!$("name").value.trim() ? t("cp_err_name_required") : tooLong($("name")))],
    ["email", "email", () => {
      const value = $("email").value.trim();
      if (!value) return t("cp_err_email_required");
      return EMAIL.test(value) ? tooLong($("email")) : t("cp_err_email_format");
    }],
    ["company", "company", () => tooLong($("company"))],
    ["phone", "phone", () => (PHONE.test($("phone").value.trim()) ? tooLong($("phone")) : t("cp_err_phone_format"))],
    ["service_type", "service_type", () => ($("service_type").value ? "" : t("cp_err_service_required"))],
    ["description", "description",
      () => (!$("description").value.trim() ? t("cp_err_description_required") : tooLong($("description")))],
    ["scopes", "scope-view", () => (checkedScopes().length ? "" : t("cp_err_scope_required"))],
    ["consent", "consent", () => ($("consent").checked ? "" : t("cp_err_consent_required"))],
  ];

  function markField(id, message) {
    const note = $(`${id}-error`);
    note.textContent = message;
    note.hidden = !message;
    const marked = id === "scopes" ? [...document.querySelectorAll('#request-form input[name="scope"]')] : [$(id)];
    for (const field of marked) {
      if (message) {
        field.setAttribute("aria-invalid", "true");
        const described = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
        if (!described.includes(note.id)) field.setAttribute("aria-describedby", [...described, note.id].join(" "));
      } else {
        field.removeAttribute("aria-invalid");
      }
    }
  }

  // Every rule checked, every message shown or cleared; the id of the element to focus, or null when all is well.
  function validateForm() {
    let first = null;
    for (const [id, focus, rule] of RULES) {
      const message = rule();
      markField(id, message);
      if (message && !first) first = focus;
    }
    return first;
  }

  // Every other scope stands on `view` (the consultant cannot control, nor pass files or clipboard text, without
  // seeing): ticking one ticks `view` too, and unticking `view` unticks them all, so what is sent always holds.
  // Listened to before the revalidation below, so a message follows the boxes as they end up.
  function scopesStandOnView() {
    const view = $("scope-view");
    const others = () => [...document.querySelectorAll('#request-form input[name="scope"]:not(#scope-view)')];
    view.addEventListener("change", () => {
      if (!view.checked) for (const box of others()) box.checked = false;
    });
    for (const box of others()) box.addEventListener("change", () => { if (box.checked) view.checked = true; });
  }

  // Once a field was marked wrong, its message follows what the person types (and clears when it is right).
  function revalidateOnChange() {
    for (const [id, , rule] of RULES) {
      const fields = id === "scopes" ? [...document.querySelectorAll('#request-form input[name="scope"]')] : [$(id)];
      for (const field of fields) {
        const recheck = () => { if (!$(`${id}-error`).hidden) markField(id, rule()); };
        field.addEventListener("input", recheck);
        field.addEventListener("change", recheck);
      }
    }
  }

  // A 422 of the gateway names its wrong fields (`errors[].loc`, their `problem` in the page's language, since
  // api() sends it): each goes next to its field, as the page's own messages do.
  const FIELD_OF_PATH = {
    "customer.name": "name", "customer.email": "email", "customer.company": "company", "customer.phone": "phone",
    service_type: "service_type", description: "description", "consent.scopes": "scopes", scopes: "scopes",
    "consent.accepted": "consent",
  };
  function markServerErrors(result) {
    const errors = result.status === 422 && result.data && Array.isArray(result.data.errors) ? result.data.errors : [];
    let first = null;
    for (const item of errors) {
      const path = (item.loc || []).filter((part) => part !== "body" && !/^\d+$/.test(part)).join(".");
      const id = FIELD_OF_PATH[path];
      if (!id || typeof item.problem !== "string") continue;
      markField(id, item.problem);
      first = first || RULES.find(([rule]) => rule === id)[1];
    }
    if (first) $(first).focus();
  }

  async function submit(event) {
    event.preventDefault();
    const form = $("request-form");
    const error = $("form-error");
    error.hidden = true;
    const wrong = validateForm();
    if (wrong) {
      error.textContent = t("cp_form_invalid");
      error.hidden = false;
      $(wrong).focus();
      return;
    }
    const scopes = [...form.querySelectorAll('input[name="scope"]:checked')].map((box) => box.value);
    if (!scopes.includes("view")) scopes.unshift("view"); // everything stands on it (scopesStandOnView)
    const body = {
      customer: {
        name: $("name").value, email: $("email").value,
        company: $("company").value || null, phone: $("phone").value || null,
      },
      service_type: $("service_type").value,
      description: $("description").value,
      consent: { accepted: true, terms_version: $("terms_version").value, scopes },
    };
    $("submit-request").disabled = true;
    const result = await api("POST", "/api/v1/help-requests", { body });
    $("submit-request").disabled = false;
    if (!result.ok) {
      error.textContent = problemText(result);
      error.hidden = false;
      markServerErrors(result);
      return;
    }
    resetView();
    $("resume-gone").hidden = true;
    save({ ...result.data, service: chosenService() });
    follow();
  }

  function follow() {
    const session = saved();
    $("session-code").textContent = session.session_code.replace(/(\d{3})(?=\d)/g, "$1 ");
    $("agent-command").textContent = `assist agent --gateway ${location.origin} --code ${session.session_code}`;
    show("status-section");
    stopTimers();
    chat.read();
    poll();
    pollTimer = setInterval(poll, 1000);
    tickTimer = setInterval(tick, 1000);
  }

  // What the page shows of the session comes from the gateway's answer alone; `current` is that answer.
  async function poll() {
    const session = saved();
    if (!session) return;
    const result = await api("GET", `/api/v1/sessions/${encodeURIComponent(session.session_id)}`, { token: session.customer_token });
    const now = saved();
    if (!now || now.session_id !== session.session_id) return; // dismissed, or a newer request took over
    if (!result.ok) {
      // The saved token no longer opens this session (expired, forged, another session's): forget it.
      if ([401, 403, 404].includes(result.status)) forget({ gone: true });
      return;
    }
    // When the gateway answered: `paused_seconds` counts the agent's time away up to that moment.
    current = { ...result.data, seen_at: Date.now() };
    if ((Number(current.chat_seq) || 0) > chat.after) chat.read();
    window.AssistCustomerFiles.update(session, current, { final: current.status === "ended" }); // files (#17)
    showStatus();
    tick();
    if (current.status === "ended") finish();
  }

  function enderText(view) {
    const consultant = view.consultant || "";
    if (view.ended_by === "consultant") return t(consultant ? "cs_ender_consultant" : "cs_ender_consultant_unnamed", { consultant });
    if (["customer", "supervisor", "system"].includes(view.ended_by)) return t(`cs_ender_${view.ended_by}`);
    return view.ended_by || "";
  }

  function reasonText(reason) {
    if (!reason) return "—";
    const key = `cs_reason_${reason}`;
    const text = t(key);
    return text === key ? reason : text;
  }

  // Seconds until the agent's grace ends (the session then ends as agent_lost), or null when not known.
  function graceLeft(view) {
    return view.agent_grace_ends_at ? Math.max(0, Math.ceil((Date.parse(view.agent_grace_ends_at) - Date.now()) / 1000)) : null;
  }

  // `agent` is absent from older gateways: then the status alone speaks, as before.
  function showStatus() {
    const view = current;
    const consultant = view.consultant || "";
    const agent = view.agent;
    let text;
    if (view.status === "ended") {
      text = view.ended_by ? t("cs_status_ended_by", { ender: enderText(view) }) : t("status_ended");
    } else if (view.status === "active" && agent === "away") {
      const left = graceLeft(view);
      text = left === null ? t("cs_status_away_open", { consultant }) : t("cs_status_away", { consultant, left: duration(left) });
    } else if (["assigned", "active"].includes(view.status) && agent !== "connected"
               && $("share-box").dataset.state === "sharing") {
      text = t("cs_status_sharing", { consultant }); // no agent: the browser's share is the session (#18)
    } else if (view.status === "assigned" && agent === "connected") {
      text = t("cs_status_assigned_agent_connected", { consultant });
    } else if (view.status === "active" && agent === "not_started") {
      text = t("cs_status_waiting_agent", { consultant });
    } else {
      text = t(`status_${view.status}`, { consultant });
    }
    $("status-text").textContent = text;
    $("status-text").dataset.status = view.status;
    const agentKnown = typeof agent === "string" && view.status !== "ended";
    for (const node of document.querySelectorAll(".agent-fact")) node.hidden = !agentKnown;
    $("agent-state").dataset.agent = agentKnown ? agent : "";
    showScopes(view);
    showScopeRequest(view);
    showObservers(view);
    showRecorded(view);
    showShare(view);
    if (agentKnown) {
      const left = graceLeft(view);
      $("agent-state").textContent = agent === "away"
        ? (left === null ? t("cs_agent_away_open") : t("cs_agent_away", { left: duration(left) }))
        : t(`cs_agent_${agent}`);
    }
  }

  // Who watches now, view only (supervisors, #16): the gateway's `observers` (absent or empty: nobody). Names go in
  // as text only; the line is hidden while nobody watches and once the session has ended.
  function showObservers(view) {
    const names = view.status === "ended" || !Array.isArray(view.observers) ? []
      : view.observers.filter((name) => typeof name === "string" && name);
    const line = $("observers");
    const joined = names.join(",");
    if (line.dataset.observers === joined && line.hidden === !names.length) return;
    line.dataset.observers = joined;
    line.textContent = names.length ? t("cs_observers", { names: names.join(", ") }) : "";
    line.hidden = !names.length;
  }

  // "● Recorded" while the session runs (#19): the recording's own state when the gateway's view has it (`recording`:
  // its row, null before it started), else (an older gateway) while the session is active on a gateway that
  // records (the page's data-enabled, from its settings).
  function showRecorded(view) {
    const badge = $("recorded-badge");
    let on = false;
    if (view.status !== "ended") {
      if (view.recording && typeof view.recording === "object") on = view.recording.status === "recording";
      else if (!("recording" in view)) on = badge.dataset.enabled === "true" && view.status === "active";
    }
    badge.hidden = !on;
    badge.dataset.recording = on ? "on" : "off";
  }

  const sameScopes = (a, b) => a.length === b.length && a.every((scope) => b.includes(scope));

  // What the consent allows now: the session's scopes, or what this page's own action made of them while the
  // session's view has not caught up yet.
  function scopesNow(view) {
    const seen = view.scopes || [];
    if (expected && (Date.now() > expected.until || sameScopes(seen, expected.scopes))) expected = null;
    return expected ? expected.scopes : seen;
  }

  // A scope's short name ("файлове"), or its code when the page has no words for it.
  function scopeText(scope) {
    const text = t(`cs_scope_${scope}`);
    return text === `cs_scope_${scope}` ? scope : text;
  }

  // What the consent allows now, and a button to take back each scope of it but `view` (taking that back is
  // ending: the End button); the box only while one is held and the session runs.
  function showScopes(view) {
    const scopes = scopesNow(view);
    $("allowed-scopes").textContent = scopes.map(scopeText).join(", ") || "—";
    $("allowed-scopes").dataset.scopes = scopes.join(",");
    let any = false;
    for (const line of document.querySelectorAll("#withdraw-box .withdraw-line")) {
      line.hidden = view.status === "ended" || !scopes.includes(line.dataset.scope);
      any = any || !line.hidden;
    }
    $("withdraw-box").hidden = !any;
  }

  async function withdrawScope(scope) {
    const session = saved();
    const button = $(`withdraw-${scope}`);
    const focused = document.activeElement === button;
    button.disabled = true;
    $("end-error").hidden = true;
    const result = await api("DELETE", `/api/v1/sessions/${encodeURIComponent(session.session_id)}/scopes/`
      + `${encodeURIComponent(scope)}`, { token: session.customer_token });
    button.disabled = false;
    const now = saved();
    if (!now || now.session_id !== session.session_id) return; // dismissed meanwhile
    if (result.ok) {
      const left = result.data && Array.isArray(result.data.scopes)
        ? result.data.scopes : (current ? scopesNow(current) : []).filter((held) => held !== scope);
      expected = { scopes: left, until: Date.now() + EXPECTED_MS };
      if (current) showScopes(current);
      // The button pressed is gone with its scope: the focus goes to the next one left, if any.
      if (focused && button.offsetParent === null) {
        const next = [...document.querySelectorAll("#withdraw-box button[data-scope]")]
          .find((other) => other.offsetParent !== null);
        if (next) next.focus();
      }
      poll();
    } else {
      $("end-error").textContent = t("cs_withdraw_failed", { detail: problemText(result) });
      $("end-error").hidden = false;
    }
  }

  // A scope's name as the request shows it ("управление (клавиатура и мишка)"), or the short name, or the code.
  function requestedScopeText(scope) {
    for (const key of [`cs_scope_request_${scope}`, `cs_scope_${scope}`]) {
      const text = t(key);
      if (text !== key) return text;
    }
    return scope;
  }

  // The consultant's request for more, while it waits: who asks, what for and why (their own words, as text),
  // with Allow and Refuse; once answered, a line saying how. All of it from the session's view (and this page's
  // own answer while the view is a moment behind).
  function showScopeRequest(view) {
    const request = view.scope_request && typeof view.scope_request === "object" ? view.scope_request : null;
    const status = request ? answered.get(request.request_id) || request.status : null;
    const open = view.status !== "ended";
    const waiting = open && status === "pending";
    const box = $("scope-request");
    box.hidden = !waiting;
    if (waiting) {
      const scopes = Array.isArray(request.scopes) ? request.scopes : [];
      $("scope-request-who").textContent = request.requested_by || view.consultant || "—";
      $("scope-request-scopes").textContent = scopes.map(requestedScopeText).join("; ") || "—";
      $("scope-request-scopes").dataset.scopes = scopes.join(",");
      $("scope-request-reason").textContent = request.reason || "—";
      box.dataset.requestId = request.request_id;
      if (shownRequest !== request.request_id) {
        // A new request: its buttons ready, no earlier error, and the reader taken to it (it is a question).
        shownRequest = request.request_id;
        $("scope-request-error").hidden = true;
        for (const id of ["scope-approve", "scope-refuse"]) $(id).disabled = false;
        box.focus();
      }
    } else {
      shownRequest = null;
      box.dataset.requestId = "";
    }
    const answer = $("scope-request-answer");
    const decided = open && (status === "approved" || status === "refused");
    answer.hidden = !decided;
    answer.textContent = decided ? t(`cs_scope_answer_${status}`) : "";
    answer.dataset.status = decided ? status : "";
  }

  async function decideScopeRequest(approve) {
    const session = saved();
    const requestId = shownRequest;
    if (!session || !requestId) return;
    const buttons = ["scope-approve", "scope-refuse"].map((id) => $(id));
    for (const button of buttons) button.disabled = true;
    $("scope-request-error").hidden = true;
    const result = await api("POST", `/api/v1/sessions/${encodeURIComponent(session.session_id)}/scope-requests/`
      + `${encodeURIComponent(requestId)}/decision`, { token: session.customer_token, body: { approve } });
    const now = saved();
    if (!now || now.session_id !== session.session_id) return; // dismissed meanwhile
    const data = result.data || {};
    if (result.ok) {
      const status = ["approved", "refused"].includes(data.status) ? data.status : null;
      answered.set(requestId, status || (approve ? "approved" : "refused"));
      if (Array.isArray(data.scopes_in_force)) {
        expected = { scopes: data.scopes_in_force, until: Date.now() + EXPECTED_MS };
      }
      if (current) showStatus();
      $("scope-request-answer").focus(); // the button pressed is gone with the box
      poll();
    } else if (result.status === 409 && data.code === "scope_request_decided") {
      // Answered already (at the agent, say): the session's view says how.
      if (["approved", "refused"].includes(data.status_now)) answered.set(requestId, data.status_now);
      if (current) showStatus();
      poll();
    } else {
      for (const button of buttons) button.disabled = false;
      $("scope-request-error").textContent = t("cs_scope_answer_failed", { detail: problemText(result) });
      $("scope-request-error").hidden = false;
    }
  }

  // --- Showing the screen from the browser, nothing installed (#18) ---------------------------------------------
  // Offered while the consent includes `view`, the session has its consultant (assigned or running) and the browser
  // can share; the share itself is screen_share.js. It stops with the session (the gateway closes its socket with
  // 4410), with the browser's own Stop, with the page's Stop and with the tab. `#share-box`'s data-state says where
  // it is (idle, asking, connecting, waiting, sharing, stopped) and data-stopped why it stopped.
  const ScreenShare = window.AssistScreenShare;
  let share = null; // the share under way, or null

  function shareOffered(view) {
    return !!view && ScreenShare.supported() && ["assigned", "active"].includes(view.status) && !!view.consultant
      && scopesNow(view).includes("view");
  }

  function showShare(view) {
    const offered = shareOffered(view);
    $("share-box").hidden = !offered && !share;
    $("share-screen").hidden = !!share;
    $("share-screen").disabled = !offered;
    $("share-stop").hidden = !share;
  }

  const STOPPED_WORDS = {
    cancelled: "cs_share_cancelled", ended: "cs_share_ended", replaced: "cs_share_replaced", lost: "cs_share_lost",
  };
  const STATE_WORDS = { asking: "cs_share_asking", connecting: "cs_share_connecting", waiting: "cs_share_waiting" };

  function shareState(state, detail = {}) {
    const box = $("share-box");
    box.dataset.state = state;
    box.dataset.stopped = state === "stopped" ? detail.why : "";
    let text = "";
    let problem = "";
    if (state === "sharing") text = t("cs_share_active", { consultant: (current && current.consultant) || t("consultant") });
    else if (STATE_WORDS[state]) text = t(STATE_WORDS[state]);
    else if (state === "stopped") {
      share = null;
      if (detail.why === "refused") {
        // The gateway's reason says whether nobody is on the other end yet (a moment later it may work).
        problem = t(/consultant/.test(detail.detail || "") ? "cs_share_no_consultant" : "cs_share_refused");
      } else if (detail.why === "replaced" || detail.why === "lost") problem = t(STOPPED_WORDS[detail.why]);
      else text = t(STOPPED_WORDS[detail.why] || "cs_share_stopped");
    }
    $("share-status").textContent = text;
    $("share-status").hidden = !text;
    $("share-error").textContent = problem;
    $("share-error").hidden = !problem;
    if (current) showStatus();
  }

  function startShare() {
    const session = saved();
    if (!session || share || !shareOffered(current)) return;
    share = ScreenShare.start({ sessionId: session.session_id, token: session.customer_token, onState: shareState });
    showShare(current);
  }

  function stopShare(why = "customer") {
    if (share) share.stop(why);
  }

  // --- The chat with the consultant (#17) ---------------------------------------------------------------------
  // Each message (chat.js): the author (the consultant's name, or "You"), the time (hh:mm) and the text as typed.
  // Once the session ends the history stays, read only, in the summary, when there is any.
  const chat = window.AssistChat.create({
    session: () => {
      const session = saved();
      return session && { id: session.session_id, token: session.customer_token };
    },
    mine: (message) => message.role === "customer",
    author: (message) => (message.role === "customer" ? t("ch_you") : (message.author || t("ch_consultant"))),
    words: { empty: "ch_err_empty", tooLong: "ch_err_too_long", failed: "ch_err_failed", network: "ch_err_network",
      sending: "ch_sending", send: "ch_send" },
    readAfterSend: true, // anything the consultant wrote meanwhile
    onEnded: () => poll(), // the session's end, as the page shows it
    hideClosedEmpty: true,
  });

  // Back to a fresh page's chat: empty, open, in its place in the status.
  function resetChat() {
    chat.reset();
    $("status-section").insertBefore($("chat"), $("end-error"));
  }

  // Billable time: from the start, less the time the agent was away; it stands still while the agent is away.
  // `paused_seconds` includes the pause under way up to the answer, so while the agent is away the clock is read
  // at the answer's moment and stays there until it comes back.
  function activeSeconds(view) {
    if (!view || !view.started_at) return null;
    let end = Date.now();
    if (view.ended_at) end = Date.parse(view.ended_at);
    else if (view.agent === "away") end = view.seen_at;
    const paused = Number(view.paused_seconds) || 0;
    return Math.max(0, Math.floor((end - Date.parse(view.started_at)) / 1000) - paused);
  }

  function tick() {
    if (!current) return;
    if (current.status !== "ended" && current.agent === "away") showStatus(); // the grace counts down
    const seconds = activeSeconds(current);
    if (seconds === null || !["active", "ended"].includes(current.status)) {
      $("elapsed").textContent = "—";
      $("running-cost").textContent = "—";
      return;
    }
    $("elapsed").textContent = duration(seconds);
    $("running-cost").textContent = runningCost(seconds, saved().service);
  }

  async function endSession() {
    const session = saved();
    $("end-session").disabled = true;
    $("end-session").textContent = t("ending");
    $("end-error").hidden = true;
    const result = await api("POST", `/api/v1/sessions/${encodeURIComponent(session.session_id)}/terminate`,
      { token: session.customer_token });
    $("end-session").disabled = false;
    $("end-session").textContent = t("end_session");
    if (result.ok) poll();
    else {
      $("end-error").textContent = t("cs_end_failed", { detail: problemText(result) });
      $("end-error").hidden = false;
    }
  }

  function stopTimers() {
    clearInterval(pollTimer);
    clearInterval(tickTimer);
    pollTimer = tickTimer = null;
  }

  function finish() {
    stopTimers();
    stopShare("ended"); // the gateway has closed it already (4410); nothing of the screen leaves after the end
    show("summary-section");
    $("resume-notice").hidden = true;
    const view = current;
    $("ended-text").textContent = $("status-text").textContent;
    $("ended-text").dataset.endedBy = view.ended_by || "";
    $("summary-ended-by").textContent = view.ended_by ? enderText(view) : "—";
    $("summary-reason").textContent = reasonText(view.end_reason);
    $("summary-consultant").textContent = view.consultant || "—";
    $("summary-started").textContent = localTime(view.started_at);
    $("summary-ended").textContent = localTime(view.ended_at);
    // The chat's history stays, read only, in the summary (before the receipt); the last messages read once more.
    $("summary-section").insertBefore($("chat"), $("receipt-title"));
    $("summary-section").insertBefore($("customer-files"), $("chat")); // the file transfers, as they ended (#17)
    chat.close();
    chat.read();
    loadReceipt(current.session_id);
    window.AssistCustomerRecording.show(view, saved()); // replay, download or erase it (#19)
    if (!view.started_at) {
      $("summary-duration").textContent = duration(0);
      $("summary-amount").textContent = t("no_charge");
      return;
    }
    loadReport(current.session_id, 0);
  }

  // Billing closes the record from the session.ended event, a moment after the end: ask again until it has.
  async function loadReport(sessionId, attempt) {
    const session = saved();
    if (!session || session.session_id !== sessionId) return; // the customer moved on
    const result = await api("GET", `/api/v1/sessions/${encodeURIComponent(session.session_id)}/report`,
      { token: session.customer_token });
    if (!saved() || saved().session_id !== sessionId) return;
    if (result.ok && result.data.gross != null) {
      const r = result.data;
      $("summary-duration").textContent = duration(r.duration_seconds);
      $("summary-amount").textContent =
        `${money(r.gross)} ${r.currency} (${t("vat_included")}; ${money(r.net)} ${t("vat_excluded")}, ` +
        `${r.units} × ${money(r.unit_price)})`;
    } else if (attempt < 60) {
      setTimeout(() => loadReport(sessionId, attempt + 1), 1000);
    }
  }

  async function loadReceipt(sessionId) {
    const session = saved();
    if (!session || session.session_id !== sessionId) return;
    const result = await api("GET", `/api/v1/sessions/${encodeURIComponent(sessionId)}/consent-receipt`, { token: session.customer_token });
    if (!saved() || saved().session_id !== sessionId) return;
    if (!result.ok || !result.data) {
      $("receipt-id").textContent = t("cs_receipt_unavailable");
      return;
    }
    const r = result.data;
    $("receipt-id").textContent = r.receipt_id || "—";
    $("receipt-terms").textContent = r.terms ? r.terms.version : "—";
    $("receipt-scopes").textContent = (r.scopes || []).map(scopeText).join(", ") || "—";
    // The first grant stays as it was given; what the customer allowed or took back later is listed after it.
    const changes = Array.isArray(r.scope_changes) ? r.scope_changes : [];
    $("receipt-changes").replaceChildren(...(changes.length ? changes.map((change) => el("li", {
      "data-change": change.change, "data-scope": change.scope,
    }, t(`cs_receipt_change_${change.change === "granted" ? "granted" : "withdrawn"}`,
      { time: localTime(change.at), scope: scopeText(change.scope) }))) : [el("li", {}, t("cs_receipt_no_changes"))]));
    $("receipt-in-force").textContent = (r.scopes_in_force || []).map(scopeText).join(", ") || "—";
    $("receipt-granted").textContent = localTime(r.granted_at);
    $("receipt-revoked").textContent = localTime(r.revoked_at);
  }

  async function downloadReceipt() {
    const session = saved();
    const response = await fetch(`/api/v1/sessions/${encodeURIComponent(session.session_id)}/consent-receipt`, {
      headers: { Authorization: `Bearer ${session.customer_token}` },
    });
    if (!response.ok) return;
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: `consent-receipt-${session.session_id}.json` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // Every piece of a session's state on the page, back to how a fresh page shows it.
  function resetView() {
    stopTimers();
    stopShare();
    $("share-box").hidden = true;
    $("share-box").dataset.state = "idle";
    $("share-box").dataset.stopped = "";
    $("share-status").hidden = true;
    $("share-error").hidden = true;
    current = null;
    expected = null;
    answered.clear();
    shownRequest = null;
    $("scope-request").hidden = true;
    $("scope-request").dataset.requestId = "";
    $("scope-request-error").hidden = true;
    $("scope-request-answer").hidden = true;
    $("scope-request-answer").textContent = "";
    $("scope-request-answer").dataset.status = "";
    $("allowed-scopes").textContent = "—";
    $("allowed-scopes").dataset.scopes = "";
    $("withdraw-box").hidden = true;
    for (const line of document.querySelectorAll("#withdraw-box .withdraw-line")) line.hidden = true;
    $("status-text").textContent = "";
    $("status-text").dataset.status = "";
    $("agent-state").textContent = "";
    $("agent-state").dataset.agent = "";
    $("observers").textContent = "";
    $("observers").dataset.observers = "";
    $("observers").hidden = true;
    $("recorded-badge").hidden = true;
    $("recorded-badge").dataset.recording = "off";
    for (const node of document.querySelectorAll(".agent-fact")) node.hidden = true;
    $("elapsed").textContent = "—";
    $("running-cost").textContent = "—";
    $("end-error").hidden = true;
    $("ended-text").textContent = "";
    $("ended-text").dataset.endedBy = "";
    for (const id of ["summary-ended-by", "summary-reason", "summary-consultant", "summary-started", "summary-ended",
      "summary-duration", "receipt-terms", "receipt-scopes", "receipt-in-force", "receipt-granted", "receipt-revoked",
    ]) $(id).textContent = "—";
    $("receipt-changes").replaceChildren();
    window.AssistCustomerRecording.reset();
    $("summary-amount").textContent = t("report_pending");
    $("receipt-id").textContent = t("cs_receipt_pending");
    $("resume-notice").hidden = true;
    resetChat();
  }

  // The customer dismisses the session (or the browser can no longer open it): nothing of it stays.
  function forget({ gone = false } = {}) {
    window.AssistCustomerFiles.forget();
    localStorage.removeItem(STORE);
    resetView();
    $("resume-gone").hidden = !gone;
    show("request-section");
  }

  function startOver() {
    forget();
    $("request-form").reset();
    for (const [id] of RULES) markField(id, "");
    $("form-error").hidden = true;
  }

  $("request-form").addEventListener("submit", submit);
  scopesStandOnView();
  revalidateOnChange();
  $("end-session").addEventListener("click", endSession);
  $("share-screen").addEventListener("click", startShare);
  $("share-stop").addEventListener("click", () => stopShare());
  for (const button of document.querySelectorAll("#withdraw-box button[data-scope]")) {
    button.addEventListener("click", () => withdrawScope(button.dataset.scope));
  }
  $("scope-approve").addEventListener("click", () => decideScopeRequest(true));
  $("scope-refuse").addEventListener("click", () => decideScopeRequest(false));
  $("download-receipt").addEventListener("click", downloadReceipt);
  $("new-request").addEventListener("click", startOver);
  sessionStorage.removeItem(STORE); // where earlier versions kept it
  if (saved()) {
    $("resume-notice").hidden = false;
    follow();
  }
})();
