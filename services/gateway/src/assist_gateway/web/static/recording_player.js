// The playback of a session's recording (#19, templates/recording.html): the terminal in asciinema-player, the
// screen drawn from the recorded tile stream with the console's decoder (protocol.js), and the events, all on ONE
// clock: the player's. The player's current time drives the screen canvases; the events are listed with their
// offsets, and choosing one seeks the player there. The customer (who came with a link) may erase the recording
// with their session's token, which the customer page keeps in this browser; the link's ticket only reads.
"use strict";

(() => {
  const { t, el, duration, localTime, fileSize, confirmAction, problemText, lang } = window.Assist;
  const { ScreenDecoder, SCREEN, BROWSER_SCREEN } = window.AssistProtocol;
  const root = document.getElementById("recording");
  const $ = (id) => document.getElementById(id);
  const sessionId = root.dataset.sessionId;
  const ticket = root.dataset.ticket || "";
  const base = `/api/v1/sessions/${encodeURIComponent(sessionId)}/recording`;
  const query = ticket ? `?ticket=${encodeURIComponent(ticket)}` : "";
  const CUSTOMER_STORE = "assist.customer.session"; // customer.js keeps the session id and token under it
  // A backward seek redraws from the nearest picture kept on the way forward: one every 10 s, or fewer on a long
  // recording (at most KEYFRAMES of them: a picture of a large screen is megabytes).
  const KEYFRAMES = 24;

  async function get(path, as) {
    const response = await fetch(`${base}${path}${query}`, {
      headers: { Accept: as === "json" ? "application/json" : "*/*", "Accept-Language": lang },
      credentials: "same-origin",
    });
    if (!response.ok) {
      let data = null;
      try { data = await response.json(); } catch (_) { /* not a problem document */ }
      throw { status: response.status, data };
    }
    return as === "json" ? response.json() : response.arrayBuffer();
  }

  // --- the screen: records `>d` (seconds from the start) `B` channel `I` length, then the channel's message ---
  function parseRecords(buffer) {
    const view = new DataView(buffer);
    const bytes = new Uint8Array(buffer);
    const records = [];
    let offset = 0;
    while (offset + 13 <= bytes.length) {
      const length = view.getUint32(offset + 9);
      const start = offset + 13;
      if (start + length > bytes.length) break; // cut short: what came before still plays
      const message = bytes.subarray(start, start + length);
      records.push({ at: view.getFloat64(offset), channel: bytes[offset + 8], message });
      offset = start + length;
    }
    return records;
  }

  // One canvas following the clock: records up to the time are drawn in order; going back restores the nearest
  // picture kept on the way forward (`keep`) and draws on from there.
  class ScreenTimeline {
    constructor(canvas, records, duration) {
      this.spacing = Math.max(10, duration / KEYFRAMES);
      this.canvas = canvas;
      this.records = records;
      this.decoder = new ScreenDecoder(canvas);
      this.index = 0; // records drawn (queued on the decoder's chain)
      this.at = 0;
      this.keyframes = [];
    }

    follow(now) {
      if (now + 0.05 < this.at) this.rewind(now);
      this.at = now;
      const records = this.records;
      while (this.index < records.length && records[this.index].at <= now) {
        this.decoder.push(records[this.index].message);
        this.index += 1;
        this.keep();
      }
      this.canvas.dataset.at = now.toFixed(3);
      this.canvas.dataset.drawn = String(this.index);
    }

    keep() {
      const last = this.keyframes[this.keyframes.length - 1];
      const at = this.records[this.index - 1].at;
      if (last && at - last.at < this.spacing) return;
      const frame = { at, index: this.index, image: null };
      this.keyframes.push(frame);
      const context = this.decoder.context;
      this.decoder.chain = this.decoder.chain.then(() => {
        frame.image = context.getImageData(0, 0, this.canvas.width, this.canvas.height);
      });
    }

    rewind(now) {
      while (this.keyframes.length && (this.keyframes[this.keyframes.length - 1].at > now
             || !this.keyframes[this.keyframes.length - 1].image)) this.keyframes.pop();
      const frame = this.keyframes[this.keyframes.length - 1];
      this.index = frame ? frame.index : 0;
      const { canvas, decoder } = this;
      decoder.chain = decoder.chain.then(() => {
        if (!frame) {
          decoder.context.clearRect(0, 0, canvas.width, canvas.height);
          return;
        }
        decoder.setSize(frame.image.width, frame.image.height);
        decoder.context.putImageData(frame.image, 0, 0);
      });
    }
  }

  // --- the events ------------------------------------------------------------------------------------------------
  const scopeNames = (scopes) => (scopes || []).map((scope) => t(`sv_scope_${scope}`)).join(", ") || "—";

  function describe(event) {
    switch (event.type) {
      case "recording_started": return t("rv_recording_started");
      case "scopes": return t("rv_scopes", { scopes: scopeNames(event.scopes) });
      case "scope_request": return t("rv_scope_request", {
        scopes: scopeNames(event.scopes), reason: event.reason || "—",
        status: t(`rv_scope_request_${event.status}`) });
      case "chat": return t("rv_chat", { author: event.author || event.role || "", text: event.text || "" });
      case "file": return t(event.direction === "from_customer" ? "rv_file_from_customer" : "rv_file_to_customer", {
        name: event.name || "", size: Number.isFinite(event.size) ? fileSize(event.size) : "—",
        status: t(`rv_file_${event.status}`) });
      case "share": return t(event.active ? "rv_share_on" : "rv_share_off");
      case "peer": return t(event.joined ? "rv_peer_joined" : "rv_peer_left", { peer: t(`rv_peer_${event.peer}`) });
      case "observers": return (event.observers || []).length
        ? t("rv_observers", { observers: event.observers.join(", ") }) : t("rv_observers_none");
      case "monitor": return t("rv_monitor", { monitor: event.monitor, width: event.width, height: event.height });
      case "gap": return t("rv_gap", { dropped: event.dropped });
      case "end": return t("rv_end", { reason: endReason(event) });
      case "part_end": return t("rv_part_end");
      default: return t("rv_other", { type: event.type });
    }
  }

  // Why the session ended, in the page's words: its end reason's, else who ended it, else (an older recording)
  // the relay's own close reason as it was recorded.
  function endReason(event) {
    for (const key of [`cs_reason_${event.end_reason}`, `rv_ended_by_${event.ended_by}`]) {
      const text = t(key);
      if (text !== key) return text;
    }
    return event.reason || "—";
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  function listEvents(events, seek) {
    const list = $("event-list");
    list.replaceChildren(...events.map((event) => {
      const button = el("button", { type: "button", class: "event-seek", "data-offset": String(event.offset) },
        el("span", { class: "event-time", text: clock(event.offset) }), " ",
        el("span", { class: "event-text", text: describe(event) }));
      button.addEventListener("click", () => seek(event.offset));
      return el("li", { "data-type": event.type, "data-offset": String(event.offset), "data-past": "false" }, button);
    }));
    $("no-events").hidden = events.length > 0;
  }

  function markEvents(now) {
    let current = null;
    for (const item of $("event-list").children) {
      const past = Number(item.dataset.offset) <= now + 0.001;
      item.dataset.past = String(past);
      item.removeAttribute("aria-current");
      if (past) current = item;
    }
    if (current) current.setAttribute("aria-current", "true");
  }

  // --- the customer's erasure ------------------------------------------------------------------------------------
  function customerToken() {
    try {
      const saved = JSON.parse(localStorage.getItem(CUSTOMER_STORE) || "null");
      return saved && saved.session_id === sessionId && typeof saved.customer_token === "string"
        ? saved.customer_token : null;
    } catch (_) {
      return null;
    }
  }

  function offerErasure() {
    const button = $("erase-recording");
    if (!button) return;
    const token = customerToken();
    button.hidden = !token;
    $("erase-elsewhere").hidden = Boolean(token);
    button.addEventListener("click", async () => {
      if (!(await confirmAction(t("rp_erase_question"), t("rp_erase_confirm")))) return;
      button.disabled = true;
      $("erase-status").textContent = t("rp_erasing");
      const result = await window.Assist.api("POST", `${base}/erase`, { token });
      if (result.ok) {
        root.dataset.state = "erased";
        $("erase-status").textContent = t("rp_erased_done");
        if (player) player.pause();
        for (const id of ["download-cast", "download-report", "download-archive"]) $(id).removeAttribute("href");
        document.querySelector(".playback").hidden = true;
      } else {
        button.disabled = false;
        $("erase-status").textContent = t("rp_erase_failed", { detail: problemText(result) });
      }
    });
  }

  // --- putting it together ---------------------------------------------------------------------------------------
  let player = null;

  function failed(error) {
    root.dataset.state = "failed";
    const detail = error && error.data ? problemText({ status: error.status, data: error.data })
      : (error && error.message) || String(error);
    $("load-error").textContent = t("rp_load_failed", { detail });
    $("load-error").hidden = false;
  }

  async function start() {
    const expires = $("link-expires");
    if (expires) expires.textContent = t("rp_link_expires", { time: localTime(expires.dataset.expires) });
    offerErasure();
    const index = await get("", "json");
    $("recording-duration").textContent = duration(index.duration_seconds);
    const events = index.events || [];
    player = window.AsciinemaPlayer.create($("player").dataset.cast, $("player"), {
      cols: index.terminal.width, rows: index.terminal.height, preload: true, fit: "width", controls: true,
      markers: events.map((event) => [event.offset, describe(event)]),
    });
    const seek = async (offset) => {
      await player.seek(offset);
      follow(await player.getCurrentTime());
    };
    listEvents(events, seek);
    const screens = [];
    if (index.has_screen) {
      const records = parseRecords(await get("/screen", "bytes"));
      const agent = records.filter((record) => record.channel === SCREEN);
      const share = records.filter((record) => record.channel === BROWSER_SCREEN);
      screens.push(new ScreenTimeline($("screen-canvas"), agent, index.duration_seconds));
      if (share.length) {
        $("share-box").hidden = false;
        screens.push(new ScreenTimeline($("share-canvas"), share, index.duration_seconds));
      }
      if (!agent.length) $("screen-canvas").parentElement.hidden = true;
    } else {
      $("screen-canvas").parentElement.hidden = true;
      $("no-screen").hidden = false;
    }

    let shown = -1;
    function follow(now) {
      if (typeof now !== "number" || !Number.isFinite(now)) return;
      for (const screen of screens) screen.follow(now);
      if (now !== shown) {
        shown = now;
        markEvents(now);
        root.dataset.at = now.toFixed(3);
      }
    }
    // The player's clock, read every frame the browser draws: nothing here keeps time of its own.
    let reading = false;
    async function tick() {
      if (!reading) {
        reading = true;
        try { follow(await player.getCurrentTime()); } catch (_) { /* not loaded yet */ }
        reading = false;
      }
      requestAnimationFrame(tick);
    }
    follow(0);
    root.dataset.state = "ready";
    requestAnimationFrame(tick);
  }

  start().catch(failed);
})();
