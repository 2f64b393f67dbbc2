// The live feed of the staff pages: server-sent events from /console/events, reconnected by the browser.
"use strict";

window.AssistLive = (() => {
  const { t } = window.Assist;

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

  return { follow };
})();
