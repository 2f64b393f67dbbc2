// The console's input on the customer's screen: pointer and keys on the screen canvas become input events
// (channel 3, docs/protocol.md), in the remote screen's pixels. Attached only when the consent allows control.
"use strict";

window.AssistScreenInput = (() => {
  const P = window.AssistProtocol;
  const BUTTONS = ["left", "middle", "right"];
  // The DOM key names sent as `key` events (docs/protocol.md); any other non-printable key stays here. Not CapsLock:
  // the characters typed already carry the consultant's case, the customer's Caps Lock must not change it again.
  const NAMED_KEYS = new Set([
    "Enter", "Tab", "Backspace", "Delete", "Insert", "Home", "End", "PageUp", "PageDown",
    "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Shift", "Control", "Alt", "AltGraph", "Meta", "ContextMenu",
    "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12",
  ]);
  // Never text: controls (C0, DEL, C1), line/paragraph separators, bidi controls (the agent refuses them too).
  const UNTYPED = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/u;

  // `send(bytes)` sends one frame (the session view decides whether input may pass at all).
  function attach(canvas, send) {
    const input = (message) => send(P.json(P.INPUT, message));
    // Keys sent as pressed, by physical key (`code`): the release names the same key as the press did, even when
    // Shift changed in between ("A" down, Shift up, "a" up), so nothing stays down on the customer's computer.
    const held = new Map();

    function at(event) {
      const box = canvas.getBoundingClientRect();
      return {
        x: Math.round((event.clientX - box.left) * canvas.width / box.width),
        y: Math.round((event.clientY - box.top) * canvas.height / box.height),
      };
    }
    function releaseAll() {
      for (const key of held.values()) input({ type: "key", key, pressed: false });
      held.clear();
    }
    // A printable character (one code point) typed without a shortcut modifier: text, whatever the layout made of
    // the key ("з" on a Bulgarian one). AltGr counts as no shortcut (Windows reports it as Ctrl+Alt).
    function isText(e) {
      if ([...e.key].length !== 1 || UNTYPED.test(e.key)) return false;
      return e.getModifierState("AltGraph") || !(e.ctrlKey || e.metaKey || e.altKey);
    }

    canvas.addEventListener("mousemove", (e) => input({ type: "pointer_move", ...at(e) }));
    canvas.addEventListener("mousedown", (e) => { canvas.focus(); input({ type: "pointer_button", button: BUTTONS[e.button] || "left", pressed: true }); });
    canvas.addEventListener("mouseup", (e) => input({ type: "pointer_button", button: BUTTONS[e.button] || "left", pressed: false }));
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    canvas.addEventListener("wheel", (e) => { e.preventDefault(); input({ type: "scroll", dx: Math.sign(e.deltaX), dy: Math.sign(e.deltaY) }); }, { passive: false });
    // Tab is sent to the remote side only while the canvas has focus; Escape leaves it, so the keyboard never traps.
    canvas.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { canvas.blur(); return; }
      if (e.isComposing || e.key === "Dead" || e.key === "Process") return;
      e.preventDefault();
      if (isText(e)) { input({ type: "text", text: e.key }); return; }
      const key = [...e.key].length === 1 ? e.key : (NAMED_KEYS.has(e.key) ? e.key : null);
      if (key === null) return; // Unidentified, media keys...: nothing the agent would take
      held.set(e.code || key, key);
      input({ type: "key", key, pressed: true });
    });
    canvas.addEventListener("keyup", (e) => {
      const id = e.code || e.key;
      if (!held.has(id)) return;
      e.preventDefault();
      input({ type: "key", key: held.get(id), pressed: false });
      held.delete(id);
    });
    // Leaving the canvas (Escape, a click elsewhere, another window or tab) lets go of every key still down there.
    canvas.addEventListener("blur", releaseAll);
    document.addEventListener("visibilitychange", () => { if (document.hidden) releaseAll(); });
  }

  return { attach };
})();
