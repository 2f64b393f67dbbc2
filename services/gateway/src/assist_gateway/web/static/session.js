// The console's session view: the customer's terminal (xterm.js) and screen (canvas) over the relay. The same page
// serves a supervisor who watches (#16, `data-mode="observer"`, /console/observe/{id}): the observer socket, and
// nothing at all sent on it (no hello, no resize, no keys, no pointer, no screen.start); the screen and terminal
// it receives are drawn as the consultant's are.
"use strict";

(() => {
  const { t, api, problemText, duration, confirmAction, el, sound } = window.Assist;
  const P = window.AssistProtocol;
  const root = document.getElementById("session");
  const sessionId = root.dataset.sessionId;
  const observer = root.dataset.mode === "observer";
  const $ = (id) => document.getElementById(id);
  // Without the consent's `control` the page only watches: the terminal takes no keys, the screen has no input
  // attached, and nothing on channels 1 and 3 leaves the page (the gateway would refuse it anyway).
  let viewOnly = observer || !(root.dataset.scopes || "").split(",").includes("control");
  let startedAt = root.dataset.startedAt ? Date.parse(root.dataset.startedAt) : null;
  let ended = false;
  let locked = false; // no longer this consultant's to see (lockedOut)
  let inputAttached = false; // the screen's input handlers (screen_input.js), attached once control is allowed
  // What the consent allows now (the page's, then each `scopes` message of the gateway's).
  const heldScopes = () => (root.dataset.scopes || "").split(",").filter(Boolean);
  // A step up (#16): the latest request for more this page knows of ({request_id, status, requested_at, scopes}),
  // from the page (a reload while one waits), the request's 201 and the gateway's scope_request messages.
  let stepUp = !observer && root.dataset.scopeRequestId ? {
    request_id: root.dataset.scopeRequestId, status: root.dataset.scopeRequestStatus,
    requested_at: root.dataset.scopeRequestedAt,
    scopes: (root.dataset.scopeRequestScopes || "").split(",").filter(Boolean),
  } : null;
  // An approval of scopes the consent no longer holds all of is news of the past (one was taken back since).
  if (stepUp && stepUp.status === "approved" && !stepUp.scopes.every((scope) => heldScopes().includes(scope))) {
    stepUp = null;
  }
  let socket = null;
  let reconnects = 0;

  const term = new window.Terminal({
    convertEol: false, cursorBlink: !viewOnly, fontSize: 14, scrollback: 5000, disableStdin: viewOnly,
  });
  const fit = new window.FitAddon.FitAddon();
  const serializer = new window.SerializeAddon.SerializeAddon();
  term.loadAddon(fit);
  term.loadAddon(serializer);
  term.open($("terminal"));
  fit.fit();

  // --- The terminal's recent history, kept over a reload --------------------------------------------------------
  // In this tab's sessionStorage (never sent anywhere, gone with the tab), under this session's id only, bounded,
  // written back before the socket connects, and erased when the session ends, access is refused, or staff log
  // out. A tab keeps one session's history: opening another session's page drops the others.
  // An observer's history is kept apart from a consultant's (another prefix); a logout forgets both.
  const HISTORY_PREFIXES = ["assist.console.terminal.", "assist.observer.terminal."];
  const HISTORY_PREFIX = HISTORY_PREFIXES[observer ? 1 : 0];
  const HISTORY_KEY = HISTORY_PREFIX + sessionId;
  const HISTORY_LINES = 1000; // scrollback lines kept, plus the visible rows
  const HISTORY_CHARS = 200000; // and never more than this many characters
  const storage = (() => { try { return window.sessionStorage; } catch (_) { return null; } })();
  let keepHistory = true;

  function forgetHistories(all) {
    if (all) keepHistory = false;
    if (!storage) return;
    for (let i = storage.length - 1; i >= 0; i -= 1) {
      const key = storage.key(i);
      if (key && HISTORY_PREFIXES.some((prefix) => key.startsWith(prefix)) && (all || key !== HISTORY_KEY)) {
        storage.removeItem(key);
      }
    }
  }

  function saveHistory() {
    if (!storage || !keepHistory) return;
    let lines = HISTORY_LINES;
    let data = serializer.serialize({ scrollback: lines });
    while (data.length > HISTORY_CHARS && lines > 0) {
      lines = Math.floor(lines / 2);
      data = serializer.serialize({ scrollback: lines });
    }
    try {
      if (data.length <= HISTORY_CHARS) storage.setItem(HISTORY_KEY, data);
      else storage.removeItem(HISTORY_KEY);
    } catch (_) {
      storage.removeItem(HISTORY_KEY); // over the browser's quota: better nothing than a cut sequence
    }
  }

  let saveTimer = null;
  term.onWriteParsed(() => {
    if (saveTimer === null) saveTimer = setTimeout(() => { saveTimer = null; saveHistory(); }, 300);
  });
  window.addEventListener("pagehide", saveHistory);
  const logout = document.querySelector('form[action="/console/logout"]');
  if (logout) logout.addEventListener("submit", () => forgetHistories(true));

  forgetHistories(false);
  const saved = storage ? storage.getItem(HISTORY_KEY) : null;
  if (saved) {
    term.write(saved);
    root.dataset.history = "restored";
  }

  // --- The screen: fitted to its pane (or to the whole screen), or 1:1 ------------------------------------------
  const canvas = $("screen");
  const stage = $("screen-stage");
  const box = $("screen-box");
  const terminalBox = $("terminal");
  let actualSize = false;
  // Side by side (the screen gets two thirds) or the screen on the whole width with the terminal below it; the
  // choice is the consultant's and this browser remembers it.
  const LAYOUT_KEY = "assist.console.layout";
  const remembered = (() => { try { return window.localStorage.getItem(LAYOUT_KEY); } catch (_) { return null; } })();
  let stacked = remembered === "stacked";

  // The canvas's box always has the remote screen's aspect (never letterboxed inside the element), so
  // screen_input.js's getBoundingClientRect arithmetic maps a pointer to the remote pixel under it.
  function fitScreen() {
    let width = canvas.width, height = canvas.height;
    const full = document.fullscreenElement === box;
    if (!actualSize) {
      const availableWidth = stage.clientWidth;
      // Out of full screen the screen fits the window's height too (its bar and a margin above it).
      const availableHeight = full ? stage.clientHeight : Math.max(240, window.innerHeight - 96);
      const scale = Math.min(availableWidth / canvas.width, availableHeight / canvas.height);
      if (!(scale > 0)) return;
      width = Math.floor(canvas.width * scale);
      height = Math.floor(canvas.height * scale);
    }
    if (canvas.style.width !== `${width}px`) canvas.style.width = `${width}px`;
    if (canvas.style.height !== `${height}px`) canvas.style.height = `${height}px`;
    // Beside the screen, the terminal is as tall as the screen is drawn; below it or alone, as tall as CSS says.
    if (!full) {
      const panes = root.querySelector(".panes");
      const beside = !actualSize && root.classList.contains("has-screen")
        && getComputedStyle(panes).gridTemplateColumns.split(" ").length > 1;
      const style = getComputedStyle(terminalBox);
      const padding = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
      const terminalHeight = beside ? `${Math.max(288, Math.round(height + 2 - padding))}px` : "";
      if (terminalBox.style.height !== terminalHeight) terminalBox.style.height = terminalHeight;
    }
    $("screen-size").textContent = root.classList.contains("has-screen")
      ? t("sv_screen_size", { width: canvas.width, height: canvas.height,
        percent: Math.round((width / canvas.width) * 100) })
      : "";
  }

  const screen = new P.ScreenDecoder(canvas, () => {
    $("screen-note").textContent = "";
    root.classList.add("has-screen");
    fitScreen();
  });
  new ResizeObserver(() => fitScreen()).observe(stage);
  new ResizeObserver(() => { if ($("terminal").offsetParent !== null) fit.fit(); }).observe($("terminal"));
  window.addEventListener("resize", () => { fitScreen(); fit.fit(); });

  function showLayout() {
    root.classList.toggle("stacked", stacked);
    $("layout-button").setAttribute("aria-pressed", String(stacked));
    fitScreen();
  }
  $("layout-button").addEventListener("click", () => {
    stacked = !stacked;
    try { window.localStorage.setItem(LAYOUT_KEY, stacked ? "stacked" : "side"); } catch (_) { /* not kept */ }
    showLayout();
  });
  $("actual-size-button").addEventListener("click", () => {
    actualSize = !actualSize;
    $("actual-size-button").setAttribute("aria-pressed", String(actualSize));
    root.classList.toggle("actual-size", actualSize);
    fitScreen();
  });
  $("fullscreen-button").addEventListener("click", async () => {
    if (document.fullscreenElement) { await document.exitFullscreen(); return; }
    try {
      await box.requestFullscreen({ navigationUI: "hide" });
    } catch (_) {
      $("screen-note").textContent = t("sv_fullscreen_unavailable");
    }
  });
  // In full screen the keys stay with the remote screen (the canvas keeps the focus); Escape is the browser's
  // way out of full screen.
  document.addEventListener("fullscreenchange", () => {
    const full = document.fullscreenElement === box;
    $("fullscreen-button").textContent = t(full ? "sv_exit_fullscreen" : "sv_fullscreen");
    $("fullscreen-button").setAttribute("aria-pressed", String(full));
    root.classList.toggle("screen-full", full);
    fitScreen();
    if (full && !viewOnly && !ended) canvas.focus();
  });

  // --- The customer's monitors (#17) ----------------------------------------------------------------------------
  // With more than one in the agent's hello, the picker names each ("Screen 2 (1920×1080, main)"); choosing one
  // asks the agent to show it (`screen.select`, channel 0). The agent's `screen.selected` says which it shows: the
  // picker says so and the canvas takes its size (its frames follow). A watcher's picker only shows.
  const picker = $("monitor-picker");
  let shownMonitor = null;
  const isSize = (value) => Number.isInteger(value) && value > 0 && value <= 65535;

  function showMonitors(monitors, current) {
    const list = (Array.isArray(monitors) ? monitors : []).filter((monitor) => monitor
      && Number.isInteger(monitor.index) && isSize(monitor.width) && isSize(monitor.height));
    picker.replaceChildren(...list.map((monitor) => el("option", {
      value: String(monitor.index),
      text: t(monitor.primary === true ? "sv_monitor_option_main" : "sv_monitor_option",
        { index: monitor.index, width: monitor.width, height: monitor.height }),
    })));
    $("monitor-box").hidden = list.length < 2;
    showMonitor(current);
  }

  function showMonitor(index) {
    if (!Number.isInteger(index) || !picker.querySelector(`option[value="${index}"]`)) return;
    shownMonitor = index;
    picker.value = String(index);
    root.dataset.monitor = String(index);
  }

  function onMonitorSelected(message) {
    showMonitor(message.monitor);
    if (isSize(message.width) && isSize(message.height)) screen.resize(message.width, message.height);
  }

  picker.addEventListener("change", () => {
    const index = Number(picker.value);
    if (observer || ended || !Number.isInteger(index)) return;
    send(P.json(P.CONTROL, { type: "screen.select", monitor: index }));
  });

  // --- The customer's browser showing its screen (#18, channel 6) -------------------------------------------------
  // A pane of its own, shown from the gateway's `{"type": "share", "active": true}` until `false` (the customer's
  // Stop, the browser's, a closed tab), drawn by the same decoder as the agent's screen; while it is shown the
  // agent's pane says it is the agent's. Its picture is cleared when the share stops: what the customer stopped
  // showing does not stay. A watcher's page has no such pane (observers get none of it).
  const sharePane = $("share-pane");
  const shareCanvas = $("share-canvas");
  const shareView = sharePane ? new P.ScreenDecoder(shareCanvas, (width, height) => {
    sharePane.dataset.share = "picture";
    $("share-note").textContent = "";
    fitShare(width, height);
  }) : null;

  function fitShare() {
    if (!sharePane || sharePane.hidden) return;
    const stage = sharePane.querySelector(".share-stage");
    const scale = Math.min(1, stage.clientWidth / shareCanvas.width,
      Math.max(240, window.innerHeight - 140) / shareCanvas.height);
    if (!(scale > 0)) return;
    shareCanvas.style.width = `${Math.floor(shareCanvas.width * scale)}px`;
    shareCanvas.style.height = `${Math.floor(shareCanvas.height * scale)}px`;
    $("share-size").textContent = sharePane.dataset.share === "picture" ? t("sv_share_size",
      { width: shareCanvas.width, height: shareCanvas.height, percent: Math.round(scale * 100) }) : "";
  }
  if (sharePane) window.addEventListener("resize", () => fitShare());

  // Whether the customer's agent is connected: with none, the state line says what the browser share is doing.
  let agentHere = false;

  // `quiet`: a (re)attached socket starts without a share, and no "stopped" is said for it.
  function onShare(active, { quiet = false } = {}) {
    if (!sharePane) return;
    const was = sharePane.dataset.share !== "none";
    if (!agentHere && active) setState(t("sv_share_state"));
    else if (!agentHere && was && !quiet) setState(t("waiting_for_agent"));
    if (active && !was) {
      shareCanvas.width = shareCanvas.height = 1; // the first frame begin sizes it (and says the picture came)
      sharePane.dataset.share = "waiting";
      $("share-note").textContent = t("sv_share_waiting");
      if (!startedAt) startedAt = Date.now(); // the share started the session, if nothing had (billed from here)
      showElapsed();
    } else if (!active) {
      shareView.clear();
      sharePane.dataset.share = "none";
      $("share-size").textContent = "";
      $("share-note").textContent = was && !quiet ? t("sv_share_stopped") : "";
    }
    root.dataset.share = active ? "active" : (was && !quiet ? "stopped" : "none");
    // Stays in sight, with its last words, once a share stopped; hidden before any, after a reload and at the end.
    if (active) sharePane.hidden = false;
    else if (quiet) sharePane.hidden = true;
    $("screen-source").hidden = !active;
    fitShare();
  }

  // --- The relay ------------------------------------------------------------------------------------------------
  const send = (bytes) => {
    // A watching supervisor's page sends nothing at all on its socket (the gateway would close it).
    if (observer) return;
    if (ended) {
      // Counted so a test (or a curious consultant in the inspector) can see input was refused, not lost.
      root.dataset.refusedInput = String(Number(root.dataset.refusedInput || 0) + 1);
      return;
    }
    // Never a keystroke or an input event from a view-only page (control messages such as resize still go).
    if (viewOnly && (bytes[0] === P.TERMINAL || bytes[0] === P.INPUT)) return;
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(bytes);
  };
  const setState = (text) => { $("relay-state").textContent = text; };
  // The clipboard panel (#17, clipboard_panel.js): channel 4, shown while the consent includes `clipboard`.
  const clipboard = observer ? null : window.AssistClipboardPanel.create({ send, heldScopes });
  // The Files panel (#17, files_panel.js): channel 5, shown while the consent includes `files`.
  const files = observer ? null : window.AssistFilesPanel.create({
    send, heldScopes, buffered: () => (socket ? socket.bufferedAmount : 0),
    connected: () => !!socket && socket.readyState === WebSocket.OPEN,
  });

  term.onData((data) => send(P.text(P.TERMINAL, data)));
  term.onResize(({ cols, rows }) => send(P.json(P.CONTROL, { type: "resize", cols, rows })));

  // After the end the view takes no input at all: the terminal stops reading keys and the socket is gone.
  function endView(message) {
    if (ended) return;
    ended = true;
    forgetHistories(true);
    term.options.disableStdin = true;
    term.options.cursorBlink = false;
    $("ended-banner").textContent = message;
    $("ended-banner").hidden = false;
    $("end-button").disabled = true;
    root.classList.add("ended");
    root.dataset.input = "closed";
    onShare(false, { quiet: true });
    showStepUp();
    $("observers-note").hidden = true;
    showRecorded(false);
    chat.close();
    if (clipboard) clipboard.close();
    if (files) files.close();
    setState(t("status_ended"));
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, "ended");
    // The banner is on the page, not in the full-screen view: leave it so the consultant reads why it stopped.
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  }

  // No longer this consultant's to see (4401: the login that opened the socket ended, here or in another tab;
  // 4403: not permitted): what the customer's computer showed leaves the page with what it kept, and nothing on
  // it acts any more. After a 4401 the page says who is logged in no more, and offers to log in again.
  function lockedOut(code) {
    forgetHistories(true);
    term.reset();
    term.options.disableStdin = true;
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    root.classList.remove("has-screen");
    onShare(false, { quiet: true });
    root.dataset.input = "closed";
    locked = true;
    chat.lock();
    if (clipboard) clipboard.close();
    if (files) files.close();
    setUnread(0);
    showStepUp();
    $("observers-note").hidden = true;
    showRecorded(false);
    $("end-button").hidden = true;
    setState(t(`sv_close_${code}`));
    if (code !== 4401) return;
    document.querySelectorAll("header .who, header form[action='/console/logout']").forEach((part) => {
      part.hidden = true;
    });
    const again = document.createElement("a");
    again.id = "login-again";
    again.href = `/console/login?next=${encodeURIComponent(location.pathname)}`;
    again.textContent = t("sv_login_again");
    $("end-button").before(again);
  }

  function refusedText(message) {
    if (message.what === "terminal") return t("sv_refused_terminal");
    if (message.what === "input") return t("sv_refused_input");
    if (message.what === "screen.select") return t("sv_refused_monitor");
    return t("sv_refused_other");
  }

  function onControl(message) {
    if (message.type === "hello" && observer) {
      // The agent's hello, passed on to a watcher: it answers nothing; only whether a screen will come is news.
      showMonitors(message.monitors, message.monitor);
      if (message.screen === false) {
        root.classList.add("no-screen");
        $("screen-note").textContent = t("no_screen");
      }
    } else if (message.type === "hello") {
      if (message.protocol !== P.PROTOCOL) {
        setState(t("protocol_mismatch", { version: message.protocol }));
        return;
      }
      send(P.json(P.CONTROL, { type: "hello", protocol: P.PROTOCOL, role: "console" }));
      send(P.json(P.CONTROL, { type: "resize", cols: term.cols, rows: term.rows }));
      showMonitors(message.monitors, message.monitor);
      if (message.screen) send(P.json(P.CONTROL, { type: "screen.start", max_fps: 10 }));
      else {
        root.classList.add("no-screen");
        $("screen-note").textContent = t("no_screen");
      }
      if (!viewOnly) term.focus();
    } else if (message.type === "screen.selected") {
      onMonitorSelected(message);
    } else if (message.type === "refused") {
      if (message.what === "screen.select") showMonitor(shownMonitor); // the picker goes back to what is shown
      term.write(`\r\n\x1b[33m${refusedText(message)}\x1b[0m\r\n`);
    } else if (message.type === "bye") {
      endView(t("ended_by_customer"));
    }
  }

  const isAgent = (message) => !message.peer || message.peer === "agent";

  function onGatewayText(text) {
    let message;
    try { message = JSON.parse(text); } catch (_) { return; }
    if (message.type === "waiting_for_agent") {
      agentHere = false;
      setState(t(root.dataset.share === "active" ? "sv_share_state" : "waiting_for_agent"));
    }
    else if (message.type === "attached") onAttached(message);
    // Who watches, view only (supervisors, #16): the whole list each time, empty when nobody does.
    else if (message.type === "observers") showObservers(message.observers);
    // The customer's browser started or stopped showing its screen (#18).
    else if (message.type === "share") onShare(message.active === true);
    // The agent's coming and going (a watcher may also hear of the consultant's: not the agent's state).
    else if (message.type === "peer_joined" && isAgent(message)) {
      agentHere = true;
      setState(t("agent_connected"));
      if (files) files.peerJoined(); // a file on its way is offered again: the agent says from where
      if (!startedAt) startedAt = Date.now();
      showElapsed();
    } else if (message.type === "peer_left" && isAgent(message)) {
      agentHere = false;
      setState(t("agent_left"));
    }
    // The gateway refuses keystrokes and input under a view-only consent before they reach the agent, and says so
    // (at most once a second) as the agent would.
    // An offer of a file over the gateway's limit is refused by name (and a chunk it would not pass, quietly).
    else if (message.type === "refused" && message.what === "files" && files) files.onRefused(message);
    else if (message.type === "refused") onControl(message);
    // What the consent allows from now on: narrower when the customer took a scope back, wider when they approved
    // a request for more.
    else if (message.type === "scopes" && Array.isArray(message.scopes)) onScopes(message.scopes);
    // A request for more, asked (by this page or another of this consultant's) or answered by the customer.
    else if (message.type === "scope_request" && !observer) onScopeRequest(message);
    // A chat message of this session (the customer's, or a consultant's, this page's own included).
    else if (message.type === "chat" && message.message && typeof message.message === "object") onChat(message.message);
  }

  // The gateway admitted this page's socket. A watcher hears no `peer_joined` for an agent that was there before
  // it: an active session's agent is connected unless the message says it is not.
  function onAttached(message) {
    if (files) files.onAttached(message); // the largest file allowed
    showRecorded(message.recording === true); // an older gateway says nothing: nothing shown
    root.dataset.attached = message.role || (observer ? "observer" : "consultant");
    onShare(false, { quiet: true }); // the gateway says so again if the customer's browser is sharing
    chat.read(); // what was written while this page was not connected
    if (!observer) return;
    const agentAway = message.agent === false || message.agent === "away" || message.agent === "not_started";
    if (message.status === "active" && !agentAway) {
      setState(t("agent_connected"));
      if (!startedAt) startedAt = Date.now();
      showElapsed();
    } else setState(t(message.status === "active" ? "agent_left" : "waiting_for_agent"));
  }

  // "● Recorded" (#19): while this page's socket is attached to a session the gateway records; gone at the end,
  // when the socket closes (until the next `attached` says so again) and when the page is locked out.
  function showRecorded(on) {
    const badge = $("recorded-badge");
    badge.hidden = !on || ended || locked;
    badge.dataset.recording = badge.hidden ? "off" : "on";
  }

  function showObservers(list) {
    const names = Array.isArray(list) ? list.filter((name) => typeof name === "string" && name) : [];
    const note = $("observers-note");
    note.dataset.observers = names.join(",");
    note.textContent = names.length ? t("sv_observers_note", { names: names.join(", ") }) : "";
    note.hidden = ended || locked || !names.length;
  }

  // A scope's short name ("файлове"), or its code when the page has no words for it.
  function scopeText(scope, prefix = "sv_scope_") {
    const text = t(prefix + scope);
    return text === prefix + scope ? scope : text;
  }

  function showScopes() {
    const shown = $("session-scopes");
    if (!shown) return; // a watcher's page does not show them
    const scopes = heldScopes();
    shown.dataset.scopes = scopes.join(",");
    shown.textContent = scopes.map((scope) => scopeText(scope)).join(", ") || "—";
  }

  function onScopes(scopes) {
    const before = heldScopes();
    root.dataset.scopes = scopes.join(",");
    showScopes();
    if (clipboard) clipboard.refresh();
    if (files) files.refresh();
    if (ended || observer) return;
    // Narrower: an answer shown so far is of the past now; a new request may be made.
    if (before.some((scope) => !scopes.includes(scope)) && stepUp && stepUp.status !== "pending") stepUp = null;
    const control = scopes.includes("control");
    if (control !== !viewOnly) {
      if (control) allowControl();
      else takeControlAway();
    }
    showStepUp();
  }

  function takeControlAway() {
    viewOnly = true;
    root.classList.add("view-only");
    term.options.disableStdin = true;
    term.options.cursorBlink = false;
    $("view-only-badge").hidden = false;
    const notice = $("view-only-notice");
    notice.textContent = t("sv_control_withdrawn");
    notice.hidden = false;
    term.write(`\r\n\x1b[33m${t("sv_control_withdrawn")}\x1b[0m\r\n`);
  }

  // The customer approved a request for more: the terminal takes keys and the screen input, from now on.
  function allowControl() {
    viewOnly = false;
    root.classList.remove("view-only");
    term.options.disableStdin = false;
    term.options.cursorBlink = true;
    $("view-only-badge").hidden = true;
    $("view-only-notice").hidden = true;
    canvas.tabIndex = 0;
    attachInput();
    term.write(`\r\n\x1b[32m${t("sv_step_up_approved")}\x1b[0m\r\n`);
  }

  function attachInput() {
    if (inputAttached || viewOnly) return;
    inputAttached = true;
    window.AssistScreenInput.attach(canvas, send);
  }

  // --- Asking the customer for more (a step up): control, files, clipboard ------------------------------------
  const STEP_UP_STATUSES = ["pending", "approved", "refused"];
  const ASKABLE = ["control", "files", "clipboard"];
  // With control held the form is folded behind a button (the screen keeps its place) until the consultant opens it.
  let stepUpOpen = false;

  // The scopes besides `view` the consent lacks (an approval's scopes count as held before its `scopes` message).
  function missingScopes() {
    const held = heldScopes();
    const granted = stepUp && stepUp.status === "approved" ? stepUp.scopes || [] : [];
    return ASKABLE.filter((scope) => !held.includes(scope) && !granted.includes(scope));
  }

  // A box for each scope missing; one offered again (taken back since) is as a fresh page offers it: control
  // ticked, the others not. A scope held is never asked for.
  function offerScopes(missing) {
    for (const scope of ASKABLE) {
      const box = $(`step-up-scope-${scope}`);
      const label = box.closest("label");
      const offer = missing.includes(scope);
      if (offer && label.hidden) box.checked = scope === "control";
      if (!offer) box.checked = false;
      label.hidden = !offer;
    }
  }

  const chosenScopes = () => ASKABLE.filter((scope) => {
    const box = $(`step-up-scope-${scope}`);
    return box.checked && !box.closest("label").hidden;
  });

  function stepUpText(status) {
    if (status !== "approved") return t(`sv_step_up_${status}`);
    const scopes = stepUp.scopes || [];
    if (!scopes.length || (scopes.length === 1 && scopes[0] === "control")) return t("sv_step_up_approved");
    return t("sv_step_up_approved_scopes", { scopes: scopes.map((scope) => scopeText(scope)).join(", ") });
  }

  // The form while the consent lacks a scope and nothing waits for the customer (watching only: open; with control:
  // behind its button); the line says what became of the latest request.
  function showStepUp() {
    if (observer) return; // a watcher asks for nothing: the page has no step up
    const status = stepUp && STEP_UP_STATUSES.includes(stepUp.status) ? stepUp.status : "";
    const closed = ended || locked;
    const missing = missingScopes();
    offerScopes(missing);
    const askable = !closed && missing.length > 0 && status !== "pending";
    const folded = !missing.includes("control");
    if (!askable || !folded) stepUpOpen = false;
    $("step-up-open").hidden = !askable || !folded;
    $("step-up-open").setAttribute("aria-expanded", String(askable && stepUpOpen));
    $("step-up-box").hidden = !askable || (folded && !stepUpOpen);
    const line = $("step-up-status");
    line.hidden = closed || !status;
    line.textContent = status ? stepUpText(status) : "";
    line.dataset.status = status;
    line.dataset.requestId = status ? stepUp.request_id : "";
    line.dataset.scopes = status ? (stepUp.scopes || []).join(",") : "";
  }

  // Only ever forward: an older request's news never replaces a newer one's, and an answer is never undone by a
  // late "pending" of the same request (the 201 and the gateway's message race).
  function takeStepUp(request) {
    if (!request || typeof request.request_id !== "string" || !STEP_UP_STATUSES.includes(request.status)) return false;
    if (stepUp && stepUp.request_id === request.request_id) {
      if (stepUp.status !== "pending" || request.status === "pending") return false;
    } else if (stepUp && stepUp.requested_at && request.requested_at
               && Date.parse(request.requested_at) < Date.parse(stepUp.requested_at)) {
      return false;
    }
    stepUp = {
      request_id: request.request_id, status: request.status, requested_at: request.requested_at || "",
      scopes: Array.isArray(request.scopes) ? request.scopes.filter((scope) => typeof scope === "string") : [],
    };
    return true;
  }

  function onScopeRequest(message) {
    if (!takeStepUp(message)) return;
    showStepUp();
    if (message.status === "refused") term.write(`\r\n\x1b[33m${t("sv_step_up_refused")}\x1b[0m\r\n`);
  }

  function stepUpWrong(message, field) {
    const error = $("step-up-error");
    error.textContent = message;
    error.hidden = !message;
    for (const other of [$("step-up-scopes"), $("step-up-reason")]) {
      if (other === field) other.setAttribute("aria-invalid", "true");
      else other.removeAttribute("aria-invalid");
    }
  }

  async function askForMore(event) {
    event.preventDefault();
    if (ended || locked || !missingScopes().length) return;
    const scopes = chosenScopes();
    const field = $("step-up-reason");
    const reason = field.value.trim();
    if (!scopes.length) {
      stepUpWrong(t("sv_step_up_scopes_required"), $("step-up-scopes"));
      $("step-up-box").querySelector('label:not([hidden]) input[name="scope"]').focus();
      return;
    }
    let wrong = "";
    if (!reason) wrong = t("sv_step_up_reason_required");
    else if (reason.length > field.maxLength) wrong = t("sv_step_up_reason_too_long", { max: field.maxLength });
    if (wrong) {
      stepUpWrong(wrong, field);
      field.focus();
      return;
    }
    stepUpWrong("", null);
    const error = $("step-up-error");
    $("step-up-ask").disabled = true;
    const result = await api("POST", `/api/v1/sessions/${sessionId}/scope-requests`, { body: { scopes, reason } });
    $("step-up-ask").disabled = false;
    if (result.ok) {
      field.value = "";
      stepUpOpen = false;
      if (takeStepUp(result.data)) showStepUp();
      return;
    }
    error.textContent = t("sv_step_up_failed", { detail: problemText(result) });
    error.hidden = false;
  }

  if (!observer) {
    $("step-up-box").addEventListener("submit", askForMore);
    $("step-up-open").addEventListener("click", () => {
      stepUpOpen = !stepUpOpen;
      showStepUp();
      if (stepUpOpen) $("step-up-box").querySelector('label:not([hidden]) input[name="scope"]').focus();
    });
    const clear = () => { if (!$("step-up-error").hidden) stepUpWrong("", null); };
    $("step-up-reason").addEventListener("input", clear);
    $("step-up-scopes").addEventListener("change", clear);
  }

  // --- The chat with the customer (#17) ------------------------------------------------------------------------
  // The history once the page loads and after each (re)connection, then each message from the socket (chat.js).
  // Unread: a customer's message that came while the tab was hidden, or while the consultant was neither typing in
  // the chat nor looking at its latest messages; the count goes once they are.
  const chat = window.AssistChat.create({
    session: () => ({ id: sessionId }),
    mine: (message) => !observer && message.role === "consultant",
    author(message) {
      if (message.role === "customer") return message.author || root.dataset.customer || t("sv_chat_customer");
      if (!observer) return t("sv_chat_you");
      return message.author || t("sv_chat_consultant");
    },
    words: { empty: "sv_chat_err_empty", tooLong: "sv_chat_err_too_long", failed: "sv_chat_failed",
      network: "cq_problem_unavailable", loadFailed: "sv_chat_load_failed" },
  });
  const chatList = chat.list;
  const chatText = chat.field; // null for a watcher: it only reads
  const baseTitle = document.title;
  let unread = 0;

  function chatInView() {
    const box = $("chat").getBoundingClientRect();
    return box.height > 0 && box.bottom > 0 && box.top < window.innerHeight;
  }
  // The consultant sees the chat's latest messages now.
  const chatSeen = () => !document.hidden
    && ((chatText && document.activeElement === chatText) || (chatInView() && chat.atBottom()));

  function setUnread(count) {
    unread = count;
    const badge = $("chat-unread");
    badge.textContent = count > 0 ? String(count) : "";
    badge.dataset.count = String(count);
    badge.hidden = count === 0;
    if (count > 0) badge.setAttribute("aria-label", t("sv_chat_unread", { count }));
    else badge.removeAttribute("aria-label");
    document.title = count > 0 ? `(${count}) ${baseTitle}` : baseTitle;
  }
  const markRead = () => { if (unread && chatSeen()) setUnread(0); };

  function onChat(message) {
    if (locked || (message.session_id && message.session_id !== sessionId)) return;
    const seen = chatSeen();
    const fromCustomer = chat.receive(message).filter((item) => item.role === "customer").length;
    if (!fromCustomer) return;
    if (!seen) setUnread(unread + fromCustomer);
    if (sound.isOn()) sound.beep([[784, 0], [988, 0.12]]);
  }

  function showChatSound() {
    const on = sound.isOn();
    $("chat-sound").textContent = t(on ? "sv_chat_sound_on" : "sv_chat_sound_off");
    $("chat-sound").setAttribute("aria-pressed", String(on));
  }

  $("chat-sound").addEventListener("click", () => { sound.set(!sound.isOn()); showChatSound(); });
  if (sound.isOn()) sound.unlockOnFirstGesture();
  showChatSound();
  if (chatText) chatText.addEventListener("focus", () => setUnread(0));
  $("chat-jump").addEventListener("click", () => {
    setUnread(0);
    if (chatText && !chat.closed && !locked) setTimeout(() => chatText.focus({ preventScroll: true }), 0);
    chatList.scrollTop = chatList.scrollHeight;
  });
  chatList.addEventListener("scroll", markRead, { passive: true });
  window.addEventListener("scroll", markRead, { passive: true });
  document.addEventListener("visibilitychange", markRead);

  function endedText(reason) {
    if (reason.includes("customer")) return t("ended_by_customer");
    if (reason.includes("supervisor")) return t("ended_by_supervisor");
    if (reason.includes("consultant")) return t("ended_by_consultant");
    if (reason.includes("agent_lost")) return t("sv_ended_agent_lost");
    if (reason.includes("system")) return t("sv_ended_by_system");
    return t("status_ended");
  }

  function onClose(event) {
    showRecorded(false);
    if (ended) return;
    if (event.code === 4410) endView(endedText(event.reason || ""));
    else if (event.code === 4401 || event.code === 4403) lockedOut(event.code);
    else if (event.code === 4409) setState(t("sv_close_4409")); // the newer page has it, and what it kept
    else if (reconnects < 30) {
      // 4408 (consent not confirmed in time), 1013 or a dropped network: try again shortly.
      reconnects += 1;
      setState(t("offline"));
      setTimeout(connect, 1000);
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const path = observer ? "observer" : "consultant";
    socket = new WebSocket(`${scheme}//${location.host}/ws/v1/${path}/${sessionId}`);
    socket.binaryType = "arraybuffer";
    socket.addEventListener("open", () => { reconnects = 0; });
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") return onGatewayText(event.data);
      const { channel, payload } = P.parse(event.data);
      if (channel === P.TERMINAL) term.write(payload);
      else if (channel === P.SCREEN) screen.push(payload);
      else if (channel === P.BROWSER_SCREEN && shareView && sharePane.dataset.share !== "none") shareView.push(payload);
      else if (channel === P.CLIPBOARD && clipboard) clipboard.onFrame(payload);
      else if (channel === 5 && files) files.onFrame(payload); // files (#17)
      else if (channel === P.CONTROL) {
        const message = P.parseJson(payload);
        if (message) onControl(message);
      }
    });
    socket.addEventListener("close", onClose);
  }

  attachInput();
  showStepUp();

  $("end-button").addEventListener("click", async () => {
    if (ended) return;
    const question = t("sv_end_question", { customer: root.dataset.customer || t("customer") });
    if (!(await confirmAction(question, t("sv_end_confirm"))) || ended) return;
    $("end-button").disabled = true;
    const result = await api("POST", `/api/v1/sessions/${sessionId}/end`);
    // A supervisor may end it from here too: the answer says who ended it (the first ending wins).
    const by = (result.data && result.data.ended_by) || (observer ? "supervisor" : "consultant");
    if (result.ok) endView(t(`ended_by_${by}`));
    else { $("end-button").disabled = false; setState(problemText(result)); }
  });

  showLayout();
  function showElapsed() {
    if (startedAt && !ended) $("elapsed").textContent = duration((Date.now() - startedAt) / 1000);
  }
  setInterval(showElapsed, 1000);
  showElapsed();
  fitScreen();
  // For tests and the curious: the terminal, whose buffer is what the consultant sees.
  window.AssistSessionView = {
    terminal: term, observer, get viewOnly() { return viewOnly; }, get stepUp() { return stepUp && { ...stepUp }; },
    get chatUnread() { return unread; },
  };
  chat.read();
  connect();
})();
