// Shared by every page: the words of the page's language, calls to the API, and time formatting.
"use strict";

window.Assist = (() => {
  const messages = JSON.parse(document.getElementById("messages").textContent);
  const lang = document.documentElement.lang || "bg";

  function t(key, vars = {}) {
    let text = messages[key] || key;
    for (const [name, value] of Object.entries(vars)) text = text.replace(`{${name}}`, value);
    return text;
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // A bearer token (the customer's) travels in the header; without one the staff cookie authenticates, and
  // then the gateway wants the CSRF header on anything that changes state.
  async function api(method, path, { token, body } = {}) {
    // The page's language, not the browser's: problem details come back in the words the page shows.
    const headers = { Accept: "application/json", "Accept-Language": lang };
    if (token) headers.Authorization = `Bearer ${token}`;
    else headers["X-CSRF-Token"] = csrfToken();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (_) { /* a body that is not JSON, e.g. an empty 204 */ }
    return { ok: response.ok, status: response.status, data };
  }

  // A problem with a `code` the page has words for (`problem_<code>`) is said in the page's language; otherwise
  // the gateway's own detail, which it localises by Accept-Language.
  function problemText(result) {
    const d = result.data || {};
    if (typeof d.code === "string" && messages[`problem_${d.code}`]) return t(`problem_${d.code}`, d);
    return d.detail || d.title || `${t("error")} ${result.status}`;
  }

  // A modal question in the page's words (a <dialog>, not window.confirm, whose buttons are the browser's):
  // resolves true only when the person presses the confirming button. Escape or Cancel resolve false.
  function confirmAction(question, confirmLabel) {
    return new Promise((resolve) => {
      const dialog = el("dialog", { class: "confirm", "aria-labelledby": "confirm-question" });
      const yes = el("button", { type: "button", class: "danger", "data-answer": "yes", text: confirmLabel });
      const no = el("button", { type: "button", "data-answer": "no", text: t("cancel") });
      dialog.append(el("p", { id: "confirm-question", text: question }), el("p", { class: "actions" }, no, yes));
      const finish = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
      yes.addEventListener("click", () => finish(true));
      no.addEventListener("click", () => finish(false));
      dialog.addEventListener("cancel", (event) => { event.preventDefault(); finish(false); });
      document.body.append(dialog);
      dialog.showModal();
      no.focus(); // the safe answer has the focus: Enter alone never ends a session
    });
  }

  function secondsSince(iso) {
    return iso ? Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000)) : 0;
  }

  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const pad = (n) => String(n).padStart(2, "0");
    return `${Math.floor(s / 3600)}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  }

  // A file's size as the page's language writes it, in decimal units ("2,1 MB" in Bulgarian, "2.1 MB" in English).
  function fileSize(bytes) {
    for (const [unit, scale] of [["GB", 1e9], ["MB", 1e6], ["KB", 1e3]]) {
      if (bytes >= scale) {
        const value = bytes / scale;
        return `${value.toLocaleString(lang, { maximumFractionDigits: value < 100 ? 1 : 0 })} ${unit}`;
      }
    }
    return `${bytes} B`;
  }

  // An amount as the page's language writes it, from the decimal text the API answers ("1250.00"): "1 250,00" in
  // Bulgarian, "1,250.00" in English, like the server's price table (web/price_table.py, money_text). Text in,
  // text out: billing's exact amounts never pass through a float.
  function money(amount) {
    const [whole, cents = "00"] = String(amount).split(".");
    const sign = whole.startsWith("-") ? "-" : "";
    const grouped = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, lang === "bg" ? " " : ",");
    return `${sign}${grouped}${lang === "bg" ? "," : "."}${cents}`;
  }

  function localTime(iso) {
    return iso ? new Date(iso).toLocaleString(lang === "bg" ? "bg-BG" : "en-GB") : "—";
  }

  function showLocalTimes(root = document) {
    for (const el of root.querySelectorAll("time.local[datetime]")) {
      if (el.getAttribute("datetime")) el.textContent = localTime(el.getAttribute("datetime"));
    }
  }

  // Builds elements from text only (never innerHTML with data), so names typed by customers stay text.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  // A message's time as hh:mm in the reader's clock (no " ч." suffix of bg-BG's toLocaleTimeString).
  function clockTime(iso) {
    const at = iso ? new Date(iso) : null;
    if (!at || Number.isNaN(at.getTime())) return "";
    return `${String(at.getHours()).padStart(2, "0")}:${String(at.getMinutes()).padStart(2, "0")}`;
  }

  // The staff pages' short sound (a new request in the queue, a customer's chat message): one preference for
  // both, remembered in this browser. Browsers start an AudioContext suspended until the person does something on
  // the page, so the toggle (a gesture) unlocks it, and after a reload the first click or key does.
  const SOUND_KEY = "assist.console.sound";
  let audio = null;
  const sound = {
    isOn() { try { return localStorage.getItem(SOUND_KEY) === "on"; } catch (_) { return false; } },
    set(on) {
      try { localStorage.setItem(SOUND_KEY, on ? "on" : "off"); } catch (_) { /* not kept */ }
      if (on) sound.context(); // inside the click: the browser lets the audio start
    },
    context() {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return null;
      if (!audio) audio = new Context();
      if (audio.state === "suspended") audio.resume().catch(() => {});
      return audio;
    },
    unlockOnFirstGesture() {
      const unlock = () => { if (sound.isOn()) sound.context(); };
      document.addEventListener("pointerdown", unlock, { once: true });
      document.addEventListener("keydown", unlock, { once: true });
    },
    // Short tones, noticeable, not alarming: [[frequency, delay in seconds], ...].
    beep(tones = [[660, 0], [880, 0.18]]) {
      const context = sound.context();
      if (!context) return;
      tones.forEach(([frequency, delay]) => {
        const oscillator = context.createOscillator();
        const gain = context.createGain();
        oscillator.type = "sine";
        oscillator.frequency.value = frequency;
        const start = context.currentTime + delay;
        gain.gain.setValueAtTime(0.0001, start);
        gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.15);
        oscillator.connect(gain).connect(context.destination);
        oscillator.start(start);
        oscillator.stop(start + 0.16);
      });
    },
  };

  document.addEventListener("DOMContentLoaded", () => showLocalTimes());
  return {
    t, api, problemText, confirmAction, secondsSince, duration, money, localTime, clockTime, showLocalTimes, el, lang,
    csrfToken, sound, fileSize,
  };
})();
