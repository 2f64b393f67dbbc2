// The console's input on the customer's screen: pointer and keys on the screen canvas become input events
// (channel 3, docs/protocol.md), in the remote screen's pixels. Attached only when the consent allows control.
"use strict";

window.AssistScreenInput = (() => {
  const P = window.AssistProtocol;
  const BUTTONS = ["left", "middle", "right"];

  // `send(bytes)` sends one frame (the session view decides whether input may pass at all).
  function attach(canvas, send) {
    const input = (message) => send(P.json(P.INPUT, message));
    function at(event) {
      const box = canvas.getBoundingClientRect();
      return {
        x: Math.round((event.clientX - box.left) * canvas.width / box.width),
        y: Math.round((event.clientY - box.top) * canvas.height / box.height),
      };
    }
    canvas.addEventListener("mousemove", (e) => input({ type: "pointer_move", ...at(e) }));
    canvas.addEventListener("mousedown", (e) => { canvas.focus(); input({ type: "pointer_button", button: BUTTONS[e.button] || "left", pressed: true }); });
    canvas.addEventListener("mouseup", (e) => input({ type: "pointer_button", button: BUTTONS[e.button] || "left", pressed: false }));
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    canvas.addEventListener("wheel", (e) => { e.preventDefault(); input({ type: "scroll", dx: Math.sign(e.deltaX), dy: Math.sign(e.deltaY) }); }, { passive: false });
    // Tab is sent to the remote side only while the canvas has focus; Escape leaves it, so the keyboard never traps.
    canvas.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { canvas.blur(); return; }
      e.preventDefault();
      input({ type: "key", key: e.key, pressed: true });
    });
    canvas.addEventListener("keyup", (e) => { if (e.key !== "Escape") input({ type: "key", key: e.key, pressed: false }); });
  }

  return { attach };
})();
