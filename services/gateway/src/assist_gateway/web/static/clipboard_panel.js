// The console's clipboard panel (#17): text to and from the customer's clipboard on channel 4 (docs/protocol.md,
// "Clipboard"), shown only while the consent includes `clipboard`. A put lands in the customer's clipboard at once
// and is shown to them; a get waits for the customer's S in the agent. The text received is put in as text (never
// markup) and, like what is sent, without control characters: a clipboard pasted into a terminal must carry no
// escape sequences, whichever side it came from. session.js creates the panel and feeds it.
"use strict";

window.AssistClipboardPanel = (() => {
  const MAX_CHARS = 65536; // characters (code points) of one transfer, as the agent's CLIPBOARD_MAX_CHARS
  const PUT_WAIT_MS = 15000; // an agent that is away answers nothing: the panel stops waiting
  const GET_WAIT_MS = 130000; // the agent gives the customer 120 s to answer
  // The agent's reasons the page has words for (sv_clipboard_refused_* for a get, sv_clipboard_failed_* for a put).
  const REFUSALS = ["busy", "declined", "timeout", "no_clipboard", "no_text", "not_text", "too_long", "empty"];
  const FAILURES = ["no_clipboard", "not_text", "too_long", "empty"];
  // Escape sequences whole, then every C0 and C1 control but newline and tab, DEL, and bidirectional controls.
  // (As the agent's terminal_text does.)
  const ESCAPE_SEQUENCE = new RegExp([
    "(?:\\x1b\\[|\\x9b)[\\x20-\\x3f]*[\\x40-\\x7e]?", // CSI ... final
    "(?:\\x1b[\\]PX^_]|[\\x90\\x98\\x9d\\x9e\\x9f])[^\\x07\\x1b\\x9c]*(?:\\x07|\\x1b\\\\|\\x9c)?", // strings
    "\\x1b[\\x20-\\x7e]?", // ESC and one character, or a lone ESC
  ].join("|"), "g");
  const DROPPED = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

  const clean = (text) => text.replace(ESCAPE_SEQUENCE, "").replace(/\r\n?|[\u2028\u2029\x85]/g, "\n")
    .replace(DROPPED, "");
  const characters = (text) => [...text].length;

  function create({ send, heldScopes }) {
    const { t } = window.Assist;
    const P = window.AssistProtocol;
    const $ = (id) => document.getElementById(id);
    const panel = $("clipboard");
    const field = $("clipboard-text");
    const status = $("clipboard-status");
    const received = $("clipboard-received");
    const waiting = { put: null, get: null }; // the id each kind waits for an answer to, and its timer
    let closed = false;

    const allowed = () => !closed && heldScopes().includes("clipboard");
    const newId = () => (window.crypto && crypto.randomUUID ? crypto.randomUUID()
      : `${Date.now().toString(16)}-${Math.random().toString(16).slice(2, 10)}`);

    function say(state, text) {
      status.dataset.status = state;
      status.textContent = text;
    }

    function buttons() {
      $("clipboard-put").disabled = !allowed() || waiting.put !== null;
      $("clipboard-get").disabled = !allowed() || waiting.get !== null;
    }

    function stopWaiting(kind) {
      if (waiting[kind]) clearTimeout(waiting[kind].timer);
      waiting[kind] = null;
      buttons();
    }

    function wait(kind, id, ms) {
      waiting[kind] = {
        id,
        timer: setTimeout(() => {
          if (!waiting[kind] || waiting[kind].id !== id) return;
          stopWaiting(kind);
          say("failed", t("sv_clipboard_no_answer"));
        }, ms),
      };
      buttons();
    }

    function put() {
      if (!allowed() || waiting.put) return;
      const text = field.value;
      if (!text.trim()) { say("failed", t("sv_clipboard_err_empty")); field.focus(); return; }
      if (characters(text) > MAX_CHARS) {
        say("failed", t("sv_clipboard_err_too_long", { count: characters(text), max: MAX_CHARS }));
        field.focus();
        return;
      }
      const id = newId();
      wait("put", id, PUT_WAIT_MS);
      say("waiting", t("sv_clipboard_putting"));
      send(P.json(P.CLIPBOARD, { type: "clipboard.put", id, text }));
    }

    function get() {
      if (!allowed() || waiting.get) return;
      const id = newId();
      wait("get", id, GET_WAIT_MS);
      say("waiting", t("sv_clipboard_asking"));
      send(P.json(P.CLIPBOARD, { type: "clipboard.get", id }));
    }

    const refusedText = (reason) => t(`sv_clipboard_refused_${REFUSALS.includes(reason) ? reason : "other"}`,
      { max: MAX_CHARS });
    const failedText = (reason) => t(`sv_clipboard_failed_${FAILURES.includes(reason) ? reason : "other"}`,
      { max: MAX_CHARS });

    function showReceived(value) {
      const text = typeof value === "string" ? clean(value) : "";
      if (characters(text) > MAX_CHARS || !text) {
        say("failed", t(text ? "sv_clipboard_refused_too_long" : "sv_clipboard_refused_no_text", { max: MAX_CHARS }));
        return;
      }
      received.textContent = text;
      $("clipboard-received-box").hidden = false;
      say("received", t("sv_clipboard_received_count", { count: characters(text) }));
    }

    // An answer of the agent's on channel 4: only for a request this page waits for.
    function onFrame(payload) {
      const message = P.parseJson(payload);
      if (!message || closed) return;
      const kind = message.type === "clipboard.done" || message.type === "clipboard.failed" ? "put"
        : message.type === "clipboard.text" || message.type === "clipboard.refused" ? "get" : null;
      if (!kind || !waiting[kind] || waiting[kind].id !== message.id) return;
      stopWaiting(kind);
      if (message.type === "clipboard.done") say("done", t("sv_clipboard_done"));
      else if (message.type === "clipboard.failed") say("failed", failedText(message.reason));
      else if (message.type === "clipboard.text") showReceived(message.text);
      else say("refused", refusedText(message.reason));
    }

    async function copy() {
      const text = received.textContent;
      try {
        await navigator.clipboard.writeText(text);
      } catch (_) {
        // Without the async clipboard (not a secure context, or not allowed): the text selected, the old way.
        const range = document.createRange();
        range.selectNodeContents(received);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        if (!document.execCommand("copy")) { say("failed", t("sv_clipboard_copy_failed")); return; }
      }
      say("copied", t("sv_clipboard_copied"));
    }

    // The consent changed (or the page ended): the panel only while `clipboard` is held; what waited is over.
    function refresh() {
      const on = allowed();
      if (!on && (waiting.put || waiting.get)) {
        stopWaiting("put");
        stopWaiting("get");
        if (!closed) say("refused", t("sv_clipboard_withdrawn"));
      }
      panel.hidden = !on;
      buttons();
    }

    function close() {
      closed = true;
      received.textContent = ""; // the customer's clipboard leaves the page with the session
      $("clipboard-received-box").hidden = true;
      refresh();
    }

    $("clipboard-put").addEventListener("click", put);
    $("clipboard-get").addEventListener("click", get);
    $("clipboard-copy").addEventListener("click", copy);
    field.addEventListener("input", () => {
      if (status.dataset.status === "failed" && !waiting.put) say("", "");
    });
    refresh();
    return { onFrame, refresh, close, MAX_CHARS };
  }

  return { create, clean, MAX_CHARS };
})();
