// The console's session view: the customer's terminal (xterm.js) and screen (canvas) over the relay.
"use strict";

(() => {
  const { t, api, problemText, duration } = window.Assist;
  const P = window.AssistProtocol;
  const root = document.getElementById("session");
  const sessionId = root.dataset.sessionId;
  const $ = (id) => document.getElementById(id);
  let startedAt = root.dataset.startedAt ? Date.parse(root.dataset.startedAt) : null;
  let ended = false;
  let socket = null;
  let reconnects = 0;

  const term = new window.Terminal({ convertEol: false, cursorBlink: true, fontSize: 14, scrollback: 5000 });
  const fit = new window.FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open($("terminal"));
  fit.fit();
  const screen = new P.ScreenDecoder($("screen"), () => { $("screen-note").textContent = ""; });

  const send = (bytes) => {
    if (ended) {
      // Counted so a test (or a curious consultant in the inspector) can see input was refused, not lost.
      root.dataset.refusedInput = String(Number(root.dataset.refusedInput || 0) + 1);
      return;
    }
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(bytes);
  };
  const setState = (text) => { $("relay-state").textContent = text; };

  term.onData((data) => send(P.text(P.TERMINAL, data)));
  term.onResize(({ cols, rows }) => send(P.json(P.CONTROL, { type: "resize", cols, rows })));
  window.addEventListener("resize", () => fit.fit());

  // After the end the view takes no input at all: the terminal stops reading keys and the socket is gone.
  function endView(message) {
    if (ended) return;
    ended = true;
    term.options.disableStdin = true;
    term.options.cursorBlink = false;
    $("ended-banner").textContent = message;
    $("ended-banner").hidden = false;
    $("end-button").disabled = true;
    root.classList.add("ended");
    root.dataset.input = "closed";
    setState(t("status_ended"));
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, "ended");
  }

  function onControl(message) {
    if (message.type === "hello") {
      if (message.protocol !== P.PROTOCOL) {
        setState(t("protocol_mismatch", { version: message.protocol }));
        return;
      }
      send(P.json(P.CONTROL, { type: "hello", protocol: P.PROTOCOL, role: "console" }));
      send(P.json(P.CONTROL, { type: "resize", cols: term.cols, rows: term.rows }));
      if (message.screen) send(P.json(P.CONTROL, { type: "screen.start", max_fps: 10 }));
      else $("screen-note").textContent = t("no_screen");
      term.focus();
    } else if (message.type === "refused") {
      term.write(`\r\n\x1b[33m${t("refused", { reason: message.reason || message.what })}\x1b[0m\r\n`);
    } else if (message.type === "bye") {
      endView(t("ended_by_customer"));
    }
  }

  function onGatewayText(text) {
    let message;
    try { message = JSON.parse(text); } catch (_) { return; }
    if (message.type === "waiting_for_agent") setState(t("waiting_for_agent"));
    else if (message.type === "peer_joined") {
      setState(t("agent_connected"));
      if (!startedAt) startedAt = Date.now();
    } else if (message.type === "peer_left") setState(t("agent_left"));
    // The gateway refuses keystrokes and input under a view-only consent before they reach the agent, and says so
    // (at most once a second) as the agent would.
    else if (message.type === "refused") onControl(message);
  }

  function onClose(event) {
    if (ended) return;
    if (event.code === 4410) {
      const reason = event.reason || "";
      if (reason.includes("customer")) endView(t("ended_by_customer"));
      else if (reason.includes("supervisor")) endView(t("ended_by_supervisor"));
      else if (reason.includes("consultant")) endView(t("ended_by_consultant"));
      else endView(t("ended_other", { reason }));
    } else if (event.code === 4401 || event.code === 4403 || event.code === 4409) {
      setState(`${event.code}: ${event.reason}`);
    } else if (reconnects < 30) {
      // 4408 (consent not confirmed in time), 1013 or a dropped network: try again shortly.
      reconnects += 1;
      setState(t("offline"));
      setTimeout(connect, 1000);
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/ws/v1/consultant/${sessionId}`);
    socket.binaryType = "arraybuffer";
    socket.addEventListener("open", () => { reconnects = 0; });
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") return onGatewayText(event.data);
      const { channel, payload } = P.parse(event.data);
      if (channel === P.TERMINAL) term.write(payload);
      else if (channel === P.SCREEN) screen.push(payload);
      else if (channel === P.CONTROL) {
        const message = P.parseJson(payload);
        if (message) onControl(message);
      }
    });
    socket.addEventListener("close", onClose);
  }

  window.AssistScreenInput.attach($("screen"), send);

  $("end-button").addEventListener("click", async () => {
    $("end-button").disabled = true;
    const result = await api("POST", `/api/v1/sessions/${sessionId}/end`);
    // A supervisor may end it from here too: the answer says who ended it (the first ending wins).
    if (result.ok) endView(t(`ended_by_${(result.data && result.data.ended_by) || "consultant"}`));
    else { $("end-button").disabled = false; setState(problemText(result)); }
  });

  setInterval(() => { if (startedAt && !ended) $("elapsed").textContent = duration((Date.now() - startedAt) / 1000); }, 1000);
  connect();
})();
