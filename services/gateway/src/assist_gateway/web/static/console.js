// The consultant's console: the live queue (server-sent events) and claiming a request. The queue shows who asks
// and for what, not how to reach them or their problem: the session page shows those once the request is claimed.
"use strict";

(() => {
  const { t, api, problemText, localTime, el } = window.Assist;
  const rows = document.getElementById("queue-rows");
  const error = document.getElementById("queue-error");

  async function claim(sessionId, button) {
    button.disabled = true;
    const result = await api("POST", `/api/v1/sessions/${sessionId}/claim`);
    if (result.ok) {
      location.assign(`/console/session/${sessionId}`);
      return;
    }
    button.disabled = false;
    error.textContent = problemText(result);
    error.hidden = false;
  }

  function render({ sessions }) {
    rows.replaceChildren(...sessions.map((s) => {
      const button = el("button", { type: "button", class: "primary", "data-session-id": s.session_id, text: t("claim") });
      button.addEventListener("click", () => claim(s.session_id, button));
      const who = [s.customer.name, s.customer.company].filter(Boolean).join(", ");
      return el("tr", { "data-session-id": s.session_id },
        el("td", { text: who }), el("td", { text: s.service_type || "" }),
        el("td", { text: localTime(s.requested_at) }), el("td", {}, button));
    }));
    document.getElementById("queue-empty").hidden = sessions.length > 0;
  }

  window.AssistLive.follow("queue", render);
})();
