// The customer's browser shows its screen to the consultant (#18), with nothing installed: the browser's own picker
// (getDisplayMedia) chooses the screen or window; each picture is drawn on a canvas and its changed 64×64 tiles go
// through the gateway's relay in the agent's screen format (docs/protocol.md "Screen updates": channel 2, frame
// begin / tiles / frame end, encoding 0 = zlib RGB, which the browser's CompressionStream("deflate") writes). At most
// MAX_FPS pictures a second, and none while the socket still holds more than MAX_BUFFERED bytes (a slow link lowers
// the rate instead of queueing pictures). The socket (/ws/v1/share/{id}) carries nothing back but the gateway's own
// text: no input can reach this page. The customer token goes in the first text frame, never in the URL.
"use strict";

window.AssistScreenShare = (() => {
  const TILE = 64;
  const MAX_FPS = 5;
  const MAX_BUFFERED = 1 << 20; // bytes still on their way: past this, pictures are skipped
  const MAX_WIDTH = 1920, MAX_HEIGHT = 1080; // a larger screen is scaled down to fit
  const SCREEN = 2;
  const SENT_KEPT = 2000;

  const supported = () => !!(navigator.mediaDevices && typeof navigator.mediaDevices.getDisplayMedia === "function"
    && typeof CompressionStream === "function" && typeof WebSocket === "function");

  // zlib (RFC 1950) is what the browser calls "deflate"; the console and the tests' decoder inflate it.
  async function deflate(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  // The three screen messages, each one WebSocket frame: [channel 2][kind][fields in network byte order].
  function frameBegin(seq, width, height) {
    const bytes = new Uint8Array(10);
    const view = new DataView(bytes.buffer);
    bytes[0] = SCREEN;
    view.setUint32(2, seq);
    view.setUint16(6, width);
    view.setUint16(8, height);
    return bytes;
  }

  function tileMessage(x, y, w, h, data) {
    const bytes = new Uint8Array(11 + data.length);
    const view = new DataView(bytes.buffer);
    bytes[0] = SCREEN;
    bytes[1] = 1;
    view.setUint16(2, x);
    view.setUint16(4, y);
    view.setUint16(6, w);
    view.setUint16(8, h);
    bytes[10] = 0; // zlib RGB
    bytes.set(data, 11);
    return bytes;
  }

  function frameEnd(seq) {
    const bytes = new Uint8Array(6);
    bytes[0] = SCREEN;
    bytes[1] = 2;
    new DataView(bytes.buffer).setUint32(2, seq);
    return bytes;
  }

  // Whether a tile's pixels differ from the previous picture's (both RGBA rows of the whole picture, as 32-bit words).
  function tileChanged(now, before, width, x, y, w, h) {
    for (let row = y; row < y + h; row += 1) {
      const start = row * width + x;
      for (let i = start; i < start + w; i += 1) if (now[i] !== before[i]) return true;
    }
    return false;
  }

  // A tile's pixels as packed RGB rows, 3 bytes a pixel, no padding.
  function tileRgb(rgba, width, x, y, w, h) {
    const out = new Uint8Array(w * h * 3);
    let j = 0;
    for (let row = y; row < y + h; row += 1) {
      let i = (row * width + x) * 4;
      for (let col = 0; col < w; col += 1, i += 4) {
        out[j] = rgba[i];
        out[j + 1] = rgba[i + 1];
        out[j + 2] = rgba[i + 2];
        j += 3;
      }
    }
    return out;
  }

  function fitted(width, height) {
    const scale = Math.min(1, MAX_WIDTH / width, MAX_HEIGHT / height);
    return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
  }

  // Starts a share: the picker, then the socket. `onState(state, detail)` hears "asking", "connecting", "waiting"
  // (no consultant on the other end right now), "sharing", and once "stopped" with why: "browser" (the browser's
  // own Stop), "customer" (the page's Stop), "cancelled" (nothing picked), "ended" (4410), "refused" (4401/4403,
  // detail: the gateway's reason), "replaced" (4409: another window shares), "lost" (anything else).
  function start({ sessionId, token, onState }) {
    // What was sent, for the curious and the tests: pictures, bytes, tiles, pictures skipped (the link was busy),
    // time spent encoding, the picture's size, and when each picture's frame begin left ([seq, epoch ms], the last
    // SENT_KEPT of them).
    const stats = { frames: 0, bytes: 0, tiles: 0, skipped: 0, encodeMs: 0, width: 0, height: 0, sent: [] };
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    let stream = null, video = null, socket = null, clock = null, timer = null;
    let stopped = false, joined = false, busy = false, whole = true, seq = 0, previous = null;

    function stop(why, detail) {
      if (stopped) return;
      stopped = true;
      joined = false;
      stopClock();
      if (stream) for (const track of stream.getTracks()) track.stop();
      if (video) video.srcObject = null;
      if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, "sharing stopped");
      window.removeEventListener("pagehide", onPageHide);
      onState("stopped", { why, detail: detail || "" });
    }
    const onPageHide = () => stop("customer");

    async function sendPicture() {
      const size = fitted(video.videoWidth, video.videoHeight);
      if (canvas.width !== size.width || canvas.height !== size.height) {
        canvas.width = size.width;
        canvas.height = size.height;
        previous = null;
      }
      const { width, height } = size;
      const began = performance.now();
      context.drawImage(video, 0, 0, width, height);
      const rgba = context.getImageData(0, 0, width, height).data;
      const now = new Uint32Array(rgba.buffer);
      const all = whole || !previous;
      whole = false;
      const tiles = [];
      for (let y = 0; y < height; y += TILE) {
        for (let x = 0; x < width; x += TILE) {
          const w = Math.min(TILE, width - x), h = Math.min(TILE, height - y);
          if (all || tileChanged(now, previous, width, x, y, w, h)) tiles.push([x, y, w, h]);
        }
      }
      previous = now;
      if (!tiles.length) return; // nothing changed: no frame at all, as the agent does
      const encoded = await Promise.all(tiles.map(([x, y, w, h]) => deflate(tileRgb(rgba, width, x, y, w, h))));
      stats.encodeMs += performance.now() - began;
      if (stopped || !joined || socket.readyState !== WebSocket.OPEN) { whole = true; return; }
      seq = (seq + 1) >>> 0;
      socket.send(frameBegin(seq, width, height));
      stats.sent.push([seq, Date.now()]);
      if (stats.sent.length > SENT_KEPT) stats.sent.shift();
      stats.width = width;
      stats.height = height;
      let bytes = 16;
      tiles.forEach(([x, y, w, h], index) => {
        const message = tileMessage(x, y, w, h, encoded[index]);
        bytes += message.length;
        socket.send(message);
      });
      socket.send(frameEnd(seq));
      stats.frames += 1;
      stats.tiles += tiles.length;
      stats.bytes += bytes;
    }

    // One picture a tick of the clock (MAX_FPS a second at most), one at a time: a tick that comes while a
    // picture is still being encoded, or while the link has not taken the last ones, is skipped.
    async function capture() {
      if (stopped || !joined || busy) return;
      if (socket.bufferedAmount > MAX_BUFFERED || !video.videoWidth) { stats.skipped += 1; return; }
      busy = true;
      try {
        await sendPicture();
      } catch (error) {
        console.warn("screen share:", error);
      } finally {
        busy = false;
      }
    }

    // The worker's clock (share_clock.js), or the page's own timer where workers are not to be had.
    function startClock() {
      stopClock();
      try {
        clock = new Worker("/static/app/share_clock.js");
        clock.onmessage = capture;
        clock.postMessage(1000 / MAX_FPS);
      } catch (_) {
        clock = null;
        timer = setInterval(capture, 1000 / MAX_FPS);
      }
      capture();
    }

    function stopClock() {
      if (clock) clock.terminate();
      clearInterval(timer);
      clock = null;
      timer = null;
    }

    function onText(text) {
      let message;
      try { message = JSON.parse(text); } catch (_) { return; }
      if (message.type === "attached") onState("waiting");
      else if (message.type === "peer_joined") {
        // A consultant (again): a whole picture first, then changed tiles.
        whole = true;
        if (!joined) {
          joined = true;
          onState("sharing");
          startClock();
        }
      } else if (message.type === "peer_left") {
        joined = false;
        stopClock();
        onState("waiting");
      } else if (message.type === "refused") console.warn("screen share refused:", message.reason);
    }

    function onClose(event) {
      if (stopped) return;
      if (event.code === 4410) stop("ended", event.reason);
      else if (event.code === 4401 || event.code === 4403) stop("refused", event.reason);
      else if (event.code === 4409) stop("replaced", event.reason);
      else stop("lost", event.reason);
    }

    async function begin() {
      onState("asking");
      try {
        stream = await navigator.mediaDevices.getDisplayMedia({
          video: { frameRate: { ideal: MAX_FPS, max: MAX_FPS } }, audio: false,
        });
      } catch (_) {
        stop("cancelled");
        return;
      }
      if (stopped) { for (const track of stream.getTracks()) track.stop(); return; }
      // The browser's own "Stop sharing" (or the window shown closing) ends the share at once.
      stream.getVideoTracks()[0].addEventListener("ended", () => stop("browser"));
      video = document.createElement("video");
      video.muted = true;
      video.playsInline = true;
      video.srcObject = stream;
      try { await video.play(); } catch (_) { /* a muted capture plays; drawing waits for its first picture */ }
      onState("connecting");
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      socket = new WebSocket(`${scheme}//${location.host}/ws/v1/share/${encodeURIComponent(sessionId)}`);
      socket.binaryType = "arraybuffer";
      socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "hello", token })));
      socket.addEventListener("message", (event) => { if (typeof event.data === "string") onText(event.data); });
      socket.addEventListener("close", onClose);
      window.addEventListener("pagehide", onPageHide); // closing the tab closes the socket too; say so at once
    }

    begin();
    // `why`: "customer" (the page's Stop), or "ended" when the page learnt of the end before the socket's close.
    const share = { stop: (why = "customer") => stop(why), stats, get stopped() { return stopped; } };
    api.current = share;
    return share;
  }

  const api = { supported, start, MAX_FPS, MAX_BUFFERED, current: null };
  return api;
})();
