// The consultant's console: the live queue (server-sent events) and claiming a request. The queue shows who asks,
// for what, how to reach them and how long they have waited; their problem (the description) is on the session
// page once the request is claimed. A new request is signalled: the tab's title, a short sound (when the
// consultant turned it on) and a desktop notification (when the consultant allowed them).
"use strict";

(() => {
  const { t, localTime, secondsSince, duration, el } = window.Assist;
  const { problemWords, call } = window.AssistLive;
  const rows = document.getElementById("queue-rows");
  const error = document.getElementById("queue-error");
  const announce = document.getElementById("queue-announce");
  const count = document.getElementById("queue-count");
  const serviceNames = JSON.parse(document.getElementById("service-names").textContent || "{}");
  const baseTitle = document.title;

  const serviceName = (code) => serviceNames[code] || code || "—";
  const who = (s) => [s.customer.name, s.customer.company].filter(Boolean).join(", ");

  async function claim(sessionId, button) {
    button.disabled = true;
    button.textContent = t("cq_claiming");
    const result = await call("POST", `/api/v1/sessions/${sessionId}/claim`);
    if (result.ok) {
      location.assign(`/console/session/${sessionId}`);
      return;
    }
    button.disabled = false;
    button.textContent = t("claim");
    error.textContent = problemWords(result);
    error.hidden = false;
  }

  // ---- signals of a new request -------------------------------------------------------------------------

  // Sound: a toggle (a gesture that also unlocks the audio), remembered (common.js, shared with the session
  // page's chat); after a reload the first click or key unlocks it again.
  const { sound } = window.Assist;
  const soundToggle = document.getElementById("sound-toggle");
  let soundOn = sound.isOn();

  function showSound() {
    soundToggle.textContent = soundOn ? t("cq_sound_on") : t("cq_sound_off");
    soundToggle.setAttribute("aria-pressed", String(soundOn));
  }

  const beep = () => sound.beep();

  soundToggle.addEventListener("click", () => {
    soundOn = !soundOn;
    sound.set(soundOn);
    showSound();
  });
  if (soundOn) sound.unlockOnFirstGesture();
  showSound();

  // Desktop notifications: asked for only when the consultant presses the button, never on load.
  const notifyAsk = document.getElementById("notify-ask");
  const notifyState = document.getElementById("notify-state");

  function showNotify() {
    const supported = "Notification" in window;
    const permission = supported ? Notification.permission : "unsupported";
    notifyAsk.hidden = permission !== "default";
    notifyState.hidden = permission === "default";
    notifyState.textContent = {
      granted: t("cq_notify_on"), denied: t("cq_notify_blocked"), unsupported: t("cq_notify_unsupported"),
    }[permission] || "";
  }

  notifyAsk.addEventListener("click", async () => {
    try { await Notification.requestPermission(); } catch (_) { /* an old browser's callback form: ignored */ }
    showNotify();
  });
  showNotify();

  function notify(fresh) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const title = fresh.length === 1 ? t("cq_new_request", { who: fresh[0].customer.name || "" })
      : t("cq_new_requests", { count: fresh.length });
    // Name and service only: a notification shows on the desktop, the contact stays on the page.
    const body = fresh.map((s) => `${s.customer.name || ""} · ${serviceName(s.service_type)}`).join("\n");
    try {
      const note = new Notification(title, { body, tag: "assist-queue", lang: window.Assist.lang });
      note.onclick = () => { window.focus(); note.close(); };
    } catch (_) { /* a browser that allows notifications only from a service worker */ }
  }

  function showCount(n) {
    document.title = n > 0 ? `(${n}) ${t("queue_title")} · ${baseTitle}` : baseTitle;
    count.textContent = n > 0 ? `(${n})` : "";
    count.hidden = n === 0;
  }

  // Every request id seen since the page opened: only one never seen before is new. The first snapshot is what
  // was already waiting (no signal), and a request leaving the queue is no news either.
  let seen = null;

  function signalNew(sessions) {
    const fresh = seen === null ? [] : sessions.filter((s) => !seen.has(s.session_id));
    seen = seen || new Set();
    for (const s of sessions) seen.add(s.session_id);
    if (fresh.length === 0) return;
    announce.textContent = fresh.length === 1 ? t("cq_new_request", { who: who(fresh[0]) })
      : t("cq_new_requests", { count: fresh.length });
    if (soundOn) beep();
    notify(fresh);
  }

  // ---- the queue ----------------------------------------------------------------------------------------

  function contact(customer) {
    const cell = el("td", { class: "contact" });
    if (customer.email) cell.append(el("a", { href: `mailto:${customer.email}`, class: "email", text: customer.email }));
    if (customer.phone) {
      cell.append(el("a", { href: `tel:${customer.phone.replace(/[^0-9+]/g, "")}`, class: "phone", text: customer.phone }));
    }
    if (!customer.email && !customer.phone) cell.textContent = "—";
    return cell;
  }

  function render({ sessions }) {
    rows.replaceChildren(...sessions.map((s) => {
      const button = el("button", { type: "button", class: "primary", "data-session-id": s.session_id, text: t("claim") });
      button.addEventListener("click", () => claim(s.session_id, button));
      const name = el("td", { class: "who" }, el("span", { class: "name", text: s.customer.name || "" }));
      if (s.customer.company) name.append(el("span", { class: "company muted", text: s.customer.company }));
      // The customer may write while the request waits (#17): how many messages, when the card says (`chat_seq`,
      // the session's latest message; nobody else writes before it is claimed).
      const chat = Number(s.chat_seq) || 0;
      if (chat > 0) {
        name.append(el("span", { class: "chat-count", "data-chat-seq": String(chat),
          text: t("sv_chat_queue_count", { count: chat }) }));
      }
      return el("tr", { "data-session-id": s.session_id },
        name,
        el("td", { class: "service", "data-code": s.service_type || "", text: serviceName(s.service_type) }),
        contact(s.customer || {}),
        el("td", {
          class: "waited", "data-since": s.requested_at || "",
          title: t("cq_requested_at_title", { time: localTime(s.requested_at) }),
        }),
        el("td", {}, button));
    }));
    document.getElementById("queue-empty").hidden = sessions.length > 0;
    tick();
    showCount(sessions.length);
    signalNew(sessions);
  }

  function tick() {
    for (const cell of rows.querySelectorAll("td.waited")) {
      cell.textContent = cell.dataset.since ? duration(secondsSince(cell.dataset.since)) : "—";
    }
  }

  window.AssistLive.follow("queue", render);
  setInterval(tick, 1000);
})();
