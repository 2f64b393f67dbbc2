// The supervisor's view: every running session with its consultant and duration, live; End any of them.
"use strict";

(() => {
  const { t, api, problemText, secondsSince, duration, el } = window.Assist;
  const rows = document.getElementById("session-rows");
  const error = document.getElementById("sessions-error");

  async function end(sessionId, button) {
    button.disabled = true;
    const result = await api("POST", `/api/v1/sessions/${sessionId}/end`);
    if (!result.ok) {
      button.disabled = false;
      error.textContent = problemText(result);
      error.hidden = false;
    }
  }

  function render({ sessions }) {
    rows.replaceChildren(...sessions.map((s) => {
      const button = el("button", { type: "button", class: "danger", text: t("end") });
      button.addEventListener("click", () => end(s.session_id, button));
      return el("tr", { "data-session-id": s.session_id },
        el("td", { text: s.customer.name || "" }), el("td", { text: s.consultant || "—" }),
        el("td", { text: s.service_type || "" }), el("td", { text: s.status }),
        el("td", { class: "duration", "data-since": s.started_at || s.assigned_at || "" }), el("td", {}, button));
    }));
    document.getElementById("sessions-empty").hidden = sessions.length > 0;
    tick();
  }

  function tick() {
    for (const cell of rows.querySelectorAll("td.duration")) {
      cell.textContent = cell.dataset.since ? duration(secondsSince(cell.dataset.since)) : "—";
    }
  }

  window.AssistLive.follow("sessions", render);
  setInterval(tick, 1000);
})();
