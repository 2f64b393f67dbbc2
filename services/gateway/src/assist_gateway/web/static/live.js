// The live feed of the staff pages: server-sent events from /console/events, reconnected by the browser; and
// the problems those pages show, in the page's words.
"use strict";

window.AssistLive = (() => {
  const { t, problemText } = window.Assist;

  function follow(eventName, onSnapshot) {
    const badge = document.getElementById("live-state");
    const source = new EventSource("/console/events");
    const mark = (ok) => {
      badge.textContent = ok ? t("live") : t("offline");
      badge.className = ok ? "badge ok" : "badge warn";
    };
    source.addEventListener(eventName, (event) => { mark(true); onSnapshot(JSON.parse(event.data)); });
    source.addEventListener("unavailable", () => mark(false));
    source.addEventListener("open", () => mark(true));
    source.addEventListener("error", () => mark(false));
    return source;
  }

  // A failed call in the page's words: by the problem's `code` when the words have it (`problem_<code>`), else
  // by its status (the gateway's own details are English). Status 0: the network, not the gateway.
  function problemWords(result) {
    const code = result.data && result.data.code;
    if (typeof code === "string" && t(`problem_${code}`) !== `problem_${code}`) return problemText(result);
    if (result.status === 403) return t("cq_problem_forbidden");
    if (result.status === 404) return t("problem_session_not_found");
    if (result.status === 409) return t("cq_problem_conflict");
    if (result.status === 503 || result.status === 0) return t("cq_problem_unavailable");
    return t("cq_problem_other", { status: result.status });
  }

  // `api()` that answers a network failure as a result (status 0) instead of throwing.
  async function call(method, path) {
    try {
      return await window.Assist.api(method, path);
    } catch (_) {
      return { ok: false, status: 0, data: null };
    }
  }

  return { follow, problemWords, call };
})();
