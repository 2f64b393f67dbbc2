// The supervisor's view: every running session with its consultant and duration, live; Watch an active one, view
// only (/console/observe/{id}), or End any of them, after a confirmation (ending cuts the customer's connection at
// once).
"use strict";

(() => {
  const { t, confirmAction, secondsSince, duration, el } = window.Assist;
  const { problemWords, call } = window.AssistLive;
  const rows = document.getElementById("session-rows");
  const error = document.getElementById("sessions-error");
  const serviceNames = JSON.parse(document.getElementById("service-names").textContent || "{}");
  const serviceName = (code) => serviceNames[code] || code || "—";

  async function end(session, button) {
    const who = session.customer.name || session.session_id;
    if (!(await confirmAction(t("cq_end_question", { who }), t("cq_end_confirm")))) return;
    button.disabled = true;
    const result = await call("POST", `/api/v1/sessions/${session.session_id}/end`);
    if (result.ok) {
      error.hidden = true;
    } else {
      button.disabled = false;
      error.textContent = problemWords(result);
      error.hidden = false;
    }
  }

  function render({ sessions }) {
    rows.replaceChildren(...sessions.map((s) => {
      const button = el("button", { type: "button", class: "danger", text: t("end") });
      button.addEventListener("click", () => end(s, button));
      const actions = el("td", { class: "actions" });
      // Watching, view only (#16): only a session that runs (an agent may be there); the customer sees who watches.
      if (s.status === "active") {
        actions.append(el("a", {
          class: "button watch", href: `/console/observe/${encodeURIComponent(s.session_id)}`, text: t("cq_watch"),
          "aria-label": t("cq_watch_label", { who: s.customer.name || s.session_id }),
        }), " ");
      }
      actions.append(button);
      return el("tr", { "data-session-id": s.session_id },
        el("td", { text: s.customer.name || "" }), el("td", { text: s.consultant || "—" }),
        el("td", { class: "service", "data-code": s.service_type || "", text: serviceName(s.service_type) }),
        el("td", { class: "status", "data-status": s.status, text: t(`cq_status_${s.status}`) }),
        el("td", { class: "duration", "data-since": s.started_at || s.assigned_at || "" }), actions);
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
