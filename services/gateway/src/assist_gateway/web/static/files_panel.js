// The console's Files panel (#17): files to and from the customer's computer on channel 5 (docs/protocol.md,
// "Files"), shown while the consent includes `files`. A file picked here is hashed (js-sha256, streaming), offered to the agent
// with its name, size and SHA-256, and sent once the customer saved it (A, or a folder with F); a file asked of the
// customer by its path is offered by the agent once they allowed it, put together here in memory and offered to
// save only when its size and SHA-256 are the offer's (no partial file on this side either). After a drop the
// sender offers the same id again and the receiver says how much it has. Names are shown as text, never markup.
// session.js creates the panel and feeds it.
"use strict";

window.AssistFilesPanel = (() => {
  const FILES = 5, MESSAGE = 0, DATA = 1;
  const CHUNK = 64 * 1024; // bytes of file a frame, as the agent's wire.CHUNK_BYTES
  const READ = 1024 * 1024; // read from the disk a megabyte at a time
  const BUFFERED_MAX = 4 * 1024 * 1024; // the socket's send buffer is kept under this: progress stays true
  const PROGRESS_MS = 250; // a receiver's file.progress at most four times a second
  const ACTIVE = ["hashing", "offered", "sending", "requested", "receiving"];
  const REASONS = ["too_large", "bad_name", "busy", "refused", "not_found", "not_a_file", "not_readable", "bad_path",
    "cannot_write"];
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  const message = (type, fields) => {
    const body = encoder.encode(JSON.stringify({ type, ...fields }));
    const out = new Uint8Array(2 + body.length);
    out[0] = FILES;
    out[1] = MESSAGE;
    out.set(body, 2);
    return out;
  };

  function uuidBytes(id) {
    const hex = id.replace(/-/g, "");
    const out = new Uint8Array(16);
    for (let i = 0; i < 16; i += 1) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    return out;
  }

  function uuidText(bytes) {
    const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  // [5][1][16 bytes id][u64 big-endian offset][bytes]
  function chunk(id, offset, data) {
    const out = new Uint8Array(26 + data.length);
    out[0] = FILES;
    out[1] = DATA;
    out.set(uuidBytes(id), 2);
    const view = new DataView(out.buffer);
    view.setUint32(18, Math.floor(offset / 0x100000000));
    view.setUint32(22, offset >>> 0);
    out.set(data, 26);
    return out;
  }

  // A channel-5 payload (after the channel byte): {message} or {chunk: {id, offset, data}}, or null.
  function decode(payload) {
    if (payload.length < 1) return null;
    if (payload[0] === DATA && payload.length >= 25) {
      const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      const offset = view.getUint32(17) * 0x100000000 + view.getUint32(21);
      return { chunk: { id: uuidText(payload.subarray(1, 17)), offset, data: payload.subarray(25) } };
    }
    if (payload[0] !== MESSAGE) return null;
    try {
      const value = JSON.parse(decoder.decode(payload.subarray(1)));
      return value && typeof value.type === "string" && typeof value.id === "string" ? { message: value } : null;
    } catch (_) {
      return null;
    }
  }

  const isCount = (value) => Number.isSafeInteger(value) && value >= 0;
  const isSha = (value) => typeof value === "string" && /^[0-9a-f]{64}$/.test(value);
  const newId = () => (window.crypto && crypto.randomUUID ? crypto.randomUUID()
    : "10000000-1000-4000-8000-100000000000".replace(/[018]/g,
      (c) => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)));
  const pause = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

  const size = (bytes) => window.Assist.fileSize(bytes);

  function create({ send, heldScopes, buffered, connected }) {
    const { t, el } = window.Assist;
    const $ = (id) => document.getElementById(id);
    const panel = $("files");
    const list = $("file-transfers");
    const items = new Map(); // id -> a transfer, either way
    let maxBytes = Number(panel.dataset.maxBytes) || 2 * 1024 ** 3;
    let closed = false;
    let stopReason = "";
    let held = false; // the consent included `files` when last looked at

    const allowed = () => !closed && heldScopes().includes("files");

    function error(text) {
      $("file-error").textContent = text;
      $("file-error").hidden = !text;
    }

    function refresh() {
      const now = allowed();
      if (held && !now && !closed) stopAll("scope"); // taken back: every transfer going stops
      held = now;
      panel.hidden = !held && items.size === 0;
      panel.dataset.state = held ? "open" : "closed";
      $("file-controls").hidden = !held;
      $("file-send").disabled = !held;
      $("file-request").disabled = !held;
      $("files-note").hidden = held || !stopReason;
      $("files-note").textContent = stopReason ? t(`sv_files_stopped_${stopReason}`) : "";
      $("files-limit").textContent = t("sv_files_limit", { max: size(maxBytes) });
    }

    function statusText(item) {
      const percent = item.size ? Math.floor((item.done * 100) / item.size) : 100;
      if (item.status === "hashing") return t("sv_files_status_hashing", { percent });
      if (item.status === "sending" || item.status === "receiving") {
        return t(`sv_files_status_${item.status}`, { percent });
      }
      if (item.status === "refused" || item.status === "failed") {
        const reason = REASONS.includes(item.reason) ? t(`sv_files_reason_${item.reason}`, { max: size(maxBytes) })
          : item.reason || "";
        return t(`sv_files_status_${item.status}`, { reason });
      }
      if (item.status === "cancelled" && item.reason) return t(`sv_files_stopped_${item.reason}`);
      return t(`sv_files_status_${item.status}`);
    }

    function render(item) {
      let row = item.row;
      if (!row) {
        row = item.row = el("li", { class: "file-row", "data-id": item.id, "data-direction": item.direction },
          el("span", { class: "file-direction", text: t(`sv_files_${item.direction}`) }), " ",
          el("span", { class: "file-name" }), " ",
          el("span", { class: "file-size" }),
          el("progress", { class: "file-progress", max: "1", value: "0" }),
          el("span", { class: "file-status", role: "status" }),
          el("span", { class: "file-actions" }));
        list.prepend(row);
      }
      row.dataset.status = item.status;
      row.dataset.name = item.name;
      row.dataset.size = String(item.size);
      row.querySelector(".file-name").textContent = item.name;
      row.querySelector(".file-size").textContent = item.size || item.status !== "requested" ? size(item.size) : "";
      const bar = row.querySelector(".file-progress");
      bar.max = Math.max(1, item.size);
      bar.value = Math.min(item.done, item.size);
      row.querySelector(".file-status").textContent = statusText(item);
      const actions = row.querySelector(".file-actions");
      const wanted = [];
      if (ACTIVE.includes(item.status)) {
        const cancel = el("button", { type: "button", class: "file-cancel", text: t("sv_files_cancel") });
        cancel.addEventListener("click", () => cancelItem(item));
        wanted.push(cancel);
      }
      if (item.url) {
        wanted.push(el("a", { class: "file-download", href: item.url, download: item.name, text: t("sv_files_save") }));
      }
      actions.replaceChildren(...wanted);
      panel.hidden = false;
    }

    function finish(item, status, reason = "") {
      if (!ACTIVE.includes(item.status)) return;
      item.status = status;
      item.reason = reason;
      item.chunks = null; // a file put together here is in its Blob now (or dropped)
      render(item);
    }

    function cancelItem(item) {
      if (!ACTIVE.includes(item.status)) return;
      send(message("file.cancel", { id: item.id, reason: "consultant" }));
      finish(item, "cancelled");
    }

    // The scope taken back ("scope") or the session over ("ended"): every transfer still going stops here; the
    // agent deletes its partial file and nothing more is sent.
    function stopAll(reason) {
      stopReason = reason;
      for (const item of items.values()) finish(item, "cancelled", reason);
    }

    // --- to the customer ----------------------------------------------------------------------------------------
    async function sendFile() {
      error("");
      const file = $("file-pick").files[0];
      if (!allowed()) return;
      if (!file) { error(t("sv_files_error_pick")); return; }
      if (file.size > maxBytes) {
        error(t("sv_files_error_too_large", { name: file.name, max: size(maxBytes) }));
        return;
      }
      const item = { id: newId(), direction: "to_customer", name: file.name, size: file.size, done: 0, file,
        status: "hashing", position: 0 };
      items.set(item.id, item);
      $("file-pick").value = "";
      render(item);
      const hasher = window.sha256.create();
      for (let offset = 0; offset < file.size && item.status === "hashing"; offset += READ) {
        hasher.update(new Uint8Array(await file.slice(offset, offset + READ).arrayBuffer()));
        item.done = Math.min(file.size, offset + READ);
        render(item);
      }
      if (item.status !== "hashing") return; // cancelled meanwhile
      item.sha256 = hasher.hex();
      item.done = 0;
      item.status = "offered";
      render(item);
      offer(item);
    }

    const offer = (item) => send(message("file.offer", { id: item.id, name: item.name, size: item.size,
      sha256: item.sha256 }));

    // Chunks from `item.position` on, a megabyte read at a time, the socket's buffer kept small; it stops when the
    // socket goes (the agent's answer to the offer sent again says where to go on from).
    async function pump(item) {
      if (item.pumping) return;
      item.pumping = true;
      try {
        while (item.status === "sending" && item.position < item.size && connected()) {
          if (buffered() > BUFFERED_MAX) { await pause(10); continue; }
          const start = item.position;
          const block = new Uint8Array(await item.file.slice(start, Math.min(item.size, start + READ)).arrayBuffer());
          if (item.position !== start) continue; // the agent said another place meanwhile
          for (let at = 0; at < block.length && item.status === "sending" && item.position === start + at;
            at += CHUNK) {
            send(chunk(item.id, start + at, block.subarray(at, at + CHUNK)));
            item.position = start + Math.min(block.length, at + CHUNK);
          }
        }
      } finally {
        item.pumping = false;
      }
    }

    // --- from the customer -------------------------------------------------------------------------------------
    function requestFile(event) {
      event.preventDefault();
      error("");
      const path = $("file-request-path").value.trim();
      if (!allowed()) return;
      if (!path) { error(t("sv_files_error_path")); return; }
      const item = { id: newId(), direction: "from_customer", name: path, size: 0, done: 0, status: "requested" };
      items.set(item.id, item);
      $("file-request-path").value = "";
      render(item);
      send(message("file.request", { id: item.id, path }));
    }

    function onOffer(item, offered) {
      if (item.status === "receiving") { // offered again after a drop: from what is here
        send(message("file.accept", { id: item.id, offset: item.done }));
        return;
      }
      if (item.status !== "requested") return;
      if (!isCount(offered.size) || !isSha(offered.sha256) || typeof offered.name !== "string") return;
      if (offered.size > maxBytes) {
        send(message("file.refuse", { id: item.id, reason: "too_large" }));
        finish(item, "refused", "too_large");
        return;
      }
      Object.assign(item, { name: offered.name.replace(/[\u0000-\u001f\u007f-\u009f/\\]/g, "_").slice(0, 255),
        size: offered.size, sha256: offered.sha256, status: "receiving", chunks: [], done: 0, toldGap: -1 });
      render(item);
      send(message("file.accept", { id: item.id, offset: 0 }));
      if (item.size === 0) complete(item);
    }

    function onChunk(item, got) {
      if (item.status !== "receiving") return;
      const end = got.offset + got.data.length;
      if (end > item.size) {
        send(message("file.failed", { id: item.id, reason: "more data than the offer's size" }));
        finish(item, "failed", "more data than the offer's size");
        return;
      }
      if (got.offset > item.done) { // frames were lost: say once from where to go on
        if (item.toldGap !== item.done) {
          item.toldGap = item.done;
          send(message("file.accept", { id: item.id, offset: item.done }));
        }
        return;
      }
      if (end <= item.done) return; // had already
      item.chunks.push(got.data.slice(item.done - got.offset));
      item.done = end;
      const now = Date.now();
      if (item.done === item.size) { complete(item); return; }
      if (!item.toldAt || now - item.toldAt >= PROGRESS_MS) {
        item.toldAt = now;
        send(message("file.progress", { id: item.id, received: item.done }));
        render(item);
      }
    }

    function complete(item) {
      const hasher = window.sha256.create();
      for (const piece of item.chunks) hasher.update(piece);
      const digest = hasher.hex();
      if (digest !== item.sha256) {
        send(message("file.failed", { id: item.id, reason: "the received file's SHA-256 is not the offer's" }));
        finish(item, "failed", "sha256");
        return;
      }
      item.url = URL.createObjectURL(new Blob(item.chunks, { type: "application/octet-stream" }));
      send(message("file.done", { id: item.id, sha256: digest, size: item.size }));
      item.received_sha256 = digest;
      finish(item, "done");
    }

    // --- the agent's messages ------------------------------------------------------------------------------------
    function onFrame(payload) {
      const got = decode(payload);
      if (!got) return;
      if (got.chunk) {
        const item = items.get(got.chunk.id);
        if (item && item.direction === "from_customer") onChunk(item, got.chunk);
        return;
      }
      const m = got.message;
      const item = items.get(m.id);
      if (!item) return;
      if (item.direction === "from_customer") {
        if (m.type === "file.offer") onOffer(item, m);
        else if (m.type === "file.refuse") finish(item, "refused", typeof m.reason === "string" ? m.reason : "");
        else if (m.type === "file.cancel") finish(item, "cancelled");
        return;
      }
      if (m.type === "file.accept" && (item.status === "offered" || item.status === "sending")) {
        item.position = isCount(m.offset) && m.offset <= item.size ? m.offset : 0;
        item.status = "sending";
        render(item);
        pump(item);
      } else if (m.type === "file.progress" && item.status === "sending" && isCount(m.received)) {
        item.done = Math.min(item.size, m.received);
        render(item);
      } else if (m.type === "file.done") {
        if (m.sha256 === item.sha256 && m.size === item.size) {
          item.done = item.size;
          item.received_sha256 = m.sha256;
          finish(item, "done");
        } else finish(item, "failed", "sha256");
      } else if (m.type === "file.refuse") finish(item, "refused", typeof m.reason === "string" ? m.reason : "");
      else if (m.type === "file.failed") finish(item, "failed", typeof m.reason === "string" ? m.reason : "");
      else if (m.type === "file.cancel") finish(item, "cancelled");
    }

    // The agent is (back) there: every file on its way to it is offered again; its answer says from where.
    function peerJoined() {
      for (const item of items.values()) {
        if (item.direction === "to_customer" && (item.status === "offered" || item.status === "sending")) offer(item);
      }
    }

    // The gateway refused a frame of channel 5: for an offer over the limit it names the transfer.
    function onRefused(notice) {
      const item = typeof notice.id === "string" ? items.get(notice.id) : null;
      if (isCount(notice.max_bytes)) maxBytes = notice.max_bytes;
      if (item) finish(item, "refused", notice.reason === "too_large" ? "too_large" : "");
    }

    function onAttached(notice) {
      if (isCount(notice.file_max_bytes)) maxBytes = notice.file_max_bytes;
      refresh();
    }

    function close() {
      if (closed) return;
      closed = true;
      stopAll("ended");
      refresh();
    }

    $("file-send").addEventListener("click", sendFile);
    $("file-request-form").addEventListener("submit", requestFile);
    refresh();
    window.AssistFiles = { // for the tests and the curious
      get transfers() { return [...items.values()].map(({ id, direction, name, size: bytes, done, status, sha256,
        received_sha256: received }) => ({ id, direction, name, size: bytes, done, status, sha256, received })); },
    };
    return { onFrame, peerJoined, onRefused, onAttached, refresh, close };
  }

  return { create, chunk, decode, message };
})();
